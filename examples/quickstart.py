"""chainrule in one page: f(x) = x**4 + 3*x**2 + 2*x, define-then-run and traced."""

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp

# 1. Define-then-run: placeholders, a symbolic expression, a compiled function.
x = cr.placeholder((), "float64", name="x")
y = x ** 4 + 3 * x ** 2 + 2 * x
f = cr.function([x], y)
print("define-then-run: f(2) =", f(2.0))


# 2. Tracing: write plain Python, let cr.jit trace and compile it.
@cr.jit
def g(x):
    return x ** 4 + 3 * x ** 2 + 2 * x


print("traced:          f(2) =", g(2.0))
print("on an array:     f([1, 2, 3]) =", cr.jit(lambda v: cnp.sum(g(v)))(np.array([1.0, 2.0, 3.0])))

# 3. The graph chainrule built, in its text form.
print()
print(cr.jit(g).lower(2.0).as_text())

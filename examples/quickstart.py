"""chainrule in one page: f(x) = x**4 + 3*x**2 + 2*x, its derivatives, and the graphs behind them."""

import numpy as np

import chainrule as cr
import chainrule.numpy as cnp


def f(x):
    return x ** 4 + 3 * x ** 2 + 2 * x


# 1. Define-then-run: placeholders, a symbolic expression, symbolic gradients, a compiled function.
x = cr.placeholder((), "float64", name="x")
y = f(x)
(dy,) = cr.gradients(y, [x])
f_and_df = cr.function([x], [y, dy])
value, slope = f_and_df(2.0)
print(f"define-then-run: f(2) = {value}, f'(2) = {slope}")

# 2. Tracing: plain Python functions, transformed and compiled.
print("traced:          f(2) =", cr.jit(f)(2.0))
print("first derivative:  f'(2) =", cr.grad(f)(2.0))
print("second derivative: f''(2) =", cr.grad(cr.grad(f))(2.0))
print("on an array:     grad of sum(f) at [1, 2, 3] =", cr.grad(lambda v: cnp.sum(f(v)))(np.array([1.0, 2.0, 3.0])))
print("vmap of grad:    f'([1, 2, 3]) =", cr.vmap(cr.grad(f))(np.array([1.0, 2.0, 3.0])))

# 3. Vector-Jacobian and Jacobian-vector products of x -> [x^2, x^3] at 2.
out, vjp_fun = cr.vjp(lambda x: [x ** 2, x ** 3], 2.0)
print("VJP with cotangent [1, 1]:", vjp_fun([1.0, 1.0])[0])
_, tangents = cr.jvp(lambda x: [x ** 2, x ** 3], (2.0,), (1.0,))
print("JVP with tangent 1:", [float(t) for t in tangents])

# 4. The derivative as a graph (its text form, after the optimisation passes) and as NumPy
#    source you can read and run (the seed article's f_and_gradient).
grad_graph = cr.jit(cr.grad(f), opt_level=1).lower(2.0).optimized_graph()  # -O1: simplified, not fused
print()
print(grad_graph)
print(cr.to_source(grad_graph))

"""A small generator of random well-typed graphs, for testing that passes keep meaning.

Deliberately simple and local to the pass tests (the project's bigger fuzz
generator lives in chainrule.fuzz). It favours what the passes look for:
special constants (0, -0.0, 1, -1, 2, NaN, inf) as splats, double negations,
transposes of transposes, reshapes of reshapes, same-dtype converts, full
slices, broadcasts of broadcasts, empty reductions, selects on constant or
equal branches, repeated subexpressions, reductions and dots that fusion
must not cross.

`choose(n)` returns an int in [0, n): pass `numpy_chooser(rng)` or
`hypothesis_chooser(data)` so hypothesis can shrink failing graphs.
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, GraphBuilder, TensorType, Value

FLOAT_UNARY = ("negate", "abs", "sign", "exponential", "exponential_minus_one", "log", "log_plus_one", "sqrt",
               "rsqrt", "sine", "cosine", "tanh", "logistic", "floor", "ceil", "round_nearest_even", "is_finite")
FLOAT_BINARY = ("add", "subtract", "multiply", "divide", "maximum", "minimum", "power", "atan2", "remainder")
INT_BINARY = ("add", "subtract", "multiply", "maximum", "minimum", "and", "or", "xor")
SPECIAL_FLOATS = (0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -0.5, 4.0, 3.0, float("nan"), float("inf"), float("-inf"))
SPECIAL_INTS = (0, 1, -1, 2, 3)
# Exponents whose power rewrites are bit-exact in the reference (see simplify.py for 1, 2, -1).
SAFE_EXPONENTS = (0.0, 3.0, 1.5, -2.0)
SHAPES = ((), (3,), (2, 3), (3, 1), (2, 1, 3))


def numpy_chooser(rng: np.random.Generator):
    return lambda n: int(rng.integers(n))


def hypothesis_chooser(data):
    from hypothesis import strategies as st
    return lambda n: data.draw(st.integers(0, n - 1))


class _Gen:
    def __init__(self, choose, fdtype):
        self.choose = choose
        self.b = GraphBuilder("random")
        self.fdtype = fdtype
        self.pool: list[Value] = []

    def pick(self, seq):
        return seq[self.choose(len(seq))]

    def value(self, pred=lambda v: True):
        cands = [v for v in self.pool if pred(v)]
        if not cands:
            return None
        # favour recent values so chains get deep
        k = self.choose(min(len(cands), 6))
        return cands[-1 - k]

    def splat(self, t: TensorType, scalar):
        c = self.b.constant(np.asarray(scalar, dtype=t.dtype.np).reshape(()))
        if t.shape == ():
            return c
        if self.choose(4) == 0:  # sometimes a dense splat literal instead of a broadcast
            return self.b.constant(np.full(t.shape, scalar, dtype=t.dtype.np))
        return self.b.op("broadcast_in_dim", c, shape=t.shape, broadcast_dimensions=())

    def special(self, t: TensorType):
        vals = SPECIAL_FLOATS if t.dtype.is_float else SPECIAL_INTS
        return self.splat(t, self.pick(vals))

    def step(self):
        b = self.b
        is_f = lambda v: v.dtype.is_float  # noqa: E731
        is_i = lambda v: v.dtype.is_int  # noqa: E731
        kind = self.choose(17)
        x = self.value(is_f)
        if kind == 0:
            return b.op(self.pick(FLOAT_UNARY), x)
        if kind in (1, 2):
            op = self.pick(FLOAT_BINARY)
            if op == "power":
                y = self.splat(x.type, self.pick(SAFE_EXPONENTS))
            elif op == "divide" and self.choose(4) == 0:
                return b.op("divide", b.op("negate", x), b.op("negate", self.value(lambda v: v.type == x.type)))
            else:
                y = self.value(lambda v: v.type == x.type) if self.choose(2) else self.special(x.type)
            return b.op(op, *((x, y) if self.choose(3) else (y, x)))
        if kind == 3:  # a pattern the simplifier knows
            pat = self.choose(16)
            if pat == 0:
                return b.op("negate", b.op("negate", x))
            if pat == 1 and x.ndim >= 2:
                p = tuple(reversed(range(x.ndim)))
                return b.op("transpose", b.op("transpose", x, permutation=p), permutation=p)
            if pat == 2:
                flat = b.op("reshape", x, shape=(x.type.size,))
                return b.op("reshape", flat, shape=x.shape)
            if pat == 3:
                return b.op("convert", x, dtype=x.dtype)
            if pat == 4:
                wide = "float64"
                return b.op("convert", b.op("convert", x, dtype=wide), dtype=x.dtype)
            if pat == 5:
                return b.op("slice", x, start_indices=(0,) * x.ndim, limit_indices=x.shape, strides=(1,) * x.ndim)
            if pat == 6:
                return b.op("reduce", x, kind=self.pick(("sum", "max")), dimensions=())
            if pat == 7:
                y = self.value(lambda v: v.type == x.type)
                return b.op("select", b.op("compare", x, y, direction=self.pick(("LT", "EQ", "GE"))), x, y)
            if pat == 8:
                return b.op("select", self.splat(x.type.with_dtype("bool"), bool(self.choose(2))), x,
                            self.value(lambda v: v.type == x.type))
            if pat == 9:
                y = self.value(lambda v: v.type == x.type)
                p = b.op("compare", x, y, direction=self.pick(("LT", "NE")))
                return b.op("select", b.op("not", b.op("not", b.op("not", p))), x, y)
            if pat == 10 and x.ndim >= 1 and x.shape[-1] >= 3:
                n = x.ndim
                s1 = b.op("slice", x, start_indices=(0,) * (n - 1) + (1,), limit_indices=x.shape,
                          strides=(1,) * (n - 1) + (1,))
                return b.op("slice", s1, start_indices=(0,) * n, limit_indices=s1.shape,
                            strides=(1,) * (n - 1) + (2,))
            if pat == 11 and x.ndim >= 1:  # reduce of a broadcast
                big = b.op("broadcast_in_dim", x, shape=(2,) + x.shape, broadcast_dimensions=tuple(range(1, x.ndim + 1)))
                return b.op("reduce", big, kind=self.pick(("sum", "max", "min")), dimensions=(0,))
            if pat == 12:
                return b.op("reverse", b.op("concatenate", x, dimension=0) if x.ndim else x,
                            dimensions=tuple(d for d in range(x.ndim) if x.shape[d] == 1))
            if pat == 13:
                zero = b.constant(np.zeros((), x.dtype.np))
                return b.op("pad", x, zero, edge_padding_low=(0,) * x.ndim, edge_padding_high=(0,) * x.ndim)
            if pat == 14:
                starts = [b.constant(np.int32(self.choose(3))) for _ in range(x.ndim)]
                return b.op("dynamic_slice", x, *starts, slice_sizes=x.shape)
            big = self.b.constant(np.full((4, 5), self.pick(SPECIAL_FLOATS), dtype=x.dtype.np))
            return b.op("reduce", b.op("exponential", big), kind="sum", dimensions=(0, 1))
        if kind == 4:  # the same expression twice (CSE)
            y = self.value(lambda v: v.type == x.type)
            op = self.pick(("add", "multiply", "maximum"))
            return b.op("subtract", b.op(op, x, y), b.op(op, y, x))
        if kind == 5 and x.ndim >= 1:  # reduction
            dims = tuple(d for d in range(x.ndim) if self.choose(2)) or (0,)
            r = b.op("reduce", x, kind=self.pick(("sum", "max", "min", "prod")), dimensions=dims)
            keep = tuple(d for d in range(x.ndim) if d not in dims)
            if self.choose(2):  # broadcast it back (softmax-like: fusion must not make a cycle)
                back = b.op("broadcast_in_dim", r, shape=x.shape, broadcast_dimensions=keep)
                return b.op("subtract", x, back)
            return r
        if kind == 6:  # broadcast to a bigger shape, maybe twice
            if x.ndim == 1:
                y = b.op("broadcast_in_dim", x, shape=(2, x.shape[0]), broadcast_dimensions=(1,))
                if self.choose(2):
                    y = b.op("broadcast_in_dim", y, shape=(2, 2, x.shape[0]), broadcast_dimensions=(0, 2))
                return y
            if x.ndim == 0:
                return b.op("broadcast_in_dim", x, shape=(3,), broadcast_dimensions=())
            return b.op("broadcast_in_dim", x, shape=x.shape, broadcast_dimensions=tuple(range(x.ndim)))
        if kind == 7 and x.ndim == 2:  # a dot (fusion must not cross it)
            return b.op("dot_general", x, b.op("transpose", x, permutation=(1, 0)),
                        lhs_contracting=(1,), rhs_contracting=(0,))
        if kind == 8:  # integer work
            i = self.value(is_i)
            if i is None or self.choose(3) == 0:
                return b.op("convert", b.op("floor", b.op("minimum", b.op("maximum", x, self.splat(x.type, -50.0)),
                                                        self.splat(x.type, 50.0))), dtype="int32")
            op = self.pick(INT_BINARY)
            y = self.value(lambda v: v.type == i.type) if self.choose(2) else self.special(i.type)
            r = b.op(op, i, y)
            if self.choose(4) == 0:
                return b.op("compare", r, r, direction=self.pick(("EQ", "LT", "GE")))
            if self.choose(3) == 0:
                r = b.op("subtract", r, r) if self.choose(2) else b.op("multiply", r, self.special(i.type))
            return r
        if kind == 9:  # back to float
            i = self.value(is_i)
            if i is not None:
                return b.op("convert", i, dtype=self.fdtype)
        if kind == 10:
            return b.op("multiply", x, self.splat(x.type, self.pick((1.0, -1.0, 0.5, 2.0))))
        if kind == 11:
            return b.op("divide", x, self.splat(x.type, self.pick((1.0, -1.0, 2.0, 0.25, 3.0))))
        if kind == 12:
            return b.op("add", x, self.splat(x.type, self.pick((0.0, -0.0))))
        if kind == 13:
            return b.op("subtract", self.splat(x.type, self.pick((0.0, -0.0))), x)
        # elementwise chains are the most common thing in real graphs
        return b.op(self.pick(("tanh", "exponential", "negate", "sine")), x)


def random_graph(choose, max_steps: int = 12) -> Graph:
    """A random well-typed graph (float params, a few results) built with `choose`."""
    fdtype = ("float32", "float64")[choose(2)]
    g = _Gen(choose, fdtype)
    shape = SHAPES[choose(len(SHAPES))]
    for k in range(1 + choose(2)):
        g.pool.append(g.b.param(TensorType(shape, fdtype), f"x{k}"))
    if choose(3) == 0:
        g.pool.append(g.b.param(TensorType(shape, "int32"), "n"))
    for _ in range(3 + choose(max_steps)):
        v = g.step()
        if v is not None:
            g.pool.append(v)
    k = choose(3)
    results = [g.pool[-1]]
    for _ in range(k):
        v = g.pool[-1 - choose(min(len(g.pool), 4))]
        if v not in results:
            results.append(v)
    return g.b.build(results)


def random_inputs(graph: Graph, rng: np.random.Generator) -> list[np.ndarray]:
    """Arguments for `graph`, with special values (NaN, inf, -0.0, 0, 1) mixed in."""
    out = []
    for p in graph.params:
        t = p.type
        if t.dtype.is_float:
            a = rng.standard_normal(t.shape) * 2
            special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0])
            mask = rng.random(t.shape) < 0.25
            a = np.where(mask, rng.choice(special, size=t.shape), a)
            out.append(np.asarray(a, dtype=t.dtype.np))
        elif t.dtype.is_int:
            out.append(rng.integers(-5, 6, size=t.shape).astype(t.dtype.np))
        else:
            out.append(rng.random(t.shape) < 0.5)
    return out


def ulp_close(a: np.ndarray, b: np.ndarray, ulps: int = 2) -> bool:
    """Equal NaN positions, equal infinities and zero signs, finite values within `ulps` ulps.

    For rewrites exact in IEEE arithmetic that the reference computes slightly
    differently (NumPy's power is not correctly rounded: see simplify.py).
    """
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind != "f":
        return bool(np.array_equal(a, b))
    na, nb = np.isnan(a), np.isnan(b)
    if not np.array_equal(na, nb):
        return False
    fa, fb = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fa, fb) or not np.array_equal(a[~fa & ~na], b[~fb & ~nb]):
        return False
    if not np.array_equal(np.signbit(a[a == 0]), np.signbit(b[a == 0])):
        return False
    x, y = a[fa], b[fb]
    tol = ulps * np.spacing(np.maximum(np.abs(x), np.abs(y)))
    return bool(np.all(np.abs(x - y) <= tol))


def chain_graph(n: int, size: int = 64, dtype: str = "float32") -> Graph:
    """A long chain of about `n` elementwise nodes (deep: no pass may recurse on depth)."""
    b = GraphBuilder("chain")
    x = b.param(TensorType((size,), dtype), "x")
    half = b.op("broadcast_in_dim", b.constant(np.asarray(0.5, dtype)), shape=(size,), broadcast_dimensions=())
    v = x
    ops = ("tanh", "mul", "add_x", "negate", "sine", "mul")
    for k in range(max(n - 3, 1)):
        op = ops[k % len(ops)]
        if op == "mul":
            v = b.op("multiply", v, half)
        elif op == "add_x":
            v = b.op("add", v, x)
        else:
            v = b.op(op, v)
    return b.build([b.op("reduce", v, kind="sum", dimensions=(0,))])


def wide_graph(n: int, size: int = 64, dtype: str = "float32") -> Graph:
    """About `n` nodes in many short independent branches of one input, summed by a tree."""
    b = GraphBuilder("wide")
    x = b.param(TensorType((size,), dtype), "x")
    branches = []
    count = max(n // 5, 1)
    for k in range(count):  # distinct constants, so no branch is a duplicate of another
        c = b.op("broadcast_in_dim", b.constant(np.asarray(1 + k / count, dtype)), shape=(size,),
                 broadcast_dimensions=())
        branches.append(b.op("tanh", b.op("multiply", x, c)))
    while len(branches) > 1:
        nxt = [b.op("add", branches[i], branches[i + 1]) for i in range(0, len(branches) - 1, 2)]
        if len(branches) % 2:
            nxt.append(branches[-1])
        branches = nxt
    return b.build([b.op("reduce", branches[0], kind="sum", dimensions=(0,))])


def mlp_loss_graph(batch: int = 256, sizes=(784, 512, 512, 10), dtype: str = "float32",
                   mean: bool = True) -> Graph:
    """Softmax cross-entropy of a tanh MLP, built with the builder (no frontend), parameters
    w0, b0, w1, b1, ..., x, y (one-hot labels); the mean over the batch, or the sum."""
    b = GraphBuilder("mlp")
    ws = []
    for i in range(len(sizes) - 1):
        ws.append(b.param(TensorType((sizes[i], sizes[i + 1]), dtype), f"w{i}"))
        ws.append(b.param(TensorType((sizes[i + 1],), dtype), f"b{i}"))
    x = b.param(TensorType((batch, sizes[0]), dtype), "x")
    y = b.param(TensorType((batch, sizes[-1]), dtype), "y")
    h = x
    for i in range(len(sizes) - 1):
        z = b.op("dot_general", h, ws[2 * i], lhs_contracting=(1,), rhs_contracting=(0,))
        z = b.op("add", z, b.op("broadcast_in_dim", ws[2 * i + 1], shape=(batch, sizes[i + 1]),
                                broadcast_dimensions=(1,)))
        h = b.op("tanh", z) if i < len(sizes) - 2 else z
    shape = (batch, sizes[-1])
    m = b.op("reduce", h, kind="max", dimensions=(1,))
    sh = b.op("subtract", h, b.op("broadcast_in_dim", m, shape=shape, broadcast_dimensions=(0,)))
    lse = b.op("log", b.op("reduce", b.op("exponential", sh), kind="sum", dimensions=(1,)))
    picked = b.op("reduce", b.op("multiply", y, sh), kind="sum", dimensions=(1,))
    loss = b.op("reduce", b.op("subtract", lse, picked), kind="sum", dimensions=(0,))
    if mean:
        loss = b.op("multiply", loss, b.constant(np.asarray(1.0 / batch, dtype)))
    return b.build([loss])

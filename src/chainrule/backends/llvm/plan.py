"""From a graph to a schedule of kernels over planned buffers.

Three decisions are made here, before any LLVM IR exists:

1. *Flattening.* `fusion` nodes are opened: their region's nodes join the
   outer node list (region parameters become the fusion's operands), and the
   nodes of one region share a group id so that they can share a loop nest.
2. *Inlining.* Every value is either computed inside the loop of the kernel
   that reads it ("inline", recomputed per element) or materialized into a
   buffer. A value is inlined when that costs no extra work: it is read once
   per element by a single consumer (or by several consumers of one fused
   group, where the loop body computes it once), or it is free (an index
   remapping of a buffer, a splat constant, iota). Reductions, contractions,
   scatter and dynamic_update_slice get kernels of their own.
3. *Buffers.* Materialized intermediates live in one arena; offsets are
   assigned first-fit from liveness, so a buffer's bytes are reused once its
   last reader has run. Parameters and results are the caller's arrays.
4. *Donation.* A result may be written into a donated parameter's array
   (`make_plan(graph, donate=...)`, see `_donations`): when it has the
   parameter's type, its loop kernel reads the parameter only elementwise
   (at the index it writes) and no later kernel reads the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...ir import Graph, Node, Value, make_node, op_names, ops_with
from ...ir.attrs import Attrs
from .fft import fft_scratch_bytes
from .mixed_dot import legalize_dots
from .windows import EXPANSIONS as WINDOW_EXPANSIONS
from .lapack import LINALG_KERNEL_OPS, scratch_bytes
from . import lu_solve
from .lapack_eig import GEEV_OPS, scratch_bytes as geev_scratch_bytes
from .sort import scratch_bytes as sort_scratch_bytes

CONTROL_FLOW_OPS = op_names("cond", "case", "while", "scan")
KERNEL_OPS = (op_names("reduce", "argmax", "argmin", "dot_general", "scatter", "dynamic_update_slice", "sort",
                       "fft") | CONTROL_FLOW_OPS | LINALG_KERNEL_OPS | GEEV_OPS)
# Ops that read their operands from memory, so the operands get buffers.
BUFFER_CONSUMERS = op_names("dot_general", "sort", "fft") | CONTROL_FLOW_OPS | LINALG_KERNEL_OPS | GEEV_OPS
INDEX_OPS = {"broadcast_in_dim", "transpose", "slice", "reverse", "pad", "concatenate", "iota",
             "gather", "dynamic_slice"}
# Ops whose operand at a position is read at most once per result element.
_ONCE = {"reshape": None, "transpose": None, "slice": None, "reverse": None, "reduce": None,
         "argmax": None, "argmin": None, "scatter": (0, 2), "dynamic_update_slice": (0, 1),
         "dynamic_slice": (0,)}
FREE_OPS = {"broadcast_in_dim", "reshape", "transpose", "slice", "reverse", "convert", "dynamic_slice",
            "stop_gradient"}
ALIGN = 64
MAX_INLINE_DEPTH = 64
# Region ops opened into the schedule: what runs is their first region.
INLINED_REGION_OPS = ops_with("call_like")  # their region is opened into the caller's schedule


class Unsupported(NotImplementedError):
    pass


@dataclass(eq=False)
class Kernel:
    kind: str                      # "loop", or the op name of a kernel op
    roots: list                    # values it writes
    node: Node | None = None       # the node of a kernel op
    operands: tuple = ()           # resolved operands of `node`
    reads: list = field(default_factory=list)  # materialized values it reads
    subplans: list = field(default_factory=list)  # plans of a control-flow node's regions
    scratch: int = 0               # arena bytes the kernel needs while it runs


@dataclass
class Plan:
    graph: Graph
    order: list                    # nodes after flattening
    operands: dict                 # node -> resolved operand values
    kind: dict                     # id(value) -> "inline" | "buffer" | "global" | "param"
    kernels: list
    storage: dict                  # id(value) -> ("arg", i) | ("res", j) | ("arena", off) | ("global", k)
    arena_size: int
    results: list                  # per graph result: ("native", j) | ("param", i) | ("const", arr) | ("dup", k)
    globals: list                  # constant arrays embedded in the module
    values: dict                   # id(value) -> value (keeps ids meaningful)
    donated: dict = field(default_factory=dict)  # id(result value) -> the donated param it is written into

    @property
    def donated_params(self) -> list:
        """Indices of the parameters some result is written into."""
        return [p.index for p in self.donated.values()]


def _is_splat_constant(node) -> bool:
    return node.op.name == "constant" and node.attrs["value"].is_splat()


def flatten(graph: Graph):
    """Open fusion and custom-derivative call nodes; returns (order, operands, results, group)."""
    alias: dict[int, Value] = {}
    order: list = []
    operands: dict = {}
    group: dict = {}
    counter = [0]

    def res(v):
        while id(v) in alias:
            v = alias[id(v)]
        return v

    def walk(nodes, gid):
        for node in nodes:
            ops = tuple(res(v) for v in node.operands)
            if node.op.name in INLINED_REGION_OPS:
                region = node.regions[0]  # fusion body / the custom call's primal function
                counter[0] += 1
                inner = counter[0] if node.op.name == "fusion" else gid
                for p, v in zip(region.params, ops):
                    alias[id(p)] = v
                walk(region.nodes, inner)
                for r, rr in zip(node.results, region.results):
                    alias[id(r)] = res(rr)
                continue
            if node.op.name in WINDOW_EXPANSIONS:  # convolution and window ops: im2col + GEMM, slice chains
                nodes, result = WINDOW_EXPANSIONS[node.op.name](node, ops)
                walk(nodes, gid)
                alias[id(node.results[0])] = res(result)
                continue
            if node.regions and node.op.name not in CONTROL_FLOW_OPS:
                raise Unsupported(f"op {node.op.name!r} (a region op) is not supported by the llvm backend yet")
            operands[node] = ops
            group[node] = gid
            order.append(node)

    walk(graph.nodes, None)
    return order, operands, [res(r) for r in graph.results], group


def _dot_layout(node, ops):
    """Insert transposes so both dot operands are [batch, free, contracting]-like for GEMM.

    Returns replacement operands; GEMM trans flags cover the two layouts
    lhs: B M K or B K M, rhs: B K N or B N K, so most dots need no copy.
    """
    a = node.attrs
    lhs, rhs = ops
    lb, rb, lc, rc = a["lhs_batch"], a["rhs_batch"], a["lhs_contracting"], a["rhs_contracting"]
    lf = tuple(i for i in range(lhs.ndim) if i not in lb and i not in lc)
    rf = tuple(i for i in range(rhs.ndim) if i not in rb and i not in rc)
    new = []
    float_ = lhs.dtype.is_float
    for v, b_, c_, f_, first_free in ((lhs, lb, lc, lf, True), (rhs, rb, rc, rf, False)):
        ident = tuple(range(v.ndim))
        canon = b_ + f_ + c_ if first_free else b_ + c_ + f_
        trans = b_ + c_ + f_ if first_free else b_ + f_ + c_
        if ident == canon or (float_ and ident == trans):
            new.append((v, None))
        else:
            new.append((v, canon))
    return new


def _transpose_node(v, perm):
    return make_node("transpose", (v,), {"permutation": perm})


def _fold_transposed_dots(order, operands, results):
    """dot(a, b) read only through transpose(batch, rhs free, lhs free) -> dot(b, a).

    Reverse mode writes weight gradients as such a pair; swapping the operands makes GEMM
    produce the transposed product directly, saving a full copy."""
    uses: dict[int, list] = {}
    for node in order:
        for v in operands[node]:
            uses.setdefault(id(v), []).append(node)
    result_ids = {id(r) for r in results}
    replaced, dropped = {}, set()
    for node in order:
        if node.op.name != "transpose":
            continue
        (src,) = operands[node]
        dot = src.node
        if dot is None or dot.op.name != "dot_general" or dot not in operands or id(src) in result_ids:
            continue
        if len(uses.get(id(src), [])) != 1:
            continue
        a = dot.attrs
        lhs, rhs = operands[dot]
        nb = len(a["lhs_batch"])
        nlf = lhs.ndim - nb - len(a["lhs_contracting"])
        nrf = rhs.ndim - nb - len(a["rhs_contracting"])
        want = tuple(range(nb)) + tuple(range(nb + nlf, nb + nlf + nrf)) + tuple(range(nb, nb + nlf))
        if node.attrs["permutation"] != want:
            continue
        attrs = Attrs({"lhs_batch": a["rhs_batch"], "rhs_batch": a["lhs_batch"],
                       "lhs_contracting": a["rhs_contracting"], "rhs_contracting": a["lhs_contracting"],
                       "preferred_element_type": a["preferred_element_type"]})
        (t,) = dot.op.result_types((rhs.type, lhs.type), attrs)
        if t != node.results[0].type:
            continue
        new = Node(dot.op, (rhs, lhs), attrs, (t,))
        new.results = node.results  # consumers refer to the transpose's value
        operands[new] = (rhs, lhs)
        replaced[node] = new
        dropped.add(dot)
    return [replaced.get(n, n) for n in order if n not in dropped]


def make_plan(graph: Graph, donate=()) -> Plan:
    """The plan of `graph`; `donate`: indices of parameters whose arrays results may be written into."""
    order0, operands, results, group = flatten(graph)
    order0 = _fold_transposed_dots(order0, operands, results)
    order0, lu_solves = lu_solve.fuse_lu_solves(order0, operands, results)  # solve: one LAPACK kernel
    order0 = legalize_dots(order0, operands, group, results)  # mixed precision: converts around the GEMM
    # dot operands in a layout GEMM cannot read get an explicit transpose first
    order = []
    for node in order0:
        if node.op.name == "dot_general":
            fixed, moved = [], []
            for v, perm in _dot_layout(node, operands[node]):
                moved.append(perm is not None)
                if perm is None:
                    fixed.append(v)
                else:
                    t = _transpose_node(v, perm)
                    operands[t] = (v,)
                    group[t] = None
                    order.append(t)
                    fixed.append(t.results[0])
            operands[node] = tuple(fixed)
            node = _with_canonical_dot(node, operands, moved)
        order.append(node)
    for node in order:
        if node.op.name in CONTROL_FLOW_OPS:
            continue
        if node.op.name not in KERNEL_OPS and not node.op.elementwise and node.op.name not in (
                INDEX_OPS | FREE_OPS | {"constant", "reshape", "convert"}):
            raise Unsupported(f"op {node.op.name!r} is not supported by the llvm backend yet")

    values = {}
    users: dict[int, list] = {}
    for p in graph.params:
        values[id(p)] = p
    for node in order:
        for r in node.results:
            values[id(r)] = r
        for pos, v in enumerate(operands[node]):
            users.setdefault(id(v), []).append((node, pos))
    result_ids = {id(r) for r in results}
    kind: dict[int, str] = {id(p): "param" for p in graph.params}

    def once(user, pos, v):
        name = user.op.name
        if user.op.elementwise:
            return True
        if name == "broadcast_in_dim":
            return v.type.size == user.results[0].type.size
        if name == "concatenate":
            return len(operands[user]) == 1
        if name in _ONCE:
            allowed = _ONCE[name]
            return allowed is None or pos in allowed
        return False

    globals_ = []
    depth: dict[int, int] = {}
    free_value: dict[int, bool] = {}
    for node in order:
        name = node.op.name
        for v in node.results:
            vid = id(v)
            if name == "constant":
                in_memory = vid in result_ids or any(u.op.name in BUFFER_CONSUMERS for u, _ in users.get(vid, []))
                kind[vid] = "inline" if _is_splat_constant(node) and not in_memory else "global"
                free_value[vid] = True
                continue
            if name in KERNEL_OPS or vid in result_ids:
                kind[vid] = "buffer"
                continue
            us = users.get(vid, [])
            if any(u.op.name in BUFFER_CONSUMERS for u, _ in us):
                kind[vid] = "buffer"
                continue
            d = 1 + max((depth.get(id(o), 0) for o in operands[node] if kind[id(o)] == "inline"), default=0)
            if d > MAX_INLINE_DEPTH:  # keeps the emitter's recursion (and loop bodies) bounded
                kind[vid] = "buffer"
                continue
            free = name == "iota" or (name in FREE_OPS and all(
                kind[id(o)] != "inline" or free_value.get(id(o), False) for o in operands[node]))
            if free or (us and all(once(u, pos, v) for u, pos in us) and (
                    len(us) == 1 or (group[node] is not None and all(group.get(u) == group[node] for u, _ in us)))):
                kind[vid] = "inline"
                depth[vid] = d
                free_value[vid] = free
                continue
            kind[vid] = "buffer"

    # what each value reads from memory when computed inline
    leaves_memo: dict[int, tuple] = {}

    def leaves(v):
        got = leaves_memo.get(id(v))
        if got is not None:
            return got
        if kind[id(v)] != "inline":
            out = (v,) if kind[id(v)] in ("buffer", "param", "global") else ()
        else:
            seen = {}
            for o in operands[v.node]:
                for leaf in leaves(o):
                    seen[id(leaf)] = leaf
            out = tuple(seen.values())
        leaves_memo[id(v)] = out
        return out

    def union(vals):
        seen = {}
        for o in vals:
            for leaf in leaves(o):
                seen[id(leaf)] = leaf
        return list(seen.values())

    kernels: list[Kernel] = []
    grouped: dict = {}
    for node in order:
        name = node.op.name
        if name == "constant":
            continue
        roots = [v for v in node.results if kind[id(v)] == "buffer"]
        if not roots:
            continue
        if name in KERNEL_OPS:
            k = Kernel(lu_solve.KIND if node in lu_solves else name, roots, node, operands[node],
                       union(operands[node]))
            if k.kind == lu_solve.KIND:
                k.scratch = lu_solve.scratch_bytes(k.operands)
            elif name in CONTROL_FLOW_OPS:
                k.subplans = [make_plan(r) for r in node.regions]
                k.scratch = control_flow_scratch(k)
            elif name == "fft":
                k.scratch = fft_scratch_bytes(node)
            elif name in LINALG_KERNEL_OPS:
                k.scratch = scratch_bytes(node, k.operands)
            elif name in GEEV_OPS:
                k.scratch = geev_scratch_bytes(node, k.operands)
            elif name == "sort":
                k.scratch = sort_scratch_bytes(node)
            kernels.append(k)
            continue
        (v,) = roots
        reads = union(operands[node])
        g = group[node]
        inside = g is not None and all(group.get(l.node) != g for l in reads if l.node is not None)
        key = (g, v.type.shape)
        if inside and key in grouped:
            k = grouped[key]
            k.roots.append(v)
            for leaf in reads:
                if all(leaf is not x for x in k.reads):
                    k.reads.append(leaf)
            continue
        k = Kernel("loop", [v], None, (), reads)
        kernels.append(k)
        if inside:
            grouped[key] = k

    donated = _donations(graph, kernels, kind, operands, results, leaves, donate)

    # storage: params, results, globals, arena
    storage: dict = {}
    for i, p in enumerate(graph.params):
        storage[id(p)] = ("arg", i)
    res_info = []
    native = 0
    seen_res: dict[int, int] = {}
    for j, r in enumerate(results):
        k = kind.get(id(r))
        if id(r) in seen_res:
            res_info.append(("dup", seen_res[id(r)]))
        elif id(r) in donated:
            storage[id(r)] = ("arg", donated[id(r)].index)
            res_info.append(("donated", donated[id(r)].index))
        elif k == "param":
            res_info.append(("param", r.index))
        elif k == "global":
            res_info.append(("const", r.node.attrs["value"].array))
        else:
            storage[id(r)] = ("res", native)
            res_info.append(("native", native))
            native += 1
        seen_res.setdefault(id(r), j)
    for node in order:
        if node.op.name == "constant" and kind[id(node.results[0])] == "global":
            v = node.results[0]
            if id(v) not in storage:
                storage[id(v)] = ("global", len(globals_))
                globals_.append(node.attrs["value"].array)

    arena = _plan_arena(kernels, storage)
    return Plan(graph, order, operands, kind, kernels, storage, arena, res_info, globals_, values, donated)


def _donations(graph, kernels, kind, operands, results, leaves, donate) -> dict:
    """id(result) -> donated parameter to write it into. Safe when the result's kernel is an
    elementwise loop that reads the parameter only at the index it writes (through elementwise ops
    of the same shape), its other roots do not read the parameter, no later kernel reads it, and
    the parameter is not itself returned (its value must survive the call)."""
    if not donate:
        return {}
    params = graph.params
    returned = {id(r) for r in results if kind.get(id(r)) == "param"}
    result_ids = {id(r) for r in results}
    out: dict = {}
    taken: set = set()

    def reads_p(v, p) -> bool:  # whether computing `v` in its loop reads `p`
        return any(leaf is p for o in operands[v.node] for leaf in leaves(o))

    def identity_reads(v, p, top=False) -> bool:
        """Whether every read of `p` in computing `v` (a kernel root when `top`, else an inline value)
        is at `v`'s own index."""
        if v is p or (not top and kind.get(id(v)) != "inline"):
            return True
        node = v.node
        elementwise = node.op.elementwise or node.op.name in ("convert", "stop_gradient")
        for o in operands[node]:
            if not any(leaf is p for leaf in leaves(o)):
                continue
            if not elementwise or o.type.shape != v.type.shape or not identity_reads(o, p):
                return False
        return True

    for n, k in enumerate(kernels):
        if k.kind != "loop":
            continue
        for r in k.roots:
            if id(r) not in result_ids or id(r) in out:
                continue
            for i in donate:
                p = params[i]
                if i in taken or id(p) in returned or p.type != r.type or not any(x is p for x in k.reads):
                    continue
                if any(any(x is p for x in later.reads) for later in kernels[n + 1:]):
                    continue
                if any(reads_p(o, p) for o in k.roots if o is not r):
                    continue
                if identity_reads(r, p, top=True):
                    out[id(r)] = p
                    taken.add(i)
                    break
    return out


def _with_canonical_dot(node, operands, moved):
    """The dot node re-expressed on its operands, `moved` saying which were transposed."""
    lhs, rhs = operands[node]
    if not any(moved):
        return node
    a = dict(node.attrs)
    lb, rb, lc, rc = a["lhs_batch"], a["rhs_batch"], a["lhs_contracting"], a["rhs_contracting"]
    nl, nr = len(lb), len(rb)
    if moved[0]:   # now laid out batch, free, contracting
        nf = lhs.ndim - nl - len(lc)
        a["lhs_batch"] = tuple(range(nl))
        a["lhs_contracting"] = tuple(range(nl + nf, lhs.ndim))
    if moved[1]:   # now laid out batch, contracting, free
        a["rhs_batch"] = tuple(range(nr))
        a["rhs_contracting"] = tuple(range(nr, nr + len(rc)))
    new = make_node(node.op, (lhs, rhs), Attrs(a))
    # keep the original result values: consumers refer to them
    new.results = node.results
    operands[new] = (lhs, rhs)
    return new


def _plan_arena(kernels, storage) -> int:
    """First-fit offsets for materialized intermediates, reusing bytes after a buffer's last read."""
    last_use: dict[int, int] = {}
    for k, ker in enumerate(kernels):
        for v in ker.reads:
            last_use[id(v)] = k
        for v in ker.roots:
            last_use.setdefault(id(v), k)
    live: list[tuple[int, int, int]] = []  # (offset, size, value id)
    top = 0
    def alloc(nbytes, key):
        nonlocal top
        size = max(ALIGN, -(-nbytes // ALIGN) * ALIGN)
        live.sort()
        off = 0
        for o, s, _ in live:
            if off + size <= o:
                break
            off = max(off, o + s)
        live.append((off, size, key))
        top = max(top, off + size)
        return off

    for k, ker in enumerate(kernels):
        for v in ker.roots:
            if id(v) not in storage:
                storage[id(v)] = ("arena", alloc(v.type.nbytes, id(v)))
        if ker.scratch:
            storage[id(ker)] = ("arena", alloc(ker.scratch, id(ker)))
        live = [(o, s, vid) for (o, s, vid) in live if last_use.get(vid, -1) > k]
    return top


def pad(n: int) -> int:
    return max(ALIGN, -(-n // ALIGN) * ALIGN)


def control_flow_scratch(k: Kernel) -> int:
    """Bytes a control-flow kernel needs: two copies of the carry (loops), a predicate slot,
    and one arena shared by its regions (they never run at the same time)."""
    node = k.node
    sub = max((p.arena_size for p in k.subplans), default=0)
    carry = []
    if node.op.name == "while":
        carry = [v.type for v in k.operands]
    elif node.op.name == "scan":
        nc, nk = node.attrs["num_consts"], node.attrs["num_carry"]
        carry = [v.type for v in k.operands[nc:nc + nk]]
    return 2 * sum(pad(t.nbytes) for t in carry) + ALIGN + pad(sub)


def describe(plan: Plan) -> str:
    """A readable summary of the schedule (for debugging and tests)."""
    lines = [f"arena {plan.arena_size} bytes, {len(plan.kernels)} kernels"]
    for i, k in enumerate(plan.kernels):
        roots = ", ".join(f"{r.type}@{plan.storage[id(r)]}" for r in k.roots)
        lines.append(f"  k{i} {k.kind}: {roots} <- {len(k.reads)} buffers")
    return "\n".join(lines)


__all__ = ["Kernel", "Plan", "Unsupported", "make_plan", "describe", "KERNEL_OPS", "CONTROL_FLOW_OPS", "pad"]

"""Fusion: groups of elementwise, broadcast and reduce nodes become `fusion` nodes.

Each group has one loop shape L and obeys the region rules of fusion_form.py,
so a backend emits it as one loop nest. How groups form:

1. Producer-consumer (one backward sweep). An elementwise node joins the
   group of its consumers when all of them are in one group of its loop shape
   (graph results count as free sinks). A reduce starts a group as its root:
   nothing in a group uses a reduce result. Absorbing a producer whose users
   are all inside a group can never make a cycle, so no check is needed.
2. Multi-output. Groups of one loop shape that read the same value (a
   parameter or a computed one, directly or through a broadcast), or where
   one feeds the other, merge when no path leaves one and reaches
   the other through nodes outside them (that would be a cycle). A
   topological order of the groups is maintained as in Pearce and Kelly's
   dynamic topological sort, so the check searches only the groups ordered
   between the two; it is bounded per attempt and in total (linear overall),
   and when a bound is hit the merge is simply not done.
3. Build. Inside a region, `broadcast_in_dim` of a value from outside is
   copied in (broadcast of a region parameter), and so are splat constants
   (as a rank-0 constant). That duplication is cheap and argued: it is an
   index computation and a load per element, and it avoids materialising the
   broadcast buffer; the original broadcast stays only if something else still
   uses it. Nothing else is ever duplicated: transcendentals, reductions and
   dots are computed once. Fusion never crosses dot_general, gather/scatter,
   dynamic slices, shape ops or region ops: they are not fusible.

A group is made a fusion only when it saves something: two or more computing
nodes, or one reading an absorbed broadcast. Regions of control-flow nodes
are fused the same way, recursively (one level of recursion per nesting).
"""

from __future__ import annotations

import heapq

from ..ir import Graph, GraphBuilder, Node, TensorType, get_op, make_node
from .dce import dce_graph
from .graphutil import rebuild_node

MAX_FUSION_NODES = 256        # computing nodes per fusion
SEARCH_BUDGET = 128           # edges visited per merge attempt
TOTAL_SEARCH_PER_NODE = 64    # total merge-check work (edges), per node of the graph


def _compute_kind(node: Node):
    if node.regions:
        return None
    if node.op.elementwise:
        return "ew"
    if node.op.name == "reduce":
        return "reduce"
    return None


class _Groups:
    """Union-find over node indices with per-group loop shape, dims and members."""

    def __init__(self, n):
        self.parent = list(range(n))
        self.members: dict[int, list[int]] = {}
        self.shape: dict[int, tuple] = {}
        self.rdims: dict[int, tuple | None] = {}
        self.reduces: dict[int, list[int]] = {}   # reduce members (roots) of each group

    def find(self, i):
        p = self.parent
        root = i
        while p[root] != root:
            root = p[root]
        while p[i] != root:
            p[i], i = root, p[i]
        return root

    def new(self, i, shape, rdims):
        self.members[i] = [i]
        self.shape[i] = shape
        self.rdims[i] = rdims
        self.reduces[i] = [i] if rdims is not None else []

    def compatible(self, a, b, cap):
        if self.shape[a] != self.shape[b]:
            return False
        ra, rb = self.rdims[a], self.rdims[b]
        if ra is not None and rb is not None and ra != rb:
            return False
        return len(self.members[a]) + len(self.members[b]) <= cap

    def union(self, a, b):
        """Merge group b into group a (both roots); returns the new root."""
        if len(self.members[a]) < len(self.members[b]):
            a, b = b, a
        self.parent[b] = a
        self.members[a].extend(self.members.pop(b))
        self.reduces[a].extend(self.reduces.pop(b))
        rd = self.rdims.pop(b)
        if self.rdims[a] is None:
            self.rdims[a] = rd
        del self.shape[b]
        return a


def fuse_graph(graph: Graph, options: dict | None = None) -> Graph:
    options = options or {}
    cap = options.get("max_fusion_nodes", MAX_FUSION_NODES)
    graph = dce_graph(graph)  # dead members would leave unused parameters in regions
    nodes = graph.nodes
    n = len(nodes)
    prod = {}
    for i, node in enumerate(nodes):
        for r in node.results:
            prod[id(r)] = i
    users: list[list[int]] = [[] for _ in range(n)]
    for i, node in enumerate(nodes):
        for v in node.operands:
            p = prod.get(id(v))
            if p is not None:
                users[p].append(i)
    kinds = [_compute_kind(node) for node in nodes]
    g = _Groups(n)
    grouped = [False] * n

    # 1. producer-consumer, consumers first
    for i in range(n - 1, -1, -1):
        k = kinds[i]
        if k is None:
            continue
        node = nodes[i]
        grouped[i] = True
        if k == "reduce":
            g.new(i, node.operands[0].shape, tuple(node.attrs["dimensions"]))
            continue
        shape = node.results[0].shape
        target = None
        for u in users[i]:
            if not grouped[u]:
                target = None
                break
            ru = g.find(u)
            if target is None:
                target = ru
            elif ru != target:
                target = None
                break
        if target is not None and g.shape[target] == shape and len(g.members[target]) < cap:
            g.parent[i] = target
            g.members[target].append(i)
        else:
            g.new(i, shape, None)

    # 2. multi-output merges
    _multi_output(nodes, users, prod, grouped, g, cap)

    # 3. decide which groups are worth a fusion node, then emit in topological order
    unit = list(range(n))
    worthy = {}
    for root, members in g.members.items():
        if _worth_fusing(nodes, members, prod, g.shape[root]):
            worthy[root] = sorted(members)
            for m in members:
                unit[m] = root
    return _emit(graph, nodes, prod, unit, worthy, g, options)


def _absorbable_broadcast(node: Node, shape) -> bool:
    return node.op.name == "broadcast_in_dim" and node.results[0].shape == shape


def _splat_constant(node: Node) -> bool:
    if node.op.name != "constant":
        return False
    lit = node.attrs["value"]
    return lit.array.size >= 1 and (lit.array.size == 1 or (lit.array.size <= 4096 and lit.is_splat()))


def _worth_fusing(nodes, members, prod, shape) -> bool:
    if len(members) >= 2:
        return True
    node = nodes[members[0]]
    for v in node.operands:
        p = prod.get(id(v))
        if p is not None and _absorbable_broadcast(nodes[p], shape) and shape != ():
            return True
    return False


def _multi_output(nodes, users, prod, grouped, g: _Groups, cap):
    """Merge groups into multi-output fusions where that makes no cycle (see the module doc).

    The contracted graph (groups and loose nodes as units) keeps a topological order `ord`,
    maintained as in Pearce and Kelly's dynamic topological sort: merging A and B (ord A <
    ord B) is like adding the edge B -> A, so it makes a cycle exactly when a search forward
    from A, bounded by ord B, reaches B other than directly. That search and the backward
    one from B only visit units ordered between A and B, and give the units to reorder. Work
    is counted in edges, per attempt and in total (linear overall); when a bound is hit the
    merge is not done.
    """
    n = len(nodes)
    budget = [TOTAL_SEARCH_PER_NODE * n + 10_000]
    preds: list[list[int]] = [[prod[id(v)] for v in node.operands if id(v) in prod] for node in nodes]
    ext_out: dict[int, list[int]] = {}
    ext_in: dict[int, list[int]] = {}
    for root, members in g.members.items():
        ext_out[root] = [w for m in members for w in users[m] if not grouped[w] or g.find(w) != root]
        ext_in[root] = [p for m in members for p in preds[m] if not grouped[p] or g.find(p) != root]

    def unit_of(i):
        return g.find(i) if grouped[i] else -1 - i

    def neighbours(u, lists, plain):
        """Units next to unit u; a group's list is compacted to one node per neighbour unit."""
        if u < 0:
            out = {unit_of(w) for w in plain[-1 - u]}
            out.discard(u)
            return out
        reps = {}
        for w in lists[u]:
            uw = unit_of(w)
            if uw != u and uw not in reps:
                reps[uw] = w
        lists[u] = list(reps.values())
        return set(reps)

    # a topological order of the units after phase 1 (Kahn, lowest node index first)
    units = list(g.members) + [-1 - i for i in range(n) if not grouped[i]]
    key = {u: (min(g.members[u]) if u >= 0 else -1 - u) for u in units}
    indeg = {u: len(neighbours(u, ext_in, preds)) for u in units}
    heap = [(key[u], u) for u in units if indeg[u] == 0]
    heapq.heapify(heap)
    order: dict[int, int] = {}
    while heap:
        _, u = heapq.heappop(heap)
        order[u] = len(order)
        for w in neighbours(u, ext_out, users):
            indeg[w] -= 1
            if indeg[w] == 0:
                heapq.heappush(heap, (key[w], w))

    def search(start, stop, lists, plain, inside):
        """Units reached from `start` within the ord window; None on a cycle or when over budget."""
        seen = {start}
        stack = [start]
        edges = 0
        while stack:
            u = stack.pop()
            nb = neighbours(u, lists, plain)
            edges += len(nb) + 1
            budget[0] -= len(nb) + 1
            if edges > SEARCH_BUDGET or budget[0] < 0:
                return None
            for w in nb:
                if w == stop:
                    if u != start:
                        return None  # start -> ... -> stop through another unit: a cycle
                    continue
                if w not in seen and inside(order[w]):
                    seen.add(w)
                    stack.append(w)
        return seen

    failed: set = set()  # (root, root) pairs already refused: not retried

    def try_merge(x, y):
        if budget[0] < 0:
            return
        x, y = g.find(x), g.find(y)
        if x == y or (x, y) in failed or not g.compatible(x, y, cap):
            return
        failed.add((x, y))
        failed.add((y, x))
        # a reduce result may not be used inside its own fusion: reductions are roots
        for p, q in ((x, y), (y, x)):
            for r in g.reduces[p]:
                if any(grouped[w] and g.find(w) == q for w in users[r]):
                    return
        a, b = (x, y) if order[x] < order[y] else (y, x)
        oa, ob = order[a], order[b]
        fwd = search(a, b, ext_out, users, lambda o: o < ob)
        if fwd is None:
            return
        bwd = search(b, a, ext_in, preds, lambda o: o > oa)
        if bwd is None or not fwd.isdisjoint(bwd):
            return
        pool = sorted(order[u] for u in fwd | bwd)
        before = sorted((u for u in bwd if u != b), key=order.__getitem__)
        after = sorted((u for u in fwd if u != a), key=order.__getitem__)
        la, lb = ext_out.pop(a), ext_out.pop(b)
        ia, ib = ext_in.pop(a), ext_in.pop(b)
        del order[a], order[b]
        root = g.union(a, b)
        ext_out[root] = la + lb if len(la) >= len(lb) else lb + la
        ext_in[root] = ia + ib if len(ia) >= len(ib) else ib + ia
        for u, o in zip(before + [root] + after, pool):
            order[u] = o

    # (a) a group feeding another group of its loop shape
    for i in range(n):
        if not grouped[i]:
            continue
        for w in users[i]:
            if grouped[w] and g.find(w) != g.find(i):
                try_merge(i, w)
    # (b) siblings: groups reading the same value, so it is read once (constants excluded:
    # sharing a scalar is no reason to fuse unrelated work)
    readers: dict[int, list[int]] = {}
    for i, node in enumerate(nodes):
        if not grouped[i]:
            continue
        for v in node.operands:
            p = prod.get(id(v))
            if p is not None and _absorbable_broadcast(nodes[p], g.shape[g.find(i)]):
                v = nodes[p].operands[0]
                p = prod.get(id(v))
            if p is not None and nodes[p].op.name == "constant":
                continue
            readers.setdefault(id(v), []).append(i)
    for rs in readers.values():
        first = rs[0]
        for other in rs[1:]:
            try_merge(first, other)


def _emit(graph, nodes, prod, unit, worthy, g, options):
    preds_count = {}
    succ: dict[int, list[int]] = {}
    prio = {}
    for i, node in enumerate(nodes):
        u = unit[i]
        prio[u] = min(prio.get(u, i), i)
        preds_count.setdefault(u, 0)
        for v in node.operands:
            p = prod.get(id(v))
            if p is None:
                continue
            pu = unit[p]
            if pu != u:
                succ.setdefault(pu, []).append(u)
                preds_count[u] += 1
    # nodes whose result leaves its unit (used by another unit, or returned)
    escapes = {prod[id(v)] for v in graph.results if id(v) in prod}
    for i, node in enumerate(nodes):
        for v in node.operands:
            p = prod.get(id(v))
            if p is not None and unit[p] != unit[i]:
                escapes.add(p)
    heap = [(prio[u], u) for u, c in preds_count.items() if c == 0]
    heapq.heapify(heap)
    env: dict = {}
    out: list[Node] = []
    emitted = 0
    while heap:
        _, u = heapq.heappop(heap)
        emitted += 1
        if u in worthy:
            out.append(_build_fusion(nodes, worthy[u], prod, g.shape[u], env, escapes))
        else:
            node = nodes[u]
            operands = [env.get(v, v) for v in node.operands]
            regions = None
            if node.regions and node.op.name != "fusion":
                regions = [fuse_graph(r, options) for r in node.regions]
            new = rebuild_node(node, operands, regions)
            for a, b in zip(node.results, new.results):
                if a is not b:
                    env[a] = b
            out.append(new)
        for w in succ.get(u, ()):
            preds_count[w] -= 1
            if preds_count[w] == 0:
                heapq.heappush(heap, (prio[w], w))
    if emitted != len(preds_count):
        raise RuntimeError(f"fusion of @{graph.name} made a cycle; this is a bug in the fusion pass")
    # drop broadcasts and constants that were copied into every region that read them; the
    # regions themselves are clean (fusion regions are built without dead nodes, the others
    # were fused recursively, which cleaned them)
    return dce_graph(Graph(graph.name, graph.params, out, [env.get(v, v) for v in graph.results]), regions=False)


def _build_fusion(nodes, members, prod, shape, env, escapes) -> Node:
    """Make the fusion node of a group (members sorted) and map their results in `env`."""
    member_set = set(members)
    b = GraphBuilder("fused")
    inner: dict = {}          # outer value (id) -> region value
    outer_operands = []
    absorbed: dict = {}       # id(outer broadcast node) -> region value

    def param(v):
        r = inner.get(id(v))
        if r is None:
            outer = env.get(v, v)
            r = b.param(v.type)
            outer_operands.append(outer)
            inner[id(v)] = r
        return r

    bcast = get_op("broadcast_in_dim")
    bcast_attrs: dict = {}
    splats: dict = {}         # id(outer constant node) -> region value of its splat over L

    def broadcast(src, dims):
        attrs = bcast_attrs.get(dims)
        if attrs is None:
            attrs = bcast_attrs[dims] = bcast.normalize_attrs({"shape": shape, "broadcast_dimensions": dims})
        return b.add_node(Node(bcast, [src], attrs, [TensorType(shape, src.dtype)])).results[0]

    def splat(cnode):
        """The splat constant `cnode` over L: a rank-0 constant, broadcast unless L is rank 0."""
        r = splats.get(id(cnode))
        if r is None:
            arr = cnode.attrs["value"].array.reshape(-1)[:1].reshape(())
            c = b.constant(arr, cnode.results[0].dtype)
            r = splats[id(cnode)] = c if shape == () else broadcast(c, ())
        return r

    def operand(v):
        r = inner.get(id(v))
        if r is not None:
            return r
        p = prod.get(id(v))
        if p is not None and p not in member_set:
            pn = nodes[p]
            if _absorbable_broadcast(pn, shape) and prod.get(id(pn.operands[0])) not in member_set:
                r = absorbed.get(id(pn))
                if r is None:
                    (src,) = pn.operands
                    sp = prod.get(id(src))
                    if sp is not None and _splat_constant(nodes[sp]):
                        r = splat(nodes[sp])
                    else:
                        r = broadcast(param(src), pn.attrs["broadcast_dimensions"])
                    absorbed[id(pn)] = r
                return r
            if _splat_constant(pn):
                r = inner[id(v)] = splat(pn)
                return r
        return param(v)

    has_reduce = False
    for m in members:
        node = nodes[m]
        ops = [operand(v) for v in node.operands]
        # same op, attributes and operand types as the checked original: no need to re-infer
        new = b.add_node(Node(node.op, ops, node.attrs, [r.type for r in node.results]))
        has_reduce |= node.op.name == "reduce"
        for a, r in zip(node.results, new.results):
            inner[id(a)] = r
    # results: member values used outside the group or returned by the graph
    res_outer = [nodes[m].results[0] for m in members if m in escapes]
    region = b.build([inner[id(v)] for v in res_outer])
    fnode = make_node("fusion", outer_operands, {"kind": "reduce" if has_reduce else "loop"}, (region,))
    for old, new in zip(res_outer, fnode.results):
        env[old] = new
    return fnode

"""The import graph of src/chainrule keeps the layers of DESIGN.md, has no cycle, and no module is too long.

The graph is read with `ast` from the source (nothing is imported): module-level and function-level
imports alike, relative imports resolved. `from pkg import name` counts as an import of pkg.name where
that is a module, else of pkg. Known violations are listed below with their reason, so that a new
one still fails.
"""

from __future__ import annotations

import ast
import pathlib

SRC = pathlib.Path(__file__).resolve().parent.parent / "src"
PKG = SRC / "chainrule"

# ir <- passes <- backends <- frontend <- the rest; a layer may import only layers below it.
LAYERS = {"fileio": 0, "ir": 0, "passes": 1, "backends": 2, "frontend": 3}  # fileio: atomic file writes, no imports
TOP = {"artifact", "interop", "fuzz", "tools", "cli", "cli_artifact", "testing", "tree_util", "__init__"}
PUBLIC = {"numpy", "scipy", "nn", "random", "lax"}  # public namespaces: re-exports from frontend only

# The order of chainrule.frontend.numpy's modules, lowest first (the package docstring says the same).
NUMPY_ORDER = ["ufuncs", "transcendental", "shapes", "reductions", "creation", "indexing", "manipulation",
               "matrices", "products", "sorting", "at", "index_tricks", "sized", "calculus", "statistics", "linalg",
               "polynomials", "functional", "special_normal", "special", "ufunc_methods", "fft"]

# (importer, imported): why it stands for now.
EXEMPT_EDGES = {
    ("chainrule.frontend.api", "chainrule.artifact"):
        "Compiled.export() writes an artifact (imported when called); export could move to the artifact side",
    ("chainrule.frontend.tensor_methods", "chainrule.numpy"):
        "Tensor.__array_namespace__ and __array_function__ hand out the public chainrule.numpy itself",
    ("chainrule.passes.fold", "chainrule.backends.reference"):
        "constant folding evaluates ops with the reference interpreter's rules; the per-op NumPy semantics "
        "should move below both (or be injected) -- a larger change than this one",
}
# Cycles between modules of one package, each closed by a function-level import, and why.
EXEMPT_CYCLES = {
    frozenset({"chainrule.ir.graph", "chainrule.ir.printer", "chainrule.ir.dot"}):
        "Graph.__str__ and Graph.to_dot call the printer and the dot writer, which read graphs",
    frozenset({"chainrule.backends.reference.interpreter", "chainrule.backends.reference.rules"}):
        "control-flow rules evaluate their regions with the interpreter that dispatches to them",
    frozenset({"chainrule.backends.jax.interpreter", "chainrule.backends.jax.control_flow"}):
        "control-flow lowerings lower their regions with the interpreter that dispatches to them",
    frozenset({"chainrule.backends.llvm.export", "chainrule.backends.llvm.blocked_gemm"}):
        "the blocked GEMM falls back to export's reference GEMM, which export in turn uses",
    frozenset({"chainrule.interop.jax_import", "chainrule.interop.jax_control_flow", "chainrule.interop.jax_custom",
               "chainrule.interop.jax_cumulative", "chainrule.interop.jax_linalg"}):
        "the jaxpr importer and its control-flow/custom-rule parts inline sub-jaxprs through each other",
    frozenset({"chainrule.interop.jax_indexing", "chainrule.interop.jax_primitives"}):
        "the primitive table names the gather/scatter rules, which raise the table's error",
}
MAX_LINES = 720
LONG_MODULES: dict[str, str] = {}  # module path -> why it may be longer


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, pathlib.Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _imports(name: str, path: pathlib.Path, modules) -> set[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:  # `import chainrule.x.y` names a module; trim what is not one
                t = t.rpartition(".")[0]
            if t and t != name and t.startswith("chainrule"):
                out.add(t)
    return out


def _graph():
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _top(name: str) -> str:
    return name.split(".")[1] if name.count(".") else "__init__"


def _is_package_init(name: str, target: str) -> bool:
    """A package's __init__ importing its own submodules (or a submodule its package) is not a layer edge."""
    return target.startswith(name + ".") or name.startswith(target + ".")


def _exempt(a: str, b: str) -> bool:
    return any(a.startswith(x) and b.startswith(y) for x, y in EXEMPT_EDGES)


def test_graph_is_read():
    g = _graph()
    assert "chainrule.frontend.numpy.ufuncs" in g["chainrule.frontend.numpy.reductions"]
    assert "chainrule.ir" in {t.rpartition(".")[0] or t for t in g["chainrule.passes.dce"]} | g["chainrule.passes.dce"]


def test_layers():
    bad = []
    for a, targets in _graph().items():
        la = _top(a)
        for b in targets:
            lb = _top(b)
            if la == lb or _is_package_init(a, b) or _exempt(a, b):
                if la == lb == "backends":
                    ka, kb = (a.split(".") + [""] * 3)[2], (b.split(".") + [""] * 3)[2]
                    backends = {"reference", "llvm", "jax"}
                    if ka in backends and kb in backends and ka != kb:
                        bad.append(f"{a} -> {b}: a backend never imports another backend")
                continue
            if la in PUBLIC:
                if lb != "frontend" and lb not in PUBLIC:
                    bad.append(f"{a} -> {b}: a public namespace only re-exports from frontend")
            elif lb in PUBLIC and la in LAYERS:
                bad.append(f"{a} -> {b}: the {la} layer uses the public namespace instead of frontend")
            elif la in LAYERS and lb in LAYERS and LAYERS[lb] > LAYERS[la]:
                bad.append(f"{a} -> {b}: {la} sits below {lb}")
            elif la in LAYERS and lb in TOP:
                bad.append(f"{a} -> {b}: {la} sits below {lb}")
    assert not bad, "imports against the layers:\n" + "\n".join(sorted(bad))


def test_public_namespaces_only_reexport():
    modules = _modules()
    bad = []
    for name, path in modules.items():
        if _top(name) not in PUBLIC:
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bad.append(f"{name}: defines {node.name}")
    assert not bad, "public namespaces must only re-export:\n" + "\n".join(bad)


def _cycles(g):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(frozenset(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_cycles():
    g = _graph()
    # a package __init__ that re-exports its submodules is not part of a cycle through them
    g = {a: {b for b in bs if not _is_package_init(a, b)} for a, bs in g.items()}
    cycles = [c for c in _cycles(g) if c not in EXEMPT_CYCLES]
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(sorted(c)) for c in cycles)


def test_exemptions_still_needed():
    g = _graph()
    g2 = {a: {b for b in bs if not _is_package_init(a, b)} for a, bs in g.items()}
    found = set(_cycles(g2))
    stale = [sorted(c) for c in EXEMPT_CYCLES if c not in found]
    stale += [e for e in EXEMPT_EDGES if not any(a.startswith(e[0]) and b.startswith(e[1])
                                                 for a, bs in g.items() for b in bs)]
    assert not stale, f"exemptions that no longer apply (remove them): {stale}"


def test_numpy_modules_keep_their_order():
    g = _graph()
    rank = {f"chainrule.frontend.numpy.{m}": i for i, m in enumerate(NUMPY_ORDER)}
    present = {n for n in g if n.startswith("chainrule.frontend.numpy.")}
    assert present == set(rank), f"modules not in NUMPY_ORDER: {sorted(present ^ set(rank))}"
    doc = ast.get_docstring(ast.parse((PKG / "frontend" / "numpy" / "__init__.py").read_text()))
    words = [w for w in doc.replace("<", " ").replace(",", " ").split() if w in NUMPY_ORDER]
    assert words == NUMPY_ORDER, "the package docstring's order differs from NUMPY_ORDER"
    bad = [f"{a} -> {b}" for a in rank for b in g[a] if b in rank and rank[b] >= rank[a]]
    assert not bad, "frontend.numpy imports against its order:\n" + "\n".join(bad)


def test_no_function_level_imports_in_numpy():
    """Inside frontend/numpy every import is at module level: the order above is the whole story."""
    bad = []
    for path in sorted((PKG / "frontend" / "numpy").glob("*.py")):
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                bad += [f"{path.name}:{n.lineno}" for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not bad, f"function-level imports: {bad}"


def test_module_sizes():
    long = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        n = len(path.read_text().splitlines())
        if n > MAX_LINES and rel not in LONG_MODULES:
            long[rel] = n
    assert not long, f"modules over {MAX_LINES} lines (split them by topic): {long}"

"""Define-then-run and tracing entry points: placeholder, function, trace, jit.

`jit(fun)` traces `fun` once per input signature (tree structure, shapes,
dtypes and static arguments), optimises the graph with the pass pipeline and
compiles it with a backend; later calls with the same signature go straight
to the compiled code.
"""

from __future__ import annotations

import functools
import os
import threading
import weakref

import numpy as np

from .. import backends
from ..ir import Graph, TensorType, verify
from . import config, pytree
from .core import canonical_array, is_tensor, widened
from .dispatch import exact_flat, fast_key
from .errors import api_boundary, filter_traceback
from .tensor import Tensor, current_scope
from .tracing import Spec, TracedFunction, build_graph, inline_checked, spec_of, trace_flat


def placeholder(shape, dtype="float32", name=None) -> Tensor:
    """A symbolic input for define-then-run graphs (`cr.function`)."""
    return Tensor(TensorType(shape, dtype), current_scope(), None, 0, name)


def _verify_enabled() -> bool:
    return os.environ.get("CHAINRULE_VERIFY", "") not in ("", "0")


def optimize_graph(graph: Graph, opt_level=None, passes=None) -> Graph:
    """Run the pass pipeline when the passes package provides one."""
    try:
        from ..passes import optimize
    except ImportError:
        return graph
    kwargs = {}
    if passes is not None:
        kwargs["passes"] = passes
    return optimize(graph, opt_level=2 if opt_level is None else opt_level, **kwargs)


class Compiled:
    """A compiled graph with its pytree signature: call it like the original function."""

    def __init__(self, graph: Graph, executable, in_tree, out_tree, source_graph: Graph | None = None,
                 backend: str | None = None, prints=()):
        self.graph = graph
        self.executable = executable
        self.in_tree = in_tree
        self.out_tree = out_tree
        self.source_graph = source_graph if source_graph is not None else graph
        self.backend = backend or getattr(executable, "backend", None)
        self._param_types = graph.param_types
        self._np_dtypes = [t.dtype.np for t in self._param_types]
        self._single_out = out_tree.kind == "leaf"
        # the LLVM executable's __call__ is its own fast path (it re-checks cheaply); others go through run
        self._direct = getattr(executable, "backend", None) == "llvm"
        self._device_array_type = getattr(executable, "device_array_type", None)
        self._fast_calls: dict = {}  # fast_key of flat arguments -> fast_caller (see __call__)
        # cr.debug.print calls: their values are the graph's results after out_tree's (frontend/debug.py)
        self.prints = tuple(prints)
        if self.prints:
            self._direct = False

    def call_fast(self, args):
        """Call with flat arguments whose types `JitFunction` has already matched (see fast_key)."""
        if self.prints:
            return self.call_flat(list(args))
        exe = self.executable
        for a in args:
            if type(a) is not np.ndarray:
                break
        else:
            if self._direct:  # the LLVM executable checks exact arrays itself, odd layouts included
                outs = exe(*args)
                return outs[0] if self._single_out else pytree.unflatten(self.out_tree, outs)
        arrays = []
        for a, dt in zip(args, self._np_dtypes):
            if type(a) is not np.ndarray:
                a = np.asarray(a, dt)
            elif not (a.flags.c_contiguous and a.flags.aligned):
                a = c_aligned(a)
            arrays.append(a)
        outs = exe(*arrays) if self._direct else exe.run(arrays)
        return outs[0] if self._single_out else pytree.unflatten(self.out_tree, outs)

    def fast_caller(self, args):
        """A `call(args)` specialised to the kinds of these flat positional arguments (arrays of the
        compiled shapes and dtypes, or scalars to wrap), which `JitFunction` caches per `fast_key`:
        one Python call from the user's call to native code for the LLVM backend."""
        if self._direct:
            scalar_dtypes = [None if type(a) is np.ndarray else dt for a, dt in zip(args, self._np_dtypes)]
            call = self.executable.fast_caller(scalar_dtypes, self._single_out, self.call_fast)
            if call is not None:
                if self._single_out:
                    return call
                out_tree = self.out_tree
                if out_tree.kind == "tuple" and all(c.kind == "leaf" for c in out_tree.children):
                    return lambda a: tuple(call(a))
                return lambda a: pytree.unflatten(out_tree, call(a))
        return self.call_fast

    @property
    def signature(self):
        return {"inputs": [str(t) for t in self._param_types], "outputs": [str(t) for t in self.graph.result_types],
                "in_tree": repr(self.in_tree), "out_tree": repr(self.out_tree)}

    def as_text(self) -> str:
        return str(self.graph)

    def __call__(self, *args, **kwargs):
        fkey = None if kwargs else fast_key(args)
        if fkey is not None:
            call = self._fast_calls.get(fkey)
            if call is not None:
                return call(args)
            if exact_flat(args, self.in_tree, self._param_types):
                call = self._fast_calls[fkey] = self.fast_caller(args)
                return call(args)
        try:  # free until something is raised (the calls above are checked already)
            leaves, tree = pytree.flatten(args)
            if tree != self.in_tree:  # traced by jit(...).lower: the tree is (args, kwargs)
                leaves, tree = pytree.flatten((args, kwargs))
            if tree != self.in_tree:
                want = _positional(self.in_tree)
                if want is not None and len(args) != len(want.children) and not kwargs:
                    raise TypeError(f"{self.graph.name} takes {len(want.children)} argument(s), got {len(args)}")
                raise TypeError(f"{self.graph.name}: expected arguments structured as {self.in_tree}, got "
                                f"{pytree.flatten(args)[1]}")
            return self.call_flat(leaves)
        except Exception as e:
            filter_traceback(e)  # the user's frames only, unless CHAINRULE_TRACEBACK=full
            raise

    def call_flat(self, leaves):
        if any(type(x) is Tensor for x in leaves):  # called inside a trace: inline the graph
            outs = inline_checked(self.source_graph, leaves, self.graph.name)
            return pytree.unflatten(self.out_tree, outs[:self.out_tree.num_leaves])
        arrays = _prepare(leaves, self._param_types, self.graph, self._device_array_type)
        outs = self.executable.run(arrays)
        if self.prints:
            from .debug import show_recorded
            n = self.out_tree.num_leaves
            show_recorded(self.prints, outs[n:])
            outs = outs[:n]
        return pytree.unflatten(self.out_tree, outs)

    def export(self, path, **options):
        """Write this function to `path` as a .crx artifact; options as `chainrule.export`."""
        if self.prints:
            raise ValueError(f"{self.graph.name} calls cr.debug.print, whose values are printed by the Python "
                             "caller: remove the prints to export it")
        custom = _custom_nodes(self.in_tree) + _custom_nodes(self.out_tree)
        if custom:
            raise ValueError(f"{self.graph.name}: artifacts store tuples, lists, dicts, namedtuples and None, not "
                             f"registered pytree classes ({', '.join(sorted(set(custom)))}); pass and return their "
                             "fields instead")
        from ..artifact import export
        return export(self, path, **options)

    def __repr__(self):
        return f"<Compiled {self.graph.name} ({self.backend})>"


def _custom_nodes(tree) -> list:
    """Names of the registered pytree classes in `tree` (cr.tree_util.register_pytree_node)."""
    if tree.kind == "custom":
        return [tree.aux[0].__name__] + [n for c in tree.children for n in _custom_nodes(c)]
    return [n for c in tree.children for n in _custom_nodes(c)]


def c_aligned(a):
    """A C-ordered, aligned array (see backends.common.c_aligned; imported lazily so that
    importing chainrule's passes, which import the frontend package, loads no backend module)."""
    from ..backends.common import c_aligned as _c_aligned
    return _c_aligned(a)


def _prepare(leaves, types, graph, device_array_type=None) -> list:
    """Check arguments against the compiled signature (fast path for good arrays). Arrays of the
    backend's own `device_array_type` (jax.Array) with the right dtype and shape pass as they are:
    converting them would copy a GPU array to the host and back."""
    if len(leaves) != len(types):
        raise TypeError(f"{graph.name} takes {len(types)} array argument(s), got {len(leaves)}")
    out = []
    for i, (x, t) in enumerate(zip(leaves, types)):
        if type(x) is np.ndarray and x.dtype == t.dtype.np and x.shape == t.shape:
            out.append(x if x.flags.c_contiguous and x.flags.aligned else c_aligned(x))
            continue
        from ..backends.common import check_array
        name = graph.params[i].name or f"argument {i}"
        if device_array_type is not None and isinstance(x, device_array_type):
            if x.dtype != t.dtype.np:
                raise TypeError(f"{name}: expected dtype {t.dtype.name}, got {x.dtype} (cast it with .astype)")
            if tuple(x.shape) != t.shape:
                raise ValueError(f"{name}: expected shape {t.shape}, got {tuple(x.shape)}")
            out.append(x)
            continue
        if is_tensor(x):
            raise TypeError(f"{name}: got a symbolic tensor; compiled functions take concrete arrays")
        if not isinstance(x, np.ndarray) and isinstance(x, (bool, int, float, np.generic)):
            out.append(check_array(x, t, name))
            continue
        if isinstance(x, np.ndarray) and x.dtype != t.dtype.np and x.shape == t.shape:
            ca = widened(x, t.dtype.np, name)  # float16 -> float32 etc., as cr.jit converts them
            if ca is not None:
                out.append(c_aligned(ca))
                continue
        out.append(check_array(x, t, name))
    return out


def _positional(tree):
    """The tree of the positional arguments within an (args, kwargs) or args tree."""
    if tree.kind == "tuple" and len(tree.children) == 2 and tree.children[1].kind == "dict" \
            and tree.children[0].kind == "tuple":
        return tree.children[0]
    return tree if tree.kind == "tuple" else None


class Lowered:
    """A traced graph, before optimisation and compilation (`jit(f).lower(...)`)."""

    def __init__(self, traced: TracedFunction, backend, opt_level, passes, options):
        self.traced = traced
        self.graph = traced.graph
        self._backend = backend
        self._opt_level = opt_level
        self._passes = passes
        self._options = options

    def as_text(self) -> str:
        return str(self.graph)

    def optimized_graph(self) -> Graph:
        return optimize_graph(self.graph, self._opt_level, self._passes)

    def as_stablehlo(self) -> str:
        from ..backends.jax import stablehlo_text
        return stablehlo_text(self.optimized_graph())

    @api_boundary
    def compile(self) -> Compiled:
        g = self.optimized_graph()
        if _verify_enabled():
            verify(g)
        name = self._backend or backends.DEFAULT_BACKEND
        options = dict(self._options)
        if self._opt_level is not None and name == "llvm":
            options.setdefault("opt_level", self._opt_level)  # one level for our passes and LLVM's
        exe = backends.compile(g, name, **options)
        return Compiled(g, exe, self.traced.in_tree, self.traced.out_tree, self.graph, name,
                        prints=self.traced.prints)


@api_boundary
def trace(fun, *args, **kwargs) -> Graph:
    """The graph of `fun` on arguments (arrays, scalars or `cr.Spec`s), as a Graph."""
    traced = _trace(fun, args, kwargs, name=getattr(fun, "__name__", "main"))
    return traced.graph


def _trace(fun, args, kwargs, name="main", arg_names=None, prints=False) -> TracedFunction:
    leaves, in_tree = pytree.flatten((args, kwargs))
    types = [spec_of(x) for x in leaves]
    weak = [type(x) in (bool, int, float) for x in leaves]
    flat_fun = lambda a, k: fun(*a, **k)  # noqa: E731
    traced = trace_flat(flat_fun, types, in_tree, name=_ident(name), arg_names=arg_names, weak=weak,
                        prints=prints)
    if traced.captured:
        raise ValueError(
            f"{name} uses {len(traced.captured)} symbolic tensor(s) from outside the function "
            f"({', '.join(repr(t) for t in traced.captured[:3])}); pass them as arguments")
    if _verify_enabled():
        verify(traced.graph)
    return traced


def eval_shape(fun, *args, **kwargs):
    """The shapes and dtypes of `fun(*args, **kwargs)` without computing it (as jax.eval_shape): a
    pytree of `cr.Spec`s. Arguments may be arrays, scalars, `cr.Spec`s or objects with .shape and
    .dtype (jax.ShapeDtypeStruct); `fun` may be a Graph."""
    from .tracing import as_function
    fun = as_function(fun)
    traced = _trace(fun, args, kwargs, name=getattr(fun, "__name__", "main"))
    return pytree.unflatten(traced.out_tree, [Spec(t.shape, t.dtype) for t in traced.graph.result_types])


def make_jaxpr(fun, static_argnums=()):
    """Like jax.make_jaxpr: `make_jaxpr(f)(*args)` is the traced Graph of `f` on `args` (print it
    for its text form). `cr.trace(f, *args)` is the same in one call."""
    jf = JitFunction(fun, static_argnums)

    @functools.wraps(fun)
    def make(*args, **kwargs) -> Graph:
        statics, dyn = jf._split(args)
        kw_static, kwargs = jf._split_kwargs(kwargs)
        return _trace(jf._bound(statics, len(args), kw_static), dyn, kwargs,
                      name=getattr(fun, "__name__", "main")).graph
    return make


def block_until_ready(tree):
    """`tree`, once its arrays are computed (as jax.block_until_ready). chainrule's calls return when
    their results are ready (NumPy arrays), so this only waits on JAX arrays (the jax backend with
    return_jax_arrays=True). NumPy arrays have no .block_until_ready() method: call this instead."""
    for leaf in pytree.tree_leaves(tree):
        wait = getattr(leaf, "block_until_ready", None)
        if wait is not None and not isinstance(leaf, Tensor):
            wait()
    return tree


def device_put(tree, device=None):
    """The arrays of `tree` as arrays chainrule takes (as jax.device_put): NumPy arrays in chainrule's
    dtypes when `device` is None (the llvm and reference backends run on the host); with a `device`
    (a jax Device or a string like "gpu:0"), JAX arrays on it, which the jax backend takes without a
    copy."""
    if device is None:
        return pytree.tree_map(lambda x: x if isinstance(x, Tensor) else canonical_array(x), tree)
    import jax
    from ..backends.jax.devices import resolve_device
    from ..backends.jax.executable import x64
    with x64():
        return pytree.tree_map(lambda x: jax.device_put(canonical_array(x), resolve_device(device)), tree)


def _ident(name: str) -> str:
    import re
    n = re.sub(r"[^A-Za-z0-9_.]", "_", name or "main")
    return n if n and not n[0].isdigit() else "f_" + n


_LIVE_JITS: "weakref.WeakSet[JitFunction]" = weakref.WeakSet()


def _config_changed():
    """Default dtypes changed (cr.config): what was traced before may hold the old ones."""
    for jf in list(_LIVE_JITS):
        jf.clear_cache()


config.config.listeners.append(_config_changed)


def _check_options(backend, options):
    """Refuse options the backend does not take when `jit` is called, naming them (not at the first
    call); `backend=None` means the default backend."""
    name = backend or backends.DEFAULT_BACKEND
    known = backends.BACKEND_OPTIONS.get(name)
    if known is None:
        if name not in backends.KNOWN_BACKENDS:
            raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(backends.KNOWN_BACKENDS)}")
        return
    unknown = sorted(set(options) - known)
    if unknown:
        jit_opts = "static_argnums, static_argnames, donate_argnums, donate_argnames, backend, opt_level, passes"
        extra = f"; the {name} backend takes {', '.join(sorted(known - {'donate_argnums'}))}" if known else \
            f"; the {name} backend takes none"
        raise TypeError(f"jit got unknown option(s) {', '.join(unknown)}: jit takes {jit_opts}{extra}")


def _argnums_and_names(fun, nums, names, what):
    """JAX's rule: argnums and argnames complete each other through `fun`'s signature."""
    import inspect
    if isinstance(nums, int):
        nums = (nums,)
    if isinstance(names, str):
        names = (names,)
    nums, names = tuple(nums), tuple(names)
    for i in nums:
        if not isinstance(i, int) or isinstance(i, bool):
            raise TypeError(f"{what}_argnums must be ints, got {nums!r}")
    for n in names:
        if not isinstance(n, str):
            raise TypeError(f"{what}_argnames must be strings, got {names!r}")
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        return nums, names
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    by_name = {p.name: i for i, p in enumerate(positional)}
    keyword_ok = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    var_kw = any(p.kind == p.VAR_KEYWORD for p in params)
    for n in names:
        if n not in keyword_ok and not var_kw:
            raise ValueError(f"jit: {what}_argnames names {n!r}, which is not a keyword argument of "
                             f"{getattr(fun, '__name__', fun)}")
    nums = tuple(dict.fromkeys(nums + tuple(by_name[n] for n in names if n in by_name)))
    names = tuple(dict.fromkeys(names + tuple(positional[i].name for i in nums
                                              if 0 <= i < len(positional)
                                              and positional[i].kind == positional[i].POSITIONAL_OR_KEYWORD)))
    return nums, names


class JitFunction:
    """`cr.jit(fun)`: trace per signature, optimise, compile, cache."""

    def __init__(self, fun, static_argnums=(), backend=None, opt_level=None, passes=None, static_argnames=(),
                 donate_argnums=(), donate_argnames=(), **options):
        # in_shardings/out_shardings (NamedShardings) go into the graph; with mesh= they stay the jax
        # backend's own options (PartitionSpecs over that mesh)
        self.shardings = (None, None) if "mesh" in options else (options.pop("in_shardings", None),
                                                                  options.pop("out_shardings", None))
        _check_options(backend, options)
        self.fun = fun
        self.static_argnums, self.static_argnames = _argnums_and_names(fun, static_argnums, static_argnames,
                                                                       "static")
        self.donate_argnums, self.donate_argnames = _argnums_and_names(fun, donate_argnums, donate_argnames,
                                                                       "donate")
        both = set(self.static_argnums) & set(self.donate_argnums)
        if both:
            raise ValueError(f"jit: argument(s) {sorted(both)} are both static and donated; static arguments "
                             "are not arrays and cannot be donated")
        self.backend = backend
        self.opt_level = opt_level
        self.passes = passes
        self.options = options
        self._cache: dict = {}
        self._fast_cache: dict = {}  # fast_key of the (flattened) positional arguments -> Compiled.fast_caller
        self._lock = threading.Lock()
        self.trace_count = 0
        functools.update_wrapper(self, fun, updated=())
        _LIVE_JITS.add(self)

    def _split(self, args):
        n = len(args)
        static = set()
        for i in self.static_argnums:
            if -n <= i < n:
                static.add(i % n)
            elif not self.static_argnames:  # an argnum inferred from a name may be passed by keyword
                raise TypeError(f"static_argnums {self.static_argnums} out of range for {n} arguments")
        statics = tuple((i, args[i]) for i in sorted(static))
        for i, v in statics:
            _check_hashable(v, f"static argument {i}")
        dyn = tuple(a for i, a in enumerate(args) if i not in static)
        return statics, dyn

    def _split_kwargs(self, kwargs):
        if not self.static_argnames or not kwargs:
            return (), kwargs
        kw_static = tuple(sorted((k, v) for k, v in kwargs.items() if k in self.static_argnames))
        for k, v in kw_static:
            _check_hashable(v, f"static argument {k!r}")
        return kw_static, {k: v for k, v in kwargs.items() if k not in self.static_argnames}

    def _bound(self, statics, nargs, kw_static=()):
        fun = self.fun
        smap = dict(statics)
        kmap = dict(kw_static)

        def call(*dyn, **kwargs):
            it = iter(dyn)
            full = [smap[i] if i in smap else next(it) for i in range(nargs)]
            return fun(*full, **kwargs, **kmap)
        return call

    def __call__(self, *args, **kwargs):
        plain = not kwargs and not self.static_argnums
        if plain:
            fkey = fast_key(args)
            if fkey is not None:
                call = self._fast_cache.get(fkey)
                if call is not None:
                    return call(args)
            else:  # nested arguments (lists of parameters...): keyed by their tree too
                leaves, tree = pytree.flatten(args)
                lkey = fast_key(leaves)
                if lkey is not None:
                    call = self._fast_cache.get((tree, lkey))
                    if call is not None:
                        return call(leaves)
        try:  # free until something is raised: the warm calls above do not get slower
            statics, dyn = self._split(args)
            kw_static, kwargs = self._split_kwargs(kwargs)
            leaves, in_tree = pytree.flatten((dyn, kwargs))
            if any(isinstance(x, Tensor) for x in leaves):
                return self.fun(*args, **kwargs, **dict(kw_static))  # inside another trace: inline
            key = (in_tree, statics, kw_static, tuple(_leaf_key(x) for x in leaves))
            entry = self._cache.get(key)
            if entry is None:
                entry = self._compile(statics, len(args), dyn, kwargs, kw_static)
                self._cache[key] = entry
            if plain and len(leaves) == len(entry._param_types):
                fkey = fast_key(args)
                if fkey is not None:
                    self._fast_cache[fkey] = entry.fast_caller(args)
                else:
                    lkey = fast_key(leaves)
                    if lkey is not None:
                        self._fast_cache[(pytree.flatten(args)[1], lkey)] = entry.fast_caller(leaves)
            return entry.call_flat(leaves)
        except Exception as e:
            filter_traceback(e)  # the user's frames only, unless CHAINRULE_TRACEBACK=full
            raise

    def _donated_leaves(self, statics, nargs, dyn, kwargs) -> tuple:
        """Flat parameter indices of the donated arguments' leaves (the graph's parameters are the
        leaves of (dynamic positional arguments, keyword arguments))."""
        if not self.donate_argnums and not self.donate_argnames:
            return ()
        static = {i for i, _ in statics}
        donated_pos = {i % nargs for i in self.donate_argnums if -nargs <= i < nargs}
        flags = []
        positions = [i for i in range(nargs) if i not in static]
        for i, a in zip(positions, dyn):
            flags += [i in donated_pos] * len(pytree.flatten(a)[0])
        kw_leaves, kw_tree = pytree.flatten(kwargs)
        if kw_tree.kind == "dict":
            for k, c in zip(kw_tree.aux, kw_tree.children):
                flags += [k in self.donate_argnames] * c.num_leaves
        return tuple(i for i, f in enumerate(flags) if f)

    def _compile(self, statics, nargs, dyn, kwargs, kw_static=()) -> Compiled:
        return self._lower(statics, nargs, dyn, kwargs, kw_static).compile()

    def _lower(self, statics, nargs, dyn, kwargs, kw_static=()) -> Lowered:
        with self._lock:
            self.trace_count += 1
        traced = _trace(self._bound(statics, nargs, kw_static), dyn, kwargs,
                        name=getattr(self.fun, "__name__", "main"), prints=True)
        if self.shardings != (None, None):
            from .sharding import annotate
            traced = annotate(traced, *self.shardings)
        options = self.options
        donated = self._donated_leaves(statics, nargs, dyn, kwargs)
        # The jax and llvm backends take donation by flat parameter (jax.jit's donate_argnums; llvm
        # writes a result into a donated array where its plan finds that safe); reference ignores it.
        if donated and (self.backend or backends.DEFAULT_BACKEND) in ("jax", "llvm"):
            options = dict(options, donate_argnums=donated)
        return Lowered(traced, self.backend, self.opt_level, self.passes, options)

    @api_boundary
    def lower(self, *args, **kwargs) -> Lowered:
        statics, dyn = self._split(args)
        kw_static, kwargs = self._split_kwargs(kwargs)
        return self._lower(statics, len(args), dyn, kwargs, kw_static)

    def clear_cache(self):
        self._cache.clear()
        self._fast_cache.clear()

    def __repr__(self):
        return f"<jit {getattr(self.fun, '__name__', self.fun)}>"


def _check_hashable(v, what):
    try:
        hash(v)
    except TypeError:
        raise TypeError(f"{what} of type {type(v).__name__} is not hashable; "
                        "static arguments must be hashable (use a tuple instead of a list)") from None


def _leaf_key(x):
    if type(x) is np.ndarray:
        return (x.shape, x.dtype.str)
    if isinstance(x, Spec):
        return (x.shape, x.dtype.np.str)
    dt = getattr(x, "dtype", None)
    if isinstance(dt, np.dtype) and not isinstance(x, np.generic):  # device arrays (jax.Array): no spec_of
        return (tuple(x.shape), dt.str, type(x).__name__)
    t = spec_of(x)
    return (t.shape, t.dtype.np.str, type(x).__name__)


class GraphFunction:
    """`cr.jit(graph)`: a Graph compiled as a function of flat arrays."""

    def __init__(self, graph: Graph, backend=None, opt_level=None, passes=None, **options):
        verify(graph)
        self.graph = graph
        n = len(graph.params)
        in_tree = pytree.flatten((tuple(range(n)), {}))[1]
        out_tree = pytree.flatten(list(range(len(graph.results))))[1]
        self._traced = TracedFunction(graph, in_tree, out_tree, [])
        self._lowered = Lowered(self._traced, backend, opt_level, passes, options)
        self._compiled = None

    def lower(self, *args) -> Lowered:
        return self._lowered

    @api_boundary
    def __call__(self, *args):
        if any(type(x) is Tensor for x in args):  # called inside a trace: inline the graph
            return inline_checked(self.graph, list(args))
        if self._compiled is None:
            self._compiled = self._lowered.compile()
        return self._compiled.call_flat(list(args))


def jit(fun=None, static_argnums=(), backend=None, opt_level=None, passes=None, *, static_argnames=(),
        donate_argnums=(), donate_argnames=(), **options):
    """Compile `fun` (a Python function or a Graph) on first call per signature.

    static_argnums/static_argnames: arguments that are Python values baked into the trace (hashable;
    one compilation per value). donate_argnums/donate_argnames: arguments the caller will not use
    again, whose buffers the backend may reuse for the results (jax and llvm do; reference ignores
    donation). in_shardings/out_shardings: NamedShardings (or pytree prefixes of the positional
    arguments / results) written into the graph as sharding constraints (the jax backend places the
    arguments and results so; llvm and reference ignore placement). `**options` go to the backend;
    unknown ones are refused here."""
    if fun is None:
        return lambda f: jit(f, static_argnums, backend, opt_level, passes, static_argnames=static_argnames,
                             donate_argnums=donate_argnums, donate_argnames=donate_argnames, **options)
    if isinstance(fun, Graph):
        if static_argnums or static_argnames or donate_argnames:
            raise TypeError("jit of a Graph takes flat arrays: static_argnums, static_argnames and "
                            "donate_argnames do not apply")
        _check_options(backend, options)
        if donate_argnums and (backend or backends.DEFAULT_BACKEND) in ("jax", "llvm"):
            options = dict(options, donate_argnums=tuple(donate_argnums) if not isinstance(donate_argnums, int)
                           else (donate_argnums,))
        return GraphFunction(fun, backend, opt_level, passes, **options)
    return JitFunction(fun, static_argnums, backend, opt_level, passes, static_argnames=static_argnames,
                       donate_argnums=donate_argnums, donate_argnames=donate_argnames, **options)


@api_boundary
def function(inputs, outputs, backend=None, opt_level=None, passes=None, name="function", **options) -> Compiled:
    """Compile a define-then-run graph from placeholders `inputs` to `outputs`."""
    in_leaves, in_tree = pytree.flatten(inputs if isinstance(inputs, (list, tuple)) else [inputs])
    for i, x in enumerate(in_leaves):
        if not isinstance(x, Tensor) or x.apply is not None:
            raise TypeError(f"input {i} of cr.function must be a placeholder (cr.placeholder), got {x!r}")
    out_leaves, out_tree = pytree.flatten(outputs)
    outs = []
    from .core import constant_tensor
    for o in out_leaves:
        outs.append(o if isinstance(o, Tensor) else constant_tensor(canonical_array(o)))
    graph, captured = build_graph(in_leaves, outs, scope=None, name=_ident(name))
    if _verify_enabled():
        verify(graph)
    traced = TracedFunction(graph, pytree.flatten(tuple(in_leaves))[1], out_tree, [])
    compiled = Lowered(traced, backend, opt_level, passes, options).compile()
    compiled.in_tree = pytree.flatten(tuple(in_leaves))[1]
    return compiled

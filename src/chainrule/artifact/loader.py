"""`load(path)`: an artifact as a callable with the exported function's signature.

Loading checks the whole file first (container.read_verified: bounds,
checksums, the manifest's schema), then that the payloads implement the
manifest's signature (conform.py: the graph's declared types and the C
header now, the StableHLO avals or the library's workspace size when that
payload is loaded, the graph's body when it is compiled), then picks a
payload: the native library when this host can run it (same OS,
architecture and CPU features), else the StableHLO through JAX, else the
stored graph recompiled by a backend (the LLVM backend, or the reference
interpreter when llvmlite is missing). Falling back warns and says why; the
chosen payload is `.payload`. The native path imports neither llvmlite nor
jax, traces nothing and runs no pass.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..frontend import pytree
from ..frontend.dispatch import exact_flat, fast_key
from ..ir import TensorType
from . import conform
from .container import read_verified
from .errors import ArtifactError
from .host import incompatibility
from .treejson import tree_from_json


class ArtifactFallbackWarning(RuntimeWarning):
    """The preferred payload could not run here; another one was used."""


def _types(entries, what):
    try:
        return [TensorType(tuple(e["shape"]), e["dtype"]) for e in entries]
    except (KeyError, TypeError, ValueError) as e:
        raise ArtifactError(f"manifest: bad {what} signature: {e}") from None


class LoadedFunction:
    """A function loaded from an artifact: call it like the function that was exported."""

    def __init__(self, manifest: dict, members: dict, payload: str, runner, path=None, reason: str | None = None,
                 graph=None):
        sig = manifest["signature"]
        self.manifest = manifest
        self.path = path
        self.name = manifest.get("name", "main")
        self.payload = payload
        self.fallback_reason = reason
        self.in_tree = tree_from_json(sig["in_tree"])
        self.out_tree = tree_from_json(sig["out_tree"])
        self._inputs = sig["inputs"]
        self._param_types = _types(sig["inputs"], "input")
        self._result_types = _types(sig["outputs"], "output")
        self._members = members
        self._runner = runner
        self._graph = graph
        self._exact: set = set()  # fast_key of argument lists that need no checks (see __call__)
        self._single_out = self.out_tree.kind == "leaf"

    @property
    def signature(self) -> dict:
        """The same dictionary as `Compiled.signature` of the exported function."""
        return {"inputs": [str(t) for t in self._param_types], "outputs": [str(t) for t in self._result_types],
                "in_tree": repr(self.in_tree), "out_tree": repr(self.out_tree)}

    @property
    def graph(self):
        """The stored (optimised) graph, parsed on first use."""
        if self._graph is None:
            self._graph = conform.parse_graph(self.manifest, self._members)
        return self._graph

    @property
    def input_names(self) -> list[str]:
        return [e.get("name") or f"arg{i}" for i, e in enumerate(self._inputs)]

    @property
    def param_types(self) -> list:
        return list(self._param_types)

    @property
    def result_types(self) -> list:
        return list(self._result_types)

    def as_text(self) -> str:
        return conform.graph_text(self.manifest, self._members)

    def __call__(self, *args, **kwargs):
        if not kwargs:  # warm path: flat arrays exactly as exported skip the checks below
            key = fast_key(args)
            if key is not None and (key in self._exact or self._learn_exact(key, args)):
                if all(a.flags.carray for a in args):
                    outs = self._runner.run(args)
                    return outs[0] if self._single_out else pytree.unflatten(self.out_tree, outs)
        leaves, tree = pytree.flatten(args)
        if tree != self.in_tree:
            leaves, tree = pytree.flatten((args, kwargs))
        if tree != self.in_tree:
            raise TypeError(f"{self.name}: expected arguments structured as {self.in_tree}, got "
                            f"{pytree.flatten(args)[1]}")
        return self.call_flat(leaves)

    def _learn_exact(self, key, args) -> bool:
        """Remember `key` when these arguments are arrays exactly of the exported signature."""
        ok = all(type(a) is np.ndarray for a in args) and exact_flat(args, self.in_tree, self._param_types)
        if ok:
            self._exact.add(key)
        return ok

    def call_flat(self, leaves):
        """Call with the flat list of input leaves; returns the result pytree."""
        return pytree.unflatten(self.out_tree, self.run_flat(leaves))

    def run_flat(self, leaves) -> list:
        """Call with the flat list of input leaves; returns the flat list of results."""
        types = self._param_types
        if len(leaves) != len(types):
            raise TypeError(f"{self.name} takes {len(types)} array argument(s), got {len(leaves)}")
        arrays = []
        for i, (x, t) in enumerate(zip(leaves, types)):
            if type(x) is np.ndarray and x.dtype == t.dtype.np and x.shape == t.shape and x.flags.carray:
                arrays.append(x)
            else:
                from ..backends.common import check_array
                arrays.append(check_array(x, t, self._inputs[i].get("name") or f"argument {i}"))
        return self._runner.run(arrays)

    def __repr__(self):
        return f"<LoadedFunction {self.name} ({self.payload})>"


class _StableHLORunner:
    def __init__(self, blob: bytes, manifest: dict):
        from ..backends.jax.executable import x64
        from ..backends.jax.export import deserialize
        import jax
        self._x64 = x64
        self._blob = blob
        try:
            self._exported = deserialize(blob)
        except Exception as e:  # noqa: BLE001  (flatbuffers/MLIR on damaged bytes raise anything)
            raise _Unreadable(f"the StableHLO payload cannot be deserialized: {type(e).__name__}: "
                              f"{str(e).splitlines()[0][:200] if str(e) else ''}") from None
        conform.check_exported(self._exported, manifest)
        self._call = jax.jit(self._exported.call) if self._exported.nr_devices == 1 else None

    def run(self, args):
        if self._call is None:
            from ..backends.jax.export import deserialize_and_call
            return deserialize_and_call(self._blob, *args)
        with self._x64():
            outs = self._call(*args)
        outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
        return [np.asarray(o) for o in outs]


class _Unreadable(ArtifactError):
    """A payload this host cannot read (damaged, or from a newer toolchain): automatic loading falls back."""


class _GraphRunner:
    def __init__(self, graph):
        from .. import backends
        self.graph = graph
        try:
            try:
                self.backend = "llvm"
                self._exe = backends.compile(graph, "llvm")
            except (backends.BackendUnavailableError, NotImplementedError):
                self.backend = "reference"
                self._exe = backends.compile(graph, "reference")
        except RecursionError:
            raise ArtifactError("the stored graph is nested too deeply to compile") from None
        except (ValueError, TypeError, KeyError, IndexError, NotImplementedError) as e:
            raise ArtifactError(f"the stored graph cannot be compiled: {type(e).__name__}: "
                                f"{str(e).splitlines()[0][:200] if str(e) else ''}") from None

    def run(self, args):
        return self._exe.run(args)


def _native(manifest, members):
    from .native import NativeRunner
    info = manifest["payloads"]["native"]
    try:
        runner = NativeRunner(info, members[info["member"]], manifest["signature"]["outputs"])
    except RuntimeError as e:  # object code through llvmlite's MCJIT
        raise ArtifactError(f"the native object code cannot be loaded here: {str(e)[:200]}") from None
    if info["kind"] == "shared-library":
        conform.check_workspace(runner.keepalive, info)
    return runner


def _runner(name, manifest, members, graph):
    if name == "native":
        return _native(manifest, members)
    if name == "stablehlo":
        return _StableHLORunner(members[manifest["payloads"]["stablehlo"]["member"]], manifest)
    return _GraphRunner(graph if graph is not None else conform.parse_graph(manifest, members))


def plan(manifest) -> tuple[str, list[str]]:
    """The payload `load` picks on this host and the reasons it passes over better ones (no payload runs)."""
    import importlib.util
    payloads, reasons = manifest["payloads"], []
    if "native" in payloads:
        why = incompatibility(payloads["native"])
        if why is None:
            return "native", reasons
        reasons.append(f"the native library cannot run here: {why}")
    else:
        reasons.append("the artifact has no native library")
    if "stablehlo" in payloads:
        if importlib.util.find_spec("jax") is not None:
            return "stablehlo", reasons
        reasons.append("the StableHLO payload needs jax, which is not installed")
    return "graph", reasons


def checked(path, parse: bool = False, trusted_keys=None) -> tuple[dict, dict, object]:
    """(manifest, members, graph) of the artifact at `path`: container, schema and signatures checked.

    The graph's declared signature is always checked; parse=True parses its body too (else graph is
    None and it is parsed, and checked again, when it is compiled or first asked for). trusted_keys:
    see `load`."""
    manifest, members = read_verified(path, trusted_keys)
    conform.check_declared(manifest, members)
    conform.check_header(manifest, members)
    graph = conform.parse_graph(manifest, members) if parse else None
    return manifest, members, graph


def load(path, payload: str | None = None, trusted_keys=None) -> LoadedFunction:
    """Load the artifact at `path` (see module doc). payload: force "native", "stablehlo" or "graph".

    trusted_keys: Ed25519 public keys (paths of the `.pub` files `chainrule keygen` writes, PEM
    bytes or `cryptography` key objects); when given, an artifact not signed by one of them is
    refused with ArtifactError before any member but the manifest is read."""
    manifest, members, graph = checked(path, trusted_keys=trusted_keys)
    payloads = manifest["payloads"]
    if payload is not None:
        if payload not in payloads:
            raise ValueError(f"the artifact has no {payload!r} payload; it has {', '.join(sorted(payloads))}")
        runner = _runner(payload, manifest, members, graph)
        return LoadedFunction(manifest, members, payload, runner, path, graph=getattr(runner, "graph", None))
    _, reasons = plan(manifest)
    runner = None
    if not reasons:  # the native library should run here
        try:
            return LoadedFunction(manifest, members, "native", _native(manifest, members), path, graph=graph)
        except conform.Inconsistent:
            raise
        except ArtifactError as e:
            reasons.append(f"the native library cannot run here: {e}")
    if "stablehlo" in payloads:
        try:
            runner = _runner("stablehlo", manifest, members, graph)
            chosen = "stablehlo"
        except ImportError as e:
            reasons.append(f"the StableHLO payload needs jax ({e})")
        except _Unreadable as e:
            reasons.append(str(e))
    if runner is None:
        runner = _runner("graph", manifest, members, graph)
        graph = runner.graph
        chosen = "graph"
        how = f"recompiling the stored graph with the {runner.backend} backend"
    else:
        how = "running the StableHLO payload through JAX"
    reason = "; ".join(dict.fromkeys(reasons))
    warnings.warn(f"chainrule.load({path}): {reason}; {how}", ArtifactFallbackWarning, stacklevel=2)
    return LoadedFunction(manifest, members, chosen, runner, path, reason, graph=graph)

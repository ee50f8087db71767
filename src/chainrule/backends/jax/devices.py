"""Naming devices and shardings: strings like "cpu" or "gpu:1" to jax Devices,
and PartitionSpecs to NamedShardings over a mesh."""

from __future__ import annotations

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec, Sharding, SingleDeviceSharding

_PLATFORM_ALIASES = {"cuda": "gpu", "rocm": "gpu"}


def resolve_device(device):
    """None, a jax Device, or "platform[:index]" (e.g. "cpu", "gpu:0") -> Device or None."""
    if device is None or isinstance(device, jax.Device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be a jax Device or a string like 'cpu' or 'gpu:0', got {type(device).__name__}")
    platform, _, index = device.partition(":")
    platform = _PLATFORM_ALIASES.get(platform.lower(), platform.lower())
    try:
        devices = jax.devices(platform)
    except RuntimeError:
        have = sorted({d.platform for d in jax.devices()})
        raise ValueError(f"device {device!r}: no {platform} devices here; available platforms: {', '.join(have)}") from None
    try:
        i = int(index) if index else 0
    except ValueError:
        raise ValueError(f"device {device!r}: the index after ':' must be an integer") from None
    if not 0 <= i < len(devices):
        raise ValueError(f"device {device!r}: index {i} out of range; {len(devices)} {platform} device(s) available")
    return devices[i]


def _one_sharding(spec, mesh, what):
    if isinstance(spec, Sharding):
        return spec
    if mesh is None:
        raise ValueError(f"{what}: a PartitionSpec needs mesh=; pass mesh=jax.make_mesh(...) or a jax Sharding")
    if spec is None:
        spec = PartitionSpec()
    if not isinstance(spec, PartitionSpec):
        raise TypeError(f"{what}: expected a PartitionSpec, a jax Sharding or None, got {type(spec).__name__}")
    return NamedSharding(mesh, spec)


def shardings_for(specs, count: int, mesh: Mesh | None, what: str):
    """Normalize in/out shardings: one spec for all, or one per argument/result.

    None with a mesh means replicated everywhere; None without a mesh means
    "let JAX decide" and is returned as None.
    """
    if specs is None:
        return None if mesh is None else tuple(NamedSharding(mesh, PartitionSpec()) for _ in range(count))
    if isinstance(specs, (PartitionSpec, Sharding)):
        return tuple(_one_sharding(specs, mesh, what) for _ in range(count))
    specs = tuple(specs)
    if len(specs) != count:
        raise ValueError(f"{what}: got {len(specs)} entries, expected one per {what.split('_')[0]}put ({count}) or a single spec")
    return tuple(_one_sharding(s, mesh, f"{what}[{i}]") for i, s in enumerate(specs))


def single_device(device, count: int):
    return tuple(SingleDeviceSharding(device) for _ in range(count))

"""`cr.config`: process-wide settings, under JAX's names where JAX has one.

The one setting today is the default dtypes: what a Python float (or int) becomes, what
`cnp.zeros(3)` and the other creation functions make without `dtype=`, and what integers
become when an operation needs floats (`cnp.sin(1)`, `cnp.mean` of ints, int / int).

    cr.config.update("default_dtype", "float32")   # Python floats and default arrays: float32
    cr.config.update("jax_enable_x64", False)      # the same, and Python ints become int32

Arrays you pass keep their dtype: a float64 NumPy array stays float64 (JAX with x64 off would
truncate it to float32; chainrule does not silently drop precision you asked for).
"""

from __future__ import annotations

import numpy as np

_FLOATS = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64)}


class Config:
    def __init__(self):
        self._float = np.dtype(np.float64)
        self._int = np.dtype(np.int64)
        self.listeners = []  # called after a change (cr.jit drops the functions it traced before)

    @property
    def default_dtype(self) -> str:
        """The default float dtype's name: "float64" (NumPy's) or "float32"."""
        return self._float.name

    @property
    def float_dtype(self) -> np.dtype:
        """The dtype Python floats become."""
        return self._float

    @property
    def int_dtype(self) -> np.dtype:
        """The dtype Python ints become."""
        return self._int

    @property
    def jax_enable_x64(self) -> bool:
        """Whether Python floats and ints default to 64 bits (True, the default) or 32 bits."""
        return self._float == np.float64 and self._int == np.int64

    def update(self, name: str, value):
        """Set a setting by name: "default_dtype" ("float32"/"float64") or "jax_enable_x64" (bool)."""
        if name == "default_dtype":
            key = np.dtype(value).name if not isinstance(value, str) else value
            if key not in _FLOATS:
                raise ValueError(f"default_dtype must be 'float32' or 'float64', got {value!r}")
            self._float = _FLOATS[key]
        elif name == "jax_enable_x64":
            wide = bool(value)
            self._float = np.dtype(np.float64 if wide else np.float32)
            self._int = np.dtype(np.int64 if wide else np.int32)
        else:
            raise KeyError(f"unknown config option {name!r}; chainrule has 'default_dtype' and 'jax_enable_x64'")
        for listener in self.listeners:
            listener()

    def __repr__(self):
        return f"Config(default_dtype={self.default_dtype!r}, jax_enable_x64={self.jax_enable_x64})"


config = Config()

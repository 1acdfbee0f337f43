"""Is this the first run?  Whether the generated kernels a process has loaded
are neither compiled in it nor in Numba's on-disk cache (so that ``fit`` can
say "compiling kernels (first run only)" instead of a silent pause)."""
from __future__ import annotations

import os
import sys


def _dispatchers(module):
    for v in vars(module).values():
        if hasattr(v, "signatures") and hasattr(v, "_cache") and hasattr(v, "py_func"):
            yield v


def _cached(disp) -> bool:
    if disp.signatures:                      # compiled in this process
        return True
    f = getattr(getattr(disp, "_cache", None), "_cache_file", None)
    path = getattr(f, "_index_path", None)
    return bool(path) and os.path.exists(path)


def cold_modules(dtype_suffix: str = "") -> list[str]:
    """The loaded ``symdl.generated`` (and user kernel) modules none of whose
    kernels ending in ``dtype_suffix`` (e.g. "_f32") is compiled or cached."""
    cold = []
    for name, mod in list(sys.modules.items()):
        if mod is None or not (name.startswith("symdl.generated") or name.startswith("symdl_user")):
            continue
        ds = [d for d in _dispatchers(mod) if d.py_func.__name__.endswith(dtype_suffix)]
        if ds and not any(_cached(d) for d in ds):
            cold.append(name)
    return cold

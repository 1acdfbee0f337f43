"""Is this the first run?  Whether the generated kernels a process has loaded
are neither compiled in it nor in Numba's on-disk cache (so that ``fit`` can
say "compiling kernels (first run only)" instead of a silent pause)."""
from __future__ import annotations

import os
import sys
import types


def _is_dispatcher(v) -> bool:
    return hasattr(v, "signatures") and hasattr(v, "_cache") and hasattr(v, "py_func")


def _kernels(module, suffix: str) -> list:
    """The module's kernel dispatchers whose function name ends in ``suffix``:
    those it defines, and the serial copy of each body ``_py_<kernel>`` of a
    lazily compiled module (looking one up creates it, compiles nothing)."""
    out = [v for v in vars(module).values() if _is_dispatcher(v) and v.py_func.__name__.endswith(suffix)]
    if getattr(module, "__getattr__", None) is not None:
        out += [getattr(module, k[4:]) for k in list(vars(module))
                if k.startswith("_py_") and k.endswith(suffix)]
    return out


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
        ds = _kernels(mod, dtype_suffix)
        if ds and not any(_cached(d) for d in ds):
            cold.append(name)
    return cold


# ---------------------------------------------------------------- cache loads
# Numba's Cache.load_overload first "refreshes" the target context: it imports
# and installs every typing and lowering registry numba has (numpy, random,
# typed containers, jitclass, ...), about 0.15 s -- the largest part of a
# process's first kernel call once the kernel is in the disk cache.  Loading a
# cached kernel needs none of it: its object code is linked against the NRT
# (initialized here) and numba's C helpers (installed when numba is imported),
# and a parallel kernel starts the threading layer from its cache entry's own
# reload hooks.  A cache miss compiles through numba's compiler, which
# refreshes the contexts itself.  Only the kernels of symdl's generated and
# user modules load this way; every other function keeps numba's own path.
# SYMDL_NUMBA_FULL_REFRESH=1 turns it off.

_KERNEL_MODULES = ("symdl.generated", "symdl_user")
_installed = False


def install_light_cache_loads() -> bool:
    """Let symdl's kernels load from Numba's disk cache without refreshing the
    whole target context (idempotent; imports numba).  False when switched off
    or when numba's cache lacks the internals this relies on."""
    global _installed
    from symdl.runtime.threads import install_short_spin

    install_short_spin()           # before any parallel kernel starts Numba's OpenMP pool
    if _installed:
        return True
    if os.environ.get("SYMDL_NUMBA_FULL_REFRESH"):
        return False
    from numba.core import caching

    Cache = caching.Cache
    if not all(hasattr(Cache, a) for a in ("load_overload", "_load_overload",
                                            "_guard_against_spurious_io_errors")):
        return False                                       # pragma: no cover - another numba
    full = Cache.load_overload

    def load_overload(self, sig, target_context):
        mod = getattr(getattr(self, "_py_func", None), "__module__", None) or ""
        if not mod.startswith(_KERNEL_MODULES):
            return full(self, sig, target_context)
        from numba.core.runtime import rtsys

        rtsys.initialize(target_context)
        with self._guard_against_spurious_io_errors():
            return self._load_overload(sig, target_context)

    load_overload.__doc__ = full.__doc__
    load_overload._symdl_full = full
    Cache.load_overload = load_overload
    _installed = True
    return True


# ---------------------------------------------------------------- lazy kernels
def lazy_kernels(namespace: dict):
    """The module ``__getattr__`` of a generated kernel module.

    Kernels are compiled on first use: ``<kernel>`` is ``njit`` applied to
    ``_py_<kernel>`` when first looked up, and ``<kernel>_par`` the same body
    with ``parallel=True`` (its block loop is a ``prange``, which the serial
    compilation runs as a plain ``range``), so a template writes each body
    once.  cache=True: later processes load the machine code from Numba's
    disk cache; the parallel copy gets its own qualified name, hence its own
    cache file (Numba's cache key ignores the ``parallel`` flag).  Creating
    the dispatchers eagerly would make importing the module slow."""

    def __getattr__(name):
        par = name.endswith("_par")
        py = namespace.get("_py_" + (name[:-4] if par else name))
        if py is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        fn = namespace[name] = compile_body(py, par)
        return fn

    return __getattr__


def compile_body(py, parallel: bool):
    """The dispatcher of body ``py`` (``_py_<kernel>``): ``njit(cache=True)``,
    serial, or with ``parallel=True`` as a copy named ``_py_<kernel>_par``
    (its own cache file: Numba's cache key ignores the flag).  Compiles
    nothing until called."""
    from numba import njit

    if parallel:
        name = py.__name__ + "_par"
        py = types.FunctionType(py.__code__, py.__globals__, name, py.__defaults__, py.__closure__)
        py.__qualname__ = name
    return njit(cache=True, error_model="numpy", parallel=parallel)(py)

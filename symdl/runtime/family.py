"""A family's catalog kernels as one lazy namespace (no SymPy): each spec's
module (``symdl.generated.<family dir>.<name>``) is imported when one of its
kernels or its metadata is first asked for, and no other.

``RULES`` serves ``symdl.optim`` (every optimizer rule by its kernels'
names); ``FamilyKernels(family)`` serves whoever needs a whole family's
table at once (``symdl list``, tests' catalog overlays)."""
from __future__ import annotations

import importlib
from collections.abc import Mapping

from symdl.errors import UnknownNameError

#: the generated registry: spec name -> (family, module holding its kernels),
#: one module per spec (symdl.generated.<family dir>.<name>), imported when used
REGISTRY = "symdl.generated.registry"


def registered() -> dict:
    """The generated registry: name -> (family, module), imported without any kernel."""
    return importlib.import_module(REGISTRY).KERNELS


def spec_module(name: str, family: str | None = None):
    """The generated module holding catalog spec ``name``'s kernels (imported
    now; only that one).  ``family``: also accept the registry's own families
    ("activation_d2", "optimizer")."""
    entry = registered().get(name)
    if entry is None or (family is not None and entry[0] != family):
        known = [n for n, (f, _) in registered().items() if family is None or f == family]
        raise UnknownNameError(family or "spec", name, known)
    return import_kernels(entry[1])


def import_kernels(modname: str):
    """Import a generated kernel module (symdl's kernels then load from
    Numba's disk cache without its full context refresh: runtime.jitcache)."""
    import sys

    mod = importlib.import_module(modname)
    if "numba" in sys.modules:                   # a kernel module (not a metadata index)
        from symdl.runtime.jitcache import install_light_cache_loads

        install_light_cache_loads()
    return mod


def _names(family: str) -> list:
    return [n for n, (f, _) in registered().items() if f == family]


class _Specs(Mapping):
    """name -> metadata; reading one entry imports that spec's module only."""

    def __init__(self, kernels):
        self._k = kernels

    def _has(self, name) -> bool:
        entry = registered().get(name)
        return entry is not None and entry[0] == self._k.family

    def __getitem__(self, name):
        # one registry lookup (optimizers ask on every step), not a family listing
        if not self._has(name):
            raise KeyError(name)
        return self._k.module(name).SPECS[name]

    def __iter__(self):
        return iter(_names(self._k.family))

    def __len__(self):
        return len(_names(self._k.family))

    def __contains__(self, name):
        return self._has(name)


class FamilyKernels:
    """Stands for one module holding a family's kernels: ``getattr(k,
    "<key>_f64")`` imports the module of the spec whose name ``key`` starts
    with (the longest such name: ``gelu_sigmoid_...`` is gelu_sigmoid's)."""

    def __init__(self, family: str):
        from symdl.layout import FAMILY_DIRS

        self.family = family
        self.__name__ = f"symdl.generated.{FAMILY_DIRS[family]}"
        self.SPECS = _Specs(self)
        self._last = None

    def module(self, name: str):
        self._last = name
        return spec_module(name, self.family)

    def spec_of(self, attr: str) -> str | None:
        best = None
        for n in _names(self.family):
            if attr.startswith(n + "_") and (best is None or len(n) > len(best)):
                best = n
        return best

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        # module constants (PARALLEL_THRESHOLD, the same in each): the last spec's
        name = self.spec_of(attr) or self._last or _names(self.family)[0]
        return getattr(self.module(name), attr)


RULES = FamilyKernels("optimizer")

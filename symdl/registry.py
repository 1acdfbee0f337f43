"""Runtime registry: spec names and kernel bundles, without importing SymPy."""
from __future__ import annotations

import importlib

from symdl.errors import UnknownNameError

#: family -> generated module holding its kernels and SPECS table
MODULES = {"activation": "symdl.generated.activations"}
_tables: dict = {}


def _table(family: str) -> tuple[dict, object]:
    if family not in _tables:
        mod = importlib.import_module(MODULES[family])
        _tables[family] = (mod.SPECS, mod)
    return _tables[family]


def names(family: str | None = None) -> list[str]:
    """Names of every spec with generated kernels (optionally of one family)."""
    if family is not None and family not in MODULES:
        raise UnknownNameError("family", family, MODULES)
    fams = [family] if family else list(MODULES)
    return [n for f in fams for n in _table(f)[0]]


def metadata(name: str) -> tuple[dict, object]:
    for fam in MODULES:
        table, mod = _table(fam)
        if name in table:
            return table[name], mod
    raise UnknownNameError("spec", name, names())


def kernel(name: str, **params):
    """The kernel bundle of spec ``name`` with the given parameter values.

    >>> k = kernel("elu", alpha=0.5)
    >>> y = k.forward(x); dx = k.backward(x, grad)
    """
    from symdl.runtime.elementwise import Elementwise

    meta, mod = metadata(name)
    return Elementwise(name, meta, mod, **params)


class KernelLibrary:
    """Kernels rendered from a user's own specs (``symdl generate --out DIR``)."""

    def __init__(self, module):
        self.module = module
        self.SPECS = module.SPECS

    def names(self):
        return list(self.SPECS)

    def kernel(self, name, **params):
        from symdl.runtime.elementwise import Elementwise

        if name not in self.SPECS:
            raise UnknownNameError("spec", name, self.SPECS)
        return Elementwise(name, self.SPECS[name], self.module, **params)


def load_kernels(path) -> KernelLibrary:
    """Import a generated kernel module from a file path (user specs)."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        path = path / "activations.py"
    modname = f"symdl_user_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no generated kernel module at {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    spec.loader.exec_module(mod)
    return KernelLibrary(mod)

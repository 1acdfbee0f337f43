"""Runtime registry: spec names and kernel bundles, without importing SymPy."""
from __future__ import annotations

import importlib

from symdl.errors import UnknownNameError

#: family -> (generated module holding its kernels and SPECS table,
#:            "module:function" that builds a bundle from (name, meta, module, **params))
FAMILIES = {
    "activation": ("symdl.generated.activations", "symdl.runtime.elementwise:make_bundle"),
    "softmax": ("symdl.generated.softmax", "symdl.runtime.reductions:make_bundle"),
    # the loss index: metadata only; each loss's kernels live in its group's
    # module (symdl.generated.losses_<group>), imported when first used
    "loss": ("symdl.generated.losses", "symdl.runtime.reductions:make_bundle"),
    # recurrent cells: the index; each cell's gate-block kernels live in
    # symdl.generated.cells.<cell>, imported when first used
    "cell": ("symdl.generated.cells", "symdl.runtime.cells:make_bundle"),
}
MODULES = {f: m for f, (m, _) in FAMILIES.items()}
_tables: dict = {}


def _table(family: str) -> tuple[dict, object]:
    if family not in _tables:
        mod = importlib.import_module(FAMILIES[family][0])
        table = {n: m for n, m in mod.SPECS.items() if m.get("family", family) == family}
        _tables[family] = (table, mod)
    return _tables[family]


def _factory(family: str):
    modname, fn = FAMILIES[family][1].split(":")
    return getattr(importlib.import_module(modname), fn)


def names(family: str | None = None) -> list[str]:
    """Names of every spec with generated kernels (optionally of one family)."""
    if family is not None and family not in FAMILIES:
        raise UnknownNameError("family", family, FAMILIES)
    fams = [family] if family else list(FAMILIES)
    return [n for f in fams for n in _table(f)[0]]


def metadata(name: str) -> tuple[dict, object]:
    for fam in FAMILIES:
        table, mod = _table(fam)
        if name in table:
            return table[name], mod
    raise UnknownNameError("spec", name, names())


def kernel(name: str, **params):
    """The kernel bundle of spec ``name`` with the given parameter values.

    >>> k = kernel("elu", alpha=0.5)
    >>> y = k.forward(x); dx = k.backward(x, grad)
    """
    meta, mod = metadata(name)
    return _factory(meta["family"])(name, meta, mod, **params)


class KernelLibrary:
    """Kernels rendered from a user's own specs (``symdl generate --out DIR``)."""

    def __init__(self, module):
        self.module = module
        self.SPECS = module.SPECS

    def names(self):
        return list(self.SPECS)

    def kernel(self, name, **params):
        if name not in self.SPECS:
            raise UnknownNameError("spec", name, self.SPECS)
        meta = self.SPECS[name]
        return _factory(meta.get("family", "activation"))(name, meta, self.module, **params)


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

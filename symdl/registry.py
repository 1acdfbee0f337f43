"""Runtime registry: spec names and kernel bundles, without importing SymPy."""
from __future__ import annotations

import importlib

from symdl.errors import ParameterError, UnknownNameError
# the generated registry (spec name -> (family, module holding its kernels))
# and the per-spec module lookup live in runtime.family, below this module
from symdl.runtime.family import REGISTRY, FamilyKernels, import_kernels, registered, spec_module  # noqa: F401

#: family -> (module naming its specs: the generated registry, or an index module
#:            whose SPECS table holds their metadata,
#:            "module:function" that builds a bundle from (name, meta, module, **params))
FAMILIES = {
    "activation": (REGISTRY, "symdl.runtime.elementwise:make_bundle"),
    "softmax": (REGISTRY, "symdl.runtime.reductions:make_bundle"),
    "loss": (REGISTRY, "symdl.runtime.reductions:make_bundle"),
    # the normalization index: metadata; kernels in symdl.generated.normalization.<name>
    "normalization": ("symdl.generated.normalization", "symdl.runtime.normalization:make_bundle"),
    # recurrent cells: the index; each cell's gate-block kernels live in
    # symdl.generated.cells.<cell>, imported when first used
    "cell": ("symdl.generated.cells", "symdl.runtime.cells:make_bundle"),
}
MODULES = {f: m for f, (m, _) in FAMILIES.items()}
#: family -> (name -> metadata, module): index families, and overrides (tests' overlays)
_tables: dict = {}


def _table(family: str) -> tuple[dict, object]:
    """name -> metadata of a family, and a module serving its kernels (for a
    per-spec family: a lazy view importing every spec's module for the table)."""
    if family not in _tables:
        modname = FAMILIES[family][0]
        if modname == REGISTRY:
            mod = FamilyKernels(family)
        else:
            mod = import_kernels(modname)
        table = {n: m for n, m in mod.SPECS.items() if m.get("family", family) == family}
        _tables[family] = (table, mod)
    return _tables[family]


def _catalog_names(family: str) -> list:
    if family in _tables or FAMILIES[family][0] != REGISTRY:
        return list(_table(family)[0])
    return [n for n, (f, _) in registered().items() if f == family]


def _catalog_metadata(name: str):
    """(metadata, module) of catalog spec ``name``, importing its module only; None if unknown."""
    for fam, (modname, _) in FAMILIES.items():
        if fam in _tables or modname != REGISTRY:
            table, mod = _table(fam)
            if name in table:
                return table[name], mod
            continue
        entry = registered().get(name)
        if entry is not None and entry[0] == fam:
            mod = spec_module(name, fam)
            return mod.SPECS[name], mod
    return None


def _factory(family: str):
    modname, fn = FAMILIES[family][1].split(":")
    return getattr(importlib.import_module(modname), fn)


def names(family: str | None = None, *, user: bool = True) -> list[str]:
    """Names of every spec with generated kernels (optionally of one family):
    the catalog's, then those of loaded user libraries (``user=False``: the
    catalog only).  No kernel module is imported."""
    if family == "optimizer":   # update rules: symdl.optim builds them (symdl list --family optimizer)
        out = [n for n, (f, _) in registered().items() if f == "optimizer"]
        return out + ([n for n, lib in _USER.items() if lib.family(n) == "optimizer"] if user else [])
    if family is not None and family not in FAMILIES:
        raise UnknownNameError("family", family, [*FAMILIES, "optimizer"])
    fams = [family] if family else list(FAMILIES)
    out = [n for f in fams for n in _catalog_names(f)]
    if user:
        out += [n for n, lib in _USER.items() if lib.family(n) in fams]
    return out


def metadata(name: str) -> tuple[dict, object]:
    found = _catalog_metadata(name)
    if found is not None:
        return found
    if name in _USER:
        return _USER[name].metadata(name)
    raise UnknownNameError("spec", name, names())


def kernel(name: str, **params):
    """The kernel bundle of spec ``name`` with the given parameter values.

    >>> k = kernel("elu", alpha=0.5)
    >>> y = k.forward(x); dx = k.backward(x, grad)
    """
    if name in _USER and name not in names(user=False):
        return _USER[name].kernel(name, **params)
    meta, mod = metadata(name)
    return _factory(meta["family"])(name, meta, mod, **params)


#: user kernel libraries loaded by ``load_kernels``, by resolved directory
_LIBRARIES: dict = {}
#: spec name -> the user library holding it (``kernel(name)`` finds it there)
_USER: dict = {}
INDEX_FILE = "symdl_kernels.json"


def module_name(path) -> str:
    """The import name of a generated user module: stable across processes
    (Numba's disk cache records it; ``hash()`` is randomized per process)."""
    import hashlib
    from pathlib import Path

    path = Path(path).resolve()
    digest = hashlib.sha256(str(path.parent).encode("utf-8")).hexdigest()[:16]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"symdl_user_{digest}_{stem}"


def _import_file(path):
    import importlib.util
    import sys

    modname = module_name(path)
    mod = sys.modules.get(modname)
    mtime = path.stat().st_mtime_ns
    if mod is not None and getattr(mod, "__symdl_mtime__", None) == mtime:
        return mod
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py path always has a loader
        raise FileNotFoundError(f"no generated kernel module at {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[modname]
        raise
    mod.__symdl_mtime__ = mtime
    from symdl.runtime.jitcache import install_light_cache_loads

    install_light_cache_loads()
    return mod


class KernelLibrary:
    """Kernels rendered from a user's own specs (``symdl generate --spec-file
    FILE --out DIR``): one module per spec, imported when first used.

    ``kernel(name, **params)`` gives an activation's or a loss's bundle (as
    ``symdl.kernel``); an optimizer rule trains through
    ``symdl.optim.from_rule(name or spec, params, lr=...)``."""

    def __init__(self, path, files: dict, spec_file: str | None = None):
        from pathlib import Path

        self.path = Path(path)
        self.spec_file = spec_file
        self._files = dict(files)      # name -> (family, file path)
        self._modules: dict = {}

    # a library loaded from one module file (the pre-0.2 layout: DIR/activations.py)
    @classmethod
    def _from_module(cls, mod, path):
        lib = cls(path.parent, {n: (m.get("family", "activation"), path) for n, m in mod.SPECS.items()})
        for n in mod.SPECS:
            lib._modules[n] = mod
        return lib

    def __repr__(self):
        return f"KernelLibrary({str(self.path)!r}: {', '.join(self._files)})"

    def __contains__(self, name):
        return name in self._files

    def names(self, family: str | None = None) -> list:
        return [n for n, (f, _) in self._files.items() if family is None or f == family]

    def family(self, name: str) -> str:
        self._check(name)
        return self._files[name][0]

    def _check(self, name):
        if name not in self._files:
            raise UnknownNameError(f"spec of {self.path}", name, self._files)

    def module(self, name: str):
        """The generated module holding ``name``'s kernels (imported now)."""
        self._check(name)
        mod = self._modules.get(name)
        if mod is None:
            mod = self._modules[name] = _import_file(self._files[name][1])
        return mod

    def metadata(self, name: str) -> tuple[dict, object]:
        mod = self.module(name)
        meta = dict(mod.SPECS[name])
        meta.pop("module", None)          # the kernels are in this module
        meta["source"] = str(self.path.resolve())   # where they came from (saved models record it)
        return meta, mod

    def kernel(self, name, **params):
        family = self.family(name)
        if family == "optimizer":
            raise ParameterError(f"{name!r} is an optimizer rule: train with "
                                 f"symdl.optim.from_rule({name!r}, params, lr=...)")
        meta, mod = self.metadata(name)
        return _factory(family)(name, meta, mod, **params)

    def unload(self) -> None:
        """Forget this library's names (``symdl.kernel`` no longer finds them)."""
        for n in list(_USER):
            if _USER[n] is self:
                del _USER[n]
        _LIBRARIES.pop(str(self.path.resolve()), None)


def _scan(path) -> tuple[dict, str | None]:
    """name -> (family, file) of every generated module in directory ``path``."""
    import json

    from symdl.codegen.header import read_header   # no SymPy: json and re only

    families = {"activations.py.j2": "activation", "reductions.py.j2": "loss",
                "optimizers.py.j2": "optimizer"}
    spec_file, index = None, path / INDEX_FILE
    if index.is_file():
        spec_file = json.loads(index.read_text(encoding="utf-8")).get("spec_file")
    files = {}
    for f in sorted(path.glob("*.py")):
        with open(f, encoding="utf-8") as fh:
            head = "".join(fh.readline() for _ in range(6))
        meta = read_header(head)
        if not meta or meta.get("template") not in families:
            continue
        for n in meta.get("specs", {}):
            files[n] = (families[meta["template"]], f)
    return files, spec_file


def load_kernels(path, *, register: bool = True) -> KernelLibrary:
    """The kernels rendered from your own specs into directory ``path``
    (``symdl generate --spec-file FILE --out DIR``).

    ``register``: also find them by name -- ``symdl.kernel(name)``,
    ``nn.Activation(name)``, ``symdl.optim.from_rule(name, ...)``; a name
    already loaded from another directory is an error."""
    from pathlib import Path

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no generated kernels at {path} (make them with "
                                f"`symdl generate --spec-file YOUR_SPECS.py --out {path}`)")
    if path.is_file():
        lib = KernelLibrary._from_module(_import_file(path), path)
    else:
        key = str(path.resolve())
        files, spec_file = _scan(path)
        if not files:
            raise FileNotFoundError(f"{path} holds no generated kernel modules (make them with "
                                    f"`symdl generate --spec-file YOUR_SPECS.py --out {path}`)")
        old = _LIBRARIES.get(key)
        if old is not None and old._files == files:
            lib = old
        else:
            lib = KernelLibrary(path, files, spec_file)
    if register:
        _register(lib)
    return lib


def _register(lib: KernelLibrary) -> None:
    catalog = set(names(user=False))
    for n in lib.names():
        if n in catalog:
            raise ParameterError(f"{lib.path}: spec {n!r} has the name of a catalog spec; "
                                 "rename it in your spec file and generate again")
        other = _USER.get(n)
        if other is not None and other is not lib and other.path.resolve() != lib.path.resolve():
            raise ParameterError(f"spec {n!r} is loaded from two kernel libraries: "
                                 f"{other.path} and {lib.path} (unload one: lib.unload())")
    for n in lib.names():
        _USER[n] = lib
    _LIBRARIES[str(lib.path.resolve())] = lib


def user_names(family: str | None = None) -> list:
    """Names of the loaded user specs (of one family: "activation", "loss", "optimizer")."""
    return [n for n, lib in _USER.items() if family is None or lib.family(n) == family]


def user_library(name: str):
    """The loaded user library holding spec ``name`` (None if there is none)."""
    return _USER.get(name)

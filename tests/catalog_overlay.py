"""pytest plugin: run the table-driven tests on a COPY of the catalog with
the specs of ``$SYMDL_OVERLAY_SPEC_FILE`` added, their kernels generated in
``$SYMDL_OVERLAY_KERNELS`` -- as if a contributor had added them to
symdl/specs and run ``symdl generate``, without editing any test.

    SYMDL_OVERLAY_SPEC_FILE=new.py SYMDL_OVERLAY_KERNELS=DIR PYTHONPATH=tests \\
        python -m pytest -p catalog_overlay tests/test_activations.py ...

Used by ``tests/test_user_specs.py``; without the variables it does nothing.
Only this process's copies change: the spec registry's lists and the runtime
registry's tables (a module that serves the catalog's kernels and the new ones).
"""
from __future__ import annotations

import os
import types


def _overlay_module(family, catalog_mod, table, lib, names):
    mod = types.ModuleType(f"{catalog_mod.__name__}_overlay")
    mod.__dict__.update({k: v for k, v in vars(catalog_mod).items() if not k.startswith("__")})
    mod.SPECS = {**catalog_mod.SPECS, **{n: lib.metadata(n)[0] for n in names}}
    for n in names:
        del mod.SPECS[n]["source"]          # part of the catalog now

    def __getattr__(attr):
        for n in names:
            user = lib.module(n)
            if hasattr(user, attr):
                return getattr(user, attr)
        return getattr(catalog_mod, attr)   # lazily defined catalog kernels
    mod.__getattr__ = __getattr__
    return mod, {**table, **{n: mod.SPECS[n] for n in names}}


def pytest_configure(config):
    spec_file = os.environ.get("SYMDL_OVERLAY_SPEC_FILE")
    if not spec_file:
        return
    from symdl import registry
    from symdl import specs as S
    from symdl.codegen.user_specs import load_spec_file

    new = load_spec_file(spec_file)
    lib = registry.load_kernels(os.environ["SYMDL_OVERLAY_KERNELS"], register=False)
    for family in {s.family for s in new}:
        added = [s.name for s in new if s.family == family]
        for s in new:
            if s.family == family:
                S.FAMILIES[family] = S.FAMILIES[family] + [s.name]
                S._ALL[s.name] = s
        table, mod = registry._table(family)
        mod, table = _overlay_module(family, mod, table, lib, added)
        registry._tables[family] = (table, mod)

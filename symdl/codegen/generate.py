"""``symdl generate``: render every generated module, atomically; ``--check``.

``--check`` first compares the header of each file on disk (spec hashes,
generator hash, SymPy version, body hash) with the current ones -- cheap --
and only when one differs renders in memory and prints a unified diff and the
command that fixes it.
"""
from __future__ import annotations

import difflib
import sys
from pathlib import Path

import sympy as sp

from .header import make_header, sha, split_body
from .targets import (FAMILY_DIRS, PACKAGE, Target, atomic_write, elementary_available,  # noqa: F401
                      elementary_source, filename_of, module_of, up_to_date)

ROOT = Path(__file__).resolve().parents[2]
REGISTRY_FILE = "registry.py"


def generated_dir() -> Path:
    import symdl.generated

    return Path(symdl.generated.__file__).resolve().parent


def family_specs() -> dict:
    """registry family -> its catalog specs (of the per-spec families; the
    derivative specs d_<name> are named, not derived: see second_spec_hashes)."""
    from symdl import specs as S
    from symdl.derive.second import second_name
    from symdl.specs.losses import LOSS_SPECS
    from symdl.specs.softmax import SOFTMAX_SPECS

    from .optimizers import optimizer_specs

    acts = list(S.all_specs("activation"))
    return {"activation": acts, "activation_d2": [second_name(s.name) for s in acts],
            "softmax": list(SOFTMAX_SPECS), "loss": list(LOSS_SPECS), "optimizer": optimizer_specs()}


def _name(s) -> str:
    return s if isinstance(s, str) else s.name


def _layout_hash(table: dict) -> dict:
    """The registry header's "specs": one entry per module path (so the cheap
    check sees a spec added, removed or moved)."""
    return {n: sha(f"{fam}:{mod}") for n, (fam, mod) in table.items()}


def registry_table(specs_by_family: dict) -> dict:
    return {_name(s): (fam, module_of(fam, _name(s)))
            for fam, specs in specs_by_family.items() for s in specs}


def render_registry(table: dict) -> str:
    """generated/registry.py: each spec's family and module, so that
    ``symdl.kernel(name)`` imports that module alone."""
    lines = ['"""Where each catalog spec\'s kernels live: name -> (family, module).',
             "",
             "``symdl.registry`` reads this table; a kernel module is imported only",
             'when one of its kernels is asked for (generated; DO NOT EDIT)."""',
             "",
             "KERNELS = {"]
    lines += [f"    {n!r}: ({fam!r}, {mod!r})," for n, (fam, mod) in table.items()]
    lines += ["}", ""]
    body = "\n".join(lines)
    header = make_header(module=f"{PACKAGE}.registry", template="-", specs=_layout_hash(table),
                         generator_hash=sha(body), sympy_version=sp.__version__, body=body)
    return header + body


def render_family_init(family: str) -> str:
    body = (f'"""{family} kernels, one module per spec: {PACKAGE}.{FAMILY_DIRS[family]}.<name>\n'
            f'(see {PACKAGE}.registry; generated, DO NOT EDIT)."""\n')
    header = make_header(module=f"{PACKAGE}.{FAMILY_DIRS[family]}", template="-", specs={},
                         generator_hash=sha(body), sympy_version=sp.__version__, body=body)
    return header + body


def _layout_targets(specs_by_family: dict) -> list[Target]:
    table = registry_table(specs_by_family)
    out = [Target(REGISTRY_FILE, lambda: render_registry(table), lambda: _layout_hash(table),
                  lambda: sha(split_body(render_registry(table))))]
    for fam in FAMILY_DIRS:
        out.append(Target(f"{FAMILY_DIRS[fam]}/__init__.py", lambda f=fam: render_family_init(f),
                          dict, lambda f=fam: sha(split_body(render_family_init(f)))))
    return out


def builtin_targets(names=None) -> list[Target]:
    """Every target of the catalog (``names``: only the modules of those specs)."""
    from symdl import specs as S

    specs = family_specs()
    known = {_name(s) for fam in specs.values() for s in fam}
    from symdl.specs.objectives import BY_NAME as _newton   # generated/newton/<name>.py

    known |= set(_newton)
    for n in names or ():
        if n not in known:
            S.get(n)  # unknown name -> error with close matches
    targets = []
    if not names and elementary_source() is not None:
        targets.append(Target("elementary.py", elementary_source, None))
    targets.extend(_layout_targets(specs))
    from .render import activation_targets

    targets.extend(activation_targets(specs["activation"]))
    from .second import second_targets

    targets.extend(second_targets(elementary_available, specs["activation"]))
    from .reductions import reduction_targets

    targets.extend(reduction_targets(elementary_available))
    from .optimizers import optimizer_targets

    targets.extend(optimizer_targets())
    from .normalization import normalization_targets

    targets.extend(normalization_targets())
    from .cells import cell_targets

    targets.extend(cell_targets(elementary_available))
    from .regularizers import regularizer_targets

    targets.extend(regularizer_targets())
    from .newton import newton_targets

    targets.extend(newton_targets())
    if names:
        table = registry_table(specs)
        want = {filename_of(table[n][0], n) for n in names if n in table}
        others = {n for n in names if n not in table}    # index families: normalization, cells, ...
        targets = [t for t in targets if t.filename in want or
                   (t.filename.count("/") == 1 and t.filename.rsplit("/", 1)[1][:-3] in others)]
    return targets


def orphans(out: Path, targets) -> list[Path]:
    """Generated modules no target renders any more (a spec renamed or removed,
    or the pre-0.2 one-module-per-family files)."""
    from .header import read_header

    claimed = {(out / t.filename).resolve() for t in targets}
    dirs = [out] + [out / d for d in (*FAMILY_DIRS.values(), "normalization", "cells", "regularizers",
                                                         "newton")]
    found = []
    for d in dirs:
        for path in sorted(d.glob("*.py")) if d.is_dir() else ():
            if path.resolve() in claimed:
                continue
            with open(path, encoding="utf-8") as fh:
                head = "".join(fh.readline() for _ in range(6))
            if read_header(head) is not None:      # a generated module (not __init__ by hand)
                found.append(path)
    return found


def run(*, check=False, names=None, out_dir=None, targets=None, full=False, stream=None,
        fix_command="symdl generate") -> int:
    stream = stream or sys.stdout
    out = Path(out_dir) if out_dir else generated_dir()
    catalog = targets is None and not names
    targets = targets if targets is not None else builtin_targets(names)
    stale = 0
    if catalog:
        for path in orphans(out, targets):
            if check:
                stale += 1
                print(f"STALE    {path} (no spec renders it: remove it)", file=stream)
            else:
                path.unlink()
                print(f"removed  {path}", file=stream)
    for t in targets:
        path = out / t.filename
        if not full and up_to_date(path, t):
            print(f"ok       {path}", file=stream)
            continue
        new = t.render()
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        if old == new:
            print(f"ok       {path}", file=stream)
            continue
        if check:
            stale += 1
            diff = difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                        f"{path} (on disk)", f"{path} (from the specs)", n=2)
            lines = list(diff)
            stream.writelines(lines[:400])
            if len(lines) > 400:
                print(f"... ({len(lines) - 400} more diff lines)", file=stream)
            print(f"STALE    {path}", file=stream)
        else:
            atomic_write(path, new)
            print(f"wrote    {path}", file=stream)
    if check and stale:
        print(f"\n{stale} generated file(s) are out of date with their specs. Fix: {fix_command}",
              file=stream)
        return 1
    return 0


def load_spec_file(path) -> list:
    """The specs of a user's file, validated (``symdl.codegen.user_specs``)."""
    from .user_specs import load_spec_file as load

    return load(path)


def user_targets(spec_file) -> list[Target]:
    """One module per spec of the user's file, and an index naming the file."""
    from .user_specs import user_targets as targets

    return targets(spec_file)

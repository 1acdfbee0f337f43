"""``symdl generate``: render every generated module, atomically; ``--check``.

``--check`` first compares the header of each file on disk (spec hashes,
generator hash, SymPy version, body hash) with the current ones -- cheap --
and only when one differs renders in memory and prints a unified diff and the
command that fixes it.
"""
from __future__ import annotations

import difflib
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import sympy as sp

from .header import read_header, sha, split_body

ROOT = Path(__file__).resolve().parents[2]


def generated_dir() -> Path:
    import symdl.generated

    return Path(symdl.generated.__file__).resolve().parent


@dataclass
class Target:
    filename: str
    render: Callable[[], str]
    spec_hashes: Callable[[], dict] | None  # for the cheap check (None: always render)
    generator_hash: Callable[[], str] | None = None


def _file_mode(path: Path) -> int:
    """The mode the written file should have: the old file's, else what
    open() would give (0o666 minus the umask) -- mkstemp's 0o600 would make
    generated modules unreadable to other users of a shared install."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file in the same directory and os.replace: a
    reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _elementary_names(source: str) -> frozenset:
    return frozenset(m.group(1) for m in re.finditer(r"^def (\w+)_f64\(", source, re.MULTILINE))


def _elementary_source() -> str | None:
    try:
        from .elementary import render_elementary
    except ImportError:
        return None
    return render_elementary()


_memo: dict = {}


def elementary_source() -> str | None:
    if "src" not in _memo:
        _memo["src"] = _elementary_source()
    return _memo["src"]


def _elementary_available() -> frozenset:
    src = elementary_source()
    return _elementary_names(src) if src else frozenset()


def activation_target(specs, filename="activations.py", module="symdl.generated.activations") -> Target:
    """The target rendering ``specs`` into one activations module."""
    from .render import elementary_extra, generator_hash, render_activations

    return Target(
        filename, lambda: render_activations(specs, elementary=_elementary_available(), module=module),
        lambda: {s.name: s.content_hash() for s in specs},
        lambda: generator_hash(elementary_extra(_elementary_available())))


def builtin_targets(names=None) -> list[Target]:
    from symdl import specs as S

    for n in names or ():
        S.get(n)  # unknown name -> error with close matches
    targets = []
    if elementary_source() is not None:
        targets.append(Target("elementary.py", elementary_source, None))
    targets.append(activation_target(S.all_specs("activation")))
    from .second import second_target

    targets.append(second_target(_elementary_available))
    from .reductions import reduction_targets

    targets.extend(reduction_targets(_elementary_available))
    from .optimizers import optimizers_target

    targets.append(optimizers_target())
    from .normalization import normalization_targets

    targets.extend(normalization_targets())
    from .cells import cell_targets

    targets.extend(cell_targets(_elementary_available))
    from .regularizers import regularizer_targets

    targets.extend(regularizer_targets())
    return targets


def up_to_date(path: Path, target: Target) -> bool:
    """The cheap check: header hashes match the current specs and generator,
    and the body is unedited."""
    if target.spec_hashes is None or not path.exists():
        return False
    text = path.read_text(encoding="utf-8")
    meta = read_header(text)
    if meta is None:
        return False
    return (meta.get("specs") == dict(sorted(target.spec_hashes().items()))
            and meta.get("sympy") == sp.__version__
            and meta.get("generator_hash") == target.generator_hash()
            and meta.get("body_hash") == sha(split_body(text)))


def run(*, check=False, names=None, out_dir=None, targets=None, full=False, stream=None,
        fix_command="symdl generate") -> int:
    stream = stream or sys.stdout
    out = Path(out_dir) if out_dir else generated_dir()
    targets = targets if targets is not None else builtin_targets(names)
    stale = 0
    for t in targets:
        path = out / t.filename
        if check and not full and up_to_date(path, t):
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

"""What every ``symdl generate`` target shares: the ``Target`` record, the
atomic write, the generated elementary functions available to kernels, and
the layout of ``generated/`` (one module per spec: ``<family dir>/<spec>.py``).

The family renderers (render, second, reductions, optimizers, normalization,
user_specs) import this module; ``symdl.codegen.generate`` imports them --
never the other way round.
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from symdl.layout import FAMILY_DIRS, PACKAGE, filename_of, module_of, module_stem  # noqa: F401


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


def elementary_available() -> frozenset:
    """The vectorizable elementary functions of generated/elementary.py (as rendered now)."""
    if "avail" not in _memo:
        src = elementary_source()
        _memo["avail"] = _elementary_names(src) if src else frozenset()
    return _memo["avail"]


_elementary_available = elementary_available


def up_to_date(path: Path, target: Target) -> bool:
    """The cheap check: header hashes match the current specs and generator,
    and the body is unedited."""
    import sympy as sp

    from .header import read_header, sha, split_body

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

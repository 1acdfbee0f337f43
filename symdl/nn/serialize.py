"""Atomic ``.npz`` writes and nested state (dicts/lists/tuples of arrays and
numbers) flattened into ``.npz`` members plus one JSON string, so that files
load with ``allow_pickle=False``."""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["npz_path", "atomic_savez", "read_npz", "flatten", "unflatten", "json_array", "from_json_array",
           "CONFIG_KEY"]

#: the .npz member holding a model's architecture (JSON), written by
#: Sequential.save and the fit loop's checkpoints
CONFIG_KEY = "__symdl_config__"


def npz_path(path) -> Path:
    """``path`` as a Path, with ``.npz`` appended when it has no suffix (as numpy does)."""
    p = Path(path)
    return p if p.suffix else p.with_name(p.name + ".npz")


_TMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:          # exists, but not ours to signal
        return True
    return True


def clean_stale_temporaries(path) -> list:
    """Remove the temporary files that an earlier write of ``path`` left behind
    when its process was killed (our own naming only: ``.NAME.PID.XXXX.tmp``
    whose PID no longer runs).  Returns the paths removed."""
    path = Path(path)
    removed = []
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return removed
    for e in entries:
        m = _TMP.match(e.name)
        if m and m.group("name") == path.name and not _alive(int(m.group("pid"))):
            try:
                e.unlink()
                removed.append(e)
            except OSError:
                pass
    return removed


def _umask() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)       # no /proc: read it by setting it (and put it back)
    os.umask(mask)
    return mask


def _atomic(path: Path, write, binary: bool) -> Path:
    """Write through ``write(file)`` into a temporary file beside ``path``
    (named ``.NAME.PID.XXXX.tmp``), flush, fsync, give it the mode a plain
    write would (the user's umask, or the mode of the file it replaces), then
    rename it over ``path``.  A crash or an error leaves any previous file
    intact; temporaries of killed earlier writes are removed first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(path)
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8")) as f:
            write(f)
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def atomic_savez(path, arrays: dict) -> Path:
    """Write ``arrays`` to ``path`` (.npz, appended when there is no suffix)
    atomically, with the mode ``np.savez`` would give it (see ``_atomic``)."""
    return _atomic(npz_path(path), lambda f: np.savez(f, **arrays), binary=True)


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see ``_atomic``)."""
    return _atomic(Path(path), lambda f: f.write(text), binary=False)


def read_npz(path, what: str = "symdl model") -> dict:
    """Every member of an .npz file (no pickles) as a dict of arrays.  A file
    that is missing, truncated, corrupt or not an .npz raises
    ``ModelFileError("not a <what> file: ...")``."""
    import zipfile
    import zlib

    from symdl.errors import ModelFileError

    path = Path(path)
    if not path.exists() and npz_path(path).exists():
        path = npz_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {what} file at {path}")
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise ModelFileError(f"not a {what} file: {path} is a single .npy array, "
                                 f"not an .npz archive")
        with z:
            return {k: z[k] for k in z.files}
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError) as e:
        raise ModelFileError(f"not a {what} file: {path} ({type(e).__name__}: {e}; "
                             f"truncated or corrupt?)") from None


def json_array(obj) -> np.ndarray:
    return np.array(json.dumps(obj))


def from_json_array(a) -> object:
    return json.loads(str(np.asarray(a)[()]))


def flatten(obj, prefix: str, arrays: dict):
    """A JSON-able description of ``obj``; its arrays go to ``arrays[prefix/...]``."""
    if isinstance(obj, np.ndarray):
        key = prefix
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {"__dict__": [[k if isinstance(k, (int, str)) else str(k),
                              flatten(v, f"{prefix}/{k}", arrays)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [flatten(v, f"{prefix}/{i}", arrays) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [flatten(v, f"{prefix}/{i}", arrays) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if hasattr(obj, "__array__"):
        return flatten(np.asarray(obj), prefix, arrays)
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint (at {prefix})")


def unflatten(desc, arrays: dict):
    if isinstance(desc, dict):
        if "__array__" in desc:
            return np.array(arrays[desc["__array__"]])
        if "__dict__" in desc:
            return {k: unflatten(v, arrays) for k, v in desc["__dict__"]}
        if "__tuple__" in desc:
            return tuple(unflatten(v, arrays) for v in desc["__tuple__"])
        return {k: unflatten(v, arrays) for k, v in desc.items()}
    if isinstance(desc, list):
        return [unflatten(v, arrays) for v in desc]
    return desc


def check_declared_sizes(config: dict, arrays: dict, path) -> None:
    """Refuse a model whose architecture declares sizes its stored arrays
    cannot back (a crafted or corrupt file asking for a 7 TiB layer), before
    any layer is allocated: every integer of a layer's config, and their
    product, is bounded by the numbers the file actually holds."""
    from symdl.errors import ModelFileError

    stored = sum(int(np.asarray(a).size) for a in arrays.values())
    limit = max(stored, 1 << 16)
    for i, spec in enumerate(config.get("layers", [])):
        ints = []

        def walk(v):
            if isinstance(v, bool):
                return
            if isinstance(v, int):
                ints.append(v)
            elif isinstance(v, (list, tuple)):
                for u in v:
                    walk(u)
            elif isinstance(v, dict):
                for u in v.values():
                    walk(u)
        walk(spec.get("config", {}))
        prod = 1
        for v in ints:
            prod *= max(abs(v), 1)
        if any(abs(v) > limit for v in ints) or prod > 64 * limit:
            raise ModelFileError(
                f"not a consistent symdl model file: {path}: layer {i} ({spec.get('type')}) "
                f"declares sizes {ints} but the file holds only {stored} numbers")

"""Atomic ``.npz`` writes and nested state (dicts/lists/tuples of arrays and
numbers) flattened into ``.npz`` members plus one JSON string, so that files
load with ``allow_pickle=False``."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["npz_path", "atomic_savez", "read_npz", "flatten", "unflatten", "json_array", "from_json_array"]


def npz_path(path) -> Path:
    """``path`` as a Path, with ``.npz`` appended when it has no suffix (as numpy does)."""
    p = Path(path)
    return p if p.suffix else p.with_name(p.name + ".npz")


def atomic_savez(path, arrays: dict) -> Path:
    """Write ``arrays`` to ``path`` (.npz) atomically: a temporary file in the
    same directory, flushed and fsynced, then renamed over the target. A crash
    or an error leaves any previous file intact."""
    path = npz_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def read_npz(path) -> dict:
    """Every member of an .npz file (no pickles) as a dict of arrays."""
    path = Path(path)
    if not path.exists() and npz_path(path).exists():
        path = npz_path(path)
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


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

"""The generated source of a spec's kernels, for readers (``symdl latex NAME
--steps`` shows what the derivation becomes)."""
from __future__ import annotations

import re
from pathlib import Path


def kernel_sources(name: str, which: str = "forward_backward", dtype: str = "f64",
                   limit: int | None = None) -> dict:
    """{"kernel <fn> (<file>)": source} of spec ``name``'s serial ``which``
    kernels in ``dtype``, one per variant, read from the generated module (not
    imported: nothing is compiled)."""
    from symdl.registry import metadata

    _, mod = metadata(name)
    module = getattr(mod, "__name__", "")
    meta = getattr(mod, "SPECS", {}).get(name, {})
    target = meta.get("module") or module
    import importlib.util
    spec = importlib.util.find_spec(target)
    if spec is None or spec.origin is None:
        return {}
    path = Path(spec.origin)
    text = path.read_text(encoding="utf-8")
    pat = re.compile(r"^def ((?:_py_)?%s(?:__\w+?)?_%s_%s)\(" % (re.escape(name), which, dtype),
                     re.MULTILINE)
    out = {}
    lines = text.splitlines()
    starts = {m.group(1): text.count("\n", 0, m.start()) for m in pat.finditer(text)}
    if limit is not None:
        starts = dict(list(starts.items())[:limit])
    for fn, i in starts.items():
        j = i
        while j > 0 and lines[j - 1].startswith("@"):
            j -= 1
        k = i + 1
        while k < len(lines) and (not lines[k] or lines[k][0] in " \t"):
            k += 1
        # a _py_ body is compiled lazily as <kernel> (serial) and <kernel>_par (prange)
        label = f"{fn[4:]}, serial and parallel" if fn.startswith("_py_") else fn
        out[f"kernel {label} ({path.parent.name}/{path.name})"] = "\n".join(lines[j:k]).rstrip()
    return out

"""Render ``generated/elementary.py``: vectorizable exp/expm1/log/log1p/tanh/erf/erfc.

``render_elementary()`` returns the full source text (header + body); the
numbers come from ``symdl.specs.elementary``, the structure from
``templates/elementary.py.j2``.  Run this module to (re)write the file::

    python -m symdl.codegen.elementary
"""
from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import jinja2
import numpy as np
import sympy

from symdl.codegen.header import make_header, sha
from symdl.specs import elementary as spec

__all__ = ["render_elementary", "write_elementary", "TEMPLATE", "OUTPUT"]

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = "elementary.py.j2"


def _package_dir(src_dir: str, package: str) -> Path:
    """``ROOT/src_dir`` in a source tree, else the installed package's folder."""
    p = ROOT / src_dir
    if p.is_dir():
        return p
    import importlib.util
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        raise FileNotFoundError(f"neither {p} nor package {package} found")
    return Path(list(found.submodule_search_locations)[0])


TEMPLATE_DIR = _package_dir("templates", "symdl.templates")
OUTPUT = _package_dir("generated", "symdl.generated") / "elementary.py"

_DT = {
    "f64": {"np": "np.float64", "to_bits": "f64_to_bits", "from_bits": "bits_to_f64"},
    "f32": {"np": "np.float32", "to_bits": "f32_to_bits", "from_bits": "bits_to_f32"},
}


def _lit(dtype: str):
    """Float literal printer for a dtype: exact round trip, no promotion."""
    def lit(v) -> str:
        v = float(v)
        if not math.isfinite(v):
            raise ValueError(f"non-finite constant {v!r}")
        if dtype == "f64":
            return repr(v)
        if float(np.float32(v)) != v:
            raise ValueError(f"{v!r} is not a float32 value")
        return f"np.float32({v!r})"
    return lit


def _dtype_context(dtype: str, approx: list) -> dict:
    lit = _lit(dtype)
    consts: dict = {}
    polys: dict = {}
    for a in approx:
        for name, v in a.constants:
            if name in consts and consts[name] != v:
                raise ValueError(f"inconsistent constant {name} in {a.name}/{dtype}")
            consts[name] = v
        for name, cs in a.polys:
            if name in polys and polys[name] != cs:
                raise ValueError(f"inconsistent polynomial {name} in {a.name}/{dtype}")
            polys[name] = cs
    C = {k: (str(v) if isinstance(v, int) else lit(v)) for k, v in consts.items()}
    P = {k: [lit(c) for c in cs] for k, cs in polys.items()}
    return dict(_DT[dtype], s=dtype, lit=lit, C=C, P=P)


def _generator_hash() -> str:
    parts = [Path(__file__).read_text(encoding="utf-8"),
             (TEMPLATE_DIR / TEMPLATE).read_text(encoding="utf-8"),
             Path(spec.__file__).read_text(encoding="utf-8")]
    return sha("\n\0\n".join(parts))


def render_elementary() -> str:
    """Full source text of ``generated/elementary.py`` (compiled before return)."""
    approx = spec.approximations()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, autoescape=False)
    ctx = {
        "names": list(spec.FUNCTIONS),
        "dtypes": [_dtype_context(dt, [approx[(n, dt)] for n in spec.FUNCTIONS])
                   for dt in spec.DTYPES],
    }
    body = env.get_template(TEMPLATE).render(**ctx)
    body = body.rstrip("\n") + "\n"
    specs = {f"{n}_{dt}": approx[(n, dt)].content_hash()
             for n in spec.FUNCTIONS for dt in spec.DTYPES}
    header = make_header(module="symdl.codegen.elementary", template=TEMPLATE,
                         specs=specs, generator_hash=_generator_hash(),
                         sympy_version=sympy.__version__, body=body)
    source = header + body
    compile(source, str(OUTPUT), "exec")
    return source


def write_elementary(path: str | os.PathLike = OUTPUT) -> Path:
    """Render and write atomically (temp file in the same directory + replace)."""
    path = Path(path)
    text = render_elementary()
    fd, tmp = tempfile.mkstemp(prefix=".elementary.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


if __name__ == "__main__":
    print(write_elementary())

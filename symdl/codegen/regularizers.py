"""Render the regularizer specs (``symdl.specs.regularizers``) into
``generated/regularizers/<name>.py``: the penalty R and its derived gradient
printed as vectorized NumPy (a penalty is one pass over the weights, memory
bound; no Numba compile on first use), plus an index module.

Each module defines ``penalty(W, **params) -> float`` (accumulated in float64)
and ``gradient(W, **params) -> array`` (W's dtype) and ``SPEC`` (metadata).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import sympy as sp
from sympy.printing.numpy import NumPyPrinter

from .header import make_header

MODULE = "symdl.generated.regularizers"


class _Printer(NumPyPrinter):
    def _print_Trace(self, e):
        arg = e.arg
        if isinstance(arg, sp.MatMul) and len(arg.args) == 2 and isinstance(arg.args[0], sp.Transpose) \
                and arg.args[0].arg.shape == arg.args[1].shape:
            return f"numpy.vdot({self._print(arg.args[0].arg)}, {self._print(arg.args[1])})"   # tr(AᵀB)
        if arg.shape == (1, 1):
            return f"({self._print(arg)})[0, 0]"
        return f"numpy.trace({self._print(arg)})"

    def _print_MatMul(self, e):
        coeff, mats = e.as_coeff_matrices()
        ms = [self._print(m) for m in mats]
        prod = ms[0] if len(ms) == 1 else (
            f"({ms[0]}).dot({ms[1]})" if len(ms) == 2 else f"numpy.linalg.multi_dot([{', '.join(ms)}])")
        return prod if coeff == 1 else f"{self._print(coeff)}*{prod}"

    def _print_Identity(self, e):
        return f"numpy.eye({self._print(e.rows)}, dtype=W.dtype)"


def _code(e) -> str:
    return _Printer({"fully_qualified_modules": True, "strict": True}).doprint(e)


def _generator_hash() -> str:
    src = Path(__file__).read_text(encoding="utf-8")
    return hashlib.sha256(src.encode()).hexdigest()[:16]


def _meta(s) -> dict:
    return {"name": s.name, "family": "regularizer", "kind": s.kind, "doc": s.doc,
            "torch": s.torch, "hash": s.content_hash(),
            "params": [{"name": p.name, "default": p.default} for p in s.params],
            "module": f"{MODULE}.{s.name}"}


def render_module(s) -> str:
    from symdl.specs.regularizers import k_cols, n_rows, w

    args = ", ".join(["W"] + [f"{p.name}={p.default!r}" for p in s.params])
    grad = s.gradient()
    if s.kind == "elementwise":
        r, dr = s.expr.xreplace({w: sp.Symbol("W", real=True)}), grad.xreplace({w: sp.Symbol("W", real=True)})
        pen = (f"    W = numpy.asarray(W, dtype=numpy.float64)\n"
               f"    return float(numpy.sum({_code(r)}))\n")
        g_expr = _code(dr)
        if w not in grad.free_symbols:
            g_expr = f"numpy.full_like(W, {g_expr})"
        gr = f"    W = numpy.asarray(W)\n    return numpy.asarray({g_expr}, dtype=W.dtype)\n"
    else:
        shape = f"    {_code(n_rows)}, {_code(k_cols)} = W.shape\n"
        pen = ("    W = numpy.asarray(W, dtype=numpy.float64)\n    if W.ndim != 2:\n"
               "        raise ValueError(f'" + s.name + " needs a matrix W, got shape {W.shape}')\n"
               + shape + f"    return float({_code(s.expr)})\n")
        gr = ("    W = numpy.asarray(W)\n    if W.ndim != 2:\n"
              "        raise ValueError(f'" + s.name + " needs a matrix W, got shape {W.shape}')\n"
              + shape + f"    return numpy.asarray({_code(grad)}, dtype=W.dtype)\n")
    body = (f'"""Regularizer {s.name}: {s.doc} (generated; DO NOT EDIT).\n\n'
            f"R = {sp.sstr(s.expr)}\ndR = {sp.sstr(grad)}\n"
            f'"""\nimport numpy\n\nSPEC = {_meta(s)!r}\n\n\n'
            f"def penalty({args}):\n    \"\"\"R(W) = {sp.sstr(s.expr)}{' summed over W' if s.kind == 'elementwise' else ''}.\"\"\"\n"
            f"{pen}\n\n"
            f"def gradient({args}):\n    \"\"\"dR/dW = {sp.sstr(grad)} (derived by SymPy).\"\"\"\n"
            f"{gr}")
    header = make_header(module=f"{MODULE}.{s.name}", template="-", specs={s.name: s.content_hash()},
                         generator_hash=_generator_hash(), sympy_version=sp.__version__, body=body)
    return header + body


def render_index(specs) -> str:
    body = ('"""Regularizer penalties and gradients, one module per spec (generated; DO NOT EDIT)."""\n\n'
            f"#: metadata of every regularizer spec (its code: SPECS[name]['module'])\n"
            f"SPECS = {({s.name: _meta(s) for s in specs})!r}\n")
    header = make_header(module=MODULE, template="-", specs={s.name: s.content_hash() for s in specs},
                         generator_hash=_generator_hash(), sympy_version=sp.__version__, body=body)
    return header + body


def render_spectral() -> str:
    from symdl.specs.regularizers import SPECTRAL_NORMALIZED, spectral_norm_vjp

    d = spectral_norm_vjp()
    body = ('"""The backward of torch\'s spectral_norm reparametrization W̃ = W / (uᵀWv) with u, v\n'
            'held constant (generated; DO NOT EDIT).\n\n'
            f"forward = {sp.sstr(SPECTRAL_NORMALIZED)}\nvjp = {sp.sstr(d)}\n"
            '"""\nimport numpy\n\n\n'
            "def vjp(W, G, u, v):\n"
            '    """dL/dW from G = dL/dW̃ (W, G: (n, k); u: (n, 1); v: (k, 1))."""\n'
            f"    return {_code(d)}\n")
    header = make_header(module=f"{MODULE}.spectral_vjp", template="-", specs={"spectral_norm": _hash(body)},
                         generator_hash=_generator_hash(), sympy_version=sp.__version__, body=body)
    return header + body


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def regularizer_targets() -> list:
    """``symdl generate`` targets: generated/regularizers/__init__.py and one module per spec."""
    from symdl.specs.regularizers import REGULARIZER_SPECS as specs

    from .targets import Target

    out = [Target("regularizers/__init__.py", lambda: render_index(specs),
                  lambda: {s.name: s.content_hash() for s in specs}, _generator_hash)]
    for s in specs:
        out.append(Target(f"regularizers/{s.name}.py", lambda s=s: render_module(s),
                          lambda s=s: {s.name: s.content_hash()}, _generator_hash))
    out.append(Target("regularizers/spectral_vjp.py", render_spectral, None))
    return out

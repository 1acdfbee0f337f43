r"""Check a recurrent-cell equation from the notes against the cell's spec.

``symdl verify --spec gru_cell --variant variant=cho "h_t = (1-z_t) \odot h_{t-1} + z_t \odot \tilde{h}_t"``

The claim's left side names a step of the cell's gate block in the notes'
notation (h_t the new state, h_{t-1} the previous one, \tilde{h}_t the GRU
candidate, C_t / C_{t-1} the LSTM cell, \tilde{C}_t its candidate, z_t, r_t,
i_t, f_t, o_t the gates); the right side is compared with the spec's
definition of that step, written in the claim's own symbols, by the usual
``verify_claim`` (⊙ is the elementwise product: a scalar product per unit).
"""
from __future__ import annotations

import re

import sympy as sp

from .check import UNDECIDED, Verdict

#: spec symbol -> the notes' name of it, after normalize() (per family of cells)
_NOTES = {"h1": "h_t", "h": "h_{t-1}", "c1": "C_t", "c": "C_{t-1}", "n": "htilde_t", "g": "Ctilde_t",
          "z": "z_t", "r": "r_t", "i": "i_t", "f": "f_t", "o": "o_t"}
_LATEX = {"h_t": "h_t", "h_{t-1}": "h_{t-1}", "C_t": "C_t", "C_{t-1}": "C_{t-1}", "htilde_t": r"\tilde{h}_t",
          "Ctilde_t": r"\tilde{C}_t", "z_t": "z_t", "r_t": "r_t", "i_t": "i_t", "f_t": "f_t", "o_t": "o_t"}


def _normalize(name: str) -> str:
    n = name.replace(" ", "")
    n = re.sub(r"^c(tilde)?_", lambda m: "C" + (m.group(1) or "") + "_", n)   # c_t and C_t alike
    n = re.sub(r"_\{t\}$", "_t", n)
    return n


def verify_cell_equation(name: str, text: str, *, variant: str | None = None, timeout: float = 10.0) -> Verdict:
    from symdl.specs import get

    from . import parse_claim, verify_claim

    cell = get(name, family="cell")
    variant = variant or cell.default
    if variant not in cell.variants:
        v = Verdict(UNDECIDED, claim=text)
        v.reason = f"{name} has no variant {variant!r} (variants: {', '.join(cell.variants)})"
        return v
    lhs_text, eq, rhs_text = text.partition("=")
    try:
        ast, _ = parse_claim(lhs_text.strip(), expression=True)
    except Exception as err:  # noqa: BLE001 - reported as undecided
        v = Verdict(UNDECIDED, claim=text)
        v.reason = f"cannot parse the left side: {err}"
        return v
    steps = {}
    for b in cell.variants[variant]:
        steps.update({_NOTES.get(s.name, s.name): e.xreplace({t: sp.Symbol(_LATEX.get(_NOTES.get(t.name, ""), t.name))
                                                                for t in e.free_symbols})
                      for s, e in b.steps})
    lhs = _normalize(ast.a[0]) if getattr(ast, "k", None) == "sym" else None
    if not eq or lhs not in steps:
        v = Verdict(UNDECIDED, claim=text)
        v.reason = (f"the left side must name a step of {name} ({variant}): "
                    f"{', '.join(_LATEX.get(k, k) for k in steps)}")
        return v
    spec_side = sp.latex(steps[lhs], mul_symbol="dot")
    v = verify_claim(f"{rhs_text.strip()} = {spec_side}", timeout=timeout)
    v.claim = text
    v.notes.append(f"compared with {name} ({variant}): {_LATEX[lhs]} = {spec_side}")
    return v

"""The symbol tables of the LaTeX claim grammar (``latex_parser``): Greek
letters, elementary function names, spacing/bold/accent/product commands, the
depth and digit limits, and the helpers that turn names and decimal literals
into ``nodes.Node`` leaves."""
from __future__ import annotations

from fractions import Fraction

import sympy as sp

from .latex_cases import _TEXT_CMDS
from .lexer import ParseError
from .nodes import Node

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
    "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron", "rho", "varrho",
    "sigma", "varsigma", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega",
    "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi",
    "Omega", "ell",
}
_GREEK_ALIAS = {"varepsilon": "epsilon", "vartheta": "theta", "varrho": "rho",
                "varsigma": "sigma", "varphi": "phi"}

#: elementary functions: LaTeX/word name -> canonical name
ELEMENTARY = {
    "exp": "exp", "ln": "log", "log": "log", "sin": "sin", "cos": "cos", "tan": "tan",
    "tanh": "tanh", "sinh": "sinh", "cosh": "cosh", "sech": "sech", "csch": "csch",
    "coth": "coth", "arctan": "atan", "atan": "atan", "arcsin": "asin", "arccos": "acos",
    "erf": "erf", "erfc": "erfc", "sign": "sign", "sgn": "sign", "max": "max", "min": "min",
    "abs": "abs", "sigmoid": "sigmoid", "logistic": "sigmoid", "floor": "floor",
}
_INVERSE = {"tan": "atan", "sin": "asin", "cos": "acos"}

_SPACING = {"quad", "qquad", "displaystyle", "textstyle", "limits", "nolimits", "big", "Big",
            "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "middle",
            "thinspace", "medspace", "thickspace", "enspace", "nonumber", "notag"}
_BOLD_CMDS = {"mathbf", "boldsymbol", "vec", "bm", "mathbfit", "pmb", "textbf"}
_ACCENTS = {"hat": "hat", "widehat": "hat", "tilde": "tilde", "widetilde": "tilde",
            "bar": "bar", "overline": "bar", "dot": "dot"}
_MUL_CMDS = {"cdot": "cdot", "times": "*", "ast": "*", "odot": "odot", "circ": "odot",
             "otimes": "odot"}
MAX_DEPTH = 60
MAX_DIGITS = 200


def _subscript_cmd(name: str) -> str:
    """A command inside a braced subscript: formatting dropped, Greek kept."""
    return "" if name in _TEXT_CMDS or name in _BOLD_CMDS or name in _ACCENTS \
        else _GREEK_ALIAS.get(name, name)


def _word_cmd(name: str) -> str:
    """A command inside \\text{...}: Greek letters kept, others dropped."""
    return _GREEK_ALIAS.get(name, name) if name in GREEK else ""


def normalize_name(word: str) -> str:
    return word.lower().replace("_", "").replace(" ", "").replace("-", "")


class _Backtrack(Exception):
    pass


def _is_capital(ch: str) -> bool:
    return len(ch) == 1 and "A" <= ch <= "Z"


def _has_matrix_notation(toks) -> bool:
    """Bold symbols or a transpose (^T, ^\\top, ^{T}) anywhere in the claim."""
    for i, t in enumerate(toks):
        if t.kind == "CMD" and t.value in _BOLD_CMDS:
            return True
        if t.kind == "OP" and t.value == "^" and i + 1 < len(toks):
            u = toks[i + 1]
            if (u.kind == "LETTER" and u.value == "T") or (u.kind == "CMD" and u.value in (
                    "top", "intercal")):
                return True
            if u.kind == "OP" and u.value == "{" and i + 3 < len(toks) and toks[i + 3].value == "}" \
                    and toks[i + 2].value in ("T", "top", "intercal"):
                return True
    return False


def number_node(digits: str, pos: int) -> Node:
    """An exact rational from a decimal literal (no float, no sympify)."""
    if len(digits) > MAX_DIGITS:
        raise ParseError(f"number with more than {MAX_DIGITS} digits", "", pos)
    if "." in digits:
        ip, fp = digits.split(".")
    else:
        ip, fp = digits, ""
    f = Fraction(int((ip or "0") + fp), 10 ** len(fp))
    return Node("num", sp.Rational(f.numerator, f.denominator), digits, pos=pos)

r"""A recursive-descent parser for claims written in LaTeX.

User text never reaches ``eval``/``sympify``/``parse_latex``: the tokens from
``lexer.tokenize_latex`` are read by the grammar below into a ``nodes.Node``
tree, which ``build`` turns into SymPy objects.

Deterministic reading rules (the reading is printed back to the user):

* Single Latin letters are separate symbols: ``ax`` is ``a*x``; multi-letter
  names are written ``\text{lr}``/``\mathrm{lr}``.  A run of capitals with no
  space (``TP``, ``FP``, ``KL``) is one symbol, in claims and in ``--assume``
  alike, except in a matrix claim (bold vectors or a transpose), where ``AB``
  is the product of the matrices A and B.  ``e`` is Euler's number
  (unless declared a symbol with ``--assume``), ``\pi`` is pi.
* Implicit multiplication has the same precedence as ``*`` and ``/`` and
  groups left to right: ``1/2x`` is ``(1/2)*x``.
* A function without parentheses takes the implicit product that follows it,
  up to the next operator or function: ``\tanh 2x + 1`` is ``tanh(2*x) + 1``.
* ``\sigma(...)`` is the logistic sigmoid; ``\sigma`` otherwise is a symbol.
* ``\frac{d}{dx}`` and ``\nabla_x`` apply to the rest of the product they
  start (up to the next ``+``/``-``).
* ``^T`` (capital T) and ``^\top`` transpose; ``y^{(i)}`` is an index
  (part of the name), not a power; ``x_12`` is ``x_1*2`` as in TeX.
"""
from __future__ import annotations

from fractions import Fraction

import sympy as sp

from .latex_cases import _REL_CMDS, _REL_OPS, _TEXT_CMDS, _WORD_SKIP, _WORD_TRUE, CasesMixin  # noqa: F401
from .lexer import ParseError, Tok, tokenize_latex
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


class LatexParser(CasesMixin):
    def __init__(self, text: str, *, functions: dict | None = None, spec_names: dict | None = None):
        """functions: single letters bound to a spec (``{'f': 'tanh'}``);
        spec_names: normalized word -> spec name (recognized as functions)."""
        self.text = text
        self.functions = functions or {}
        self.spec_names = spec_names or {}
        self.toks = self._filter(tokenize_latex(text))
        # in a matrix claim (bold vectors, transposes) capitals are matrices and AB is
        # a product; elsewhere a run of capitals (TP, FP, KL) is one symbol
        self.matrix_notation = _has_matrix_notation(self.toks)
        self.i = 0
        self.depth = 0
        self.abs_depth = 0

    # ---- token helpers --------------------------------------------------------
    def _filter(self, toks: list[Tok]) -> list[Tok]:
        out: list[Tok] = []
        i = 0
        while i < len(toks):
            t = toks[i]
            if t.kind == "CMD" and t.value in ("tag", "label"):
                # drop \tag{...} / \label{...}
                j = i + 1
                if j < len(toks) and toks[j].value == "{":
                    lvl = 0
                    while j < len(toks):
                        if toks[j].value == "{":
                            lvl += 1
                        elif toks[j].value == "}":
                            lvl -= 1
                            if lvl == 0:
                                break
                        j += 1
                i = j + 1
                continue
            if t.kind == "CMD" and t.value in _SPACING:
                # an equation number after \quad: "(17)" at the very end
                if (t.value in ("quad", "qquad") and i + 4 < len(toks) and toks[i + 1].value == "("
                        and toks[i + 2].kind == "NUM" and toks[i + 3].value == ")"
                        and toks[i + 4].kind == "EOF"):
                    i += 4
                    continue
                i += 1
                continue
            out.append(t)
            i += 1
        # trailing punctuation
        while len(out) >= 2 and out[-2].kind == "OP" and out[-2].value in (",", ".", ";"):
            del out[-2]
        return out

    def peek(self, k: int = 0) -> Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> Tok:
        t = self.toks[self.i]
        if self.i < len(self.toks) - 1:
            self.i += 1
        return t

    def at(self, kind: str, value: str | None = None, k: int = 0) -> bool:
        t = self.peek(k)
        return t.kind == kind and (value is None or t.value == value)

    def at_op(self, *values) -> bool:
        t = self.peek()
        return t.kind == "OP" and t.value in values

    def at_cmd(self, *values) -> bool:
        t = self.peek()
        return t.kind == "CMD" and t.value in values

    def error(self, msg: str, tok: Tok | None = None):
        tok = tok or self.peek()
        raise ParseError(msg, self.text, tok.pos)

    def describe(self, t: Tok) -> str:
        if t.kind == "EOF":
            return "the end of the claim"
        if t.kind == "CMD":
            return f"'\\{t.value}'"
        return f"'{t.value}'"

    def expect_op(self, value: str, what: str | None = None) -> Tok:
        if not self.at_op(value):
            self.error(f"expected {what or repr(value)}, found {self.describe(self.peek())}")
        return self.next()

    def enter(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.error(f"nesting deeper than {MAX_DEPTH} levels")

    def leave(self):
        self.depth -= 1

    # ---- the claim ------------------------------------------------------------
    def parse_claim(self) -> Node:
        sides = [self.parse_sum()]
        while self.at_op("="):
            self.next()
            sides.append(self.parse_sum())
        t = self.peek()
        if t.kind != "EOF":
            if t.kind == "CMD" and t.value in ("approx", "sim", "simeq", "propto"):
                self.error(f"'\\{t.value}' is not an equality; only '=' claims can be verified")
            if t.kind == "CMD" and t.value in _REL_CMDS or (t.kind == "OP" and t.value in "<>"):
                self.error("inequalities cannot be verified; expected '='")
            self.error(f"expected an operator, '=' or the end of the claim, found {self.describe(t)}")
        if len(sides) < 2:
            self.error("expected '=': a claim is an equation such as  lhs = rhs")
        return Node("claim", sides, pos=0)

    def parse_expression_only(self) -> Node:
        e = self.parse_sum()
        if not self.at("EOF"):
            self.error(f"expected the end of the expression, found {self.describe(self.peek())}")
        return e

    # ---- arithmetic -------------------------------------------------------------
    def parse_sum(self) -> Node:
        self.enter()
        t0 = self.peek()
        if self.at_op("-"):
            self.next()
            left = Node("neg", self.parse_term(), pos=t0.pos)
        elif self.at_op("+"):
            self.next()
            left = self.parse_term()
        else:
            left = self.parse_term()
        while True:
            if self.at_op("+"):
                t = self.next()
                left = Node("add", left, self.parse_term(), pos=t.pos)
            elif self.at_op("-"):
                t = self.next()
                left = Node("sub", left, self.parse_term(), pos=t.pos)
            elif self.at_cmd("pm", "mp"):
                self.error("'±' is ambiguous; write the two claims separately")
            else:
                break
        self.leave()
        return left

    def starts_factor(self, t: Tok) -> bool:
        if t.kind in ("NUM", "LETTER"):
            return True
        if t.kind == "OP":
            if t.value == "|":
                return self.abs_depth == 0
            return t.value in ("(", "[", "\\{", "{")
        if t.kind == "CMD":
            return not (t.value in _MUL_CMDS or t.value in _REL_CMDS or t.value in (
                "right", "end", "rvert", "rangle", "approx", "sim", "simeq", "propto", "in",
                "div", "pm", "mp", "land", "wedge", "lor", "vee", "to", "rightarrow",
                "Rightarrow", "leftarrow", "implies", "iff", "over", "notin"))
        return False

    def parse_term(self) -> Node:
        self.enter()
        left = self.parse_unary_factor()
        while True:
            t = self.peek()
            if t.kind == "OP" and t.value == "*":
                self.next()
                left = Node("mul", left, self.parse_unary_factor(), "*", pos=t.pos)
            elif t.kind == "OP" and t.value == "/":
                self.next()
                left = Node("div", left, self.parse_unary_factor(), pos=t.pos)
            elif t.kind == "CMD" and t.value in _MUL_CMDS:
                self.next()
                left = Node("mul", left, self.parse_unary_factor(), _MUL_CMDS[t.value], pos=t.pos)
            elif t.kind == "CMD" and t.value == "div":
                self.next()
                left = Node("div", left, self.parse_unary_factor(), pos=t.pos)
            elif self.starts_factor(t):
                left = Node("mul", left, self.parse_power(), "implicit", pos=t.pos)
            else:
                break
        self.leave()
        return left

    def parse_unary_factor(self) -> Node:
        if self.at_op("-"):
            t = self.next()
            return Node("neg", self.parse_unary_factor(), pos=t.pos)
        if self.at_op("+"):
            self.next()
            return self.parse_unary_factor()
        return self.parse_power()

    def parse_power(self) -> Node:
        self.enter()
        base = self.parse_atom()
        while self.at_op("^"):
            t = self.next()
            kind, sup = self.parse_superscript()
            if kind == "T":
                base = Node("T", base, pos=t.pos)
            else:
                base = Node("pow", base, sup, pos=t.pos)
        if self.at_op("'"):
            self.error("a prime (') can only follow a function name, e.g. \\mathrm{softplus}'(x)")
        self.leave()
        return base

    def _is_transpose_group(self) -> bool:
        # at '{': {T} or {\top} or {\intercal}
        a, b = self.peek(1), self.peek(2)
        return ((a.kind == "LETTER" and a.value == "T") or (a.kind == "CMD" and a.value in (
            "top", "intercal", "mathsf"))) and b.kind == "OP" and b.value == "}"

    def parse_superscript(self):
        """After '^': ('T', None) for a transpose, else ('pow', node)."""
        t = self.peek()
        if t.kind == "LETTER" and t.value == "T":
            self.next()
            return "T", None
        if t.kind == "CMD" and t.value in ("top", "intercal"):
            self.next()
            return "T", None
        if t.kind == "OP" and t.value == "{":
            if self._is_transpose_group():
                self.next(), self.next(), self.next()
                return "T", None
            self.next()
            if self.at_op("}"):
                self.error("empty superscript")
            e = self.parse_sum()
            self.expect_op("}", "'}' closing the superscript")
            return "pow", e
        return "pow", self.parse_script_token(allow_minus=True)

    def parse_script_token(self, allow_minus=False) -> Node:
        """A one-token script argument: x^2, e^x, x^\alpha (TeX semantics)."""
        t = self.peek()
        if allow_minus and t.kind == "OP" and t.value == "-":
            self.next()
            return Node("neg", self.parse_script_token(), pos=t.pos)
        if t.kind == "NUM":
            return number_node(self._first_char_of_num(), t.pos)
        if t.kind == "LETTER":
            self.next()
            if t.value == "e" and not self.e_symbol:
                return Node("const", "E", pos=t.pos)
            return Node("sym", t.value, False, pos=t.pos)
        if t.kind == "CMD" and (t.value in GREEK or t.value == "pi"):
            self.next()
            if t.value == "pi":
                return Node("const", "pi", pos=t.pos)
            return Node("sym", _GREEK_ALIAS.get(t.value, t.value), False, pos=t.pos)
        if t.kind == "CMD" and t.value in ("frac", "dfrac", "tfrac", "sqrt") or (
                t.kind == "CMD" and t.value in _TEXT_CMDS | _BOLD_CMDS):
            return self.parse_atom()
        self.error(f"expected a superscript or subscript, found {self.describe(t)}")

    def _first_char_of_num(self) -> str:
        t = self.toks[self.i]
        if len(t.value) == 1:
            self.next()
            return t.value
        self.toks[self.i] = Tok("NUM", t.value[1:], t.pos + 1, t.end)
        if self.toks[self.i].value.startswith("."):
            self.error("unexpected '.' after a one-digit script")
        return t.value[0]

    # ---- atoms ------------------------------------------------------------------
    e_symbol = False

    def parse_atom(self) -> Node:
        t = self.peek()
        if t.kind == "NUM":
            self.next()
            try:
                return number_node(t.value, t.pos)
            except ParseError as err:
                raise ParseError(err.message, self.text, t.pos) from None
        if t.kind == "LETTER":
            return self.parse_letter()
        if t.kind == "CMD":
            return self.parse_command()
        if t.kind == "OP":
            v = t.value
            if v in ("(", "[", "\\{", "{"):
                self.next()
                close = {"(": ")", "[": "]", "\\{": "\\}", "{": "}"}[v]
                e = self.parse_sum()
                self.expect_op(close, f"'{close}' closing the '{v}' at column {t.pos + 1}")
                return e
            if v == "|":
                self.next()
                self.abs_depth += 1
                e = self.parse_sum()
                self.abs_depth -= 1
                self.expect_op("|", f"'|' closing the absolute value opened at column {t.pos + 1}")
                return Node("func", "abs", [e], pos=t.pos)
            if v == "\\|":
                self.error("norms \\|...\\| are not supported; write the sum explicitly")
            if v == "?":
                self.error("unknown value '?': nothing to verify")
            if v in ("=",):
                self.error("expected a value before '='")
        if t.kind == "EOF":
            self.error("expected a value, found the end of the claim")
        self.error(f"expected a value, found {self.describe(t)}")

    def parse_letter(self) -> Node:
        t = self.next()
        name = t.value
        if _is_capital(name) and not self.matrix_notation:
            end = t.end
            while self.peek().kind == "LETTER" and _is_capital(self.peek().value) \
                    and self.peek().pos == end:
                u = self.next()
                name, end = name + u.value, u.end
            if len(name) > 1:
                return self.symbol_suffix(name, False, t.pos)
        if name in self.functions and (self.at_op("(") or self.at_op("'") or self.at_cmd("left")):
            return self.parse_spec_call(self.functions[name], t)
        if name == "f" and (self.at_op("'") or self.at_op("(")):
            self.error("f(...) names no known function; write the formula, name a spec "
                       "(e.g. \\mathrm{softplus}(x)), or bind f with --spec NAME", t)
        if name == "e" and not self.e_symbol and not self.at_op("_"):
            return Node("const", "E", pos=t.pos)
        return self.symbol_suffix(name, False, t.pos)

    def symbol_suffix(self, name: str, bold: bool, pos: int) -> Node:
        while True:
            if self.at_op("_"):
                self.next()
                sub = self.parse_sub_text()
                name = f"{name}_{sub}" if len(sub) == 1 or sub.isalnum() else f"{name}_{{{sub}}}"
            elif self.at_op("^") and self.peek(1).kind == "OP" and (
                    self.peek(1).value == "(" or (self.peek(1).value == "{" and self.peek(2).value == "(")):
                # y^{(i)}: a sample index, part of the name
                self.next()
                braced = self.at_op("{")
                if braced:
                    self.next()
                start = self.next().pos
                lvl = 1
                while lvl:
                    u = self.next()
                    if u.kind == "EOF":
                        self.error("unclosed '(' in a superscript index")
                    if u.value == "(":
                        lvl += 1
                    elif u.value == ")":
                        lvl -= 1
                end = u.end
                if braced:
                    self.expect_op("}")
                name = f"{name}^({self.text[start + 1:end - 1].strip()})"
            else:
                break
        return Node("sym", name, bold, pos=pos)

    def parse_sub_text(self) -> str:
        t = self.peek()
        if t.kind == "OP" and t.value == "{":
            self.next()
            s = self._braced_text(t, " in a subscript", _subscript_cmd)
            if not s:
                self.error("empty subscript", t)
            return s
        if t.kind == "NUM":
            return self._first_char_of_num()
        if t.kind == "LETTER":
            self.next()
            return t.value
        if t.kind == "CMD" and t.value in GREEK:
            self.next()
            return _GREEK_ALIAS.get(t.value, t.value)
        if t.kind == "CMD" and t.value in _TEXT_CMDS | _BOLD_CMDS:
            self.next()
            return self.read_word()
        self.error(f"expected a subscript, found {self.describe(t)}")

    def read_word(self) -> str:
        """The raw letters of a {...} argument (\\text{...}, \\mathrm{...})."""
        t = self.peek()
        if not self.at_op("{"):
            if t.kind in ("LETTER", "NUM"):
                self.next()
                return t.value
            if t.kind == "CMD" and t.value in GREEK:
                self.next()
                return _GREEK_ALIAS.get(t.value, t.value)
            self.error(f"expected '{{' after the command, found {self.describe(t)}")
        self.next()
        return self._braced_text(t, "", _word_cmd, spaced=True).strip()

    def _braced_text(self, t, where: str, cmd_text, spaced: bool = False) -> str:
        """The raw text up to the '}' closing the '{' just read (token t):
        nested braces dropped, commands through ``cmd_text``; with ``spaced``
        a space where the source separates two words."""
        parts, lvl = [], 1
        while True:
            u = self.next()
            if u.kind == "EOF":
                self.error(f"unclosed '{{'{where}", t)
            if u.kind == "OP" and u.value in ("{", "}"):
                lvl += 1 if u.value == "{" else -1
                if lvl == 0:
                    return "".join(parts)
                continue
            parts.append(cmd_text(u.value) if u.kind == "CMD" else u.value)
            if spaced and u.kind in ("LETTER", "NUM") and self.peek().pos > u.end \
                    and self.peek().kind in ("LETTER", "NUM"):
                parts.append(" ")

    def parse_command(self) -> Node:
        t = self.peek()
        c = t.value
        if c == "pi":
            self.next()
            return Node("const", "pi", pos=t.pos)
        if c == "sigma" and (self.peek(1).value in ("(", "'") or (
                self.peek(1).kind == "CMD" and self.peek(1).value == "left")):
            self.next()
            if self.at_op("'"):
                return self.parse_spec_call("sigmoid", t, already_named=True)
            return self.parse_func_args("sigmoid", t)
        if c == "Phi" and (self.peek(1).value == "(" or (
                self.peek(1).kind == "CMD" and self.peek(1).value == "left")):
            self.next()   # the standard normal CDF
            return self.parse_func_args("Phi", t)
        if c in GREEK:
            self.next()
            return self.symbol_suffix(_GREEK_ALIAS.get(c, c), False, t.pos)
        if c in ("frac", "dfrac", "tfrac", "cfrac"):
            return self.parse_frac()
        if c == "sqrt":
            self.next()
            index = None
            if self.at_op("["):
                self.next()
                index = self.parse_sum()
                self.expect_op("]", "']' closing the root index")
            arg = self.parse_group_or_token()
            return Node("func", "sqrt" if index is None else "root", [arg] + ([index] if index else []),
                        pos=t.pos)
        if c == "left":
            return self.parse_left()
        if c in ("lvert", "vert"):
            self.next()
            e = self.parse_sum()
            if not self.at_cmd("rvert", "vert"):
                self.error("expected '\\rvert' closing the absolute value")
            self.next()
            return Node("func", "abs", [e], pos=t.pos)
        if c in _TEXT_CMDS:
            self.next()
            word = self.read_word()
            return self.word_atom(word, t)
        if c in _BOLD_CMDS:
            self.next()
            word = self.read_word()
            if not word or not word.replace("_", "").isalnum():
                self.error("expected a name inside the bold command", t)
            return self.symbol_suffix(word, True, t.pos)
        if c in _ACCENTS:
            self.next()
            word = self.read_word()
            if not word or not word.replace("_", "").isalnum():
                self.error("expected a name under the accent", t)
            return self.symbol_suffix(word + _ACCENTS[c], False, t.pos)
        if c in ELEMENTARY:
            self.next()
            if self.at_op("'") and normalize_name(c) in self.spec_names:
                return self.parse_spec_call(self.spec_names[normalize_name(c)], t, already_named=True)
            return self.parse_func_args(ELEMENTARY[c], t)
        if c == "nabla":
            return self.parse_nabla()
        if c == "partial":
            self.error("'\\partial' outside a fraction: write \\frac{\\partial}{\\partial w}(...)")
        if c == "begin":
            return self.parse_env()
        if c == "infty":
            self.error("infinity is not a value a claim can be checked at")
        if c in ("sum", "prod", "int", "lim"):
            self.error(f"'\\{c}' is not supported; write the terms explicitly")
        if c in _MUL_CMDS or c in _REL_CMDS:
            self.error(f"expected a value before {self.describe(t)}")
        self.error(f"unknown command {self.describe(t)}")

    def word_atom(self, word: str, t: Tok) -> Node:
        w = normalize_name(word)
        if not w:
            self.error("empty name", t)
        if w in ("d",):
            return Node("sym", "d", False, pos=t.pos)
        if self.at_op("'") and w in self.spec_names:
            return self.parse_spec_call(self.spec_names[w], t, already_named=True)
        if w in ELEMENTARY and w not in ("abs",):
            return self.parse_func_args(ELEMENTARY[w], t)
        if w in self.spec_names:
            return self.parse_spec_call(self.spec_names[w], t, already_named=True)
        if not word.replace("_", "").replace(" ", "").isalnum():
            self.error(f"'{word}' is not a name", t)
        return self.symbol_suffix(word.replace(" ", ""), False, t.pos)

    def parse_group_or_token(self) -> Node:
        if self.at_op("{"):
            t = self.next()
            e = self.parse_sum()
            self.expect_op("}", f"'}}' closing the '{{' at column {t.pos + 1}")
            return e
        return self.parse_script_token()

    def parse_left(self) -> Node:
        t = self.next()  # \left
        d = self.next()
        opener = d.value
        closers = {"(": ")", "[": "]", "\\{": "\\}", "|": "|", ".": None, "lvert": "rvert",
                   "\\|": "\\|", "lbrace": "rbrace", "langle": "rangle"}
        if opener not in closers:
            self.error(f"unexpected delimiter {self.describe(d)} after \\left", d)
        if opener == "\\|":
            self.error("norms \\|...\\| are not supported", d)
        if opener in ("|", "lvert"):
            self.abs_depth += 1
        e = self.parse_sum()
        if opener in ("|", "lvert"):
            self.abs_depth -= 1
        if not self.at_cmd("right"):
            self.error(f"expected '\\right' closing the '\\left' at column {t.pos + 1}, "
                       f"found {self.describe(self.peek())}")
        self.next()
        self.next()  # the closing delimiter (any: \right. is allowed)
        if opener in ("|", "lvert"):
            return Node("func", "abs", [e], pos=t.pos)
        return e

    # ---- functions ------------------------------------------------------------
    def parse_func_args(self, name: str, t: Tok) -> Node:
        power = None
        base = None
        if self.at_op("_") and name == "log":
            self.next()
            base = self.parse_group_or_token()
        if self.at_op("^"):
            self.next()
            kind, power = self.parse_superscript()
            if kind == "T":
                self.error("a function cannot be transposed", t)
            if (power.k == "neg" and power.a[0].k == "num" and power.a[0].a[0] == 1
                    and name in _INVERSE):
                name, power = _INVERSE[name], None
        if self.at_op("'"):
            self.error(f"a derivative of '{name}' by prime is supported for specs only; "
                       "write \\frac{d}{dx}(...)")
        args = self.parse_call_args(name)
        if base is not None:
            node = Node("div", Node("func", "log", args, pos=t.pos),
                        Node("func", "log", [base], pos=t.pos), pos=t.pos)
        else:
            node = Node("func", name, args, pos=t.pos)
        if name not in ("max", "min") and len(args) != 1:
            self.error(f"'{name}' takes one argument, got {len(args)}", t)
        if name in ("max", "min") and len(args) < 2:
            self.error(f"'{name}' needs at least two arguments", t)
        if power is not None:
            node = Node("pow", node, power, pos=t.pos)
        return node

    def parse_call_args(self, name: str) -> list:
        t = self.peek()
        pairs = {"(": ")", "[": "]", "\\{": "\\}"}
        left = False
        if self.at_cmd("left"):
            left = True
            self.next()
            t = self.peek()
        if t.kind == "OP" and t.value in pairs or (left and t.kind == "CMD" and t.value == "lbrace"):
            self.next()
            close = pairs.get(t.value, "\\}")
            args = [self.parse_sum()]
            while self.at_op(","):
                self.next()
                args.append(self.parse_sum())
            if left:
                if not self.at_cmd("right"):
                    self.error("expected '\\right' closing the argument list")
                self.next()
                self.next()
            else:
                self.expect_op(close, f"'{close}' closing the arguments of {name}")
            return args
        if left:
            self.error("expected '(' after \\left")
        if name in ("max", "min"):
            self.error(f"'\\{name}' needs its arguments in parentheses: \\{name}(a, b)")
        # no parentheses: the implicit product that follows
        if not self.starts_factor(self.peek()):
            self.error(f"expected the argument of {name}, found {self.describe(self.peek())}")
        arg = self.parse_power()
        while self.starts_factor(self.peek()) and not self._starts_function(self.peek()):
            u = self.peek()
            arg = Node("mul", arg, self.parse_power(), "implicit", pos=u.pos)
        return [arg]

    def _starts_function(self, t: Tok) -> bool:
        if t.kind != "CMD":
            return False
        return t.value in ELEMENTARY or t.value in _TEXT_CMDS or t.value in (
            "frac", "dfrac", "nabla", "sigma", "sqrt")

    def parse_spec_call(self, spec: str, t: Tok, already_named: bool = False) -> Node:
        order = 0
        while self.at_op("'"):
            self.next()
            order += 1
        if self.at_op("^") and self.peek(1).value == "{" and self.peek(2).value == "(":
            # f^{(2)}(x)
            self.next(), self.next(), self.next()
            n = self.next()
            if n.kind != "NUM":
                self.error("expected the derivative order", n)
            order += int(n.value)
            self.expect_op(")")
            self.expect_op("}")
        args = self.parse_call_args(spec)
        if len(args) != 1:
            self.error(f"{spec} takes one argument, got {len(args)}", t)
        return Node("spec", spec, order, args, pos=t.pos)

    # ---- fractions and derivatives ----------------------------------------------
    def _at_d(self) -> bool:
        t = self.peek()
        if t.kind == "LETTER" and t.value == "d" and not self.at_op("_") and not (
                self.peek(1).kind == "OP" and self.peek(1).value == "_"):
            return True
        if t.kind == "CMD" and t.value == "partial":
            return True
        if t.kind == "CMD" and t.value in ("mathrm", "text", "operatorname") and \
                self.peek(1).value == "{" and self.peek(2).value == "d" and self.peek(3).value == "}":
            return True
        return False

    def _skip_d(self):
        t = self.next()
        if t.kind == "CMD" and t.value in ("mathrm", "text", "operatorname"):
            self.next(), self.next(), self.next()

    def _try_derivative(self, start: Tok):
        save = (self.i, self.depth, self.abs_depth)
        try:
            if not self.at_op("{"):
                raise _Backtrack
            self.next()
            if not self._at_d():
                raise _Backtrack
            self._skip_d()
            order = 1
            if self.at_op("^"):
                self.next()
                n = self.peek()
                if self.at_op("{"):
                    self.next()
                    n = self.next()
                    if not self.at_op("}"):
                        raise _Backtrack
                    self.next()
                else:
                    n = self.next()
                if n.kind != "NUM":
                    raise _Backtrack
                order = int(n.value)
            numerator = None
            if not self.at_op("}"):
                num_start = self.peek()
                numerator = self.parse_sum()
                if not self.at_op("}"):
                    raise _Backtrack
                if numerator.k == "sym":
                    raise ParseError(
                        f"cannot differentiate '{numerator.a[0]}': it is an unknown quantity; "
                        "write its formula, e.g. \\frac{d}{dx}\\left(...\\right)", self.text, num_start.pos)
            self.next()  # }
            if not self.at_op("{"):
                raise _Backtrack
            self.next()
            if not self._at_d():
                raise _Backtrack
            self._skip_d()
            var = self.parse_atom()
            if var.k != "sym":
                raise _Backtrack
            if self.at_op("^"):
                self.next()
                n = self.next()
                if n.kind == "OP" and n.value == "{":
                    n = self.next()
                    self.expect_op("}")
                if n.kind != "NUM" or int(n.value) != order:
                    raise _Backtrack
            if not self.at_op("}"):
                raise _Backtrack
            self.next()
        except _Backtrack:
            self.i, self.depth, self.abs_depth = save
            return None
        if numerator is None:
            if not self.starts_factor(self.peek()) and not self.at_op("-"):
                self.error(f"expected the expression to differentiate after d/d{var.a[0]}")
            numerator = self.parse_term() if not self.at_op("-") else Node(
                "neg", (self.next(), self.parse_term())[1])
        if order > 4:
            self.error("derivatives above the 4th order are not supported", start)
        return Node("diff", numerator, var, order, pos=start.pos)

    def parse_frac(self) -> Node:
        t = self.next()
        d = self._try_derivative(t)
        if d is not None:
            return d
        num = self.parse_frac_arg()
        den = self.parse_frac_arg()
        return Node("div", num, den, pos=t.pos)

    def parse_frac_arg(self) -> Node:
        if self.at_op("{"):
            t = self.next()
            if self.at_op("}"):
                self.error("empty fraction argument")
            e = self.parse_sum()
            self.expect_op("}", f"'}}' closing the '{{' at column {t.pos + 1}")
            return e
        return self.parse_script_token()  # \frac12

    def parse_nabla(self) -> Node:
        t = self.next()
        if not self.at_op("_"):
            self.error("write the variable of the gradient as a subscript: \\nabla_{x}")
        self.next()
        if self.at_op("{"):
            self.next()
            var = self.parse_atom()
            self.expect_op("}", "'}' closing the gradient variable")
        else:
            var = self.parse_atom()
        if var.k != "sym":
            self.error("the gradient variable must be a symbol", t)
        if not self.starts_factor(self.peek()) and not self.at_op("-"):
            self.error("expected the expression after the gradient")
        if self.at_op("-"):
            self.next()
            operand = Node("neg", self.parse_term())
        else:
            operand = self.parse_term()
        return Node("grad", var, operand, pos=t.pos)


def parse_latex_claim(text: str, *, e_symbol: bool = False, functions=None, spec_names=None,
                expression: bool = False) -> Node:
    p = LatexParser(text, functions=functions, spec_names=spec_names)
    p.e_symbol = e_symbol
    try:
        return p.parse_expression_only() if expression else p.parse_claim()
    except RecursionError:
        raise ParseError("the claim is nested too deeply", text, p.peek().pos) from None
    except ParseError as err:
        if not err.text:
            err.text = text
        raise

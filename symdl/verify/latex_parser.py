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

from .latex_atoms import AtomsMixin
from .latex_calculus import CalculusMixin
from .latex_cases import _REL_CMDS, _REL_OPS, _TEXT_CMDS, _WORD_SKIP, _WORD_TRUE, CasesMixin  # noqa: F401
# the symbol tables: re-exported (symdl.verify.sympy_parser, metric_defs and
# users import them from here)
from .latex_symbols import (_ACCENTS, _BOLD_CMDS, _GREEK_ALIAS, _INVERSE, _MUL_CMDS, _SPACING,  # noqa: F401
                            ELEMENTARY, GREEK, MAX_DEPTH, MAX_DIGITS, _Backtrack, _has_matrix_notation,
                            _is_capital, _subscript_cmd, _word_cmd, normalize_name, number_node)
from .lexer import ParseError, Tok, tokenize_latex
from .nodes import Node


class LatexParser(AtomsMixin, CalculusMixin, CasesMixin):
    """The grammar: token helpers, the claim (relations, cases), arithmetic
    (sums, products, powers, scripts); atoms and calls in ``latex_atoms``,
    fractions and derivatives in ``latex_calculus``."""

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
                "right", "end", "rvert", "rangle", "rfloor", "rceil", "approx", "sim", "simeq", "propto", "in",
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

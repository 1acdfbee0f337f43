"""Fractions and derivatives of the LaTeX claim grammar (a mixin of
``latex_parser.LatexParser``): ``\\frac``, Leibniz's ``\\frac{d}{dx}`` and
``\\frac{\\partial f}{\\partial x}`` (tried first, backtracking to a plain
fraction), and the gradient ``\\nabla_x``."""
from __future__ import annotations

from .latex_symbols import _Backtrack
from .lexer import ParseError, Tok
from .nodes import Node


class CalculusMixin:
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

"""The ``cases`` environment and conditions of the LaTeX claim grammar
(a mixin of ``latex_parser.LatexParser``): rows ``value & condition``,
comparisons and chains ``0 < x \\le 1``, ``x \\in [a, b]``, \\land / \\lor, and
the words ``otherwise``, ``if``, ``for``."""
from __future__ import annotations

from .lexer import Tok
from .nodes import Node

_REL_CMDS = {"le": "<=", "leq": "<=", "leqslant": "<=", "ge": ">=", "geq": ">=",
             "geqslant": ">=", "lt": "<", "gt": ">", "ne": "!=", "neq": "!="}
_REL_OPS = {"<": "<", ">": ">", "<=": "<=", ">=": ">=", "!=": "!=", "=": "="}
_TEXT_CMDS = {"mathrm", "operatorname", "text", "textrm", "mathit", "textit", "rm", "mathsf",
              "textsf", "mathcal", "mathscr", "textnormal", "mbox"}
_WORD_SKIP = {"if", "for", "when", "where", "for all", "forall", "if and only if", "iff"}
_WORD_TRUE = {"otherwise", "else", "elsewhere", "o.w.", "ow"}


class CasesMixin:
    def parse_env(self) -> Node:
        t = self.next()  # \begin
        name = self.read_word()
        if name not in ("cases", "dcases", "rcases"):
            self.error(f"environment '{name}' is not supported (only cases)", t)
        rows = []
        while True:
            if self.at_cmd("end"):
                self.next()
                end = self.read_word()
                if end != name:
                    self.error(f"\\end{{{end}}} does not close \\begin{{{name}}}")
                break
            if self.at("EOF"):
                self.error(f"missing \\end{{{name}}}")
            rows.append(self.parse_case_row())
            if self.at_op("\\\\"):
                self.next()
        if not rows:
            self.error("empty cases", t)
        return Node("pw", rows, pos=t.pos)

    def parse_case_row(self):
        first = self.parse_value_or_cond()
        second = None
        if self.at_op("&", ","):
            while self.at_op("&", ",", ":"):
                self.next()
            second = self.parse_value_or_cond()
        while self.at_op(",", ".", ";"):
            self.next()
        if not (self.at_op("\\\\") or self.at_cmd("end")):
            self.error(f"expected '\\\\' or \\end{{cases}}, found {self.describe(self.peek())}")
        if second is None:
            self.error("expected '&' and the condition of this case")
        (k1, n1), (k2, n2) = first, second
        if k1 == "value" and k2 == "cond":
            return (n1, n2)
        if k1 == "cond" and k2 == "value":
            return (n2, n1)
        if k1 == "value" and k2 == "value":
            self.error("expected a condition (e.g. x < 0, \\text{otherwise}) in this case")
        self.error("expected a value in this case")

    def parse_value_or_cond(self):
        skipped = True
        while skipped:
            skipped = False
            if self.at_op(":"):
                self.next()
                skipped = True
            t = self.peek()
            if t.kind == "CMD" and t.value in _TEXT_CMDS:
                save = self.i
                self.next()
                word = self.read_word().strip().lower().rstrip(",.:")
                if word in _WORD_SKIP:
                    skipped = True
                    continue
                if word in _WORD_TRUE:
                    return "cond", Node("true", pos=t.pos)
                self.i = save
        e = self.parse_sum()
        if self._at_rel():
            return "cond", self.parse_cond_rest(e)
        return "value", e

    def _at_rel(self) -> bool:
        t = self.peek()
        return (t.kind == "OP" and t.value in _REL_OPS) or (
            t.kind == "CMD" and (t.value in _REL_CMDS or t.value == "in"))

    def parse_cond_rest(self, left: Node) -> Node:
        parts = []
        while self._at_rel():
            t = self.next()
            if t.kind == "CMD" and t.value == "in":
                parts.append(self.parse_interval(left, t))
                break
            op = _REL_CMDS.get(t.value) if t.kind == "CMD" else _REL_OPS[t.value]
            right = self.parse_sum()
            parts.append(Node("rel", op, left, right, pos=t.pos))
            left = right
        cond = parts[0] if len(parts) == 1 else Node("and", parts)
        # conjunctions / disjunctions
        while True:
            t = self.peek()
            word = None
            if t.kind == "CMD" and t.value in ("land", "wedge"):
                word = "and"
                self.next()
            elif t.kind == "CMD" and t.value in ("lor", "vee"):
                word = "or"
                self.next()
            elif t.kind == "CMD" and t.value in _TEXT_CMDS:
                save = self.i
                self.next()
                w = self.read_word().strip().lower()
                if w in ("and", "or"):
                    word = w
                else:
                    self.i = save
            if word is None:
                return cond
            _, other = self.parse_value_or_cond()
            cond = Node(word, [cond, other])

    def parse_interval(self, var: Node, t: Tok) -> Node:
        if self.at_cmd("left"):
            self.next()
        o = self.next()
        if o.value not in ("[", "("):
            self.error("expected an interval such as [-1, 1] after \\in", o)
        lo = self.parse_sum()
        self.expect_op(",", "',' in the interval")
        hi = self.parse_sum()
        if self.at_cmd("right"):
            self.next()
        c = self.next()
        if c.value not in ("]", ")"):
            self.error("expected ']' or ')' closing the interval", c)
        return Node("and", [Node("rel", ">=" if o.value == "[" else ">", var, lo, pos=t.pos),
                            Node("rel", "<=" if c.value == "]" else "<", var, hi, pos=t.pos)])

"""A small grammar for claims in Python/SymPy-like syntax (``--sympy``).

``tanh(x) == 2/(1 + exp(-2*x)) - 1``; ``diff(softplus(x), x) = sigmoid(x)``;
``Piecewise((x, x > 0), (0, True))``.  Identifiers are symbols unless they are
whitelisted function names (elementary functions, registered specs, ``diff``,
``Piecewise``); nothing is ever evaluated as Python.
"""
from __future__ import annotations

from .latex_parser import ELEMENTARY, MAX_DEPTH, normalize_name, number_node
from .lexer import ParseError, tokenize_python
from .nodes import Node

_FUNCS = dict(ELEMENTARY)
_FUNCS.update({"Abs": "abs", "Max": "max", "Min": "min", "sqrt": "sqrt", "asin": "asin",
               "acos": "acos", "atan": "atan", "log": "log"})
_RELS = {"<": "<", ">": ">", "<=": "<=", ">=": ">=", "!=": "!=", "==": "="}


class PyParser:
    def __init__(self, text: str, *, functions=None, spec_names=None, e_symbol=False):
        self.text = text
        self.toks = tokenize_python(text)
        self.i = 0
        self.functions = functions or {}
        self.spec_names = spec_names or {}
        self.e_symbol = e_symbol
        self.depth = 0

    def peek(self, k=0):
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self):
        t = self.toks[self.i]
        if self.i < len(self.toks) - 1:
            self.i += 1
        return t

    def at_op(self, *vals):
        t = self.peek()
        return t.kind == "OP" and t.value in vals

    def error(self, msg, tok=None):
        tok = tok or self.peek()
        raise ParseError(msg, self.text, tok.pos)

    def describe(self, t):
        return "the end of the claim" if t.kind == "EOF" else f"'{t.value}'"

    def expect(self, v, what=None):
        if not self.at_op(v):
            self.error(f"expected {what or repr(v)}, found {self.describe(self.peek())}")
        return self.next()

    def enter(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.error(f"nesting deeper than {MAX_DEPTH} levels")

    def parse_claim(self) -> Node:
        sides = [self.parse_sum()]
        while self.at_op("=", "=="):
            self.next()
            sides.append(self.parse_sum())
        if self.peek().kind != "EOF":
            self.error(f"expected an operator, '=' or the end of the claim, found "
                       f"{self.describe(self.peek())}")
        if len(sides) < 2:
            self.error("expected '=' or '==': a claim is an equation such as  lhs == rhs")
        return Node("claim", sides)

    def parse_sum(self) -> Node:
        self.enter()
        left = self.parse_term()
        while self.at_op("+", "-"):
            t = self.next()
            left = Node("add" if t.value == "+" else "sub", left, self.parse_term(), pos=t.pos)
        self.depth -= 1
        return left

    def parse_term(self) -> Node:
        left = self.parse_unary()
        while self.at_op("*", "/"):
            t = self.next()
            right = self.parse_unary()
            left = Node("mul", left, right, "*", pos=t.pos) if t.value == "*" else Node(
                "div", left, right, pos=t.pos)
        return left

    def parse_unary(self) -> Node:
        if self.at_op("-"):
            t = self.next()
            return Node("neg", self.parse_unary(), pos=t.pos)
        if self.at_op("+"):
            self.next()
            return self.parse_unary()
        return self.parse_power()

    def parse_power(self) -> Node:
        self.enter()
        base = self.parse_atom()
        if self.at_op("**", "^"):
            t = self.next()
            base = Node("pow", base, self.parse_unary(), pos=t.pos)  # right-assoc
        self.depth -= 1
        return base

    def parse_args(self):
        self.expect("(", "'('")
        args = []
        if not self.at_op(")"):
            args.append(self.parse_sum())
            while self.at_op(","):
                self.next()
                args.append(self.parse_sum())
        self.expect(")", "')' closing the arguments")
        return args

    def parse_cond(self) -> Node:
        t = self.peek()
        if t.kind == "IDENT" and t.value == "True":
            self.next()
            return Node("true")
        left = self.parse_cond_atom()
        while self.at_op("&", "|"):
            op = self.next().value
            right = self.parse_cond_atom()
            left = Node("and" if op == "&" else "or", [left, right])
        return left

    def parse_cond_atom(self) -> Node:
        if self.at_op("(") :
            save = self.i
            self.next()
            try:
                c = self.parse_cond()
                self.expect(")")
                return c
            except ParseError:
                self.i = save
        left = self.parse_sum()
        parts = []
        while self.peek().kind == "OP" and self.peek().value in _RELS:
            t = self.next()
            right = self.parse_sum()
            parts.append(Node("rel", _RELS[t.value], left, right, pos=t.pos))
            left = right
        if not parts:
            self.error("expected a comparison such as x > 0")
        return parts[0] if len(parts) == 1 else Node("and", parts)

    def parse_atom(self) -> Node:
        t = self.next()
        if t.kind == "NUM":
            if "e" in t.value.lower():
                mant, _, ex = t.value.lower().partition("e")
                ex_i = int(ex)
                if abs(ex_i) > 300:
                    self.error("exponent too large", t)
                m = number_node(mant, t.pos)
                ten = number_node("10", t.pos)
                ex_node = number_node(str(abs(ex_i)), t.pos)
                if ex_i < 0:
                    ex_node = Node("neg", ex_node)
                return Node("mul", m, Node("pow", ten, ex_node), "*", pos=t.pos)
            return number_node(t.value, t.pos)
        if t.kind == "OP" and t.value == "(":
            e = self.parse_sum()
            self.expect(")", f"')' closing the '(' at column {t.pos + 1}")
            return e
        if t.kind == "IDENT":
            name = t.value
            if name.startswith("__") or name in ("lambda", "import", "eval", "exec"):
                self.error(f"'{name}' is not allowed in a claim", t)
            if self.at_op("'") or (self.at_op("(") and name in self.functions):
                spec = self.functions.get(name) or self.spec_names.get(normalize_name(name))
                if spec is None:
                    self.error(f"'{name}' is not a registered spec", t)
                order = 0
                while self.at_op("'"):
                    self.next()
                    order += 1
                args = self.parse_args()
                if len(args) != 1:
                    self.error(f"{name} takes one argument", t)
                return Node("spec", spec, order, args, pos=t.pos)
            if self.at_op("("):
                if name == "diff":
                    args = self.parse_args()
                    if len(args) not in (2, 3) or args[1].k != "sym":
                        self.error("diff(expr, x) or diff(expr, x, n)", t)
                    order = 1
                    if len(args) == 3:
                        if args[2].k != "num" or not args[2].a[0].is_Integer or not 1 <= args[2].a[0] <= 4:
                            self.error("the derivative order must be 1..4", t)
                        order = int(args[2].a[0])
                    return Node("diff", args[0], args[1], order, pos=t.pos)
                if name == "Piecewise":
                    self.expect("(")
                    rows = []
                    while True:
                        self.expect("(", "'(' opening a (value, condition) pair")
                        v = self.parse_sum()
                        self.expect(",", "',' between value and condition")
                        c = self.parse_cond()
                        self.expect(")", "')' closing the pair")
                        rows.append((v, c))
                        if self.at_op(","):
                            self.next()
                            continue
                        break
                    self.expect(")", "')' closing Piecewise")
                    return Node("pw", rows, pos=t.pos)
                if name in _FUNCS:
                    fn = _FUNCS[name]
                    args = self.parse_args()
                    if fn in ("max", "min"):
                        if len(args) < 2:
                            self.error(f"{name} needs at least two arguments", t)
                    elif fn == "log" and len(args) == 2:
                        return Node("div", Node("func", "log", [args[0]]),
                                    Node("func", "log", [args[1]]), pos=t.pos)
                    elif len(args) != 1:
                        self.error(f"{name} takes one argument", t)
                    return Node("func", fn, args, pos=t.pos)
                if normalize_name(name) in self.spec_names:
                    args = self.parse_args()
                    if len(args) != 1:
                        self.error(f"{name} takes one argument", t)
                    return Node("spec", self.spec_names[normalize_name(name)], 0, args, pos=t.pos)
                self.error(f"unknown function '{name}'", t)
            if name == "E" or (name == "e" and not self.e_symbol):
                return Node("const", "E", pos=t.pos)
            if name == "pi":
                return Node("const", "pi", pos=t.pos)
            if name in ("True", "False", "None", "oo", "nan", "I"):
                self.error(f"'{name}' is not a value a claim can use", t)
            return Node("sym", name, False, pos=t.pos)
        if t.kind == "EOF":
            self.error("expected a value, found the end of the claim", t)
        self.error(f"expected a value, found {self.describe(t)}", t)


def parse_sympy(text: str, *, e_symbol=False, functions=None, spec_names=None,
                expression=False) -> Node:
    p = PyParser(text, functions=functions, spec_names=spec_names, e_symbol=e_symbol)
    try:
        if expression:
            e = p.parse_sum()
            if p.peek().kind != "EOF":
                p.error(f"expected the end of the expression, found {p.describe(p.peek())}")
            return e
        return p.parse_claim()
    except RecursionError:
        raise ParseError("the claim is nested too deeply", text, p.peek().pos) from None

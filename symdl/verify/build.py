"""Turn a parsed claim (``nodes.Node``) into SymPy objects.

Scalars are real SymPy symbols (with the ``--assume`` declarations).  In a
vector claim (``\\mathbf{x}``, ``x^T``, ``\\nabla_{\\mathbf{x}}``) vectors and
matrices are instantiated at a concrete size with explicit real entries, so a
matrix identity becomes a set of scalar identities; ``check`` does this at
sizes 2 and 3.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction

import sympy as sp

from .lexer import ParseError
from .kinks import as_expr, is_kink, nonsmooth_points
from .nodes import CHAINS, Node, left_spine

MAX_EXPONENT = 1000
MAX_BITS = 200_000


class BuildError(Exception):
    """A claim that parses but has no meaning (shapes, unknown names, sizes)."""

    def __init__(self, message, pos=None):
        super().__init__(message)
        self.message = message
        self.pos = pos


class UndefinedTerm(BuildError):
    """A constant subterm with no finite real value (log(0), 1/0, sqrt(-1), overflow)."""

    def __init__(self, node, why):
        from .nodes import render

        try:
            self.term = render(node)
        except RecursionError:
            self.term = "a subterm"
        super().__init__(f"{self.term} {why}", node.pos)


# ---- assumptions --------------------------------------------------------------
@dataclass
class Assumptions:
    kinds: dict = field(default_factory=dict)    # name -> set of words
    bounds: dict = field(default_factory=dict)   # name -> [lo, lo_strict, hi, hi_strict]
    e_symbol: bool = False
    text: str = ""

    def add_kind(self, name, word):
        self.kinds.setdefault(name, set()).add(word)

    def add_bound(self, name, op, value):
        b = self.bounds.setdefault(name, [None, False, None, False])
        if op in (">", ">="):
            if b[0] is None or value > b[0]:
                b[0], b[1] = value, op == ">"
            elif value == b[0]:
                b[1] = b[1] or op == ">"
        elif op in ("<", "<="):
            if b[2] is None or value < b[2]:
                b[2], b[3] = value, op == "<"
            elif value == b[2]:
                b[3] = b[3] or op == "<"
        elif op == "=":
            self.add_bound(name, ">=", value)
            self.add_bound(name, "<=", value)
        elif op == "!=" and value == 0:
            self.add_kind(name, "nonzero")

    def sympy_kwargs(self, name) -> dict:
        kw = {"real": True}
        words = self.kinds.get(name, set())
        for w in ("positive", "negative", "nonnegative", "nonpositive", "nonzero", "integer"):
            if w in words:
                kw[w] = True
        b = self.bounds.get(name)
        if b:
            lo, los, hi, his = b
            if lo is not None and (lo > 0 or (lo == 0 and los)):
                kw["positive"] = True
            elif lo is not None and lo == 0:
                kw["nonnegative"] = True
            if hi is not None and (hi < 0 or (hi == 0 and his)):
                kw["negative"] = True
            elif hi is not None and hi == 0:
                kw["nonpositive"] = True
        return kw

    def describe(self) -> str:
        return self.text

    def check_consistent(self) -> None:
        """ParseError when no real value satisfies the declarations of some name."""
        from .numeric import Domain

        for name in set(self.kinds) | set(self.bounds):
            try:
                sym = sp.Symbol(name, **self.sympy_kwargs(name))
            except Exception:   # sympy's InconsistentAssumptions
                sym = None
            d = Domain(sym, bounds=self.bounds.get(name)) if sym is not None else None
            empty = d is None
            if d is not None and d.lo is not None and d.hi is not None:
                if d.lo > d.hi or (d.lo == d.hi and (d.lo_strict or d.hi_strict)):
                    empty = True
                elif d.integer:   # the integers in the interval
                    lo = math.floor(d.lo) + 1 if d.lo_strict else math.ceil(d.lo)
                    hi = math.ceil(d.hi) - 1 if d.hi_strict else math.floor(d.hi)
                    empty = lo > hi or (d.nonzero and lo == hi == 0)
                elif d.nonzero and d.lo == d.hi == 0:
                    empty = True
            if empty:
                raise ParseError(f"in --assume: the declarations of {name} contradict each other "
                                 f"(no real value of {name} satisfies all of them)", self.text, 0)


_WORDS = {"positive", "negative", "nonnegative", "nonpositive", "nonzero", "integer", "real",
          "symbol"}


def parse_assume(text: str, sympy_syntax: bool = False) -> Assumptions:
    """``"a>0, p>0, 0<\\beta_1<1, t integer, e symbol"`` -> Assumptions."""
    from .latex_parser import LatexParser
    from .lexer import tokenize_latex

    a = Assumptions(text=text or "")
    if not text or not text.strip():
        return a
    # 'e' mentioned at all -> it is a symbol
    try:
        tokenize_latex(text)
    except ParseError as err:
        raise ParseError("in --assume: " + err.message, text, err.pos) from None
    if re.search(r"(?<![A-Za-z\\])e(?![A-Za-z])", text):
        a.e_symbol = True
    offset = 0
    for item in _split_top(text):
        raw = item
        item_s = item.strip()
        start = text.find(item, offset)
        offset = start + len(item)
        if not item_s:
            continue
        words = item_s.split()
        if len(words) >= 2 and words[-1].lower() in _WORDS:
            word = words[-1].lower()
            for nm in words[:-1]:
                name = _name_of(nm.strip(","), text, start)
                if word not in ("real", "symbol"):
                    a.add_kind(name, word)
                else:
                    a.kinds.setdefault(name, set())
            continue
        p = LatexParser(raw)
        p.e_symbol = True
        try:
            kind, node = p.parse_value_or_cond()
            if kind != "cond" or not p.at("EOF"):
                p.error("expected a condition such as a > 0, 0 < b < 1, or 'n integer'")
        except ParseError as err:
            raise ParseError("in --assume: " + err.message, text, start + err.pos) from None
        rels = node.a[0] if node.k == "and" else [node]
        for r in rels:
            if r.k != "rel":
                raise ParseError("in --assume: only comparisons with numbers are understood",
                                 text, start)
            op, lhs, rhs = r.a
            if lhs.k == "sym" and _is_number(rhs):
                a.add_bound(lhs.a[0], op, _num_value(rhs))
            elif rhs.k == "sym" and _is_number(lhs):
                flip = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "!=": "!=", "=": "="}[op]
                a.add_bound(rhs.a[0], flip, _num_value(lhs))
            else:
                raise ParseError("in --assume: compare a symbol with a number, e.g. a > 0",
                                 text, start)
    a.check_consistent()
    return a


def _split_top(text):
    parts, lvl, cur = [], 0, []
    for ch in text:
        if ch in "{([":
            lvl += 1
        elif ch in "})]":
            lvl -= 1
        if ch in ",;" and lvl == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _name_of(word, text, pos):
    from .latex_parser import LatexParser

    p = LatexParser(word)
    p.e_symbol = True
    n = p.parse_atom()
    if n.k != "sym" or not p.at("EOF"):
        raise ParseError(f"in --assume: '{word}' is not a symbol name", text, pos)
    return n.a[0]


def _is_number(n: Node) -> bool:
    return n.k == "num" or (n.k == "neg" and n.a[0].k == "num")


def _num_value(n: Node):
    return -n.a[0].a[0] if n.k == "neg" else n.a[0]


# ---- building ---------------------------------------------------------------------
def _is_mat(v):
    return isinstance(v, sp.MatrixBase)


def _scalarize(v):
    if _is_mat(v) and v.shape == (1, 1):
        return v[0, 0]
    return v


def _shape(v):
    return "x".join(map(str, v.shape))


def classify(ast: Node) -> tuple[dict, bool]:
    """Which names are vectors ('vec') and matrices ('mat'); matrix mode flag."""
    bold, transposed, gradvars, names = set(), set(), set(), set()
    for n in ast.walk():
        if n.k == "sym":
            names.add(n.a[0])
            if n.a[1]:
                bold.add(n.a[0])
        elif n.k == "T" and n.a[0].k == "sym":
            transposed.add(n.a[0].a[0])
        elif n.k == "grad":
            gradvars.add(n.a[0].a[0])
    if not bold and not transposed and not any(n.k == "T" for n in ast.walk()):
        return {}, False
    kinds = {}
    for nm in names:
        upper = nm[:1].isupper() and nm[:1].isascii()
        if upper and nm != "I":
            kinds[nm] = "mat"
        elif nm in bold or nm in transposed or nm in gradvars:
            kinds[nm] = "vec"
    if not any(v == "vec" for v in kinds.values()) and not transposed:
        return {}, False
    return kinds, True


@dataclass
class Built:
    sides: list
    kinks: dict            # Symbol -> list of exprs where a derivative is not taken
    domains: dict          # Symbol name -> extra assumption words from spec params
    notes: list


class Builder:
    def __init__(self, assume: Assumptions, *, kinds: dict | None = None, dim: int | None = None,
                 mentioned: set | None = None):
        self.assume = assume
        self.kinds = kinds or {}
        self.dim = dim
        self.mentioned = mentioned or set()
        self._syms: dict = {}
        self.kinks: dict = {}         # Symbol -> points where a derivative is not compared
        self.boundaries: dict = {}    # Symbol -> branch boundaries (sampled around, compared)
        self.case_issues: list = []   # cases.CaseIssue: gaps and contradicting overlaps
        self.guards: list = []        # subterms of the side being built that SymPy folded away
        self.side_guards: list = []   # per side of the claim
        self.domains: dict = {}
        self.notes: list = []
        self.variants: dict = {}

    # symbols
    def symbol(self, name: str):
        s = self._syms.get(name)
        if s is None:
            s = sp.Symbol(name, **self.assume.sympy_kwargs(name))
            self._syms[name] = s
        return s

    def value_of_sym(self, name: str):
        kind = self.kinds.get(name)
        n = self.dim
        if kind == "vec":
            return sp.ImmutableMatrix(n, 1, [sp.Symbol(f"{name}[{i}]", real=True) for i in range(n)])
        if kind == "mat":
            return sp.ImmutableMatrix(n, n, [sp.Symbol(f"{name}[{i},{j}]", real=True)
                                             for i in range(n) for j in range(n)])
        if name == "I" and self.dim:
            return sp.ImmutableMatrix(sp.eye(n))
        return self.symbol(name)

    def build(self, node: Node):
        try:
            return self._b(node)
        except RecursionError:
            raise BuildError("the claim is nested too deeply") from None

    def _b(self, node: Node):
        k, a = node.k, node.a
        if k in CHAINS:   # a + b + c ... and long products: iterate, do not recurse
            base, spine = left_spine(node)
            val = self._b(base)
            for n in spine:
                val = self._step(n, val, self._b(n.a[1]))
                self._check_defined(n, val)
            return val
        m = getattr(self, "b_" + k, None)
        if m is None:
            raise BuildError(f"cannot build '{k}'", node.pos)
        try:
            val = m(node, *a)
        except OverflowError:
            raise UndefinedTerm(node, "is too large to evaluate") from None
        if k in ("func", "pow", "spec", "neg"):
            self._check_defined(node, val)
        return val

    def _check_defined(self, node, val):
        """A constant subterm must have a finite real value: log(0), log base 0,
        1/tan(pi/2), sqrt(-1) and e^(e^(e^100)) are named, never folded away."""
        if not isinstance(val, sp.Basic) or isinstance(val, sp.MatrixBase) or not val.is_number:
            return
        if val.is_Rational:
            return
        if val.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise UndefinedTerm(node, "has no finite value")
        import mpmath

        from .numeric import Compiler, Undefined

        try:
            with mpmath.workdps(30):
                Compiler().compile(val)({})
        except Undefined as err:
            why = str(err)
            if why == "overflow":
                raise UndefinedTerm(node, "is too large to evaluate (beyond e^100000)") from None
            raise UndefinedTerm(node, f"has no finite real value ({why})") from None
        except (ZeroDivisionError, ValueError, OverflowError, TypeError):
            raise UndefinedTerm(node, "has no finite real value") from None

    def b_claim(self, node, sides):
        out, self.side_guards = [], []
        for s in sides:
            self.guards = []
            out.append(_scalarize(self._b(s)))
            self.side_guards.append(self.guards)
        return out

    def b_expr(self, node, expr, label):
        """A spec's side given as a SymPy expression (symdl.verify.families): its
        symbols are the claim's, by name, with the claim's assumptions."""

        expr = as_expr(expr)
        return expr.xreplace({s: self.symbol(s.name) for s in expr.free_symbols})

    def b_num(self, node, v, digits=None):
        return v

    def b_const(self, node, name):
        return sp.E if name == "E" else sp.pi

    def b_sym(self, node, name, bold):
        return self.value_of_sym(name)

    def _add(self, x, y, node, sign=1):
        x, y = _scalarize(x), _scalarize(y)
        if _is_mat(x) != _is_mat(y):
            raise BuildError("cannot add a scalar and a "
                             f"{_shape(x if _is_mat(x) else y)} array", node.pos)
        if _is_mat(x) and x.shape != y.shape:
            raise BuildError(f"cannot add arrays of shapes {_shape(x)} and {_shape(y)}", node.pos)
        return x + y if sign > 0 else x - y

    def _step(self, node, u, v):
        """One link of a chain: u (the value so far) op v."""
        if node.k == "add":
            return self._add(u, v, node)
        if node.k == "sub":
            return self._add(u, v, node, -1)
        if node.k == "mul":
            out = self._mul(node, u, v, node.a[2])
        else:
            out = self._div(node, u, v)
        if out is sp.S.Zero:   # 0*u and 0/u fold u away: u must have a value somewhere
            for w in (u, v):
                self._check_somewhere_defined(node, w)
        if isinstance(out, sp.Basic) and not _is_mat(out):
            had = set()
            for w in (u, v):
                had |= getattr(w, "free_symbols", set())
            if not had <= out.free_symbols:   # log(x)/log(x) became 1
                self._guard(u, v)
        return out

    def _check_somewhere_defined(self, node, w):
        if not isinstance(w, sp.Basic) or isinstance(w, sp.MatrixBase) or not w.free_symbols:
            return
        import random

        import mpmath

        from .numeric import Compiler, Domain, Undefined, to_mpf

        rng = random.Random(11)
        doms = [Domain(s, (), self.assume.bounds.get(s.name)) for s in w.free_symbols]
        try:
            f = Compiler().compile(w)
        except (TypeError, ValueError):
            return
        with mpmath.workdps(30):
            for _ in range(12):
                env = {d.sym: to_mpf(d.random(rng)) for d in doms}
                try:
                    f(env)
                    return
                except (Undefined, ZeroDivisionError, ValueError, OverflowError, TypeError,
                        KeyError):
                    continue
        from .nodes import render

        raise BuildError(f"a factor multiplied by 0 in {render(node)} has no real value at any "
                         "sampled point, so the product is not 0", node.pos)

    def b_neg(self, node, x):
        return -self._b(x)

    def _mul(self, node, u, v, op):
        u, v = _scalarize(u), _scalarize(v)
        if op == "odot":
            if _is_mat(u) and _is_mat(v):
                if u.shape != v.shape:
                    raise BuildError(f"⊙ needs equal shapes, got {_shape(u)} and {_shape(v)}", node.pos)
                return sp.ImmutableMatrix(u.shape[0], u.shape[1],
                                          [u[i] * v[i] for i in range(len(u))])
            return u * v
        if _is_mat(u) and _is_mat(v):
            if op == "cdot" and u.shape == v.shape and u.shape[1] == 1:
                return (u.T * v)[0, 0]   # the dot product of two vectors
            if u.shape[1] != v.shape[0]:
                raise BuildError(f"cannot multiply shapes {_shape(u)} and {_shape(v)}", node.pos)
            return _scalarize(sp.ImmutableMatrix(u * v))
        return u * v

    def _div(self, node, u, v):
        u, v = _scalarize(u), _scalarize(v)
        if _is_mat(v):
            raise BuildError("cannot divide by an array", node.pos)
        if v == 0:
            raise UndefinedTerm(node, "divides by zero")
        return u / v

    def b_pow(self, node, x, y):
        u, v = _scalarize(self._b(x)), _scalarize(self._b(y))
        if _is_mat(u) or _is_mat(v):
            raise BuildError("powers of arrays are not supported", node.pos)
        if v.is_Number and abs(v) > MAX_EXPONENT:
            raise BuildError(f"exponent {v} is too large (at most {MAX_EXPONENT})", node.pos)
        if u.is_Rational and v.is_Rational:
            size = max(abs(u.p), abs(u.q), 2)
            if math.log2(size) * abs(float(v)) > MAX_BITS:
                raise BuildError("the number is too large", node.pos)
            if u == 0 and v < 0:
                raise UndefinedTerm(node, "is 0 to a negative power (division by zero)")
        out = u ** v
        if not (isinstance(out, sp.Pow) and out.base == u) and u.free_symbols:
            self._guard(u)   # sqrt(x)^2 became x: x < 0 stays outside the written domain
        return out

    def _guard(self, *exprs):
        """Remember subterms SymPy simplified away: the side is undefined where they are."""
        for e in exprs:
            if isinstance(e, sp.Basic) and not isinstance(e, sp.MatrixBase) and e.free_symbols \
                    and e.has(sp.log, sp.Pow, sp.asin, sp.acos, sp.tan, sp.cot, sp.csch, sp.coth) \
                    and e not in self.guards:
                self.guards.append(e)

    def b_T(self, node, x):
        u = _scalarize(self._b(x))
        return sp.ImmutableMatrix(u.T) if _is_mat(u) else u

    _FUNCS = {
        "exp": sp.exp, "log": sp.log, "sin": sp.sin, "cos": sp.cos, "tan": sp.tan,
        "tanh": sp.tanh, "sinh": sp.sinh, "cosh": sp.cosh, "sech": sp.sech, "csch": sp.csch,
        "coth": sp.coth, "atan": sp.atan, "asin": sp.asin, "acos": sp.acos, "erf": sp.erf,
        "erfc": sp.erfc, "sign": sp.sign, "abs": sp.Abs, "sqrt": sp.sqrt, "floor": sp.floor, "ceiling": sp.ceiling,
        "sigmoid": lambda u: 1 / (1 + sp.exp(-u)),
        "Phi": lambda u: (1 + sp.erf(u / sp.sqrt(2))) / 2,
    }

    def b_func(self, node, name, args):
        vals = [_scalarize(self._b(x)) for x in args]
        if name in ("max", "min"):
            if any(_is_mat(v) for v in vals):
                raise BuildError(f"{name} of arrays is not supported", node.pos)
            return (sp.Max if name == "max" else sp.Min)(*vals)
        if name == "root":
            u, n = vals
            return sp.root(u, n)
        f = self._FUNCS.get(name)
        if f is None:
            raise BuildError(f"unknown function {name}", node.pos)
        (u,) = vals
        if _is_mat(u):
            return u.applyfunc(f)
        return f(u)

    def spec_expr(self, name, order):
        """Definition (or its derivative) in the spec's own x, params resolved."""
        import symdl.specs as S
        from symdl.specs.functions import to_definition

        spec = S.get(name, family="activation")
        variant = self.variants.get(name)
        expr = spec.definition(variant)
        if variant:
            self.notes.append(f"{name}: " + ", ".join(f"{k} = {v!r}" for k, v in variant.items()))
        subs = {}
        values = {}
        for p in spec.real_params:
            if p.name in self.mentioned:
                subs[p.symbol] = self.symbol(p.name)
                words = {"positive"} if p.positive else ({"nonzero"} if p.nonzero else set())
                if words:
                    self.domains.setdefault(p.name, set()).update(words)
            else:
                d = p.default
                if isinstance(d, float) and math.isinf(d):
                    val = sp.oo if d > 0 else -sp.oo
                else:
                    f = Fraction(repr(float(d)))
                    g = Fraction(float(d)).limit_denominator(1000)
                    if float(g) == float(d):
                        f = g   # 1/3 given as 0.333... is meant as 1/3
                    val = sp.Rational(f.numerator, f.denominator)
                subs[p.symbol] = val
                values[p.name] = val
                self.notes.append(f"{name}: {p.name} = {val} (default)")
        if spec.noise:
            nsym = spec.noise_symbol
            if spec.noise in self.mentioned:
                subs[nsym] = self.symbol(spec.noise)
            elif "lower" in values and "upper" in values:
                subs[nsym] = (values["lower"] + values["upper"]) / 2
                self.notes.append(f"{name}: slope (lower+upper)/2 (eval mode)")
        expr = to_definition(expr.xreplace(subs)) if subs else to_definition(expr)
        kinks, bounds = [], []
        if order:
            # only a kink the spec declares, and only if the function really is not
            # differentiable there (sinc has no kink; a C1 join is not one)
            bounds = nonsmooth_points(expr, spec.x)
            declared = [as_expr(k).xreplace(subs) for k in spec.kinks]
            kinks = [k for k in declared if is_kink(expr, spec.x, k, order)]
            bounds += [k for k in declared if k not in bounds]
            expr = sp.diff(expr, spec.x, order)
        return spec, expr, (kinks, bounds)

    def b_spec(self, node, name, order, args):
        spec, expr, (kinks, bounds) = self.spec_expr(name, order)
        (arg,) = [_scalarize(self._b(x)) for x in args]

        def apply(u):
            return expr.xreplace({spec.x: u}) if u != spec.x else expr

        if order and not _is_mat(arg):
            self._record_kinks(arg, kinks, self.kinks)
            self._record_kinks(arg, bounds, self.boundaries)
        if _is_mat(arg):
            return arg.applyfunc(apply)
        return apply(arg)

    def _record_kinks(self, arg, kinks, into):
        syms = [s for s in arg.free_symbols]
        if len(syms) != 1:
            return
        (s,) = syms
        for kp in kinks:
            try:
                sol = sp.solve(sp.Eq(arg, kp), s)
            except Exception:
                continue
            for v in sol:
                if v.is_real is not False:
                    into.setdefault(s, []).append(v)

    def b_diff(self, node, expr, var, order):
        v = self._b(var)
        if _is_mat(v):
            if order != 1:
                raise BuildError("only first derivatives with respect to a vector", node.pos)
            return self._grad(node, expr, v)
        if not isinstance(v, sp.Symbol):
            raise BuildError("can only differentiate with respect to a symbol", var.pos)
        f = _scalarize(self._b(expr))
        if _is_mat(f):
            return f.applyfunc(lambda e: self._d(e, v, order))
        return self._d(f, v, order)

    def _d(self, f, v, order):
        for kp in nonsmooth_points(f, v):
            self.boundaries.setdefault(v, []).append(kp)
            if is_kink(f, v, kp, order):
                self.kinks.setdefault(v, []).append(kp)
        return sp.diff(f, v, order)

    def _grad(self, node, expr, v):
        f = _scalarize(self._b(expr))
        if _is_mat(f):
            raise BuildError(f"∇ of a {_shape(f)} array: the gradient needs a scalar function",
                             node.pos)
        return sp.ImmutableMatrix(v.shape[0], 1, [self._d(f, vi, 1) for vi in v])

    def b_grad(self, node, var, expr):
        v = self._b(var)
        if _is_mat(v):
            if v.shape[1] != 1:
                raise BuildError("gradients with respect to a matrix are not supported", node.pos)
            return self._grad(node, expr, v)
        f = _scalarize(self._b(expr))
        if _is_mat(f):
            return f.applyfunc(lambda e: self._d(e, v, 1))
        return self._d(f, v, 1)

    def b_pw(self, node, rows):
        pieces = []
        for value, cond in rows:
            val = _scalarize(self._b(value))
            c = self._b(cond)
            if _is_mat(val):
                raise BuildError("array values inside cases are not supported", value.pos)
            pieces.append((val, c))
        from .cases import analyze
        from .nodes import render

        for issue in analyze(pieces, self, render(node)):
            if all(issue.describe() != i.describe() for i in self.case_issues):
                self.case_issues.append(issue)
        try:
            return sp.Piecewise(*pieces)
        except (TypeError, ValueError) as err:
            raise BuildError(f"invalid cases: {err}", node.pos) from None

    _RELS = {"<": sp.Lt, ">": sp.Gt, "<=": sp.Le, ">=": sp.Ge, "=": sp.Eq, "!=": sp.Ne}

    def b_rel(self, node, op, x, y):
        u, v = _scalarize(self._b(x)), _scalarize(self._b(y))
        if _is_mat(u) or _is_mat(v):
            raise BuildError("conditions on arrays are not supported", node.pos)
        return self._RELS[op](u, v)

    def b_and(self, node, parts):
        return sp.And(*[self._b(p) for p in parts])

    def b_or(self, node, parts):
        return sp.Or(*[self._b(p) for p in parts])

    def b_true(self, node):
        return sp.true

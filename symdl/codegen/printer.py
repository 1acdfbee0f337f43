"""Print SymPy expressions as Numba-compilable Python, per dtype.

A name table plus a few ``_print_X`` methods, in the style of SymPy's own
printers.  Rules that keep kernels fast and exact:

* every number is a constant of the kernel's dtype (``f32(0.5)`` in float32
  kernels: a float64 literal would silently promote float32 math);
* small integer powers are multiplications, half-integer powers use sqrt;
* elementary functions go to symdl's vectorizable implementations
  (``symdl.generated.elementary``) when present, else to ``math``;
* Piecewise becomes nested conditional expressions (selects after LLVM's
  if-conversion), boolean connectives use ``&``/``|`` (no short-circuit
  branches);
* anything not in the table raises ``UnsupportedFunction``: nothing is
  printed that Numba would reject at first call.
"""
from __future__ import annotations

import sympy as sp
from sympy.codegen.cfunctions import expm1, log1p
from sympy.printing.precedence import precedence
from sympy.printing.pycode import PythonCodePrinter

from symdl.specs.functions import PRIMITIVES, Erfc, cosh_implementation

DTYPES = ("f32", "f64")

#: sympy function name -> name in generated/elementary.py (suffixed _f32/_f64)
ELEMENTARY = {"exp": "exp", "log": "log", "log1p": "log1p", "expm1": "expm1",
              "tanh": "tanh", "erf": "erf", "erfc": "erfc", "Erfc": "erfc", "Sech2": "sech2",
              "ExpMSq": "expmsq", "atan": "atan", "sin": "sin", "cos": "cos"}
#: elementary functions whose vector path covers part of the domain and
#: returns nan ("not reduced") elsewhere: only kernels that recompute such
#: elements with libm may use them (print_block(..., limited=True))
LIMITED = frozenset({"sin", "cos", "sin2", "cos2"})
#: sympy function name -> scalar function Numba compiles (libm; not vectorized)
#: (NumPy's ufuncs where they exist: IEEE results instead of Python's
#: exceptions when a kernel runs with the JIT disabled)
LIBM = {"sin": "np.sin", "cos": "np.cos", "tan": "np.tan", "atan": "np.arctan",
        "asinh": "np.arcsinh", "sinh": "np.sinh", "exp": "np.exp", "log": "np.log",
        "log1p": "np.log1p", "expm1": "np.expm1", "tanh": "np.tanh", "erf": "math.erf",
        "erfc": "math.erfc", "Erfc": "math.erfc"}


class UnsupportedFunction(NotImplementedError):
    pass


class Lets:
    """Bindings name -> expression introduced by primitive implementations
    (deduplicated: the same exp(-|u|) is bound, and computed, once)."""

    def __init__(self, prefix="e_"):
        self.prefix, self.bound = prefix, {}

    def __call__(self, value):
        if value not in self.bound:
            self.bound[value] = sp.Symbol(f"{self.prefix}{len(self.bound)}", real=True)
        return self.bound[value]

    def items(self):
        return [(s, v) for v, s in self.bound.items()]


class Sech2(sp.Function):
    """sech(u)^2, printed as the elementary ``sech2_{dtype}`` (a printing
    marker, never evaluated).  Beside ``tanh(u)`` it shares tanh's expm1."""

    nargs = 1


def _is_sech_power(e):
    return (e.is_Pow and isinstance(e.base, sp.cosh) and e.exp.is_Integer
            and e.exp < 0 and e.exp % 2 == 0)


def expand_primitives(expr, let=None, elementary=frozenset()):
    """Replace stable primitives (and cosh) by their implementations.

    With the elementary ``sech2`` available, cosh(u)^-2k becomes sech2(u)^k
    (one expm1 shared with tanh(u)); other cosh(u) use one exp(-|u|)."""
    let = let or (lambda e: e)
    for cls in PRIMITIVES:
        expr = expr.replace(lambda e, c=cls: isinstance(e, c),
                            lambda e, c=cls: c.implementation(e.args[0], let))
    if "sech2" in elementary:
        expr = expr.replace(_is_sech_power, lambda e: Sech2(e.base.args[0]) ** (-e.exp / 2))
    expr = expr.replace(lambda e: isinstance(e, sp.cosh), lambda e: cosh_implementation(e.args[0], let))
    if "expmsq" in elementary:
        expr = _share_gaussian(expr)
    return expr


class ExpMSq(sp.Function):
    """exp(-u^2), printed as the elementary ``expmsq_{dtype}`` (a printing
    marker).  Beside ``erfc(u)`` it shares erfc's tail exponential."""

    nargs = 1


def _share_gaussian(expr):
    """exp(w) with w = -v^2 for an erfc(v) of the same expression -> ExpMSq(v):
    the normal cdf's derivative next to the cdf costs no second exp."""
    erfc_args = {e.args[0] for e in expr.atoms(sp.Function) if type(e).__name__ in ("erfc", "Erfc")}
    if not erfc_args:
        return expr

    def match(e):
        return isinstance(e, sp.exp) and any(sp.expand(e.args[0] + v ** 2) == 0 for v in erfc_args)

    def rewrite(e):
        v = next(v for v in erfc_args if sp.expand(e.args[0] + v ** 2) == 0)
        return ExpMSq(v)
    return expr.replace(match, rewrite)


class KernelPrinter(PythonCodePrinter):
    printmethod = "_symdl_kernel"

    def __init__(self, dtype: str, names: dict | None = None, elementary: frozenset = frozenset()):
        super().__init__({"fully_qualified_modules": False, "standard": "python3"})
        if dtype not in DTYPES:
            raise ValueError(dtype)
        self.dtype = dtype
        self.names = names or {}
        self.elementary = elementary
        self.used = set()   # elementary functions used (for imports)

    # ---- numbers --------------------------------------------------------------
    def _number(self, value) -> str:
        v = float(sp.N(value, 30))
        if v != v:
            raise UnsupportedFunction(f"constant {value} is not a real number")
        text = "np.inf" if v == float("inf") else "-np.inf" if v == float("-inf") else repr(v)
        return f"f32({text})" if self.dtype == "f32" else text

    def _print(self, expr, **kw):
        if isinstance(expr, sp.Expr) and expr.is_number and not isinstance(expr, sp.Symbol):
            if expr.is_extended_real is False or expr.has(sp.I, sp.nan, sp.zoo):
                raise UnsupportedFunction(f"complex constant {expr}")
            return self._number(expr)
        return super()._print(expr, **kw)

    def _print_Symbol(self, expr):
        return self.names.get(expr.name, expr.name)

    _print_Dummy = _print_Symbol

    # ---- arithmetic -------------------------------------------------------------
    def _print_Pow(self, expr, rational=False):
        base, e = expr.base, expr.exp
        b = self.parenthesize(base, 100)
        if e.is_Integer:
            n = int(e)
            if 0 < n <= 4:
                return "(" + "*".join([b] * n) + ")"
            if -4 <= n < 0:
                return f"({self._number(1)}/(" + "*".join([b] * (-n)) + "))"
        if e.is_Rational and e.q == 2:
            root = f"np.sqrt({self._print(base)})"
            k = abs(int(e.p))  # base**(k/2) = sqrt(base) * base**((k-1)/2)
            whole = "*".join([b] * ((k - 1) // 2))
            num = f"{root}*{whole}" if whole else root
            return f"({self._number(1)}/({num}))" if e < 0 else f"({num})"
        return f"({b}**{self._print(e)})"

    def _print_Mul(self, expr):
        # An irrational constant factor (1/sqrt(pi) in gelu's derivative) is one
        # literal multiplying the rest: SymPy would print a division by
        # sqrt(pi), and a division costs ten multiplications in a vector loop.
        # Rounding is the same kind: one rounded constant, one rounded product.
        num = [a for a in expr.args if a.is_number]
        if num and not all(a.is_Rational for a in num):
            rest = sp.Mul(*[a for a in expr.args if not a.is_number])
            if rest != 1:
                return f"{self._number(sp.Mul(*num))}*{self.parenthesize(rest, precedence(expr))}"
        return super()._print_Mul(expr)

    def _print_Add(self, expr, order=None):
        # c·u + b with b/c an integer prints as c·(u + b/c): near u = -b/c the
        # sum is then exact (Sterbenz) and only the final product rounds,
        # instead of cancelling two rounded terms (hardsigmoid at x = -3).
        if len(expr.args) == 2:
            b, rest = expr.as_coeff_Add()
            c, u = rest.as_coeff_Mul()
            if b.is_Rational and b != 0 and c.is_Rational and c not in (0, 1, -1):
                q = b / c
                if q.is_Integer and abs(q) < 2**24:
                    return f"({self._print(c)}*({self._print(u)} + {self._print(q)}))"
        return super()._print_Add(expr, order)

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_sign(self, expr):
        return f"np.sign({self._print(expr.args[0])})"

    def _print_Max(self, expr):
        out = self._print(expr.args[0])
        for a in expr.args[1:]:
            out = f"max({out}, {self._print(a)})"
        return out

    def _print_Min(self, expr):
        out = self._print(expr.args[0])
        for a in expr.args[1:]:
            out = f"min({out}, {self._print(a)})"
        return out

    # ---- logic ------------------------------------------------------------------
    def _print_Piecewise(self, expr):
        *branches, (last, cond) = expr.args
        if cond != sp.true:
            raise UnsupportedFunction(f"Piecewise without a catch-all branch: {expr}")
        out = self._print(last)
        for e, c in reversed(branches):
            out = f"({self._print(e)} if {self._print(c)} else {out})"
        return out

    def _print_Relational(self, expr):
        op = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}[expr.rel_op]
        return f"({self._print(expr.lhs)} {op} {self._print(expr.rhs)})"

    def _print_And(self, expr):
        return "(" + " & ".join(self._print(a) for a in expr.args) + ")"

    def _print_Or(self, expr):
        return "(" + " | ".join(self._print(a) for a in expr.args) + ")"

    def _print_Not(self, expr):
        return f"(not {self._print(expr.args[0])})"

    def _print_BooleanTrue(self, expr):
        return "True"

    def _print_BooleanFalse(self, expr):
        return "False"

    # ---- functions ----------------------------------------------------------------
    def _print_prod_err(self, expr):
        fn = f"two_prod_err_{self.dtype}"
        self.used.add(fn)
        return f"{fn}({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_Function(self, expr):
        name = type(expr).__name__
        args = ", ".join(self._print(a) for a in expr.args)
        if name in ELEMENTARY and ELEMENTARY[name] in self.elementary:
            fn = f"{ELEMENTARY[name]}_{self.dtype}"
            self.used.add(fn)
            return f"{fn}({args})"
        if name in LIBM:
            return f"{LIBM[name]}({args})"
        if name == "sqrt":
            return f"np.sqrt({args})"
        raise UnsupportedFunction(
            f"symdl cannot print {name}() for a Numba kernel; supported: "
            f"{', '.join(sorted(set(LIBM) | set(ELEMENTARY)))}, sqrt, Abs, sign, Max, Min, Piecewise")

    # SymPy dispatches these by class name before _print_Function
    _print_exp = _print_log = _print_tanh = _print_erf = _print_erfc = _print_Function
    _print_sin = _print_cos = _print_tan = _print_atan = _print_sinh = _print_asinh = _print_Function
    _print_log1p = _print_expm1 = _print_Erfc = _print_Sech2 = _print_ExpMSq = _print_Function

    def _angle_sum(self, expr, name):
        """SinSum/CosSum(u, d): the elementary double-word sin2/cos2, else
        the angle-addition formula with libm."""
        u, d = (self._print(a) for a in expr.args)
        if f"{name}2" in self.elementary:
            fn = f"{name}2_{self.dtype}"
            self.used.add(fn)
            return f"{fn}({u}, {d})"
        if name == "sin":
            return f"(np.sin({u})*np.cos({d}) + np.cos({u})*np.sin({d}))"
        return f"(np.cos({u})*np.cos({d}) - np.sin({u})*np.sin({d}))"

    def _print_SinSum(self, expr):
        return self._angle_sum(expr, "sin")

    def _print_CosSum(self, expr):
        return self._angle_sum(expr, "cos")

    def _print_Rational(self, expr):
        return self._number(expr)

    _print_Integer = _print_Float = _print_Half = _print_One = _print_Zero = _print_NegativeOne = _print_Rational
    _print_Pi = _print_Exp1 = _print_Rational

    def _print_Infinity(self, expr):
        return self._number(expr)

    _print_NegativeInfinity = _print_Infinity

    def _print_Exp1(self, expr):
        return self._number(expr)

    def emptyPrinter(self, expr):
        raise UnsupportedFunction(f"symdl cannot print {type(expr).__name__}: {expr}")


def print_block(exprs: dict, dtype: str, names: dict, elementary=frozenset(), prefix="t",
                limited=False):
    """CSE over all ``exprs`` (name -> expr) together; return (lines, used).

    ``lines`` assign the primitives' bindings, the CSE temporaries and then
    each output name, in dependency order (the bindings take part in the CSE).
    ``limited``: the caller recomputes elements whose result is nan with a
    libm block, so the range-limited elementary functions (LIMITED) may be
    used; otherwise they print as libm calls.
    """
    if not limited:
        elementary = frozenset(elementary) - LIMITED
    keys = list(exprs)
    lets = Lets(prefix="e_")
    prepared = [expand_primitives(exprs[k], lets, elementary) for k in keys]
    bound = lets.items()
    temps, reduced = sp.cse([v for _, v in bound] + prepared,
                            symbols=sp.numbered_symbols(prefix + "_"), order="none")
    nodes = list(temps) + [(s, v) for (s, _), v in zip(bound, reduced[:len(bound)])]
    outputs = list(zip(keys, reduced[len(bound):]))
    defined = {s for s, _ in nodes}
    p = KernelPrinter(dtype, names, elementary)
    lines, done = [], set()
    pending = nodes
    while pending:  # Kahn: emit each binding once all it uses is defined
        ready = [(s, v) for s, v in pending if not ((v.free_symbols & defined) - done)]
        if not ready:
            raise RuntimeError("cyclic bindings in generated code")
        for s, v in ready:
            lines.append(f"{s} = {p.doprint(v)}")
            done.add(s)
        pending = [n for n in pending if n[0] not in done]
    lines += [f"{k} = {p.doprint(e)}" for k, e in outputs]
    return lines, p.used

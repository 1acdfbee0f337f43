"""Losses as specs: a per-element term, reduced over classes and the batch.

torch's argument order ``(input, target)`` and options.  A loss is written on
the (rows r, classes c) view of the input (``dim`` = 1 for class losses; the
target has the input's shape without it).  ``Loss.formula(variant)`` returns
the full symbolic objective -- class reduction, ``weight``, ``ignore_index``,
``label_smoothing`` and the batch ``reduction`` with torch's exact semantics
-- from which the derivation engine takes forward and backward.

Symbols of the formulas (elements; their axes are declared by ``inputs``):

* ``x``  the input (logits for cross_entropy, log-probabilities for nll_loss);
* ``y``  a probability target (r, c), or the regression target (r);
* ``t``  the one-hot of a class-index target (r, c), sum_c t = 1 (declared);
* ``v``  1 where the class index is not ``ignore_index``, else 0 (r);
* ``w``  the class weight (c); ``eps`` label_smoothing; N_c = C, N_r = rows.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sympy as sp

from .base import Param
from .functions import softplus
from .softmax import C, R, RSum, Shifted

__all__ = ["Loss", "TermLoss", "Arg", "ClampMin", "LOSS_SPECS", "LOSS_GROUPS", "cross_entropy", "nll_loss",
           "REDUCTIONS"]

REDUCTIONS = ("mean", "sum", "none")

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", real=True)
t = sp.Symbol("t", real=True)
v = sp.Symbol("v", real=True)
w = sp.Symbol("w", real=True)
eps = sp.Symbol("eps", real=True)
N_c = sp.Symbol("N_c", positive=True, integer=True)
N_r = sp.Symbol("N_r", positive=True, integer=True)
#: the runtime scale of a reduced loss (the 'rows' kernels' sum)
scale = sp.Symbol("scale", real=True)


@dataclass(frozen=True)
class InputDecl:
    """One input of a loss formula: symbol name, axes, how the runtime
    provides it (source), whether d/d it is wanted, declared constraints."""

    name: str
    axes: tuple
    source: tuple
    differentiable: bool = False
    simplex: str | None = None     # axis with sum = 1


@dataclass(frozen=True, eq=False)
class Loss:
    """A loss ``L(input, target)``.

    term: the per-element term in ``x`` and the target symbol ``y`` (the
        target distribution for class losses: y is replaced by the one-hot t,
        the label-smoothed (1-eps)·t + eps/C, or the probability target).
    classes: True when the term lives on (r, c) and is summed over c.
    targets: the target kinds: "index" (class indices), "probs" (rows
        summing to 1: a declared constraint), "scores" (any real targets,
        torch accepts them), "values" (regression, same shape as input).
    """

    name: str
    term: sp.Expr
    classes: bool
    targets: tuple
    weight: bool = False
    label_smoothing: bool = False
    ignore_index: bool = False
    source: str = ""
    torch: str | None = None
    doc: str = ""
    family: str = "loss"
    group: str = "class"      # the generated module: symdl.generated.losses_<group>
    #: also render forward_stats/backward_stats kernels for class-index targets
    #: (a forward that saves the row statistics, a backward that reads them)
    cache_stats: bool = False

    @property
    def params(self) -> tuple:
        ps = [Param("reduction", "mean", kind="choice", choices=REDUCTIONS)]
        if self.weight:
            ps.append(Param("weight", None, kind="array", doc="per-class weight, shape (C,)"))
        if self.ignore_index:
            ps.append(Param("ignore_index", -100, kind="int"))
        if self.label_smoothing:
            ps.append(Param("label_smoothing", 0.0, doc="in [0, 1]"))
        return tuple(ps)

    def variants(self) -> list[dict]:
        out = []
        for tk in self.targets:
            for weighted in ((False, True) if self.weight else (False,)):
                for red in REDUCTIONS:
                    out.append({"target": tk, "weighted": weighted, "reduction": red})
        return out

    def kernel_variants(self) -> list[dict]:
        """The variants with kernels of their own: reduction 'rows', which
        serves all three of torch's reductions -- its kernels write each
        row's loss (the result of 'none') and ``scale`` times their sum (the
        result of 'sum': scale 1, and of 'mean': one over the rows, or over
        the summed weight of the valid targets), and take one incoming
        gradient per row (the runtime passes grad·scale in each row for a
        reduced loss)."""
        out = []
        for tk in self.targets:
            for weighted in ((False, True) if self.weight else (False,)):
                out.append({"target": tk, "weighted": weighted, "reduction": "rows"})
        return out

    def out_axes(self, variant) -> tuple:
        return ("r",) if variant["reduction"] in ("none", "rows") else ()

    @staticmethod
    def key(name, variant) -> str:
        return f"{name}__{variant['target']}{'_w' if variant['weighted'] else ''}__{variant['reduction']}"

    # ---- the formula -------------------------------------------------------------------
    def inputs(self, variant) -> list[InputDecl]:
        tk = variant["target"]
        if not self.classes:
            return [InputDecl("x", ("r",), ("array", "input"), True),
                    InputDecl("y", ("r",), ("array", "target"))]
        ins = [InputDecl("x", ("r", "c"), ("array", "input"), True)]
        if tk == "index":
            ins += [InputDecl("t", ("r", "c"), ("onehot", "target"), simplex="c"),
                    InputDecl("v", ("r",), ("valid", "target"))]
        else:
            ins.append(InputDecl("y", ("r", "c"), ("array", "target"),
                                 simplex="c" if tk == "probs" else None))
        if variant["weighted"]:
            ins.append(InputDecl("w", ("c",), ("array", "weight")))
        if self.label_smoothing:
            ins.append(InputDecl("eps", (), ("scalar", "label_smoothing")))
        if variant["reduction"] == "rows":
            ins.append(InputDecl("scale", (), ("scalar", "scale")))
        return ins

    def formula(self, variant) -> sp.Expr:
        """The objective: per row for reduction='none' (and the kernel
        variant 'rows'), else a scalar."""
        red, tk = variant["reduction"], variant["target"]
        wt = w if variant["weighted"] else sp.S.One
        if not self.classes:
            row = self.term
            total = RSum(row, R)
            return {"none": row, "sum": total, "mean": total / N_r}[red]
        target = t if tk == "index" else y
        if self.label_smoothing:
            target = (1 - eps) * target + eps / N_c
        valid = v if tk == "index" else sp.S.One
        row = valid * RSum(self.term.subs({y: target, w: wt}), C)
        if red in ("none", "rows"):
            return row
        total = RSum(row, R)
        if red == "sum":
            return total
        if tk == "index":   # torch: divide by the summed weight of the non-ignored targets
            return total / RSum(v * RSum(wt * t, C), R)
        return total / N_r  # probability targets: divide by the number of rows

    def scale_of(self, variant) -> sp.Expr:
        """The ``scale`` that makes the 'rows' kernels' scaled sum equal
        torch's reduction (``formula(variant) == scale_of(variant) *
        RSum(row, R)``, checked by a test): 1 for sum, 1/N_r or one over the
        valid targets' summed weight for mean."""
        red, tk = variant["reduction"], variant["target"]
        if red == "sum":
            return sp.S.One
        if red != "mean":
            raise ValueError(f"reduction {red!r} has no scale")
        wt = w if variant["weighted"] else sp.S.One
        return 1 / RSum(v * RSum(wt * t, C), R) if tk == "index" else 1 / N_r

    def content_hash(self) -> str:
        parts = [self.name, self.family, sp.srepr(self.term), repr(self.classes), repr(self.targets),
                 repr((self.weight, self.label_smoothing, self.ignore_index))]
        if self.cache_stats:
            parts.append("cache_stats")
        for vnt in self.variants():
            parts.append(sp.srepr(self.formula(vnt)))
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _log_softmax(u):
    return u - sp.log(RSum(sp.exp(u), C))


cross_entropy = Loss(
    "cross_entropy", -w * y * _log_softmax(x), classes=True, targets=("index", "probs", "scores"),
    weight=True, label_smoothing=True, ignore_index=True, cache_stats=True,
    source="seed 000 (cross-entropy with softmax), seed 001 §6, seed 002 §6.2.2.3 (log-softmax + NLL)",
    torch="torch.nn.functional.cross_entropy",
    doc="-sum_c w_c q_c log softmax(x)_c with q the (label-smoothed) target distribution.")
nll_loss = Loss(
    "nll_loss", -w * y * x, classes=True, targets=("index",), weight=True, ignore_index=True,
    source="seed 001 §6 (negative log-likelihood), seed 002 §6.2.2.3",
    torch="torch.nn.functional.nll_loss", doc="-w_y x_y for log-probabilities x and class index y.")


# =============================================================================== term losses
class ClampMin(sp.Function):
    """max(v, lo) whose derivative is 1 in v and 0 in lo: torch clamps
    gaussian_nll_loss's var *in place under no_grad*, so autograd sees the
    clamped value but differentiates as if it were v (straight through)."""

    nargs = 2

    def fdiff(self, argindex=1):
        return sp.S.One if argindex == 1 else sp.S.Zero

    def _eval_is_real(self):
        return True

    def _eval_is_positive(self):
        return True if self.args[1].is_positive else None

    def _eval_evalf(self, prec):
        return sp.Max(*self.args)._eval_evalf(prec)

    def _eval_rewrite_as_Max(self, v, lo, **kw):
        return sp.Max(v, lo)

    def _symdl_kernel(self, printer):
        return "max(%s, %s)" % (printer._print(self.args[0]), printer._print(self.args[1]))

    def _latex(self, printer, exp=None):
        s = r"\max\left(%s, %s\right)" % (printer._print(self.args[0]), printer._print(self.args[1]))
        return s if exp is None else r"%s^{%s}" % (s, exp)


@dataclass(frozen=True)
class Arg:
    """One argument of a term loss, in torch's order.

    sym: its element symbol in the term; axes: ("r",) for per-element values,
    ("r", "c") for inputs with a class/feature axis, ("c",) for per-class
    arrays.  wrt: whether a gradient is returned for it (bool, or a function
    of the choice options).  optional: a keyword array (weight) -- kernels
    with and without it; ``absent`` is its value in the term when not given.
    kind "index": class indices, seen by the formula as the one-hot ``t``.
    shape: how the runtime checks/broadcasts it: "input" (the input's shape),
    "rows" (the input's without the class axis), "bcast" (broadcast to the
    input's shape), "var" (gaussian_nll_loss's var rules), "classes" ((C,)).
    """

    name: str
    sym: str
    axes: tuple = ("r",)
    wrt: object = False
    optional: bool = False
    absent: object = 1
    kind: str = "array"
    shape: str = "input"

    @property
    def symbol(self) -> sp.Symbol:
        return sp.Symbol(self.sym, real=True)

    def differentiable(self, opts: dict) -> bool:
        return bool(self.wrt(opts)) if callable(self.wrt) else bool(self.wrt)


#: kernel reductions of a term loss: 'sum' (times a runtime ``scale``: 1 for
#: sum, 1/n for mean, 1/batch for batchmean) and 'none'
TERM_REDUCTIONS = ("sum", "none")


@dataclass(frozen=True, eq=False)
class TermLoss:
    """A loss ``L(input, target, ...)`` given by a per-row term, reduced over
    the rows.

    term: the definition of one row's loss, a SymPy expression of the args'
        symbols and the scalar params (or a function of the choice options
        returning one).  Rows are the elements (``classes=False``) or the
        fibres along dim 1 (``classes=True``: the term sums over ``C``).
    stable: a declared numerically stable form of the term (same shape as
        term); a test proves it equals the definition.  Without one, the
        derivation engine applies its stabilization rules to the definition.
    scalars: runtime scalar parameters (margin, delta, eps, ...).
    choices: static options that change the formula (log_input, full, p):
        each value is rendered into its own kernels.
    checks: runtime domain checks, e.g. ("input", "unit") for values in [0, 1].
    conventions: the kink conventions in words (each is pinned by a test).
    float32_in_float64: the float32 kernels load their inputs into float64
        and compute in it (outputs rounded once).  For a norm: the squares
        of float32 values neither underflow nor overflow in float64, where
        in float32 ||u|| < 1e-19 gives 0 and ||u|| > 1.8e19 gives inf.
    """

    name: str
    term: object
    args: tuple
    scalars: tuple = ()
    choices: tuple = ()
    stable: object = None
    reductions: tuple = REDUCTIONS
    default_reduction: str = "mean"
    classes: bool = False
    checks: tuple = ()
    conventions: str = ""
    source: str = ""
    torch: str | None = None
    doc: str = ""
    group: str = "regression"
    family: str = "loss"
    kind: str = "term"
    float32_in_float64: bool = False

    # ---- parameters and variants ---------------------------------------------------------
    @property
    def params(self) -> tuple:
        ps = [Param("reduction", self.default_reduction, kind="choice", choices=self.reductions)]
        ps += list(self.choices)
        ps += list(self.scalars)
        ps += [Param(a.name, None, kind="array") for a in self.args if a.optional]
        return tuple(ps)

    def option_combos(self) -> list[dict]:
        combos = [{}]
        for p in self.choices:
            combos = [dict(c, **{p.name: v}) for c in combos for v in p.choices]
        return combos

    def variants(self) -> list[dict]:
        out = []
        optional = [a.name for a in self.args if a.optional]
        for opts in self.option_combos():
            present = [{}]
            for n in optional:
                present = [dict(pr, **{n: b}) for pr in present for b in (False, True)]
            for pr in present:
                for red in TERM_REDUCTIONS:
                    out.append({**opts, **pr, "reduction": red})
        return out

    def key(self, name, variant) -> str:
        parts = []
        for p in self.choices:
            val = variant[p.name]
            parts.append(p.name if val is True else f"no_{p.name}" if val is False else f"{p.name}{val}")
        parts += [a.name for a in self.args if a.optional and variant[a.name]]
        mid = "_".join(parts)
        return f"{name}__{mid + '__' if mid else ''}{variant['reduction']}"

    def options(self, variant) -> dict:
        return {p.name: variant.get(p.name, p.default) for p in self.choices}

    def wrt(self, variant) -> list[str]:
        """Names of the arguments a gradient is returned for (torch order)."""
        opts = self.options(variant)
        return [a.name for a in self.args if a.differentiable(opts)
                and (not a.optional or variant.get(a.name))]

    # ---- the formula -------------------------------------------------------------------------
    def arg_axes(self, a) -> tuple:
        """The axes of an argument in the kernels: an elementwise loss
        (``classes=False``) sees its arrays as (rows, columns) -- the
        input's last axis -- so its sum runs in vectorizable lanes."""
        return ("r", "c") if not self.classes and a.axes == ("r",) else a.axes

    def out_axes(self, variant) -> tuple:
        if variant["reduction"] != "none":
            return ()
        return ("r",) if self.classes else ("r", "c")

    def inputs(self, variant) -> list[InputDecl]:
        opts = self.options(variant)
        ins = []
        for a in self.args:
            if a.optional and not variant.get(a.name):
                continue
            if a.kind == "index":
                ins.append(InputDecl("t", ("r", "c"), ("onehot", a.name), simplex="c"))
            else:
                ins.append(InputDecl(a.sym, self.arg_axes(a), ("array", a.name), a.differentiable(opts)))
        for p in self.scalars:
            ins.append(InputDecl(p.name, (), ("scalar", p.name)))
        if variant["reduction"] == "sum":
            ins.append(InputDecl("scale", (), ("scalar", "scale")))
        return ins

    def _pick(self, obj, variant):
        return obj(self.options(variant)) if callable(obj) else sp.sympify(obj)

    def row(self, variant, stable=True) -> sp.Expr:
        """One row's loss: the declared stable form (``stable``) or the
        definition, absent optional arrays replaced by their defaults."""
        e = self._pick(self.stable if stable and self.stable is not None else self.term, variant)
        absent = {a.symbol: a.absent for a in self.args if a.optional and not variant.get(a.name)}
        return e.subs(absent) if absent else e

    def _reduce(self, row, variant):
        if variant["reduction"] == "none":
            return row
        return scale * RSum(row if self.classes else RSum(row, C), R)

    def formula(self, variant) -> sp.Expr:
        """What the kernels compute: the (stable) row, reduced."""
        return self._reduce(self.row(variant), variant)

    def definition(self, variant) -> sp.Expr:
        return self._reduce(self.row(variant, stable=False), variant)

    @property
    def has_stable(self) -> bool:
        return self.stable is not None

    def content_hash(self) -> str:
        parts = [self.name, self.family, self.kind, repr(self.classes), repr(self.checks),
                 repr(self.reductions), self.default_reduction,
                 repr([(a.name, a.sym, a.axes, a.optional, str(a.absent), a.kind, a.shape)
                       for a in self.args]),
                 repr([self.wrt(v) for v in self.variants()]),
                 repr([(p.name, p.default, p.kind, p.choices) for p in self.params])]
        if self.float32_in_float64:
            parts.append("float32_in_float64")
        for vnt in self.variants():
            parts.append(sp.srepr(self.formula(vnt)))
            parts.append(sp.srepr(self.definition(vnt)))
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------- the catalog
X = Arg("input", "x", wrt=True)
Y = Arg("target", "y")
Y_GRAD = Arg("target", "y", wrt=True)
W_BCAST = Arg("weight", "w", optional=True, shape="bcast")
_margin = sp.Symbol("margin", real=True)
_delta = sp.Symbol("delta", real=True)
_beta = sp.Symbol("beta", real=True)
_eps_s = sp.Symbol("eps", real=True)
_x, _y, _w = x, y, w
_x1, _x2 = sp.Symbol("x1", real=True), sp.Symbol("x2", real=True)
_pw = sp.Symbol("pw", real=True)
_var = sp.Symbol("var", real=True)
_dr, _df = sp.Symbol("dr", real=True), sp.Symbol("df", real=True)


def _pos(u, at_zero_passes=False):
    """max(u, 0) with its convention at u = 0: ``at_zero_passes`` -- the
    gradient flows at 0 (torch's clamp_min(u, 0)); else it is 0 there
    (relu, and torch's multi_margin_loss: z > 0)."""
    return sp.Piecewise((u, u >= 0 if at_zero_passes else u > 0), (0, True))


def _sig(u):
    return 1 / (1 + sp.exp(-u))


MARGIN = Param("margin", 1.0, doc="the margin")

mse_loss = TermLoss(
    "mse_loss", (_x - _y) ** 2, (X, Y_GRAD), source="seed 000 (squared error), seed 004",
    torch="torch.nn.functional.mse_loss", doc="(x - y)^2, reduced.")
l1_loss = TermLoss(
    "l1_loss", sp.Abs(_x - _y), (X, Y_GRAD), source="seed 000 (MAE)",
    torch="torch.nn.functional.l1_loss", conventions="d/dx |x - y| = sign(x - y) = 0 at x = y (torch)",
    doc="|x - y|, reduced.")
huber_loss = TermLoss(
    "huber_loss",
    sp.Piecewise((sp.Rational(1, 2) * (_x - _y) ** 2, sp.Abs(_x - _y) < _delta),
                 (_delta * (sp.Abs(_x - _y) - _delta / 2), True)),
    (X, Y_GRAD), scalars=(Param("delta", 1.0, positive=True, doc="where the loss turns linear"),),
    source="seed 001 §1.17 eq 13-14", torch="torch.nn.functional.huber_loss",
    conventions="branch |x - y| < delta (torch); the derivative is continuous at |x - y| = delta",
    doc="0.5 (x-y)^2 where |x-y| < delta, else delta (|x-y| - delta/2).")
smooth_l1_loss = TermLoss(
    "smooth_l1_loss",
    sp.Piecewise((sp.Rational(1, 2) * (_x - _y) ** 2 / _beta, sp.Abs(_x - _y) < _beta),
                 (sp.Abs(_x - _y) - _beta / 2, True)),
    (X, Y_GRAD), scalars=(Param("beta", 1.0, doc=">= 0; beta = 0 is l1_loss"),),
    source="Girshick, Fast R-CNN (2015)", torch="torch.nn.functional.smooth_l1_loss",
    conventions="branch |x - y| < beta (torch; beta = 0 gives l1_loss); continuous derivative at beta",
    doc="0.5 (x-y)^2 / beta where |x-y| < beta, else |x-y| - beta/2.")
msle_loss = TermLoss(
    "msle_loss", (sp.log(1 + _x) - sp.log(1 + _y)) ** 2, (X, Y),
    source="mean squared logarithmic error (Keras MSLE)", torch=None,
    doc="(log(1 + x) - log(1 + y))^2 for x, y > -1.")
sum_squared_error = TermLoss(
    "sum_squared_error", sp.Rational(1, 2) * (_x - _y) ** 2, (X, Y), default_reduction="sum",
    source="seed 004 (E = 1/2 sum (a - y)^2)", torch=None,
    doc="1/2 sum (x - y)^2 (reduction='sum' by default).")
binary_cross_entropy = TermLoss(
    "binary_cross_entropy",
    -_w * (_y * sp.Piecewise((sp.log(_x), sp.log(_x) > -100), (-100, True))
           + (1 - _y) * sp.Piecewise((sp.log(1 - _x), sp.log(1 - _x) > -100), (-100, True))),
    (X, Y, W_BCAST), checks=(("input", "unit"), ("target", "unit")), group="binary",
    source="seed 004 (binary crossentropy), seed 001 §1", torch="torch.nn.functional.binary_cross_entropy",
    conventions="each log is clamped at -100 (torch): its derivative is 0 where the clamp is active "
                "(x < e^-100); torch's own backward instead clamps x(1-x) at 1e-12, so the two differ "
                "only for x(1-x) < 1e-12",
    doc="-w (y log x + (1-y) log(1-x)) for probabilities x; each log clamped at -100.")
binary_cross_entropy_with_logits = TermLoss(
    "binary_cross_entropy_with_logits",
    -_w * (_pw * _y * sp.log(_sig(_x)) + (1 - _y) * sp.log(1 - _sig(_x))),
    (X, Y_GRAD, W_BCAST, Arg("pos_weight", "pw", optional=True, shape="bcast")),
    stable=_w * (_pw * _y * softplus(-_x) + (1 - _y) * softplus(_x)),
    group="binary", source="the stable form of torch's binary_cross_entropy_with_logits",
    torch="torch.nn.functional.binary_cross_entropy_with_logits",
    doc="-w (pw y log sigma(x) + (1-y) log(1 - sigma(x))), as w (pw y softplus(-x) + (1-y) softplus(x)).")
kl_div = TermLoss(
    "kl_div",
    lambda o: (sp.exp(_y) * (_y - _x) if o["log_target"]
               else sp.Piecewise((0, sp.Eq(_y, 0)), (_y * sp.log(_y), True)) - _y * _x),
    (X, Arg("target", "y", wrt=lambda o: o["log_target"])),
    choices=(Param("log_target", False, kind="choice", choices=(False, True)),),
    reductions=("mean", "batchmean", "sum", "none"), group="binary",
    source="seed 001 §1.15 (KL divergence); torch's convention: input = log q, target = p",
    torch="torch.nn.functional.kl_div",
    conventions="y log y = 0 at y = 0 (torch's xlogy); no gradient for a non-log target",
    doc="y (log y - x) (or e^y (y - x) with log_target): input holds log-probabilities.")
poisson_nll_loss = TermLoss(
    "poisson_nll_loss",
    lambda o: ((sp.exp(_x) - _y * _x) if o["log_input"] else (_x - _y * sp.log(_x + _eps_s)))
    + (sp.Piecewise((_y * sp.log(_y) - _y + sp.log(2 * sp.pi * _y) / 2, _y > 1), (0, True))
       if o["full"] else 0),
    (X, Y),
    choices=(Param("log_input", True, kind="choice", choices=(True, False)),
             Param("full", False, kind="choice", choices=(False, True))),
    scalars=(Param("eps", 1e-8, positive=True, doc="log(x + eps) when log_input=False"),),
    source="Poisson negative log-likelihood", torch="torch.nn.functional.poisson_nll_loss",
    conventions="Stirling term only where y > 1 (torch)",
    doc="exp(x) - y x (log_input) or x - y log(x + eps); full adds y log y - y + log(2 pi y)/2.")
gaussian_nll_loss = TermLoss(
    "gaussian_nll_loss",
    lambda o: (sp.log(ClampMin(_var, _eps_s)) + (_x - _y) ** 2 / ClampMin(_var, _eps_s)) / 2
    + (sp.log(2 * sp.pi) / 2 if o["full"] else 0),
    (X, Y_GRAD, Arg("var", "var", wrt=True, shape="var")),
    choices=(Param("full", False, kind="choice", choices=(False, True)),),
    scalars=(Param("eps", 1e-6, positive=True, doc="var is clamped at eps"),),
    checks=(("var", "nonnegative"),),
    source="Gaussian negative log-likelihood (Nix & Weigend 1994)",
    torch="torch.nn.functional.gaussian_nll_loss",
    conventions="var is clamped at eps in place under no_grad (torch): d/d var passes straight "
                "through the clamp",
    doc="(log max(var, eps) + (x - y)^2 / max(var, eps)) / 2 (+ log(2 pi)/2 with full).")
hinge_embedding_loss = TermLoss(
    "hinge_embedding_loss",
    sp.Piecewise((0, sp.Eq(_y, 1)), (_pos(_margin - _x, at_zero_passes=True), True))
    + sp.Piecewise((0, sp.Eq(_y, -1)), (_x, True)),
    (X, Y), scalars=(MARGIN,), group="margin", torch="torch.nn.functional.hinge_embedding_loss",
    source="torch's hinge_embedding_loss",
    conventions="clamp_min(margin - x, 0): the gradient flows at x = margin (torch); a target "
                "other than +-1 takes both terms (torch)",
    doc="x where y = 1, max(0, margin - x) where y = -1.")
hinge_loss = TermLoss(
    "hinge_loss", sp.Piecewise((1 - _y * _x, _y * _x < 1), (0, True)), (X, Y), group="margin",
    source="seed 000 (hinge SVM), seed 001 §1.18 eq 15-16", torch=None,
    conventions="d/dx = 0 at y x = 1 (seed 001 eq 16: 0 if y x >= 1)",
    doc="max(0, 1 - y x) for labels y in {-1, 1}.")
squared_hinge_loss = TermLoss(
    "squared_hinge_loss", sp.Piecewise(((1 - _y * _x) ** 2, _y * _x < 1), (0, True)), (X, Y),
    group="margin", source="seed 004 (squared hinge loss)", torch=None,
    doc="max(0, 1 - y x)^2 for labels y in {-1, 1}.")
soft_margin_loss = TermLoss(
    "soft_margin_loss", sp.log(1 + sp.exp(-_y * _x)), (X, Y), group="margin",
    source="torch's soft_margin_loss (logistic loss)", torch="torch.nn.functional.soft_margin_loss",
    doc="log(1 + exp(-y x)).")
margin_ranking_loss = TermLoss(
    "margin_ranking_loss", _pos(-_y * (_x1 - _x2) + _margin, at_zero_passes=True),
    (Arg("input1", "x1", wrt=True), Arg("input2", "x2", wrt=True), Y),
    scalars=(Param("margin", 0.0),), group="margin", source="torch's margin_ranking_loss",
    torch="torch.nn.functional.margin_ranking_loss",
    conventions="clamp_min(-y (x1 - x2) + margin, 0): the gradient flows at 0 (torch)",
    doc="max(0, -y (x1 - x2) + margin).")
_t = t
_xy = RSum(_t * _x, C)


def _multi_margin(o):
    # (x_i - x_y) + margin: the difference of two logits first (Shifted keeps
    # it one operation: exact for close logits), then the margin
    return RSum((1 - _t) * RSum(_t * _w, C) * _pos(Shifted(_x, _xy) + _margin) ** o["p"], C) / N_c


multi_margin_loss = TermLoss(
    "multi_margin_loss", _multi_margin,
    (Arg("input", "x", ("r", "c"), wrt=True), Arg("target", "t", kind="index", shape="rows"),
     Arg("weight", "w", ("c",), optional=True, shape="classes")),
    choices=(Param("p", 1, kind="choice", choices=(1, 2)),), scalars=(MARGIN,), classes=True,
    group="margin", source="torch's multi_margin_loss (Weston-Watkins multi-class hinge)",
    torch="torch.nn.functional.multi_margin_loss",
    conventions="a class contributes where margin - x_y + x_i > 0 (torch: z > 0), so no gradient at 0",
    doc="sum_{i != y} w_y max(0, margin - x_y + x_i)^p / C.")
_EPS12 = _eps_s
_cos = RSum(_x1 * _x2, C) / sp.sqrt((RSum(_x1 ** 2, C) + _EPS12) * (RSum(_x2 ** 2, C) + _EPS12))
cosine_embedding_loss = TermLoss(
    "cosine_embedding_loss",
    sp.Piecewise((1 - _cos, sp.Eq(_y, 1)), (_pos(_cos - _margin, at_zero_passes=True), sp.Eq(_y, -1)),
                 (0, True)),
    (Arg("input1", "x1", ("r", "c"), wrt=True), Arg("input2", "x2", ("r", "c"), wrt=True),
     Arg("target", "y", shape="rows")),
    scalars=(Param("margin", 0.0), Param("eps", 1e-12, positive=True,
                                         doc="added to each squared norm (fixed at 1e-12 in torch)")),
    classes=True, group="margin",
    source="torch's cosine_embedding_loss (cosine with 1e-12 added to each squared norm)",
    torch="torch.nn.functional.cosine_embedding_loss",
    conventions="clamp_min(cos - margin, 0): the gradient flows at 0 (torch); a target other than "
                "+-1 gives 0",
    doc="1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1 (over dim 1).")

# GAN objectives on discriminator outputs D(.) in (0, 1) (seed 001 §9): d_real = D(x) on
# data, d_fake = D(G(z)) on generated samples, paired (equal shapes); mean = the expectations
D_REAL = Arg("d_real", "dr", wrt=True)
D_FAKE = Arg("d_fake", "df", wrt=True)
GAN_SRC = "seed 001 §9"
gan_d_loss = TermLoss(
    "gan_d_loss", -sp.log(_dr) - sp.log(1 - _df), (D_REAL, D_FAKE), group="gan",
    source=GAN_SRC + " eq 85", doc="-log D(x) - log(1 - D(G(z))).")
gan_g_loss = TermLoss(
    "gan_g_loss", lambda o: sp.log(1 - _df) if o["saturating"] else -sp.log(_df), (D_FAKE,),
    choices=(Param("saturating", False, kind="choice", choices=(False, True)),), group="gan",
    source=GAN_SRC + " eq 86-87 (the seed's labels of the two forms are swapped: minimizing "
           "log(1 - D(G(z))) is the saturating minimax objective)",
    doc="-log D(G(z)) (non-saturating, default) or log(1 - D(G(z))) (saturating=True).")
lsgan_d_loss = TermLoss(
    "lsgan_d_loss", ((_dr - 1) ** 2 + _df ** 2) / 2, (D_REAL, D_FAKE), group="gan",
    source=GAN_SRC + " eq 88", doc="((D(x) - 1)^2 + D(G(z))^2) / 2.")
lsgan_g_loss = TermLoss(
    "lsgan_g_loss", (_df - 1) ** 2 / 2, (D_FAKE,), group="gan", source=GAN_SRC + " eq 89",
    doc="(D(G(z)) - 1)^2 / 2.")
wgan_critic_loss = TermLoss(
    "wgan_critic_loss", _df - _dr, (D_REAL, D_FAKE), group="gan", source=GAN_SRC + " eq 90",
    doc="D(G(z)) - D(x) (critic outputs: any real).")
wgan_g_loss = TermLoss(
    "wgan_g_loss", -_df, (D_FAKE,), group="gan", source=GAN_SRC + " eq 91", doc="-D(G(z)).")
_u = sp.Symbol("u", real=True)
_lambda_gp = sp.Symbol("lambda_gp", real=True)
_sq_norm = RSum(_u ** 2, C)
#: (||u|| - 1)^2; the branch at u = 0 pins torch's convention there: the
#: norm's gradient is 0 at u = 0 (its subgradient), not 0/0
_gp = sp.Piecewise(((sp.sqrt(_sq_norm) - 1) ** 2, _sq_norm > 0), (1, True))
wgan_gp = TermLoss(
    "wgan_gp", _df - _dr + _lambda_gp * _gp,
    (Arg("input_grad", "u", ("r", "c"), wrt=True), Arg("d_real", "dr", wrt=True, shape="rows"),
     Arg("d_fake", "df", wrt=True, shape="rows")),
    scalars=(Param("lambda_gp", 10.0, doc="the penalty's weight (Gulrajani et al. 2017: 10)"),),
    classes=True, group="gan", float32_in_float64=True,
    source=GAN_SRC + " eq 92 (Gulrajani et al. 2017, WGAN-GP)",
    conventions="d||u||/du = 0 at u = 0 (torch's norm subgradient), so a zero row's gradient is 0",
    doc="D(G(z)) - D(x) + lambda_gp (||input_grad||_2 - 1)^2 per row: the WGAN-GP critic loss "
        "(arguments input_grad, d_real, d_fake), input_grad = the critic's gradient wrt its input "
        "at the interpolates (rows along dim 0); symdl.nn.wgan_gp computes it and the critic's "
        "parameter gradients (a double backward).")

LOSS_SPECS = (cross_entropy, nll_loss, mse_loss, l1_loss, huber_loss, smooth_l1_loss, msle_loss,
              sum_squared_error, poisson_nll_loss, gaussian_nll_loss, binary_cross_entropy,
              binary_cross_entropy_with_logits, kl_div, hinge_embedding_loss, hinge_loss,
              squared_hinge_loss, soft_margin_loss, margin_ranking_loss, multi_margin_loss,
              cosine_embedding_loss, gan_d_loss, gan_g_loss, lsgan_d_loss, lsgan_g_loss,
              wgan_critic_loss, wgan_g_loss, wgan_gp)
#: generated module per group: symdl.generated.losses_<group>
LOSS_GROUPS = tuple(dict.fromkeys(s.group for s in LOSS_SPECS))

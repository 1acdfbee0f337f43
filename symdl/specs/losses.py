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
from .softmax import C, R, RSum

__all__ = ["Loss", "LOSS_SPECS", "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "REDUCTIONS"]

REDUCTIONS = ("mean", "sum", "none")

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", real=True)
t = sp.Symbol("t", real=True)
v = sp.Symbol("v", real=True)
w = sp.Symbol("w", real=True)
eps = sp.Symbol("eps", real=True)
N_c = sp.Symbol("N_c", positive=True, integer=True)
N_r = sp.Symbol("N_r", positive=True, integer=True)


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
        return ins

    def formula(self, variant) -> sp.Expr:
        """The objective: per row for reduction='none', else a scalar."""
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
        if red == "none":
            return row
        total = RSum(row, R)
        if red == "sum":
            return total
        if tk == "index":   # torch: divide by the summed weight of the non-ignored targets
            return total / RSum(v * RSum(wt * t, C), R)
        return total / N_r  # probability targets: divide by the number of rows

    def content_hash(self) -> str:
        parts = [self.name, self.family, sp.srepr(self.term), repr(self.classes), repr(self.targets),
                 repr((self.weight, self.label_smoothing, self.ignore_index))]
        for vnt in self.variants():
            parts.append(sp.srepr(self.formula(vnt)))
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _log_softmax(u):
    return u - sp.log(RSum(sp.exp(u), C))


cross_entropy = Loss(
    "cross_entropy", -w * y * _log_softmax(x), classes=True, targets=("index", "probs", "scores"),
    weight=True, label_smoothing=True, ignore_index=True,
    source="seed 000 (cross-entropy with softmax), seed 001 §6, seed 002 §6.2.2.3 (log-softmax + NLL)",
    torch="torch.nn.functional.cross_entropy",
    doc="-sum_c w_c q_c log softmax(x)_c with q the (label-smoothed) target distribution.")
nll_loss = Loss(
    "nll_loss", -w * y * x, classes=True, targets=("index",), weight=True, ignore_index=True,
    source="seed 001 §6 (negative log-likelihood), seed 002 §6.2.2.3",
    torch="torch.nn.functional.nll_loss", doc="-w_y x_y for log-probabilities x and class index y.")
mse_loss = Loss("mse_loss", (x - y) ** 2, classes=False, targets=("values",),
                source="seed 000 (squared error), seed 004", torch="torch.nn.functional.mse_loss",
                doc="(x - y)^2, reduced.")
l1_loss = Loss("l1_loss", sp.Abs(x - y), classes=False, targets=("values",),
               source="seed 000 (MAE)", torch="torch.nn.functional.l1_loss", doc="|x - y|, reduced.")

LOSS_SPECS = (cross_entropy, nll_loss, mse_loss, l1_loss)

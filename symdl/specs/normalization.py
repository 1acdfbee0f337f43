"""Normalization specs: batch, layer, group, instance and RMS norm.

Each is the plain textbook formula over *named axes*: ``x`` is one element of
the input viewed with the axes of ``axes``; the statistics are means
(``RSum`` over ``stat_axes`` divided by their sizes), the affine weight and
bias vary along ``affine_axes`` only.  No stable form and no derivative is
written here: the derivation engine (``symdl.derive.normalization``) keeps
x - mean(x) whole (rule ``center``) and derives every gradient through the
reduction rules.

Layouts (how the runtime views a torch-shaped input):

* batch_norm    (n, c, s):    input (N, C, *spatial), statistics per channel over n, s;
* layer_norm    (n, d):       d = the normalized trailing shape, statistics per sample;
* group_norm    (n, g, j, s): channel = g·(C/G) + j, statistics per (sample, group);
* instance_norm (n, c, s):    statistics per (sample, channel) over s;
* rms_norm      (n, d):       root mean square over d, no centering, no bias (torch).

Running estimates (batch norm, and instance norm with track_running_stats):
running ← (1 − f)·running + f·statistic with f = momentum (torch's
convention) or 1/num_batches_tracked when momentum is None (cumulative
average); the running variance is the unbiased one, var·M/(M − 1).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import reduce

import sympy as sp

from .base import Param
from .softmax import RSum

__all__ = ["NormSpec", "NORM_SPECS", "batch_norm", "layer_norm", "group_norm", "instance_norm",
           "rms_norm", "mean_over", "count", "running_update"]


def count(axes) -> sp.Expr:
    """The number of elements a statistic over ``axes`` averages: prod N_a."""
    return sp.Mul(*[sp.Symbol(f"N_{a}", positive=True, integer=True) for a in axes])


def mean_over(u, axes) -> sp.Expr:
    """mean of u over ``axes``: nested sums, the first axis innermost (the
    order reverse mode broadcasts in), divided by the element count."""
    return reduce(lambda b, a: RSum(b, sp.Symbol(a)), axes, u) / count(axes)


@dataclass(frozen=True, eq=False)
class NormSpec:
    """A normalization y = weight·x̂ + bias with x̂ from statistics over ``stat_axes``."""

    name: str
    axes: tuple
    stat_axes: tuple
    affine_axes: tuple
    centered: bool = True          # False: RMS norm (no mean subtracted)
    has_bias: bool = True
    running: bool = False          # running estimates (batch_norm, instance_norm)
    params: tuple = ()
    source: str = ""
    torch: str | None = None
    doc: str = ""
    family: str = "normalization"

    # ---- symbols ------------------------------------------------------------------
    @property
    def x(self) -> sp.Symbol:
        return sp.Symbol("x", real=True)

    @property
    def weight(self) -> sp.Symbol:
        return sp.Symbol("weight", real=True)

    @property
    def bias(self) -> sp.Symbol:
        return sp.Symbol("bias", real=True)

    @property
    def eps(self) -> sp.Symbol:
        return sp.Symbol("eps", positive=True)

    def variants(self) -> list[dict]:
        return [{}]

    def param(self, name):
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    # ---- the formulas ---------------------------------------------------------------
    def mean(self, u) -> sp.Expr:
        return mean_over(u, self.stat_axes)

    def normalized(self) -> sp.Expr:
        """x̂: (x - mean x) / sqrt(mean (x - mean x)^2 + eps), or x / sqrt(mean x^2 + eps)."""
        x = self.x
        if self.centered:
            d = x - self.mean(x)
            return d / sp.sqrt(self.mean(d ** 2) + self.eps)
        return x / sp.sqrt(self.mean(x ** 2) + self.eps)

    def formula(self, variant=None) -> sp.Expr:
        y = self.weight * self.normalized()
        return y + self.bias if self.has_bias else y

    def definition(self, variant=None) -> sp.Expr:
        return self.formula(variant)

    def eval_formula(self) -> sp.Expr:
        """Eval mode (running estimates): the statistics are inputs, not
        functions of x -- weight·(x - running_mean)/sqrt(running_var + eps) + bias."""
        rm, rv = sp.Symbol("running_mean", real=True), sp.Symbol("running_var", nonnegative=True)
        y = self.weight * (self.x - rm) / sp.sqrt(rv + self.eps)
        return y + self.bias if self.has_bias else y

    def statistics(self) -> dict:
        """The batch statistics the running estimates track: {name: formula}."""
        x = self.x
        return {"mean": self.mean(x), "var": self.mean((x - self.mean(x)) ** 2)}

    def content_hash(self) -> str:
        parts = [self.name, self.family, repr((self.axes, self.stat_axes, self.affine_axes,
                                               self.centered, self.has_bias, self.running)),
                 sp.srepr(self.formula()),
                 repr([(p.name, str(p.default), p.kind) for p in self.params])]
        if self.running:
            parts += [sp.srepr(e) for e in running_update().values()] + [sp.srepr(self.eval_formula())]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def running_update() -> dict:
    """torch's running-estimate update, as formulas of the old estimates, the
    batch statistics (mean, biased var over M elements) and the factor f
    (momentum, or 1/num_batches_tracked for momentum=None)."""
    rm, rv = sp.Symbol("running_mean", real=True), sp.Symbol("running_var", real=True)
    mean, var = sp.Symbol("mean", real=True), sp.Symbol("var", nonnegative=True)
    f, m = sp.Symbol("factor", positive=True), sp.Symbol("M", positive=True, integer=True)
    return {"running_mean": (1 - f) * rm + f * mean,
            "running_var": (1 - f) * rv + f * var * m / (m - 1)}


EPS = Param("eps", 1e-5, positive=True, doc="added to the variance (mean square) under the root")
MOMENTUM = Param("momentum", 0.1, doc="running-estimate factor; None: cumulative average")
AFFINE = Param("affine", True, kind="bool", doc="learnable per-channel weight and bias")
TRACK = Param("track_running_stats", True, kind="bool", doc="keep running mean and variance")
SEEDS = "seed 000 (batch/layer norm), seed 001 §8, seed 002 §8.3"

batch_norm = NormSpec(
    "batch_norm", ("n", "c", "s"), ("n", "s"), ("c",), running=True,
    params=(EPS, MOMENTUM, AFFINE, TRACK),
    source=SEEDS + "; Ioffe & Szegedy (2015)", torch="torch.nn.functional.batch_norm",
    doc="Per-channel statistics over the batch and spatial axes; running estimates for eval.")
layer_norm = NormSpec(
    "layer_norm", ("n", "d"), ("d",), ("d",),
    params=(Param("normalized_shape", None, kind="shape", doc="the trailing shape normalized"),
            EPS, Param("elementwise_affine", True, kind="bool", doc="learnable weight"),
            Param("bias", True, kind="bool", doc="learnable bias (with elementwise_affine)")),
    source=SEEDS + "; Ba, Kiros & Hinton (2016)", torch="torch.nn.functional.layer_norm",
    doc="Per-sample statistics over the normalized trailing shape; elementwise affine.")
group_norm = NormSpec(
    "group_norm", ("n", "g", "j", "s"), ("j", "s"), ("g", "j"),
    params=(Param("num_groups", None, kind="int", doc="groups of C/num_groups channels"), EPS, AFFINE),
    source="Wu & He, Group Normalization (2018)", torch="torch.nn.functional.group_norm",
    doc="Per (sample, group) statistics over the group's channels and spatial axes; "
        "per-channel affine (channel = g·C/G + j).")
instance_norm = NormSpec(
    "instance_norm", ("n", "c", "s"), ("s",), ("c",), running=True,
    params=(EPS, MOMENTUM, Param("affine", False, kind="bool", doc="learnable per-channel weight and bias"),
            Param("track_running_stats", False, kind="bool", doc="keep running mean and variance")),
    source="Ulyanov, Vedaldi & Lempitsky, Instance Normalization (2016)",
    torch="torch.nn.functional.instance_norm",
    doc="Per (sample, channel) statistics over the spatial axes.")
rms_norm = NormSpec(
    "rms_norm", ("n", "d"), ("d",), ("d",), centered=False, has_bias=False,
    params=(Param("normalized_shape", None, kind="shape", doc="the trailing shape normalized"),
            Param("eps", None, doc="None: torch.finfo(dtype).eps"),
            Param("elementwise_affine", True, kind="bool", doc="learnable weight")),
    source="Zhang & Sennrich, Root Mean Square Layer Normalization (2019)",
    torch="torch.nn.functional.rms_norm",
    doc="x / sqrt(mean(x^2) + eps) over the normalized trailing shape, times a weight (no bias).")

NORM_SPECS = (batch_norm, layer_norm, group_norm, instance_norm, rms_norm)

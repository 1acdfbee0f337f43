"""Spec objects: one formula, one small frozen declarative object.

A spec holds SymPy expressions and metadata only -- no numeric code.  The
derivation engine (`symdl.derive`) turns it into derivatives and stable forms;
the code generator renders kernels from that.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import sympy as sp

#: The input variable of every elementwise spec.
x = sp.Symbol("x", real=True)


@dataclass(frozen=True)
class Param:
    """A parameter of a spec.

    kind: "real" (a runtime scalar; learnable ones may be per-channel arrays)
    or "choice" (a static option that selects a different formula, e.g. gelu's
    ``approximate``; each choice is rendered into its own kernels).
    """

    name: str
    default: Any
    kind: str = "real"
    choices: tuple = ()
    learnable: bool = False
    positive: bool = False        # domain: > 0  (used in derivation/limits)
    nonzero: bool = False
    doc: str = ""

    @property
    def symbol(self) -> sp.Symbol:
        if self.positive:
            return sp.Symbol(self.name, positive=True)
        if self.nonzero:
            return sp.Symbol(self.name, real=True, nonzero=True)
        return sp.Symbol(self.name, real=True)


@dataclass(frozen=True, eq=False)
class Activation:
    """An elementwise activation y = f(x; params).

    expr: the definition (a function of ``x`` and the param symbols), or for
        specs with choice params a dict {choice value: expr}.
    stable: optional declared numerically stable form of the forward
        (same keys as expr when it is a dict); a test proves it equals the
        definition away from the singular set.
    kinks: points where the derivative is not continuous (or where branches
        switch); ``kink_derivative`` pins the convention there (torch's), e.g.
        relu: {0: 0}.  Values may be expressions in the params.
    series: optional (x0, radius): evaluate forward and derivative by their
        Taylor series around x0 inside the radius (cancellation near x0).
    noise: name of an extra per-element input (rrelu's random slope), or None.
    test_params: extra parameter sets the ground-truth tests cover.
    """

    name: str
    expr: Any
    params: tuple = ()
    stable: Any = None
    kinks: tuple = ()
    kink_derivative: dict = field(default_factory=dict)
    series: tuple | None = None
    noise: str | None = None
    source: str = ""
    torch: str | None = None
    doc: str = ""
    test_params: tuple = ()
    family: str = "activation"
    domain_note: str = ""

    # ---- parameter handling -------------------------------------------------
    @property
    def x(self) -> sp.Symbol:
        return x

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def real_params(self) -> tuple:
        return tuple(p for p in self.params if p.kind == "real")

    @property
    def choice_params(self) -> tuple:
        return tuple(p for p in self.params if p.kind == "choice")

    @property
    def learnable(self) -> tuple:
        return tuple(p for p in self.params if p.learnable)

    def variants(self) -> list[dict]:
        """Every combination of choice-param values (one kernel set each)."""
        combos = [{}]
        for p in self.choice_params:
            combos = [dict(c, **{p.name: v}) for c in combos for v in p.choices]
        return combos

    def _pick(self, obj, variant: dict):
        if isinstance(obj, dict):
            (p,) = self.choice_params  # one choice param is all the catalog needs
            return obj[variant.get(p.name, p.default)]
        return obj

    def definition(self, variant: dict | None = None) -> sp.Expr:
        return self._pick(self.expr, variant or {})

    def stable_form(self, variant: dict | None = None):
        return self._pick(self.stable, variant or {}) if self.stable is not None else None

    @property
    def noise_symbol(self):
        return sp.Symbol(self.noise, real=True) if self.noise else None

    def symbols(self) -> dict:
        out = {p.name: p.symbol for p in self.real_params}
        if self.noise:
            out[self.noise] = self.noise_symbol
        return out

    def content_hash(self) -> str:
        """Hash of everything that determines the rendered kernels."""
        parts = [self.name, self.family, repr(self.noise), repr(self.series)]
        for p in self.params:
            parts.append(repr((p.name, str(p.default), p.kind, p.choices, p.learnable,
                               p.positive, p.nonzero)))
        for v in self.variants():
            parts.append(sp.srepr(self.definition(v)))
            s = self.stable_form(v)
            parts.append(sp.srepr(s) if s is not None else "-")
        parts.append(repr(sorted((str(k), str(v)) for k, v in self.kink_derivative.items())))
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]

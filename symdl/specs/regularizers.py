"""Weight regularizers (seed 001 §7, seed 002 §9) as specs: a penalty R(W)
added to the training loss, whose gradient the derivation engine gives.

* elementwise penalties R(W) = Σᵢ r(wᵢ): ``l1`` (λ|w|), ``l2`` (½λw², so that
  ∂R/∂w = λw: torch's coupled ``weight_decay=λ``), ``elastic_net``
  (λ(α|w| + ½(1 − α)w²), scikit-learn's ``l1_ratio`` α);  ∂r/∂w is
  ``sympy.diff`` of r (for |w|: sign(w), 0 at w = 0: the subgradient every
  library uses);
* matrix penalties over W of shape (n, k): ``orthogonality``
  λ‖WᵀW − I‖²_F, written as tr((WᵀW − I)ᵀ(WᵀW − I)) over a ``MatrixSymbol``
  and differentiated by SymPy's matrix calculus (∂/∂W = 4λ(WWᵀW − W));
  tests/test_regularizers.py proves the trace form equals the elementwise sum
  of squares on explicit matrices and the matrix gradient equals the
  elementwise ``diff``.

``max_norm`` and ``spectral_norm`` are not penalties but layer-level
operations on the weights (``symdl.regularizers.max_norm_``,
``symdl.regularizers.SpectralNorm``); no spec here.

No numeric code: ``symdl.codegen.regularizers`` prints the penalty and its
derived gradient into ``generated/regularizers/<name>.py``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sympy as sp

from .base import Param

#: the element of an elementwise penalty
w = sp.Symbol("w", real=True)
#: the matrix of a matrix penalty, (n, k)
n_rows = sp.Symbol("n", integer=True, positive=True)
k_cols = sp.Symbol("k", integer=True, positive=True)
W = sp.MatrixSymbol("W", n_rows, k_cols)

LAM = Param("lam", 1e-4, doc="the penalty's strength λ")


@dataclass(frozen=True, eq=False)
class Regularizer:
    """R(W; params): ``kind`` "elementwise" (``expr`` is r(w), R = Σ r(wᵢ))
    or "matrix" (``expr`` a scalar expression of the MatrixSymbol ``W``)."""

    name: str
    expr: sp.Expr
    params: tuple = (LAM,)
    kind: str = "elementwise"
    doc: str = ""
    source: str = ""
    torch: str | None = None
    family: str = "regularizer"

    @property
    def variable(self):
        return w if self.kind == "elementwise" else W

    def gradient(self) -> sp.Expr:
        """∂r/∂w (elementwise) or ∂R/∂W (matrix), by SymPy."""
        if self.kind == "elementwise":
            return sp.diff(self.expr, w)
        import warnings

        with warnings.catch_warnings():      # SymPy's matrix calculus warns on internal Muls
            warnings.simplefilter("ignore")
            return sp.expand(self.expr.diff(W))

    def content_hash(self) -> str:
        parts = [self.name, self.kind, sp.srepr(self.expr)]
        parts += [repr((p.name, p.default, p.kind)) for p in self.params]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


_lam = LAM.symbol
_alpha = sp.Symbol("l1_ratio", real=True)
_I = sp.Identity(k_cols)
_E = W.T * W - _I

L1 = Regularizer("l1", _lam * sp.Abs(w), doc="λ‖W‖₁ (lasso): drives weights to exactly 0",
                 source="seed 001 §7; seed 002 §9")
L2 = Regularizer("l2", _lam * w**2 / 2, doc="½λ‖W‖²_F (ridge, weight decay): ∂/∂W = λW",
                 source="seed 001 §7; seed 002 §9", torch="optim.SGD(weight_decay=lam)")
ELASTIC_NET = Regularizer(
    "elastic_net", _lam * (_alpha * sp.Abs(w) + (1 - _alpha) * w**2 / 2),
    params=(LAM, Param("l1_ratio", 0.5, doc="α: the L1 share (scikit-learn's l1_ratio)")),
    doc="λ(α‖W‖₁ + ½(1 − α)‖W‖²_F)", source="seed 002 §9")
ORTHOGONALITY = Regularizer(
    "orthogonality", _lam * sp.Trace(sp.MatMul(_E.T, _E, evaluate=False)), kind="matrix",
    doc="λ‖WᵀW − I‖²_F: keeps the columns of W orthonormal", source="seed 001 §7")

REGULARIZER_SPECS = (L1, L2, ELASTIC_NET, ORTHOGONALITY)


# ----------------------------------------------------------------------------- spectral norm
#: torch.nn.utils.spectral_norm: W̃ = W / σ, σ = uᵀ W v with u (n,1), v (k,1) held
#: constant in the backward (torch detaches them after the power iteration)
G_bar = sp.MatrixSymbol("G", n_rows, k_cols)
u_vec = sp.MatrixSymbol("u", n_rows, 1)
v_vec = sp.MatrixSymbol("v", k_cols, 1)
SIGMA = sp.Trace(u_vec.T * W * v_vec)
SPECTRAL_NORMALIZED = W / SIGMA


def spectral_norm_vjp() -> sp.Expr:
    """dL/dW for G = dL/dW̃, W̃ = W/σ(W): the gradient of ⟨G, W⟩/σ(W) (u, v
    fixed) by the chain rule through the two scalars a = ⟨G, W⟩ = tr(GᵀW) and
    σ = tr(uᵀWv), each differentiated wrt W by SymPy's matrix calculus and
    the quotient a/σ by ``sympy.diff``.  (SymPy's direct ``diff`` of the
    quotient wrt W drops the denominator's dependence, so the chain rule is
    assembled here from derivatives SymPy gets right; tests/test_regularizers.py
    checks the result against elementwise ``diff`` on explicit matrices.)"""
    import warnings

    a, s = sp.symbols("a sigma", positive=True)
    num = sp.Trace(G_bar.T * W)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = sp.diff(a / s, a) * num.diff(W) + sp.diff(a / s, s) * SIGMA.diff(W)
    return d.xreplace({a: num, s: SIGMA})

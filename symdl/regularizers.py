"""Weight regularizers at run time (no SymPy): the penalties of
``symdl.specs.regularizers`` with their derived gradients
(``generated/regularizers/<name>.py``), and two layer-level operations.

>>> reg = symdl.regularizers.get("l2", lam=1e-4)
>>> reg.penalty(W), reg.gradient(W)          # ½λ‖W‖², λW
>>> model.fit(X, y, regularizers={"l1": 1e-5, "orthogonality": 1e-3})

``fit(regularizers=...)`` adds each penalty's gradient to the gradients of the
model's weight matrices (parameters named ``weight`` with ≥ 2 dimensions; not
biases, not normalization scales) before every optimizer step.

* ``max_norm_(W, max_norm, dim=0)``: the max-norm projection (Srivastava et
  al. 2014), in place, with ``torch.renorm(W, 2, dim, max_norm)``'s semantics:
  every slice along ``dim`` whose 2-norm exceeds max_norm is scaled by
  max_norm / (norm + 1e-7).
* ``SpectralNorm``: ``torch.nn.utils.spectral_norm``'s reparametrization
  W̃ = W / σ(W) with σ estimated by power iteration on persistent u, v.
"""
from __future__ import annotations

import importlib

import numpy as np

from symdl.errors import ParameterError, ShapeError, UnknownNameError

__all__ = ["Regularizer", "get", "names", "resolve", "apply", "weight_items", "max_norm_",
           "SpectralNorm"]

INDEX = "symdl.generated.regularizers"


def _specs() -> dict:
    return importlib.import_module(INDEX).SPECS


def names() -> list:
    """The regularizer spec names (``l1``, ``l2``, ``elastic_net``, ``orthogonality``)."""
    return list(_specs())


class Regularizer:
    """A penalty R(W) and its derived gradient, bound to parameter values."""

    def __init__(self, name: str, **params):
        specs = _specs()
        if name not in specs:
            raise UnknownNameError("regularizer", name, specs)
        meta = specs[name]
        defaults = {p["name"]: p["default"] for p in meta["params"]}
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            raise ParameterError(f"regularizer {name!r} has no parameter(s) {', '.join(unknown)}; "
                                 f"its parameters: {', '.join(defaults)}")
        self.name, self.kind = name, meta["kind"]
        self.params = {k: float(params.get(k, v)) for k, v in defaults.items()}
        for k, v in self.params.items():
            if not np.isfinite(v) or v < 0:
                raise ParameterError(f"regularizer {name!r}: {k} must be finite and >= 0, got {v}")
        self._mod = importlib.import_module(meta["module"])

    def _check(self, W):
        W = np.asarray(W)
        if self.kind == "matrix" and W.ndim != 2:
            raise ShapeError(f"regularizer {self.name!r} needs a matrix, got shape {W.shape}")
        return W

    def penalty(self, W) -> float:
        """R(W) (float64)."""
        return self._mod.penalty(self._check(W), **self.params)

    def gradient(self, W) -> np.ndarray:
        """dR/dW (W's dtype)."""
        return self._mod.gradient(self._check(W), **self.params)

    def __repr__(self):
        return f"Regularizer({self.name!r}, {', '.join(f'{k}={v!r}' for k, v in self.params.items())})"


def get(name: str, **params) -> Regularizer:
    return Regularizer(name, **params)


def resolve(regularizers) -> list:
    """A list of ``Regularizer`` from None, a Regularizer, a name, a dict
    {name: lam or {param: value}} or a list of any of these."""
    if regularizers is None:
        return []
    if isinstance(regularizers, Regularizer):
        return [regularizers]
    if isinstance(regularizers, str):
        return [Regularizer(regularizers)]
    if isinstance(regularizers, dict):
        out = []
        for name, val in regularizers.items():
            out.append(Regularizer(name, **val) if isinstance(val, dict) else Regularizer(name, lam=val))
        return out
    if isinstance(regularizers, (list, tuple)):
        return [r for item in regularizers for r in resolve(item)]
    raise ParameterError(f"regularizers must be a name, a Regularizer, a dict {{name: lam}} or a list, "
                         f"got {type(regularizers).__name__}")


def weight_items(model) -> list:
    """[(name, parameter, gradient)] of the model's weight matrices: parameters
    named ``weight`` (or ``*.weight``) with at least two dimensions."""
    params, grads = model.params, model.grads
    return [(k, p, grads[k]) for k, p in params.items()
            if k.rsplit(".", 1)[-1] == "weight" and np.ndim(p) >= 2]


def apply(regs, model) -> float:
    """Add every penalty's gradient to the model's weight gradients (in place);
    returns the summed penalty.  Matrix penalties see a weight of more than
    two dimensions as (shape[0], rest), as torch flattens conv kernels."""
    total = 0.0
    if not regs:
        return total
    for _, p, gp in weight_items(model):
        for r in regs:
            if r.kind == "matrix" and p.ndim > 2:
                mat = p.reshape(p.shape[0], -1)
                total += r.penalty(mat)
                gp += r.gradient(mat).reshape(p.shape)
            else:
                total += r.penalty(p)
                gp += r.gradient(p)
    return total


# ----------------------------------------------------------------------------- layer-level operations
def max_norm_(W, max_norm: float, dim: int = 0) -> np.ndarray:
    """Project W in place onto {every slice along ``dim`` has 2-norm <= max_norm}
    (``torch.renorm(W, 2, dim, max_norm)``: scale max_norm / (norm + 1e-7)).
    For a Linear weight (out, in), dim=0 bounds each unit's incoming weights."""
    if not (np.isfinite(max_norm) and max_norm > 0):
        raise ParameterError(f"max_norm must be positive and finite, got {max_norm}")
    if not isinstance(W, np.ndarray) or W.ndim < 1:
        raise ShapeError(f"max_norm_ needs an array with at least one axis, got {np.shape(W)}")
    axes = tuple(a for a in range(W.ndim) if a != dim % W.ndim)
    norms = np.sqrt(np.sum(np.square(W, dtype=np.float64), axis=axes, keepdims=True))
    scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    W *= scale.astype(W.dtype)
    return W


def _normalize(x, eps):
    return x / max(float(np.linalg.norm(x)), eps)


class SpectralNorm:
    """torch.nn.utils.spectral_norm for a weight W of shape (out, ...): the layer
    uses W̃ = W / σ, σ = uᵀ W_mat v, W_mat = W.reshape(out, -1).

    ``compute(W, training)``: in training, ``n_power_iterations`` steps
    v ← normalize(W_matᵀ u), u ← normalize(W_mat v) first (u, v persist, as
    torch's ``weight_u``/``weight_v`` buffers); then σ and W̃.
    ``backward(G)``: dL/dW from dL/dW̃ with u, v held constant (torch detaches
    them): the VJP of W / (uᵀWv), derived by SymPy
    (``symdl.generated.regularizers`` has no numeric copy of it: see
    ``vjp``).
    """

    def __init__(self, shape, n_power_iterations: int = 1, eps: float = 1e-12, rng=None,
                 dtype=np.float64):
        if n_power_iterations < 1:
            raise ParameterError(f"n_power_iterations must be >= 1, got {n_power_iterations}")
        h, w = shape[0], int(np.prod(shape[1:]))
        rng = rng if rng is not None else np.random.default_rng()
        self.shape, self.n_power_iterations, self.eps = tuple(shape), int(n_power_iterations), float(eps)
        self.u = _normalize(rng.standard_normal(h).astype(dtype), eps)
        self.v = _normalize(rng.standard_normal(w).astype(dtype), eps)
        self.sigma = None

    def compute(self, W, training: bool = True) -> np.ndarray:
        W = np.asarray(W)
        if W.shape != self.shape:
            raise ShapeError(f"SpectralNorm was built for shape {self.shape}, got {W.shape}")
        mat = W.reshape(W.shape[0], -1)
        if training:
            for _ in range(self.n_power_iterations):
                self.v = _normalize(mat.T @ self.u, self.eps)
                self.u = _normalize(mat @ self.v, self.eps)
        self.sigma = float(self.u @ (mat @ self.v))
        return W / self.sigma

    def backward(self, W, G) -> np.ndarray:
        """dL/dW given G = dL/dW̃ (after ``compute``)."""
        from symdl.generated.regularizers.spectral_vjp import vjp

        mat, gm = np.asarray(W).reshape(self.shape[0], -1), np.asarray(G).reshape(self.shape[0], -1)
        return vjp(mat, gm, self.u.reshape(-1, 1), self.v.reshape(-1, 1)).reshape(self.shape)

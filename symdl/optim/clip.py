"""Gradient clipping with torch's semantics (in place, on numpy arrays)."""
from __future__ import annotations

import math

import numpy as np

def clip_grad_norm_(grads, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale ``grads`` in place so that their joint norm is at most ``max_norm``
    (torch: coefficient max_norm / (norm + 1e-6), clamped to 1); returns the
    total norm before clipping."""
    if isinstance(grads, np.ndarray):
        grads = [grads]
    grads = list(grads)
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(gr))) if gr.size else 0.0 for gr in grads)
    else:
        total = sum(float(np.sum(np.abs(gr.astype(np.float64, copy=False)) ** norm_type))
                    for gr in grads) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise FloatingPointError(f"the total norm of order {norm_type} of the gradients is "
                                 f"non-finite ({total}), so it cannot be clipped")
    coef = min(float(max_norm) / (total + 1e-6), 1.0)
    if coef < 1.0:
        for gr in grads:
            gr *= gr.dtype.type(coef)
    return total


def clip_grad_value_(grads, clip_value: float) -> None:
    """Clamp every gradient entry to [-clip_value, clip_value] in place."""
    if isinstance(grads, np.ndarray):
        grads = [grads]
    c = float(clip_value)
    for gr in grads:
        np.clip(gr, -c, c, out=gr)


"""Gradient clipping (seed 001 §12, exploding gradients): by global norm and by value."""
from __future__ import annotations

import math

import numpy as np

from symdl.errors import ParameterError

__all__ = ["clip_grad_norm_", "clip_grad_value_", "global_norm"]


def global_norm(grads) -> float:
    """sqrt(Σ ‖g‖²) over all gradient arrays (accumulated in float64)."""
    return math.sqrt(sum(float(np.vdot(g, g).real) if g.dtype == np.float64
                         else float(np.square(g, dtype=np.float64).sum()) for g in grads))


def clip_grad_norm_(grads, max_norm: float) -> float:
    """Scale every gradient array in place by min(1, max_norm / global norm),
    as torch.nn.utils.clip_grad_norm_ (norm type 2); returns the norm before
    clipping.  A non-finite norm leaves the gradients as they are."""
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float)) or not max_norm > 0:
        raise ParameterError(f"clip_grad_norm: max_norm must be a positive number, got {max_norm!r}")
    grads = list(grads)
    total = global_norm(grads)
    scale = max_norm / (total + 1e-6)
    if math.isfinite(total) and scale < 1.0:
        for g in grads:
            g *= g.dtype.type(scale)
    return total


def clip_grad_value_(grads, clip_value: float) -> None:
    """Clamp every gradient entry to [−clip_value, clip_value] in place."""
    if not clip_value > 0:
        raise ParameterError(f"clip_grad_value: clip_value must be positive, got {clip_value!r}")
    for g in grads:
        np.clip(g, -clip_value, clip_value, out=g)

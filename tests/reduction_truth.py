"""Test helpers for the reduction kernels (softmax family, cross_entropy,
nll_loss): the ground truth itself lives in symdl.testing.reduction (a
spec's formula instantiated at small concrete sizes as plain SymPy, mpmath
at >= 60 digits); here the element comparison under the mixed and the pure
relative bound, and the test inputs."""
from __future__ import annotations

import math
import os

import mpmath
import numpy as np

from symdl.testing.bounds import PURE_REL
from symdl.testing.reduction import (DPS, N_c, N_r, exact, instantiate, mp_eval, rows_of,  # noqa: F401
                                     symbols_like)

BOUNDS = {np.dtype(np.float64): (1e-12, 1e-15), np.dtype(np.float32): (1e-5, 1e-6)}


#: |x_j - max| beyond which exp(x_j - max) is no normal float32 number
F32_EXP_SPAN = 104.0


def f32_allowance(rows) -> np.ndarray:
    """Per row (of an (R, C) array of the inputs): 1 + min(max - min, 104).

    A float32 kernel rounds the exp argument x_j - max to float32 (relative
    6e-8 of |x_j - max|), so an output carries up to ε32·|x_j - max| from
    each class j whose exponential is a normal number: the float32 pure
    relative bound is PURE_REL·(1 + that spread), the reductions' form of
    the term losses' PURE_REL·(|t| + |x·t′|)."""
    r = np.asarray(rows, dtype=np.float64)
    spread = r.max(axis=-1) - r.min(axis=-1) if r.size else np.zeros(r.shape[:-1])
    return 1.0 + np.minimum(np.nan_to_num(spread, nan=0.0, posinf=F32_EXP_SPAN), F32_EXP_SPAN)


def compare(got, truth, dtype, what="", allowance=None):
    """Failures [(index, got, truth)] of |got - t| <= rtol·|t| + atol and
    |got - t| <= PURE_REL·|t| where t is a normal number (float32: times
    ``allowance``, per element or one number, see ``f32_allowance``); nan
    exactly where the truth is nan, never inf/nan where it is finite;
    returns (failures, worst rel error).  SYMDL_STRICT_REDUCTIONS=0 keeps
    only the mixed bound."""
    rtol, atol = BOUNDS[np.dtype(dtype)]
    prel = PURE_REL[np.dtype(dtype)] if os.environ.get("SYMDL_STRICT_REDUCTIONS", "1") != "0" else math.inf
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    allow = np.ones(got.size)
    if allowance is not None and np.dtype(dtype) == np.float32:
        allow = np.broadcast_to(np.asarray(allowance, dtype=np.float64).reshape(-1)
                                if np.size(allowance) > 1 else np.float64(np.max(allowance)), got.shape)
    fails, worst = [], 0.0
    for i, (g, t) in enumerate(zip(got, truth)):
        if mpmath.isnan(t):
            if not math.isnan(g):
                fails.append((what, i, g, "nan"))
            continue
        if mpmath.isinf(t) or abs(t) > float(np.finfo(dtype).max):
            if not (math.isinf(g) and (g > 0) == (t > 0)):
                fails.append((what, i, g, float(t)))
            continue
        if not math.isfinite(g):
            fails.append((what, i, g, float(t)))
            continue
        err = abs(mpmath.mpf(g) - t)
        if err > rtol * abs(t) + atol:
            fails.append((what, i, g, float(t)))
        if abs(t) >= float(np.finfo(dtype).tiny):
            rel = float(err / abs(t))
            worst = max(worst, rel)
            # (within 2^53 of the underflow threshold a product of the
            # kernel's intermediate factors, e.g. p·(g - Σ g p) with p ~ 1e-300,
            # is subnormal: the relative bound starts above it)
            if rel > prel * allow[i] and abs(t) >= float(np.finfo(dtype).tiny) * 2.0 ** 53:
                fails.append((what, i, g, float(t), f"relative error {rel:.2e} > {prel * allow[i]:g}"))
    return fails, worst


def logits(kind: str, shape, rng):
    """Test inputs, representable in float32 (so both dtypes share a truth)."""
    if kind == "random":
        x = rng.normal(0, 3, shape)
    elif kind == "extreme":   # ±1e3 next to O(1) and tiny values
        x = rng.choice([1e3, -1e3, 999.5, -999.0, 0.0, 1e-7, -3e-9, 2.5, -1.25, 700.0], size=shape)
    elif kind == "close":     # one dominant logit per row: p ≈ 1 - tiny
        x = rng.normal(0, 1, shape)
        x.reshape(-1)[:: max(shape[-1], 1)] += 40.0
    else:
        raise ValueError(kind)
    return x.astype(np.float32).astype(np.float64)

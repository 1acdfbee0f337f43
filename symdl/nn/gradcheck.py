"""Finite-difference check of a layer's (or model's) backward."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from symdl.errors import SymdlError

__all__ = ["gradcheck", "GradcheckError", "GradcheckResult"]


class GradcheckError(SymdlError, AssertionError):
    """backward disagrees with central finite differences."""


@dataclass
class GradcheckResult:
    """Worst errors of the analytic gradients against central differences.

    ``errors[name]`` = (max |analytic − numeric|, max of that over
    atol + rtol·|numeric|) for "input" and every parameter; ``worst`` names
    the entry with the largest ratio; ``ok`` is every ratio ≤ 1.
    """

    ok: bool
    worst: tuple          # (name, index, analytic, numeric, ratio)
    errors: dict = field(default_factory=dict)
    checked: int = 0

    @property
    def max_error(self) -> float:
        return max((e[0] for e in self.errors.values()), default=0.0)

    def __str__(self):
        name, idx, a, n, r = self.worst
        lines = [f"gradcheck {'passed' if self.ok else 'FAILED'}: {self.checked} entries; worst "
                 f"{name}[{', '.join(map(str, idx))}]: analytic {a:.10g} vs numeric {n:.10g} "
                 f"(|diff| / (atol + rtol|numeric|) = {r:.3g})"]
        for k, (e, r) in self.errors.items():
            lines.append(f"  {k:<14} max |diff| {e:.3e}  ratio {r:.3g}")
        return "\n".join(lines)


def _rng_layers(module):
    layers = getattr(module, "layers", [module])
    return [layer for layer in layers if getattr(layer, "rng", None) is not None]


def gradcheck(model, x, *, training=False, eps=1e-6, atol=1e-5, rtol=1e-4, seed=0,
              max_entries=2000, raise_exception=True) -> GradcheckResult:
    """Compare ``backward`` with central differences of L = Σ g·forward(x)
    for a random cotangent g, in float64 (on a float64 copy of ``model``).

    Checks d input and every parameter (at most ``max_entries`` randomly chosen
    entries of each).  With ``training=True`` random layers (dropout, rrelu)
    replay the same random numbers in every evaluation.  Raises
    ``GradcheckError`` naming the worst entry (or returns the result with
    ``raise_exception=False``).
    """
    m = model.astype(np.float64)
    x = np.array(x, dtype=np.float64)
    rng = np.random.default_rng(seed)
    random_layers = _rng_layers(m)
    states = [layer.rng.bit_generator.state for layer in random_layers]

    def run(inp):
        for layer, st in zip(random_layers, states):
            layer.rng.bit_generator.state = st
        return m.forward(inp, training=training)

    y = run(x)
    g = rng.standard_normal(np.shape(y))
    dx = m.backward(g)
    analytic = {"input": np.array(dx, dtype=np.float64)}
    analytic.update({k: np.array(v, dtype=np.float64) for k, v in m.grads.items()})
    targets = {"input": x}
    targets.update(m.params)

    def loss(inp):
        return float(np.vdot(g, run(inp)))

    errors, worst, checked = {}, ("input", (), 0.0, 0.0, 0.0), 0
    for name, arr in targets.items():
        flat_idx = np.arange(arr.size)
        if arr.size > max_entries:
            flat_idx = np.sort(rng.choice(arr.size, max_entries, replace=False))
        emax, rmax = 0.0, 0.0
        for fi in flat_idx:
            idx = np.unravel_index(fi, arr.shape)
            old = arr[idx]
            arr[idx] = old + eps
            lp = loss(x)
            arr[idx] = old - eps
            lm = loss(x)
            arr[idx] = old
            num = (lp - lm) / (2 * eps)
            ana = float(analytic[name][idx])
            e = abs(ana - num)
            r = e / (atol + rtol * abs(num))
            checked += 1
            emax = max(emax, e)
            if r > rmax:
                rmax = r
                if r > worst[4]:
                    worst = (name, tuple(int(i) for i in idx), ana, num, r)
        errors[name] = (emax, rmax)
    res = GradcheckResult(ok=worst[4] <= 1.0, worst=worst, errors=errors, checked=checked)
    if raise_exception and not res.ok:
        raise GradcheckError(str(res))
    return res

"""Plots for the catalog pages (matplotlib, SVG), drawn from the generated
kernels -- what a user's call computes, not a second implementation.

* an activation: f, f' (its backward kernel) and f'' (the double-backward
  kernel of ``symdl.generated.activations_d2``) over [-4, 4], widened to show
  every kink at the default parameters;
* a loss (reduction='none'): the loss and its derivative along its first
  input, with every other array argument at 1 -- for a two-class loss the
  input is the logit margin ``input[target] - input[other]``; a probability
  input is drawn over (0, 1);
* the learning-rate schedules of ``symdl.optim``: ``schedules.py``.

``plot_kind`` decides from the metadata alone whether a spec has a plot (the
page links it); ``draw`` writes it.  SVGs are deterministic (no date, fixed
hash salt).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

PLOTS = "catalog/plots"
N = 801


@dataclass
class PlotKind:
    kind: str
    caption: str


def _numeric_kinks(spec) -> list[float]:
    import sympy as sp

    subs = {p.symbol: p.default for p in getattr(spec, "real_params", ())
            if isinstance(p.default, (int, float))}
    out = []
    for k in getattr(spec, "kinks", ()):
        v = sp.sympify(k).subs(subs)
        if v.is_number and v.is_finite:
            out.append(float(v))
    return out


def _term_args(meta: dict):
    args = [a for a in meta.get("args", []) if not a.get("optional")]
    return args


def plot_kind(spec, family: str, meta: dict | None) -> PlotKind | None:
    if meta is None:
        return None
    if family == "activation" and meta.get("family") == "activation":
        v = spec.variants()[0] if spec.variants() else {}
        tag = f" ({', '.join(f'{k}={val!r}' for k, val in v.items())})" if v else ""
        return PlotKind("activation", f"{spec.name}{tag} and its first and second derivative, "
                                      "at the default parameters, from the generated kernels")
    if meta.get("family") == "loss":
        if meta.get("kind") == "class":
            return PlotKind("class", f"{spec.name} of two classes (reduction='none') as a function of the "
                                     "margin input[target] − input[other], and its derivative")
        if meta.get("kind") == "term":
            args = _term_args(meta)
            if not args or args[0].get("axes") != ["r"]:
                if args and args[0].get("axes") == ["r", "c"] and any(a.get("kind") == "index" for a in args):
                    return PlotKind("class", f"{spec.name} of two classes (reduction='none') as a function of "
                                             "the margin input[target] − input[other], and its derivative")
                return None
            others = ", ".join(f"{a['name']} = 1" for a in args[1:])
            return PlotKind("term", f"{spec.name} (reduction='none') as a function of {args[0]['name']}"
                                    + (f", with {others}" if others else "") + ", and its derivative")
    return None


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "symdl"
    plt.rcParams["svg.fonttype"] = "path"
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.axhline(0, color="0.8", lw=0.8)
    ax.axvline(0, color="0.8", lw=0.8)
    ax.grid(True, color="0.92")
    return plt, fig, ax


def _save(plt, fig, ax, path: Path) -> None:
    ax.legend(loc="best", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)


def _clip(y):
    y = np.asarray(y, dtype=np.float64)
    return np.where(np.isfinite(y) & (np.abs(y) < 1e6), y, np.nan)


def _activation(spec, ax):
    from symdl import kernel
    from symdl.nn.penalty import second_derivative_kernel

    kinks = _numeric_kinks(spec)
    lo, hi = min([-4.0] + [k - 2 for k in kinks]), max([4.0] + [k + 2 for k in kinks])
    x = np.union1d(np.linspace(lo, hi, N), kinks)
    variant = spec.variants()[0] if spec.variants() else {}
    k = kernel(spec.name, **variant)
    kw = {}
    if getattr(spec, "noise", None):   # rrelu: the eval-mode slope (lower + upper) / 2
        mid = (spec.param("lower").default + spec.param("upper").default) / 2
        kw = {"noise": np.full_like(x, mid)}
    y = k.forward(x, **kw)
    d1 = k.backward(x, np.ones_like(x), **kw)
    d1 = d1[0] if isinstance(d1, tuple) else d1
    ax.plot(x, _clip(y), label="f(x)", lw=2)
    ax.plot(x, _clip(d1), label="f′(x)", lw=1.5)
    try:
        k2 = second_derivative_kernel(spec.name, **variant)
        d2 = k2.backward(x, np.ones_like(x), **kw)
        d2 = d2[0] if isinstance(d2, tuple) else d2
        ax.plot(x, _clip(d2), label="f″(x)", lw=1.2, ls="--")
    except Exception:      # a spec without a second-derivative kernel: f and f' only
        pass
    ax.set_xlabel("x")
    ax.set_title(spec.name)


def _loss(spec, meta, kind, ax):
    from symdl import kernel

    k = kernel(spec.name, reduction="none")
    if kind == "class":
        m = np.linspace(-4, 4, N)
        x = np.stack([np.zeros_like(m), m], 1)
        target = np.ones(m.size, dtype=np.int64)
        y = k.forward(x, target)
        d = k.backward(x, target)
        d = (d[0] if isinstance(d, tuple) else d)[:, 1]
        ax.set_xlabel("margin input[target] − input[other]")
    else:
        args = _term_args(meta)
        unit = any(c[0] == args[0]["name"] and c[1] == "unit" for c in meta.get("checks", []))
        x = np.linspace(1e-3, 1 - 1e-3, N) if unit else np.linspace(-4, 4, N)
        vals = [x] + [np.ones_like(x) for _ in args[1:]]
        y = k.forward(*vals)
        d = k.backward(*vals)
        d = d[0] if isinstance(d, tuple) else d
        ax.set_xlabel(args[0]["name"])
    ax.plot(x if kind != "class" else np.linspace(-4, 4, N), _clip(y), label="loss", lw=2)
    ax.plot(x if kind != "class" else np.linspace(-4, 4, N), _clip(d), label="derivative", lw=1.5)
    ax.set_title(spec.name)


def draw(spec, family: str, meta: dict | None, path: Path) -> bool:
    """Write ``spec``'s plot to ``path``; False when it has none."""
    pk = plot_kind(spec, family, meta)
    if pk is None:
        return False
    plt, fig, ax = _figure()
    try:
        if pk.kind == "activation":
            _activation(spec, ax)
        else:
            _loss(spec, meta, pk.kind, ax)
        _save(plt, fig, ax, path)
    except BaseException:
        plt.close(fig)
        raise
    return True


def draw_all(root: Path, names=None, log=print) -> int:
    """Draw every plot the pages link into ``root/catalog/plots``."""
    from .pages import families, kernel_meta

    n = 0
    for fam, specs in families().items():
        for s in specs:
            if names and s.name not in names:
                continue
            meta, _ = kernel_meta(s.name)
            if draw(s, fam, meta, root / PLOTS / f"{s.name}.svg"):
                n += 1
    from . import schedules

    n += schedules.draw_all(root)
    log(f"docs plots: {n} SVG(s) drawn")
    return n

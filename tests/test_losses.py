"""Loss kernels against the spec instantiated at small concrete sizes (plain
SymPy, mpmath at >= 60 digits, derivatives by SymPy): every option of
cross_entropy and nll_loss; bad input; optional PyTorch comparison (the
term losses, mse_loss and l1_loss included, are in test_term_losses.py)."""
import warnings
import zlib

import numpy as np
import pytest
import sympy as sp

from symdl.registry import metadata
from symdl.errors import ParameterError, ShapeError
from symdl.runtime.reductions import make_bundle
from symdl.specs.losses import cross_entropy, nll_loss

from reduction_truth import compare, exact, f32_allowance, instantiate, logits, mp_eval, rows_of, symbols_like

DTYPES = (np.float64, np.float32)


def kernel(name, **kw):
    return make_bundle(name, *metadata(name), **kw)


def make_target(kind, shape, rng, ignore=-100):
    """Targets for an input of ``shape`` (class axis 1, or 0 for 1-D)."""
    cdim = 1 if len(shape) >= 2 else 0
    C = shape[cdim]
    rows = shape[:cdim] + shape[cdim + 1:]
    if kind == "index":
        t = rng.integers(0, C, size=rows)
        if t.size >= 2:
            t.reshape(-1)[1] = ignore
        return t
    p = rng.uniform(0.05, 1.0, size=shape)
    p = p / p.sum(axis=cdim, keepdims=True)
    if kind == "scores":
        p = p * 1.7 - 0.1
    return p.astype(np.float32).astype(np.float64) if kind == "scores" else p


def class_truth(spec, variant, x, target, weight, eps, g, ignore=-100):
    cdim = 1 if x.ndim >= 2 else 0
    X = symbols_like("x", x.shape)
    Xr = rows_of(X, cdim)
    R, C = Xr.shape
    env = {"x": (Xr, ("r", "c")), "eps": (exact(eps), ())}
    if variant["target"] == "index":
        tr = target.reshape(-1)
        onehot = np.array([[sp.Integer(int(tr[r] == c)) for c in range(C)] for r in range(R)], dtype=object)
        env["t"] = (onehot, ("r", "c"))
        env["v"] = (np.array([sp.Integer(int(tr[r] != ignore)) for r in range(R)], dtype=object), ("r",))
    else:
        env["y"] = (rows_of(np.vectorize(exact, otypes=[object])(target), cdim), ("r", "c"))
    if variant["weighted"]:
        env["w"] = (np.array([exact(v) for v in weight], dtype=object), ("c",))
    sizes = {"r": R, "c": C}
    f = spec.formula(variant)
    if variant["reduction"] == "none":
        outs = [instantiate(f, env, sizes, {"r": i}) for i in range(R)]
        F = sp.Add(*[exact(gv) * o for gv, o in zip(g.reshape(-1), outs)])
    else:
        outs = [instantiate(f, env, sizes)]
        F = exact(g) * outs[0]
    grads = [sp.diff(F, s) for s in Xr.reshape(-1)]
    subs = {s: exact(v) for s, v in zip(X.reshape(-1), x.reshape(-1))}
    return mp_eval(outs, subs), mp_eval(grads, subs), cdim


def soft_target_terms(x, target, opts, g, cdim):
    """float32 cross_entropy with a soft target (probabilities, scores, label
    smoothing): d input = g·(p·Σ w q - w q) and the loss -Σ w q log p cancel
    where the target is close to p -- the conditioning of the data, not a
    form the kernel can avoid (p itself rounds to ~6e-8 in float32).  The
    magnitudes of the terms (float64, numpy): the bound there is
    PURE_REL·(|t| + terms), the term losses' float32 form."""
    xr = rows_of(x, cdim)
    R, C = xr.shape
    ls = xr - xr.max(axis=1, keepdims=True)
    ls = ls - np.log(np.exp(ls).sum(axis=1, keepdims=True))
    p = np.exp(ls)
    if target.dtype.kind in "iu":
        t = target.reshape(-1)
        valid = t != opts.get("ignore_index", -100)
        q = np.zeros((R, C))
        q[np.arange(R)[valid], t[valid]] = 1.0
    else:
        valid = np.ones(R, bool)
        q = rows_of(target, cdim).astype(np.float64)
    eps = opts.get("label_smoothing", 0.0)
    q = ((1 - eps) * q + eps / C) * valid[:, None]
    w = np.asarray(opts["weight"], np.float64) if opts.get("weight") is not None else np.ones(C)
    red = opts.get("reduction", "mean")
    if red == "none":
        gs = np.abs(np.asarray(g, np.float64).reshape(-1))
    else:
        den = (w[target.reshape(-1)[valid]].sum() if target.dtype.kind in "iu" else R) if red == "mean" else 1
        gs = np.full(R, abs(float(g)) / den)
    K = (w * q).sum(axis=1)
    d_terms = gs[:, None] * (p * np.abs(K)[:, None] + np.abs(w * q))
    l_rows = (np.abs(w * q) * np.abs(ls)).sum(axis=1)
    l_terms = l_rows if red == "none" else np.array([l_rows.sum() * gs[0] / max(abs(float(g)), 1e-300)])
    return l_terms, d_terms.reshape(-1)


def _allow(base, terms, truth):
    t = np.array([abs(float(v)) for v in truth])
    with np.errstate(divide="ignore", invalid="ignore"):
        return base * (1.0 + np.where(t > 0, terms / t, 0.0))


def check(name, opts, x, target, truth_fn):
    k = kernel(name, **opts)
    red = opts.get("reduction", "mean")
    fails = []
    for dt in DTYPES:
        xd = x.astype(dt)
        td = target.astype(dt) if target.dtype.kind == "f" else target
        loss = k.forward(xd, td)
        g = (np.linspace(0.5, 1.5, np.size(loss)).reshape(np.shape(loss)).astype(np.float32)
             if red == "none" else 0.75)
        if dt is DTYPES[0]:
            t_loss, t_dx, layout = truth_fn(np.asarray(g, dtype=np.float64))
        dx = k.backward(xd, td, g if red != "none" else g.astype(dt))
        loss2, dx2 = k.forward_backward(xd, td, g if red != "none" else g.astype(dt))
        assert np.asarray(loss).dtype == dt and dx.dtype == dt and dx.shape == x.shape
        dxr = rows_of(dx, layout) if isinstance(layout, int) else dx
        dx2r = rows_of(dx2, layout) if isinstance(layout, int) else dx2
        tag = f"{name}{opts} {np.dtype(dt).name}"
        al = f32_allowance(rows_of(x, layout) if isinstance(layout, int) else x)
        soft = name == "cross_entropy" and (target.dtype.kind == "f" or opts.get("label_smoothing"))
        if soft:
            l_terms, d_terms = soft_target_terms(x, target, opts, g, layout)
        for what, got, tr in (("loss", loss, t_loss), ("d input", dxr, t_dx),
                              ("fused loss", loss2, t_loss), ("fused d input", dx2r, t_dx)):
            a = np.repeat(al, np.size(got) // al.size) if np.size(got) >= al.size else al.max()
            if soft:
                a = _allow(a, d_terms if "d input" in what else l_terms, tr)
            f, _ = compare(np.ravel(got), tr, dt, f"{tag} {what}", a)
            fails += f
    assert not fails, fails[:8]


CE_CASES = []
for tk in ("index", "probs", "scores"):
    for weighted in (False, True):
        for red in ("mean", "sum", "none"):
            for eps in (0.0, 0.2):
                for kind in ("random", "extreme"):
                    CE_CASES.append(((3, 4), tk, weighted, red, eps, kind))
for shape in ((3, 1), (2, 3, 2), (4,), (2, 19)):   # C = 19: lane blocks + tail
    for tk in ("index", "probs"):
        for weighted in (False, True):
            CE_CASES.append((shape, tk, weighted, "mean" if shape != (4,) else "sum", 0.1, "extreme"))
        CE_CASES.append((shape, tk, False, "none", 0.0, "random"))


@pytest.mark.parametrize("shape,tk,weighted,red,eps,kind", CE_CASES,
                         ids=["-".join(map(str, c)).replace(" ", "") for c in CE_CASES])
def test_cross_entropy(shape, tk, weighted, red, eps, kind):
    rng = np.random.default_rng(zlib.crc32(repr((shape, tk, weighted, red, eps, kind)).encode()))
    x = logits(kind, shape, rng)
    target = make_target(tk, shape, rng)
    C = shape[1] if len(shape) >= 2 else shape[0]
    weight = rng.uniform(0.25, 2.0, C).astype(np.float32).astype(np.float64) if weighted else None
    opts = {"reduction": red, "label_smoothing": eps}
    if weighted:
        opts["weight"] = weight
    k = kernel("cross_entropy", **opts)
    if tk != "index":   # the runtime picks the constrained kernel exactly for normalized rows
        assert (k._normalized(target, 1 if len(shape) >= 2 else 0)) == (tk == "probs")
    variant = {"target": tk, "weighted": weighted, "reduction": red}
    check("cross_entropy", opts, x, target,
          lambda g: class_truth(cross_entropy, variant, x, target, weight, eps, g))


NLL_CASES = [(shape, w, red, kind) for shape in ((3, 4), (2, 3, 2), (3, 1)) for w in (False, True)
             for red in ("mean", "sum", "none") for kind in ("random",)]


@pytest.mark.parametrize("shape,weighted,red,kind", NLL_CASES,
                         ids=["-".join(map(str, c)).replace(" ", "") for c in NLL_CASES])
def test_nll_loss(shape, weighted, red, kind):
    rng = np.random.default_rng(zlib.crc32(repr((shape, weighted, red)).encode()))
    x = logits(kind, shape, rng)
    target = make_target("index", shape, rng)
    C = shape[1]
    weight = rng.uniform(0.25, 2.0, C).astype(np.float32).astype(np.float64) if weighted else None
    opts = {"reduction": red, **({"weight": weight} if weighted else {})}
    variant = {"target": "index", "weighted": weighted, "reduction": red}
    check("nll_loss", opts, x, target,
          lambda g: class_truth(nll_loss, variant, x, target, weight, 0.0, g))


# ---------------------------------------------------------------------------- bad input
def test_shape_mismatch_names_both_shapes():
    ce = kernel("cross_entropy")
    with pytest.raises(ShapeError, match=r"\(3, 4\).*\(4,\)"):
        ce.forward(np.zeros((3, 4)), np.zeros(4, dtype=np.int64))
    with pytest.raises(ShapeError, match=r"\(3, 4\).*\(3, 5\)"):
        ce.forward(np.zeros((3, 4)), np.full((3, 5), 0.2))
    with pytest.raises(ShapeError, match=r"\(3, 4\).*\(4, 3\)"):
        kernel("mse_loss").forward(np.zeros((3, 4)), np.zeros((4, 3)))
    with pytest.raises(ShapeError, match=r"weight has shape \(3,\).*C = 4"):
        kernel("cross_entropy", weight=np.ones(3)).forward(np.zeros((2, 4)), np.array([0, 1]))


def test_class_index_out_of_range_names_index_and_C():
    for bad in (7, -1, 4):
        with pytest.raises(IndexError, match=rf"class index {bad} .*C = 4"):
            kernel("cross_entropy").forward(np.zeros((3, 4)), np.array([0, bad, 1]))
    with pytest.raises(IndexError, match="class index 9"):
        kernel("nll_loss").backward(np.zeros((2, 4)), np.array([9, 0]))
    # ignore_index is not out of range, even when it is a valid class
    kernel("cross_entropy", ignore_index=2).forward(np.zeros((3, 4)), np.array([0, 2, 1]))


def test_empty_batch():
    ce = kernel("cross_entropy")
    with pytest.warns(RuntimeWarning, match="empty"):
        assert np.isnan(ce.forward(np.zeros((0, 4)), np.zeros(0, dtype=np.int64)))
    with pytest.warns(RuntimeWarning):
        assert np.isnan(kernel("mse_loss").forward(np.zeros(0), np.zeros(0)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kernel("cross_entropy", reduction="sum").forward(np.zeros((0, 4)), np.zeros(0, np.int64)) == 0
        assert kernel("l1_loss", reduction="none").forward(np.zeros(0), np.zeros(0)).shape == (0,)
        assert ce.backward(np.zeros((0, 4)), np.zeros(0, np.int64), 1.0).shape == (0, 4)
    # every target ignored: 0/0 like torch
    assert np.isnan(ce.forward(np.zeros((2, 4)), np.array([-100, -100])))


def test_options_and_types():
    with pytest.raises(ParameterError, match="label_smoothing"):
        kernel("cross_entropy", label_smoothing=1.5)
    with pytest.raises(ParameterError, match="reduction"):
        kernel("cross_entropy", reduction="avg")
    with pytest.raises(ParameterError, match="no parameter"):
        kernel("mse_loss", weight=np.ones(3))
    with pytest.raises(ParameterError, match="no parameter"):
        kernel("nll_loss", label_smoothing=0.1)
    with pytest.raises(TypeError, match="class indices"):
        kernel("nll_loss").forward(np.zeros((2, 3)), np.zeros((2, 3)))
    ce = kernel("cross_entropy", reduction="none")
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    t = np.array([0, 3, 1])
    out = np.empty(3, np.float32)
    assert ce.forward(x, t, out=out) is out
    dx = np.empty((3, 4), np.float32)
    assert ce.backward(x, t, np.ones(3, np.float32), out=dx) is dx
    with pytest.raises(ShapeError, match=r"\(2,\).*\(3,\)"):
        ce.backward(x, t, np.ones(2))
    m = kernel("cross_entropy")
    s = m.forward(x, t)
    assert isinstance(s, np.float32)
    o = np.empty((), np.float32)
    assert m.forward(x, t, out=o) is o and o == s
    assert m.forward(x.astype(np.int64), t).dtype == np.float64


# ---------------------------------------------------------------------------- torch
def _torch_cases():
    rng = np.random.default_rng(21)
    w = rng.uniform(0.3, 2.0, 5)
    for opts in ({}, {"reduction": "sum"}, {"reduction": "none"}, {"weight": w}, {"ignore_index": 2},
                 {"weight": w, "ignore_index": 1, "reduction": "mean"}, {"label_smoothing": 0.15},
                 {"label_smoothing": 0.3, "weight": w}, {"label_smoothing": 0.1, "reduction": "none",
                                                           "weight": w, "ignore_index": 0}):
        for tk in ("index", "probs", "scores"):
            for shape in ((6, 5), (3, 5, 2), (5,)):
                if tk != "index" and "ignore_index" in opts:
                    continue
                yield opts, tk, shape


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_against_torch_class_losses(name):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(2)
    for opts, tk, shape in _torch_cases():
        if name == "nll_loss" and (tk != "index" or "label_smoothing" in opts):
            continue
        x = rng.normal(0, 3, shape)
        target = make_target(tk, shape, rng, ignore=opts.get("ignore_index", -100))
        topts = {k: (torch.tensor(v) if k == "weight" else v) for k, v in opts.items()}
        xt = torch.tensor(x, requires_grad=True)
        L = getattr(F, name)(xt, torch.tensor(target), **topts)
        g = rng.normal(size=tuple(L.shape)) if L.ndim else 0.7
        L.backward(torch.tensor(g, dtype=torch.float64))
        k = kernel(name, **opts)
        np.testing.assert_allclose(k.forward(x, target), L.detach().numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=f"{name} {opts} {tk} {shape}")
        np.testing.assert_allclose(k.backward(x, target, g), xt.grad.numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=f"{name} {opts} {tk} {shape}")


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_against_torch_value_losses(name):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(4)
    for red in ("mean", "sum", "none"):
        x, y = rng.normal(size=(4, 3, 2)), rng.normal(size=(4, 3, 2))
        y[0, 0, 0] = x[0, 0, 0]
        xt = torch.tensor(x, requires_grad=True)
        L = getattr(F, name)(xt, torch.tensor(y), reduction=red)
        g = rng.normal(size=tuple(L.shape)) if L.ndim else 1.3
        L.backward(torch.tensor(g, dtype=torch.float64))
        k = kernel(name, reduction=red)
        np.testing.assert_allclose(k.forward(x, y), L.detach().numpy(), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(k.backward(x, y, g), xt.grad.numpy(), rtol=1e-13, atol=1e-15)


def test_finite_differences_cross_entropy():
    rng = np.random.default_rng(9)
    for shape, opts in (((5, 7), {"label_smoothing": 0.1}), ((2, 4, 3), {"weight": rng.uniform(0.5, 2, 4)}),
                        ((4, 6), {"reduction": "sum"})):
        x = rng.normal(0, 2, shape)
        t = make_target("index", shape, rng)
        k = kernel("cross_entropy", **opts)
        dx = k.backward(x, t, 1.0)
        num = np.empty_like(x)
        h = 1e-6
        for idx in np.ndindex(*shape):
            xp, xm = x.copy(), x.copy()
            xp[idx] += h
            xm[idx] -= h
            num[idx] = (k.forward(xp, t) - k.forward(xm, t)) / (2 * h)
        np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------------------- cached statistics
@pytest.mark.parametrize("opts", [{}, {"weight": "w", "label_smoothing": 0.1},
                                  {"reduction": "none", "ignore_index": 1}],
                         ids=["plain", "weight-smoothing", "none-ignore"])
def test_cached_statistics_backward(opts):
    """forward(save_stats=True) then backward(stats=...) reads each row's max
    and sum of exponentials: the same gradient as the truth (both dtypes)."""
    rng = np.random.default_rng(13)
    shape = (4, 9)
    x = logits("extreme", shape, rng)
    target = make_target("index", shape, rng, ignore=opts.get("ignore_index", -100))
    weight = rng.uniform(0.25, 2.0, 9).astype(np.float32).astype(np.float64) if "weight" in opts else None
    kopts = {**opts, **({"weight": weight} if weight is not None else {})}
    red = opts.get("reduction", "mean")
    variant = {"target": "index", "weighted": weight is not None, "reduction": red}
    g = np.linspace(0.5, 1.5, 4) if red == "none" else np.float64(0.75)
    t_loss, t_dx, _ = class_truth(cross_entropy, variant, x, target, weight, opts.get("label_smoothing", 0.0),
                                  g, ignore=opts.get("ignore_index", -100))
    k = kernel("cross_entropy", **kopts)
    fails = []
    for dt in DTYPES:
        xd = x.astype(dt)
        loss, stats = k.forward(xd, target, save_stats=True)
        assert len(stats.arrays) >= 2 and all(a.shape == (4,) and a.dtype == dt for a in stats.arrays)
        dx = k.backward(xd, target, g.astype(dt) if red == "none" else g, stats=stats)
        al = f32_allowance(x)
        fails += compare(np.ravel(loss), t_loss, dt, f"stats loss {dt}", al if np.size(loss) > 1 else al.max())[0]
        fails += compare(np.ravel(dx), t_dx, dt, f"stats d input {dt}", np.repeat(al, x.shape[1]))[0]
    assert not fails, fails[:8]
    with pytest.raises(ParameterError, match="stats"):   # float32 stats, float64 input
        k.backward(x, target, g, stats=stats)
    with pytest.raises(ParameterError, match="save_stats"):
        k.forward(x, np.full(shape, 1 / 9), save_stats=True)


# ---------------------------------------------------------------------------- shared kernels
@pytest.mark.parametrize("spec", [cross_entropy, nll_loss], ids=lambda s: s.name)
def test_reductions_share_one_scaled_kernel(spec):
    """torch's mean and sum are the 'rows' kernels' sum times ``scale_of``:
    formula(variant) == scale_of(variant) · Σ_r row, symbolically."""
    from symdl.specs.softmax import R, RSum
    for v in spec.variants():
        if v["reduction"] == "none":
            continue
        row = spec.formula({**v, "reduction": "rows"})
        assert row == spec.formula({**v, "reduction": "none"})
        assert sp.simplify(spec.formula(v) - spec.scale_of(v) * RSum(row, R)) == 0, v
    keys = {k for _, k in metadata(spec.name)[0]["variants"]}
    assert all(k.endswith("__rows") for k in keys) and len(keys) == len(spec.kernel_variants())


#: the prange copies compile slowly (seconds each): by default one kernel set
#: per loss (every kernel kind and reduction, one target kind, weighting and
#: dtype); the whole table with -m slow
PARALLEL_SAMPLE = {"cross_entropy": ("index", False, np.float32), "nll_loss": ("index", True, np.float64)}


@pytest.mark.parametrize("name,full", [("cross_entropy", False), ("nll_loss", False),
                                       pytest.param("cross_entropy", True, marks=pytest.mark.slow),
                                       pytest.param("nll_loss", True, marks=pytest.mark.slow)])
def test_parallel_kernels_match_serial(name, full, monkeypatch):
    """Each kernel of a class loss (target kind × weighting × reduction ×
    kernel kind × dtype) run as its prange copy -- the same Python body,
    compiled with parallel=True -- gives the serial kernel's result bit for
    bit (the serial one is checked against the truth above): three row
    blocks, the last one partial."""
    import symdl.runtime.reductions as RR
    rng = np.random.default_rng(5)
    shape = (150, 11)
    x = rng.normal(0, 3, shape)
    C = shape[1]
    w = rng.uniform(0.3, 2.0, C)
    targets = {"index": make_target("index", shape, rng)}
    if name == "cross_entropy":
        targets.update(probs=make_target("probs", shape, rng), scores=make_target("scores", shape, rng))

    def run(opts, tk, dt):
        k = kernel(name, **opts)
        xd = x.astype(dt)
        td = targets[tk].astype(dt) if tk != "index" else targets[tk]
        red = opts.get("reduction", "mean")
        g = np.linspace(0.5, 1.5, shape[0]).astype(dt) if red == "none" else 0.75
        out = [k.forward(xd, td), k.backward(xd, td, g), *k.forward_backward(xd, td, g)]
        if tk == "index" and name == "cross_entropy":
            loss, stats = k.forward(xd, td, save_stats=True)
            out += [loss, *stats.arrays, k.backward(xd, td, g, stats=stats)]
        return out

    for tk in targets:
        for weighted in (False, True):
            for red in ("mean", "sum", "none"):
                opts = {"reduction": red, **({"weight": w} if weighted else {})}
                if name == "cross_entropy":
                    opts["label_smoothing"] = 0.1
                for dt in DTYPES:
                    if not full and (tk, weighted, dt) != PARALLEL_SAMPLE[name]:
                        continue
                    monkeypatch.setattr(RR, "PARALLEL_THRESHOLD", 1 << 62)
                    ser = run(opts, tk, dt)
                    monkeypatch.setattr(RR, "PARALLEL_THRESHOLD", 0)
                    par = run(opts, tk, dt)
                    for a, b in zip(ser, par):
                        np.testing.assert_array_equal(a, b, err_msg=f"{name} {tk} {opts} {dt}")

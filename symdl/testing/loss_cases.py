"""The term losses' test cases: valid points in each loss's input domain.

``case_args`` gives the positional arrays of one case of a term loss -- a
"random" one (with the kinks placed exactly: x = y, |x - y| = delta, y x = 1,
...) and an "extreme" one (+-1e3, 700, tiny values, the ends of [0, 1]) --
in the domain each loss needs: binary_cross_entropy's input in [0, 1],
targets in [0, 1]; gaussian_nll_loss's var >= 0 (below, at and on its
clamp); poisson's counts >= 0; margin losses' targets +-1; the GAN losses'
probabilities in (0, 1).  ``OPTIONS`` are the option sets (each a set of
kernels) the term losses are checked with, the first being the defaults
(or the default kernels with a kink put at an exact float), and
``term_case`` the seeded case of one (loss, option set, kind).

Used by tests/test_term_losses.py, tests/test_mutants.py and the docs'
accuracy measurement (symdl.docs.accuracy), so all three check the same points.
"""
from __future__ import annotations

import zlib

import numpy as np

# values representable in float32 (both dtypes share one truth)
EXTREME = np.array([1e3, -1e3, 999.5, -999.0, 0.0, 1e-7, -3e-9, 2.5, -1.25, 700.0, 30.0, -30.0])
UNIT = np.array([0.0, 1.0, 1e-7, 0.99999994, 0.5, 1e-30, 0.25, 0.75, 0.125, 1e-3, 0.999, 0.6])
OPEN_UNIT = np.array([1e-7, 0.99999994, 0.5, 1e-30, 0.25, 0.75, 0.125, 1e-3, 0.999, 0.6, 0.3, 1e-12])


def f32(a):
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def pick(values, shape, rng):
    return f32(rng.choice(values, size=shape))


def signs(shape, rng, extra=()):
    return rng.choice(np.array([-1.0, 1.0, *extra]), size=shape)


S = (3, 4)


def case_args(name, opts, kind, rng):
    """The positional arrays of one test case."""
    ext = kind == "extreme"
    normal = lambda: f32(rng.normal(0, 3, S))  # noqa: E731
    real = lambda: pick(EXTREME, S, rng) if ext else normal()  # noqa: E731
    if name in ("mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "sum_squared_error"):
        x = real()
        y = normal()
        if not ext:   # kinks: x = y, |x - y| = delta (or beta) = 0.75
            y.flat[0] = x.flat[0]
            y.flat[1] = x.flat[1] - 0.75
            y.flat[2] = x.flat[2] + 0.75
        return x, y
    if name == "msle_loss":
        vals = np.array([0.0, 1e-7, 1e3, -0.5, 3.0, 1e6, -0.999])
        x = pick(vals, S, rng) if ext else f32(rng.uniform(-0.9, 10, S))
        return x, f32(rng.uniform(-0.5, 20, S))
    if name == "binary_cross_entropy":
        x = pick(UNIT, S, rng) if ext else f32(rng.uniform(0, 1, S))
        return x, pick(UNIT, S, rng)
    if name == "binary_cross_entropy_with_logits":
        return real(), pick(UNIT, S, rng)
    if name == "kl_div":
        x = real() if opts.get("log_target") or ext else -f32(rng.exponential(2, S))
        y = normal() if opts.get("log_target") else pick(np.array([0.0, 0.5, 1e-7, 0.25, 3.0]), S, rng)
        return x, y
    if name == "poisson_nll_loss":
        if opts.get("log_input", True):
            x = real() if ext else normal()
        else:
            x = pick(np.array([0.0, 1e-7, 1e3, 2.5, 0.5]), S, rng) if ext else f32(rng.uniform(0, 5, S))
        return x, f32(rng.choice(np.array([0.0, 1.0, 2.0, 5.0, 0.5, 1.5]), S))
    if name == "gaussian_nll_loss":
        v = f32(rng.uniform(0.05, 3, S))
        v.flat[:3] = (1e-9, 0.0, 1e-6)   # below, at and on the clamp
        return real(), normal(), v
    if name in ("hinge_embedding_loss", "hinge_loss", "squared_hinge_loss", "soft_margin_loss"):
        x = real()
        y = signs(S, rng, extra=(0.5,) if name == "hinge_embedding_loss" else ())
        if not ext:   # kinks: x = margin (1) with y = -1; y x = 1
            x.flat[0], y.flat[0] = 1.0, -1.0
            x.flat[1], y.flat[1] = -1.0, -1.0
        return x, y
    if name == "margin_ranking_loss":
        a, b = real(), normal()
        y = signs(S, rng)
        if not ext:   # kink: -y (a - b) + margin = 0 with margin 0.5 (exact in float32)
            a.flat[0], b.flat[0], y.flat[0] = 2.25, 1.75, 1.0
        return a, b, y
    if name == "multi_margin_loss":
        x = real()
        t = rng.integers(0, S[1], S[0])
        if not ext:   # kink: margin - x_y + x_i = 0 (margin 1; exact in float32)
            x[0, 0], x[0, 1] = 2.5, 1.5
            t[0] = 0
        return x, t
    if name == "cosine_embedding_loss":
        # rows 0-2 are points where the gradient of input2 is 0 (a zero input1
        # row, parallel rows, y = 0); rows 3-5 are generic rows (y = 1, and
        # y = -1 with cos > margin) where neither gradient is 0, so a kernel
        # whose input2 gradient is wrong fails
        a, b = np.concatenate([real(), real()]), np.concatenate([normal(), normal()])
        a[0] = 0.0          # a zero row (the eps keeps it finite)
        b[1] = f32(2.0 * a[1])   # parallel rows
        b[4] = f32(a[4] + 0.3 * np.abs(a[4]).max() * rng.normal(0, 1, S[1]))   # cos well above the margin
        return a, b, np.array([1.0, -1.0, 0.0, 1.0, -1.0, 1.0])
    if name in ("gan_d_loss", "lsgan_d_loss", "wgan_critic_loss"):
        vals = OPEN_UNIT if name == "gan_d_loss" else EXTREME
        if ext:
            return pick(vals, S, rng), pick(vals, S, rng)
        return f32(rng.uniform(0.01, 0.99, S)), f32(rng.uniform(0.01, 0.99, S))
    if name == "wgan_gp":   # input gradient (rows), critic outputs on real and fake rows
        u = real()
        u[1] = 0.0          # a zero row: the norm's gradient is 0 there (torch)
        return u, f32(rng.normal(0, 3, S[0])), f32(rng.normal(0, 3, S[0]))
    if name in ("gan_g_loss", "lsgan_g_loss", "wgan_g_loss"):
        vals = OPEN_UNIT if name == "gan_g_loss" else EXTREME
        return (pick(vals, S, rng) if ext else f32(rng.uniform(0.01, 0.99, S)),)
    raise KeyError(name)


#: options per loss (each a set of kernels); the first uses the defaults
OPTIONS = {
    "huber_loss": [{"delta": 0.75}],
    "smooth_l1_loss": [{"beta": 0.75}],
    "binary_cross_entropy": [{}, {"weight": "w"}],
    "binary_cross_entropy_with_logits": [{}, {"weight": "w", "pos_weight": "pw"}],
    "kl_div": [{}, {"log_target": True}],
    "poisson_nll_loss": [{}, {"log_input": False, "full": True}],
    "gaussian_nll_loss": [{}, {"full": True}],
    "hinge_embedding_loss": [{"margin": 1.0}],
    "margin_ranking_loss": [{"margin": 0.5}],
    "multi_margin_loss": [{}, {"p": 2, "margin": 0.7, "weight": "wc"}],
    "cosine_embedding_loss": [{"margin": 0.1}],
    "gan_g_loss": [{}, {"saturating": True}],
    "wgan_gp": [{"lambda_gp": 2.5}],
}


def resolve_options(opts, rng):
    """An option set of OPTIONS with its array placeholders ('w', 'pw', 'wc') drawn from ``rng``."""
    out = {}
    for k, v in opts.items():
        if v == "w":
            v = f32(rng.uniform(0.25, 2, S[1]))          # broadcast over rows
        elif v == "pw":
            v = f32(rng.uniform(0.25, 3, S[1]))
        elif v == "wc":
            v = f32(rng.uniform(0.25, 2, S[1]))
        out[k] = v
    return out


KINDS = ("random", "extreme")


def term_case(name: str, opt_index: int, kind: str, seed: int = 0):
    """(options, positional arrays) of one case, seeded by the loss's name,
    option set and kind (crc32: str hashes change between processes)."""
    rng = np.random.default_rng([zlib.crc32(f"{name}-{opt_index}-{kind}".encode()), seed])
    opts = resolve_options(OPTIONS.get(name, [{}])[opt_index], rng)
    return opts, case_args(name, opts, kind, rng)

"""Elementwise activations (CATALOG.md, "Activations").

Each entry states the textbook definition; where a definition is numerically
poor in floating point, a declared ``stable`` form follows it (proven equal by
``tests/test_specs.py``).  Kink conventions follow torch's backward kernels.
Derivatives are never written here: ``symdl.derive`` computes them.
"""
from __future__ import annotations

import sympy as sp
from sympy import Abs, Eq, Max, Min, Piecewise, Rational, atan, erf, exp, log, pi, sin, sqrt, tanh

from .base import Activation, Param, x
from .functions import ncdf, sigmoid, softplus

R = Rational

# SELU's fixed constants (Klambauer et al. 2017), to torch's digits.
SELU_ALPHA = R("1.6732632423543772848170429916717")
SELU_SCALE = R("1.0507009873554804934193349852946")

a_ = sp.Symbol("a", positive=True)
b_ = sp.Symbol("b", positive=True)
p_ = sp.Symbol("p", positive=True)
alpha_ = sp.Symbol("alpha", real=True)
alpha_nz = sp.Symbol("alpha", real=True, nonzero=True)
beta_ = sp.Symbol("beta", real=True)
beta_pos = sp.Symbol("beta", positive=True)
lambd_ = sp.Symbol("lambd", positive=True)
slope_ = sp.Symbol("negative_slope", real=True)
weight_ = sp.Symbol("weight", real=True)
noise_ = sp.Symbol("noise", real=True)
min_val, max_val = sp.Symbol("min_val", real=True), sp.Symbol("max_val", real=True)
thr_, val_ = sp.Symbol("threshold", real=True), sp.Symbol("value", real=True)
omega_ = sp.Symbol("omega", real=True)

_gelu_c = sqrt(2 / pi)
_gelu_k = R("0.044715")

ACTIVATIONS = (
    Activation(
        "identity", x, source="seed 000, 004", torch="nn.Identity",
        doc="The identity map.",
    ),
    Activation(
        "binary_step", Piecewise((1, x >= 0), (0, True)),
        kinks=(0,), kink_derivative={0: 0}, source="seed 000 (Heaviside step, 1 at 0)",
        doc="Heaviside step with H(0) = 1; derivative 0 everywhere (by convention at 0).",
    ),
    Activation(
        "sign", Piecewise((1, x > 0), (-1, x < 0), (0, True)),
        kinks=(0,), kink_derivative={0: 0}, source="seed 004", torch="sign",
        doc="sign(x) with sign(0) = 0; derivative 0 (torch's convention).",
    ),
    Activation(
        "sigmoid", 1 / (1 + exp(-x)), stable=sigmoid(x),
        source="all seeds", torch="sigmoid", doc="Logistic sigmoid.",
    ),
    Activation("tanh", tanh(x), source="all seeds", torch="tanh", doc="Hyperbolic tangent."),
    Activation(
        "hardtanh",
        Piecewise((x, (x > min_val) & (x < max_val)), (min_val, x <= min_val), (max_val, True)),
        params=(Param("min_val", -1.0), Param("max_val", 1.0)),
        kinks=(min_val, max_val), kink_derivative={min_val: 0, max_val: 0},
        source="seed 004", torch="hardtanh",
        doc="clamp(x, min_val, max_val); derivative 0 at both ends (torch).",
        test_params=({"min_val": -2.0, "max_val": 0.5},),
    ),
    Activation("arctan", atan(x), source="seed 000", doc="Inverse tangent."),
    Activation(
        "softsign", x / (1 + Abs(x)), source="seed 000", torch="softsign",
        doc="x / (1 + |x|) (Elliot sigmoid).",
    ),
    Activation(
        "isru", x / sqrt(1 + a_ * x**2),
        stable=Piecewise((x / sqrt(1 + a_ * x**2), Abs(x) <= 1),
                         (1 / sqrt(a_ + x**-2), x > 0), (-1 / sqrt(a_ + x**-2), True)),
        params=(Param("a", 1.0, positive=True),),
        source="seed 000 (Carlile et al. 2017)", doc="Inverse square root unit.",
        test_params=({"a": 0.25},),
    ),
    Activation(
        "isrlu", Piecewise((x, x >= 0), (x / sqrt(1 + a_ * x**2), True)),
        stable=Piecewise((x, x >= 0), (x / sqrt(1 + a_ * x**2), x >= -1),
                         (-1 / sqrt(a_ + x**-2), True)),
        params=(Param("a", 1.0, positive=True),), kinks=(0,), kink_derivative={0: 1},
        source="seed 000 (Carlile et al. 2017)", doc="Inverse square root linear unit.",
        test_params=({"a": 3.0},),
    ),
    Activation(
        "sqnl",
        Piecewise((1, x > 2), (x - x**2 / 4, x >= 0), (x + x**2 / 4, x >= -2), (-1, True)),
        kinks=(-2, 0, 2), kink_derivative={-2: 0, 0: 1, 2: 0},
        source="seed 000 (Wuraola & Patel 2018)", doc="Square nonlinearity, saturating at ±1 for |x| > 2.",
    ),
    Activation(
        "relu", Piecewise((x, x > 0), (0, True)), kinks=(0,), kink_derivative={0: 0},
        source="all seeds", torch="relu", doc="max(0, x); relu'(0) = 0 (torch).",
    ),
    Activation(
        "relu6", Piecewise((x, (x > 0) & (x < 6)), (0, x <= 0), (6, True)),
        kinks=(0, 6), kink_derivative={0: 0, 6: 0}, source="seed 003", torch="relu6",
        doc="min(max(0, x), 6); derivative 0 at 0 and 6 (torch's hardtanh backward).",
    ),
    Activation(
        "leaky_relu", Piecewise((x, x > 0), (slope_ * x, True)),
        params=(Param("negative_slope", 0.01),), kinks=(0,), kink_derivative={0: slope_},
        source="seeds 000-003", torch="leaky_relu",
        doc="x for x > 0, negative_slope·x otherwise; derivative at 0 is negative_slope (torch).",
        test_params=({"negative_slope": 0.2},),
    ),
    Activation(
        "prelu", Piecewise((x, x > 0), (weight_ * x, True)),
        params=(Param("weight", 0.25, learnable=True,
                      doc="learnable slope: a scalar or one per channel (axis 1)"),),
        kinks=(0,), kink_derivative={0: weight_}, source="seeds 000, 001 (He et al. 2015)",
        torch="prelu", doc="Leaky ReLU with a learnable negative slope.",
        test_params=({"weight": -0.5},),
    ),
    Activation(
        "rrelu", Piecewise((x, x > 0), (noise_ * x, True)),
        params=(Param("lower", 0.125), Param("upper", 1 / 3)), noise="noise",
        kinks=(0,), kink_derivative={0: noise_}, source="seeds 000, 001 (Xu et al. 2015)",
        torch="rrelu",
        doc="Randomized leaky ReLU: in training the negative slope of each element is "
            "drawn from U(lower, upper) (the `noise` input); in eval it is (lower+upper)/2.",
    ),
    Activation(
        "elu", Piecewise((x, x > 0), (alpha_ * (exp(x) - 1), True)),
        params=(Param("alpha", 1.0),), kinks=(0,), kink_derivative={0: alpha_},
        source="seeds 001-003 (Clevert et al. 2015)", torch="elu",
        doc="x for x > 0, alpha·(eˣ − 1) otherwise.", test_params=({"alpha": 0.5},),
    ),
    Activation(
        "selu", SELU_SCALE * Piecewise((x, x > 0), (SELU_ALPHA * (exp(x) - 1), True)),
        kinks=(0,), kink_derivative={0: SELU_SCALE * SELU_ALPHA},
        source="seed 001 (Klambauer et al. 2017)", torch="selu",
        doc="scale·elu(x, alpha) with the fixed SELU constants.",
    ),
    Activation(
        "celu", Max(0, x) + Min(0, alpha_nz * (exp(x / alpha_nz) - 1)),
        stable=Piecewise((x, x > 0), (alpha_nz * (exp(x / alpha_nz) - 1), True)),
        params=(Param("alpha", 1.0, nonzero=True),), kinks=(0,), kink_derivative={0: 1},
        source="Barron 2017", torch="celu",
        doc="max(0, x) + min(0, alpha·(e^{x/alpha} − 1)).", test_params=({"alpha": 2.0},),
    ),
    Activation(
        "gelu",
        {"none": x * (1 + erf(x / sqrt(2))) / 2,
         "tanh": x * (1 + tanh(_gelu_c * (x + _gelu_k * x**3))) / 2},
        stable={"none": x * ncdf(x),
                "tanh": x * sigmoid(2 * _gelu_c * (x + _gelu_k * x**3))},
        params=(Param("approximate", "none", kind="choice", choices=("none", "tanh")),),
        source="seeds 000, 001, 003 (Hendrycks & Gimpel 2016)", torch="gelu",
        doc="x·Φ(x) (approximate='none') or the tanh approximation (approximate='tanh').",
    ),
    Activation(
        "gelu_sigmoid", x / (1 + exp(-R("1.702") * x)), stable=x * sigmoid(R("1.702") * x),
        source="seed 003", doc="Sigmoid approximation of GELU: x·σ(1.702x).",
    ),
    Activation(
        "silu", x / (1 + exp(-x)), stable=x * sigmoid(x), source="seeds 001, 003",
        torch="silu", doc="x·σ(x) (swish with beta = 1).",
    ),
    Activation(
        "swish", x / (1 + exp(-beta_ * x)), stable=x * sigmoid(beta_ * x),
        params=(Param("beta", 1.0, learnable=True),),
        source="seeds 002, 003 (Ramachandran et al. 2017)",
        doc="x·σ(beta·x) with a learnable beta.", test_params=({"beta": 1.702},),
    ),
    Activation(
        "mish", x * tanh(log(1 + exp(x))), stable=x * tanh(softplus(x)),
        source="Misra 2019", torch="mish", doc="x·tanh(softplus(x)).",
    ),
    Activation(
        "softplus",
        Piecewise((x, beta_pos * x > thr_), (log(1 + exp(beta_pos * x)) / beta_pos, True)),
        stable=Piecewise((x, beta_pos * x > thr_), (softplus(beta_pos * x) / beta_pos, True)),
        params=(Param("beta", 1.0, positive=True), Param("threshold", float("inf"))),
        source="seeds 000, 002", torch="softplus",
        doc="(1/beta)·log(1 + e^{beta·x}); exact everywhere by default. Pass threshold=20 "
            "for torch's linear cut-off (x where beta·x > threshold).",
        test_params=({"beta": 2.0}, {"threshold": 20.0}),
    ),
    Activation(
        "logsigmoid", log(1 / (1 + exp(-x))), stable=-softplus(-x),
        source="torch", torch="logsigmoid", doc="log σ(x) = −softplus(−x).",
    ),
    Activation(
        "hardsigmoid", Piecewise((x / 6 + R(1, 2), (x > -3) & (x < 3)), (0, x <= -3), (1, True)),
        kinks=(-3, 3), kink_derivative={-3: 0, 3: 0}, source="torch", torch="hardsigmoid",
        doc="relu6(x + 3)/6; derivative 0 at ±3 (torch).",
    ),
    Activation(
        "hardswish", Piecewise((0, x <= -3), (x * (x + 3) / 6, x < 3), (x, True)),
        kinks=(-3, 3), kink_derivative={-3: 0, 3: 1}, source="torch", torch="hardswish",
        doc="x·relu6(x + 3)/6; derivative 0 at −3 and 1 at 3, as torch 2.13's backward "
            "(torch before ~2.7 gave −1/2 and 3/2).",
    ),
    Activation(
        "softshrink", Piecewise((x - lambd_, x > lambd_), (x + lambd_, x < -lambd_), (0, True)),
        params=(Param("lambd", 0.5, positive=True),), kinks=(-lambd_, lambd_),
        kink_derivative={-lambd_: 0, lambd_: 0}, source="torch", torch="softshrink",
        doc="Soft thresholding by lambd.", test_params=({"lambd": 2.0},),
    ),
    Activation(
        "hardshrink", Piecewise((x, (x > lambd_) | (x < -lambd_)), (0, True)),
        params=(Param("lambd", 0.5, positive=True),), kinks=(-lambd_, lambd_),
        kink_derivative={-lambd_: 0, lambd_: 0}, source="torch", torch="hardshrink",
        doc="Hard thresholding by lambd.", test_params=({"lambd": 2.0},),
    ),
    Activation(
        "tanhshrink", x - tanh(x), series=(0, R(1, 4)), source="torch", torch="tanhshrink",
        doc="x − tanh(x); a Taylor branch near 0 avoids the cancellation.",
    ),
    Activation(
        "threshold", Piecewise((x, x > thr_), (val_, True)),
        params=(Param("threshold", 0.0), Param("value", 0.0)), kinks=(thr_,),
        kink_derivative={thr_: 0}, source="torch", torch="threshold",
        doc="x where x > threshold, else value (torch requires both; symdl defaults them to 0).",
        test_params=({"threshold": 1.5, "value": -2.0},),
    ),
    Activation(
        "bent_identity", (sqrt(x**2 + 1) - 1) / 2 + x,
        stable=x**2 / (2 * (sqrt(x**2 + 1) + 1)) + x,
        source="seed 000 (the note omits the /2)", doc="(√(x²+1) − 1)/2 + x.",
    ),
    Activation(
        "soft_exponential",
        Piecewise((-log(1 - alpha_ * (x + alpha_)) / alpha_, alpha_ < 0), (x, Eq(alpha_, 0)),
                  ((exp(alpha_ * x) - 1) / alpha_ + alpha_, True)),
        params=(Param("alpha", 0.0),), source="seed 000 (Godfrey & Gashler 2015)",
        doc="Interpolates log (alpha < 0), identity (alpha = 0) and exp (alpha > 0). "
            "For alpha < 0 it is defined only where 1 − alpha(x + alpha) > 0 (nan elsewhere).",
        test_params=({"alpha": -0.5}, {"alpha": 0.5}),
        domain_note="alpha < 0: x > 1/alpha - alpha",
    ),
    Activation(
        "soft_clipping", log((1 + exp(p_ * x)) / (1 + exp(p_ * (x - 1)))) / p_,
        stable=Piecewise(((softplus(p_ * x) - softplus(p_ * (x - 1))) / p_, x <= R(1, 2)),
                         (1 + (softplus(-p_ * x) - softplus(p_ * (1 - x))) / p_, True)),
        params=(Param("p", 1.0, positive=True),), source="seed 000 (Klimek & Perelstein 2018)",
        doc="(1/p)·log((1 + e^{px})/(1 + e^{p(x−1)})): a smooth clip to [0, 1].",
        test_params=({"p": 5.0},),
    ),
    Activation(
        "sinusoid", sin(omega_ * x), params=(Param("omega", 1.0),), source="seed 000",
        doc="sin(omega·x).", test_params=({"omega": 3.0},),
    ),
    Activation(
        "sinc", Piecewise((1, Eq(x, 0)), (sin(x) / x, True)), series=(0, R(1, 4)),
        source="seed 000", torch="sinc",
        doc="Unnormalized sinc sin(x)/x with sinc(0) = 1 (torch.sinc is the normalized "
            "sin(πx)/(πx): symdl's sinc(x) = torch.sinc(x/π)).",
    ),
    Activation("gaussian", exp(-x**2), source="seed 000", doc="e^{−x²}."),
    Activation(
        "squareplus", (x + sqrt(x**2 + b_)) / 2,
        stable=Piecewise((b_ / (2 * (sqrt(x**2 + b_) - x)), x < 0), ((x + sqrt(x**2 + b_)) / 2, True)),
        params=(Param("b", 4.0, positive=True),), source="Barron 2021 (Keras)",
        doc="(x + √(x² + b))/2.", test_params=({"b": 0.5},),
    ),
)

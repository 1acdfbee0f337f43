"""torch.nn's activation module names, as ``Activation`` layers.

``nn.ReLU()`` is ``Activation("relu")``, ``nn.PReLU(num_parameters=64)`` is
``Activation("prelu", num_parameters=64)``, ``nn.GELU(approximate="tanh")`` is
``Activation("gelu", approximate="tanh")``; arguments and defaults are torch's
(so ``Softplus`` has torch's ``threshold=20``; ``Activation("softplus")`` is exact).
"""
from __future__ import annotations

import numpy as np

from .layers import Activation

__all__ = ["Identity", "ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU", "CELU",
           "GELU", "SiLU", "Mish", "Softplus", "Sigmoid", "Tanh", "Hardtanh", "Hardsigmoid",
           "Hardswish", "Softshrink", "Hardshrink", "Tanhshrink", "Softsign", "LogSigmoid",
           "Threshold"]


def _plain(name, doc):
    def make(*, dtype=np.float32):
        return Activation(name, dtype=dtype)
    make.__name__ = make.__qualname__ = doc
    make.__doc__ = f"``Activation({name!r})`` (torch.nn.{doc})"
    return make


Identity = _plain("identity", "Identity")
ReLU = _plain("relu", "ReLU")
ReLU6 = _plain("relu6", "ReLU6")
SELU = _plain("selu", "SELU")
SiLU = _plain("silu", "SiLU")
Mish = _plain("mish", "Mish")
Sigmoid = _plain("sigmoid", "Sigmoid")
Tanh = _plain("tanh", "Tanh")
Hardsigmoid = _plain("hardsigmoid", "Hardsigmoid")
Hardswish = _plain("hardswish", "Hardswish")
Tanhshrink = _plain("tanhshrink", "Tanhshrink")
Softsign = _plain("softsign", "Softsign")
LogSigmoid = _plain("logsigmoid", "LogSigmoid")


def LeakyReLU(negative_slope=0.01, *, dtype=np.float32):
    return Activation("leaky_relu", negative_slope=negative_slope, dtype=dtype)


def PReLU(num_parameters=1, init=0.25, *, dtype=np.float32):
    """One learnable slope per channel (axis 1), torch's parameter name ``weight``."""
    return Activation("prelu", num_parameters=num_parameters, weight=init, dtype=dtype)


def RReLU(lower=1.0 / 8, upper=1.0 / 3, *, dtype=np.float32, rng=None):
    return Activation("rrelu", lower=lower, upper=upper, dtype=dtype, rng=rng)


def ELU(alpha=1.0, *, dtype=np.float32):
    return Activation("elu", alpha=alpha, dtype=dtype)


def CELU(alpha=1.0, *, dtype=np.float32):
    return Activation("celu", alpha=alpha, dtype=dtype)


def GELU(approximate="none", *, dtype=np.float32):
    return Activation("gelu", approximate=approximate, dtype=dtype)


def Softplus(beta=1.0, threshold=20.0, *, dtype=np.float32):
    return Activation("softplus", beta=beta, threshold=threshold, dtype=dtype)


def Hardtanh(min_val=-1.0, max_val=1.0, *, dtype=np.float32):
    return Activation("hardtanh", min_val=min_val, max_val=max_val, dtype=dtype)


def Softshrink(lambd=0.5, *, dtype=np.float32):
    return Activation("softshrink", lambd=lambd, dtype=dtype)


def Hardshrink(lambd=0.5, *, dtype=np.float32):
    return Activation("hardshrink", lambd=lambd, dtype=dtype)


def Threshold(threshold, value, *, dtype=np.float32):
    return Activation("threshold", threshold=threshold, value=value, dtype=dtype)

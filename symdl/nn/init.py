"""Weight initializers (torch names, in place on a NumPy array, return it).

Fans follow torch: for a weight of shape (out, in, *k), fan_in = in·∏k and
fan_out = out·∏k.  Every function takes ``rng`` (a ``numpy.random.Generator``);
without it the module's generator is used, which ``manual_seed`` resets.

=====================  ============================================
``zeros_``/``ones_``/``constant_(a, val)``   constants
``normal_(a, mean=0, std=0.01)``             N(mean, std²) (the notes' small random init)
``uniform_(a, low=0, high=1)``               U(low, high)
``xavier_normal_(a, gain=1)``                N(0, gain²·2/(fan_in+fan_out))
``xavier_uniform_(a, gain=1)``               U(±gain·√(6/(fan_in+fan_out)))
``lecun_normal_(a)``                         N(0, 1/fan_in)
``kaiming_normal_(a, a=0, mode="fan_in")``   N(0, gain²/fan), gain = √(2/(1+a²)) (He: a=0 → 2/fan_in)
``kaiming_uniform_(a, a=0, mode="fan_in")``  U(±gain·√(3/fan)); torch's Linear default is a=√5 → U(±1/√fan_in)
``orthogonal_(a, gain=1)``                   a (semi-)orthogonal matrix (QR of a Gaussian, signs fixed)
=====================  ============================================
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["manual_seed", "default_rng", "calculate_fan_in_and_fan_out", "zeros_", "ones_",
           "constant_", "normal_", "uniform_", "xavier_normal_", "xavier_uniform_",
           "lecun_normal_", "kaiming_normal_", "kaiming_uniform_", "he_normal_", "he_uniform_",
           "orthogonal_", "torch_default_", "get", "INITIALIZERS"]

_rng = np.random.default_rng()


def manual_seed(seed) -> np.random.Generator:
    """Reseed the generator used when no ``rng`` is given (like torch.manual_seed)."""
    global _rng
    _rng = np.random.default_rng(seed)
    return _rng


def default_rng() -> np.random.Generator:
    return _rng


def _r(rng):
    return _rng if rng is None else rng


def calculate_fan_in_and_fan_out(a) -> tuple[int, int]:
    shape = np.shape(a)
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need at least 2 dimensions, got shape {shape}")
    k = int(np.prod(shape[2:], dtype=np.int64)) if len(shape) > 2 else 1
    return shape[1] * k, shape[0] * k


def _fill(a, values):
    a[...] = values
    return a


def zeros_(a, rng=None):
    a[...] = 0
    return a


def ones_(a, rng=None):
    a[...] = 1
    return a


def constant_(a, val, rng=None):
    a[...] = val
    return a


def normal_(a, mean=0.0, std=0.01, rng=None):
    return _fill(a, _r(rng).normal(mean, std, size=np.shape(a)))


def uniform_(a, low=0.0, high=1.0, rng=None):
    return _fill(a, _r(rng).uniform(low, high, size=np.shape(a)))


def xavier_normal_(a, gain=1.0, rng=None):
    fi, fo = calculate_fan_in_and_fan_out(a)
    return normal_(a, 0.0, gain * math.sqrt(2.0 / (fi + fo)), rng)


def xavier_uniform_(a, gain=1.0, rng=None):
    fi, fo = calculate_fan_in_and_fan_out(a)
    b = gain * math.sqrt(6.0 / (fi + fo))
    return uniform_(a, -b, b, rng)


def lecun_normal_(a, rng=None):
    fi, _ = calculate_fan_in_and_fan_out(a)
    return normal_(a, 0.0, math.sqrt(1.0 / fi), rng)


def _kaiming_std(a_tensor, a, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode={mode!r} must be 'fan_in' or 'fan_out'")
    fi, fo = calculate_fan_in_and_fan_out(a_tensor)
    fan = fi if mode == "fan_in" else fo
    gain = math.sqrt(2.0 / (1.0 + a * a))
    return gain / math.sqrt(fan)


def kaiming_normal_(t, a=0.0, mode="fan_in", rng=None):
    """He initialization: N(0, 2/fan_in) for a = 0 (ReLU)."""
    return normal_(t, 0.0, _kaiming_std(t, a, mode), rng)


def kaiming_uniform_(t, a=0.0, mode="fan_in", rng=None):
    b = math.sqrt(3.0) * _kaiming_std(t, a, mode)
    return uniform_(t, -b, b, rng)


he_normal_ = kaiming_normal_
he_uniform_ = kaiming_uniform_


def orthogonal_(a, gain=1.0, rng=None):
    shape = np.shape(a)
    if len(shape) < 2:
        raise ValueError(f"orthogonal_ needs at least 2 dimensions, got shape {shape}")
    rows = shape[0]
    cols = int(np.prod(shape[1:], dtype=np.int64))
    flat = _r(rng).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(a, gain * q.reshape(shape))


def torch_default_(a, rng=None):
    """torch.nn.Linear's default: kaiming_uniform_(a=√5), i.e. U(±1/√fan_in)."""
    return kaiming_uniform_(a, a=math.sqrt(5.0), rng=rng)


#: initializer names accepted by ``Linear(init=...)`` (and ``bias_init=`` for the constant ones)
INITIALIZERS = {
    "default": torch_default_, "torch": torch_default_,
    "zeros": zeros_, "ones": ones_, "normal": normal_, "uniform": uniform_,
    "xavier_normal": xavier_normal_, "glorot_normal": xavier_normal_,
    "xavier_uniform": xavier_uniform_, "glorot_uniform": xavier_uniform_,
    "lecun_normal": lecun_normal_,
    "kaiming_normal": kaiming_normal_, "he_normal": kaiming_normal_,
    "kaiming_uniform": kaiming_uniform_, "he_uniform": kaiming_uniform_,
    "orthogonal": orthogonal_,
}


def get(name):
    """An initializer by name (``"xavier_uniform"``) or a callable ``f(array, rng=...)``."""
    if callable(name):
        return name
    key = str(name).lower().rstrip("_")
    if key not in INITIALIZERS:
        from symdl.errors import UnknownNameError
        raise UnknownNameError("initializer", str(name), INITIALIZERS)
    return INITIALIZERS[key]

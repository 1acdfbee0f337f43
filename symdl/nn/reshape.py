"""``Flatten`` and ``Unflatten`` (torch's names and arguments): reshapes,
whose transpose (the backward) is the reshape back."""
from __future__ import annotations

import numpy as np

from symdl.errors import ParameterError, ShapeError

from .layers import LAYERS, Module

__all__ = ["Flatten", "Unflatten", "RESHAPE_LAYERS"]


def _axis(where, name, d, ndim, shape):
    if not -ndim <= d < ndim:
        raise ShapeError(f"{where}: {name}={d} is out of range for an input of shape {shape}")
    return d % ndim


class _Reshape(Module):
    def _new_shape(self, shape):  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x, training=False, out=None):
        x = self._input(x)
        self._xshape = x.shape
        y = x.reshape(self._new_shape(x.shape))
        self._oshape = y.shape
        return y

    def backward(self, grad, out=None, input_grad=True):
        if getattr(self, "_xshape", None) is None:
            raise RuntimeError(f"{self._where()}: backward() before forward()")
        g = self._input(grad)
        if g.shape != self._oshape:
            raise ShapeError(f"{self._where()}: grad has shape {g.shape} but the last forward "
                             f"produced shape {self._oshape}")
        return g.reshape(self._xshape)

    def _clear(self):
        self._xshape = None


class Flatten(_Reshape):
    """Merge axes ``start_dim``..``end_dim`` into one (default: all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1, *, dtype=np.float32):
        super().__init__(dtype)
        for n, v in (("start_dim", start_dim), ("end_dim", end_dim)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ParameterError(f"Flatten: {n} must be an integer, got {v!r}")
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def config(self):
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def _new_shape(self, shape):
        nd = max(len(shape), 1)
        s = _axis(self._where(), "start_dim", self.start_dim, nd, shape)
        e = _axis(self._where(), "end_dim", self.end_dim, nd, shape)
        if s > e:
            raise ShapeError(f"{self._where()}: start_dim {self.start_dim} comes after end_dim "
                             f"{self.end_dim} for an input of shape {shape}")
        return shape[:s] + (int(np.prod(shape[s:e + 1], dtype=np.int64)),) + shape[e + 1:]


class Unflatten(_Reshape):
    """Split axis ``dim`` into ``unflattened_size`` (one entry may be -1)."""

    def __init__(self, dim: int, unflattened_size, *, dtype=np.float32):
        super().__init__(dtype)
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise ParameterError(f"Unflatten: dim must be an integer, got {dim!r}")
        size = tuple(unflattened_size) if isinstance(unflattened_size, (list, tuple)) else None
        if not size or any(isinstance(v, bool) or not isinstance(v, (int, np.integer))
                           or (v < 1 and v != -1) for v in size) or size.count(-1) > 1:
            raise ParameterError(f"Unflatten: unflattened_size must be a sequence of positive "
                                 f"integers (one may be -1), got {unflattened_size!r}")
        self.dim, self.unflattened_size = int(dim), tuple(int(v) for v in size)

    def config(self):
        return {"dim": self.dim, "unflattened_size": list(self.unflattened_size)}

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"

    def _new_shape(self, shape):
        d = _axis(self._where(), "dim", self.dim, len(shape), shape)
        n = shape[d]
        size = self.unflattened_size
        known = int(np.prod([v for v in size if v != -1], dtype=np.int64))
        if -1 in size:
            if n % known:
                raise ShapeError(f"{self._where()}: axis {d} of input shape {shape} has size {n}, "
                                 f"not divisible by {known} for unflattened_size {size}")
            size = tuple(n // known if v == -1 else v for v in size)
        elif known != n:
            raise ShapeError(f"{self._where()}: axis {d} of input shape {shape} has size {n} but "
                             f"unflattened_size {size} holds {known}")
        return shape[:d] + size + shape[d + 1:]


RESHAPE_LAYERS = (Flatten, Unflatten)
LAYERS.update({c.__name__: c for c in RESHAPE_LAYERS})

"""``Standardize``: the input scaling of a model, kept inside the model so that
a saved model predicts from raw inputs (``symdl train`` puts one first).

y = (x − mean) / scale per feature (the last axis); ``mean`` and ``scale``
are buffers (state, not trained), stored in state dicts and model files.
Its backward is the transpose of this diagonal linear map: dx = g / scale.
"""
from __future__ import annotations

import numpy as np

from symdl.errors import ParameterError, ShapeError

from .layers import LAYERS
from .normalization import _Norm

__all__ = ["Standardize"]


class Standardize(_Norm):
    """Per-feature standardization with fixed statistics (buffers ``mean`` and
    ``scale``, e.g. from ``symdl.datasets.StandardScaler``)."""

    def __init__(self, num_features: int, mean=None, scale=None, *, dtype=np.float32):
        super().__init__(dtype)
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) \
                or num_features < 1:
            raise ParameterError(f"Standardize: num_features must be a positive integer, "
                                 f"got {num_features!r}")
        self.num_features = int(num_features)
        self.buffers = {"mean": np.zeros(self.num_features, self.dtype),
                        "scale": np.ones(self.num_features, self.dtype)}
        for k, v in (("mean", mean), ("scale", scale)):
            if v is not None:
                v = np.asarray(v, dtype=np.float64).reshape(-1)
                if v.shape != (self.num_features,):
                    raise ShapeError(f"Standardize: {k} has shape {v.shape}, expected "
                                     f"({self.num_features},)")
                self.buffers[k][...] = v
        if np.any(self.buffers["scale"] == 0) or not np.all(np.isfinite(self.buffers["scale"])):
            raise ParameterError("Standardize: scale must be finite and nonzero")

    @classmethod
    def from_scaler(cls, scaler, *, dtype=np.float32):
        """The layer equivalent of a fitted ``StandardScaler``."""
        return cls(len(scaler.mean_), scaler.mean_, scaler.scale_, dtype=dtype)

    def extra_repr(self):
        return f"{self.num_features}"

    def config(self):
        return {"num_features": self.num_features}

    def forward(self, x, training=False, out=None):
        x = self._input(x)
        if x.shape[-1:] != (self.num_features,):
            raise ShapeError(f"{self._where()}: input has shape {x.shape}; its last axis must "
                             f"have {self.num_features} features")
        self._shape = x.shape
        y = self._buf(out, x.shape, self.dtype)
        np.subtract(x, self.buffers["mean"], out=y)
        np.divide(y, self.buffers["scale"], out=y)
        return y

    def backward(self, grad, out=None, input_grad=True):
        if not input_grad:
            return None
        grad = np.asarray(grad, dtype=self.dtype)
        dx = self._buf(out, grad.shape, self.dtype)
        np.divide(grad, self.buffers["scale"], out=dx)
        return dx


LAYERS["Standardize"] = Standardize

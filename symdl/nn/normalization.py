"""Normalization layers on the generated kernels (torch's names, arguments,
parameters and buffers).

``BatchNorm1d/2d/3d``, ``LayerNorm``, ``GroupNorm``, ``InstanceNorm1d/2d``,
``RMSNorm``.  ``forward(x, training=...)``: batch statistics in training
(and updates of ``running_mean``/``running_var``/``num_batches_tracked``),
running statistics in eval mode (batch norm, and instance norm with
``track_running_stats``).  Buffers live in ``buffers`` (not in ``params``:
optimizers never see them); ``state_dict()`` holds both, with torch's keys,
so a torch state dict loads unchanged.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from symdl.errors import ParameterError, ShapeError
from symdl.runtime.normalization import kernels, layout

from .layers import LAYERS, Module, _as_numpy, _dtype

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "InstanceNorm1d",
           "InstanceNorm2d", "RMSNorm", "IncompatibleKeys", "NORM_LAYERS"]

#: what ``load_state_dict(strict=False)`` reports (torch's fields, plus shape mismatches)
IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys", "mismatched_keys"])


def _positive_int(where, name, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ParameterError(f"{where}: {name} must be a positive integer, got {v!r}")
    return int(v)


class _Norm(Module):
    """Shared machinery: buffers, state dicts, kernel calls."""

    spec = ""

    def __init__(self, dtype):
        super().__init__(dtype)
        self.buffers: dict = {}
        self._saved = None

    # ---- parameters and buffers ---------------------------------------------------------
    def _affine_params(self, shape, bias=True):
        self._add_param("weight", np.ones(shape, self.dtype))
        if bias:
            self._add_param("bias", np.zeros(shape, self.dtype))

    def _running_buffers(self, n):
        self.buffers = {"running_mean": np.zeros(n, self.dtype), "running_var": np.ones(n, self.dtype),
                        "num_batches_tracked": np.array(0, dtype=np.int64)}

    def state_dict(self) -> dict:
        out = {k: v.copy() for k, v in self.params.items()}
        out.update({k: v.copy() for k, v in self.buffers.items()})
        return out

    def load_state_dict(self, state, strict=True, prefix=""):
        """Parameters and buffers from ``state`` (torch tensors accepted).
        strict: a missing, unexpected or wrongly shaped entry raises an
        error naming it; otherwise they are skipped and reported."""
        state = dict(state)
        mine = {**self.params, **self.buffers}
        missing = [prefix + k for k in mine if prefix + k not in state]
        unexpected = [k for k in state if k.startswith(prefix) and k[len(prefix):] not in mine]
        mismatched = []
        for k, p in mine.items():
            if prefix + k not in state:
                continue
            v = _as_numpy(state[prefix + k])
            if v.dtype.kind not in "iuf":
                raise TypeError(f"{self._where()}: {prefix + k} has dtype {v.dtype}; expected numbers")
            if v.shape != p.shape:
                if strict:
                    raise ShapeError(f"{self._where()}: {prefix + k} has shape {v.shape} in the state "
                                     f"dict but the layer's has shape {p.shape}")
                mismatched.append(f"{prefix + k}: {v.shape} != {p.shape}")
        if strict and (missing or unexpected):
            raise KeyError(f"{self._where()}: state dict does not match: missing "
                           f"{missing or 'nothing'}, unexpected {unexpected or 'nothing'}")
        bad = {m.split(":")[0] for m in mismatched}
        for k, p in mine.items():
            if prefix + k in state and prefix + k not in bad:
                p[...] = _as_numpy(state[prefix + k])
        return IncompatibleKeys(missing, unexpected, mismatched)

    def to(self, dtype):
        dt = _dtype(dtype)
        super().to(dt)
        self.buffers = {k: (v.astype(dt) if v.dtype.kind == "f" else v) for k, v in self.buffers.items()}
        return self

    def _clear(self):
        self._saved = None

    # ---- shared computation -------------------------------------------------------------
    def _check_input(self, x):
        x = np.asarray(x)
        if x.dtype.kind != "f" or x.dtype not in (np.float32, np.float64):
            raise TypeError(f"{self._where()}: input dtype {x.dtype} is not supported; "
                            f"normalization layers take float32 or float64")
        return self._input(x)

    def _w(self):
        return self.params.get("weight")

    def _b(self):
        return self.params.get("bias")

    def _eps(self):
        return self.eps

    def _forward(self, x, lay, training, use_batch, running_rows=None, out=None):
        """Batch statistics (use_batch) or the running ones (``running_rows``:
        their index per group)."""
        k = kernels(self.spec)
        if use_batch:
            y, mean, rstd, var = k.train_forward(x, self._w(), self._b(), self._eps(), lay,
                                                 out=self._buf(out, x.shape, x.dtype))
        else:
            rm, rv = (self.buffers[n].astype(x.dtype, copy=False) for n in ("running_mean", "running_var"))
            mean = rm[running_rows]
            rstd = k.rstd(rv, self._eps(), x.dtype)[running_rows]
            var = None
            y = k.normalize(x, self._w(), self._b(), mean, rstd, lay, out=self._buf(out, x.shape, x.dtype))
        self._saved = (x, lay, mean, rstd, use_batch)
        return y, mean, var

    def backward(self, grad, out=None, input_grad=True):
        if self._saved is None:
            raise RuntimeError(f"{self._where()}: backward called before forward")
        x, lay, mean, rstd, use_batch = self._saved
        g = self._input(grad)
        if g.shape != x.shape:
            raise ShapeError(f"{self._where()}: grad has shape {g.shape}, the output {x.shape}")
        res = kernels(self.spec).backward(x, g, self._w(), mean, rstd, self._eps(), lay,
                                          eval_mode=not use_batch)
        dx, dw = res[0], res[1]
        if "weight" in self.params:
            self.grads["weight"][...] = dw.reshape(self.grads["weight"].shape)
        if "bias" in self.params and len(res) > 2:
            self.grads["bias"][...] = res[2].reshape(self.grads["bias"].shape)
        return dx if input_grad else None


# ----------------------------------------------------------------------------- batch norm
class _BatchNorm(_Norm):
    spec = "batch_norm"
    dims: tuple = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 *, dtype=np.float32):
        super().__init__(dtype)
        self.num_features = _positive_int(type(self).__name__, "num_features", num_features)
        self.eps, self.momentum = float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        if affine:
            self._affine_params(self.num_features)
        if track_running_stats:
            self._running_buffers(self.num_features)

    def config(self):
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum,
                "affine": self.affine, "track_running_stats": self.track_running_stats}

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")

    def _check_shape(self, x):
        if x.ndim not in self.dims:
            want = " or ".join(f"{d}D" for d in self.dims)
            raise ShapeError(f"{self._where()}: expected {want} input, got {x.ndim}D input of shape "
                             f"{x.shape}")
        if x.shape[1] != self.num_features:
            raise ShapeError(f"{self._where()}: input of shape {x.shape} has {x.shape[1]} channels "
                             f"(axis 1), the layer expects {self.num_features}")

    def forward(self, x, training=False, out=None):
        x = self._check_input(x)
        self._check_shape(x)
        lay = layout("batch_norm", x.shape)
        use_batch = training or not self.track_running_stats
        if use_batch and training and lay["count"] <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"{x.shape} ({self._where()})")
        y, mean, var = self._forward(x, lay, training, use_batch, running_rows=slice(None), out=out)
        if training and self.track_running_stats:
            nbt = self.buffers["num_batches_tracked"]
            nbt[...] = nbt + 1
            factor = 1.0 / float(nbt) if self.momentum is None else float(self.momentum)
            if self.buffers["running_mean"].dtype != x.dtype:
                self.to(x.dtype)
            kernels(self.spec).running_update(self.buffers["running_mean"], self.buffers["running_var"],
                                              mean, var, factor, lay["count"])
        return y


class BatchNorm1d(_BatchNorm):
    """torch.nn.BatchNorm1d: input (N, C) or (N, C, L)."""
    dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """torch.nn.BatchNorm2d: input (N, C, H, W)."""
    dims = (4,)


class BatchNorm3d(_BatchNorm):
    """torch.nn.BatchNorm3d: input (N, C, D, H, W)."""
    dims = (5,)


# ----------------------------------------------------------------------------- instance norm
class _InstanceNorm(_BatchNorm):
    spec = "instance_norm"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False,
                 *, dtype=np.float32):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype=dtype)

    def forward(self, x, training=False, out=None):
        x = self._check_input(x)
        unbatched = x.ndim == self.dims[0] - 1
        if unbatched:
            x = x[None]
        self._check_shape(x)
        lay = layout("instance_norm", x.shape)
        n, c = x.shape[:2]
        use_batch = training or not self.track_running_stats
        if use_batch and lay["count"] <= 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                             f"{x.shape} ({self._where()})")
        rows = np.tile(np.arange(c), n)
        y, mean, var = self._forward(x, lay, training, use_batch, running_rows=rows, out=out)
        if training and self.track_running_stats:
            # torch: num_batches_tracked stays 0 and momentum=None means a factor of 0
            factor = 0.0 if self.momentum is None else float(self.momentum)
            if self.buffers["running_mean"].dtype != x.dtype:
                self.to(x.dtype)
            # torch: the per-instance updates averaged over the batch
            kernels(self.spec).running_update(
                self.buffers["running_mean"], self.buffers["running_var"],
                mean[0].reshape(n, c).mean(0), var.reshape(n, c).mean(0), factor,
                lay["count"])
        return y[0] if unbatched else y

    def backward(self, grad, out=None, input_grad=True):
        g = np.asarray(grad)
        unbatched = self._saved is not None and g.ndim == self._saved[0].ndim - 1
        dx = super().backward(g[None] if unbatched else g, out, input_grad)
        return dx[0] if (unbatched and dx is not None) else dx


class InstanceNorm1d(_InstanceNorm):
    """torch.nn.InstanceNorm1d: input (N, C, L) or (C, L)."""
    dims = (3,)


class InstanceNorm2d(_InstanceNorm):
    """torch.nn.InstanceNorm2d: input (N, C, H, W) or (C, H, W)."""
    dims = (4,)


# ----------------------------------------------------------------------------- layer, group, RMS norm
def _shape(where, normalized_shape):
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (normalized_shape,)
    shape = tuple(_positive_int(where, "normalized_shape", s) for s in normalized_shape)
    if not shape:
        raise ParameterError(f"{where}: normalized_shape must not be empty")
    return shape


class LayerNorm(_Norm):
    """torch.nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True)."""

    spec = "layer_norm"

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, *, dtype=np.float32):
        super().__init__(dtype)
        self.normalized_shape = _shape(type(self).__name__, normalized_shape)
        self.eps, self.elementwise_affine = float(eps) if eps is not None else None, bool(elementwise_affine)
        self.has_bias = bool(bias)
        if elementwise_affine:
            self._affine_params(self.normalized_shape, bias=bool(bias) and self.spec == "layer_norm")

    def config(self):
        return {"normalized_shape": list(self.normalized_shape), "eps": self.eps,
                "elementwise_affine": self.elementwise_affine, "bias": self.has_bias}

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"

    def forward(self, x, training=False, out=None):
        x = self._check_input(x)
        k = len(self.normalized_shape)
        if x.ndim < k or x.shape[x.ndim - k:] != self.normalized_shape:
            raise ShapeError(f"{self._where()}: input of shape {x.shape} does not end with the "
                             f"normalized shape {self.normalized_shape}")
        lay = layout(self.spec, x.shape, normalized_ndim=k)
        return self._forward(x, lay, training, True, out=out)[0]


class RMSNorm(LayerNorm):
    """torch.nn.RMSNorm(normalized_shape, eps=None, elementwise_affine=True): eps None is
    the machine epsilon of the input's dtype (torch.finfo(dtype).eps)."""

    spec = "rms_norm"

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, *, dtype=np.float32):
        super().__init__(normalized_shape, eps, elementwise_affine, bias=False, dtype=dtype)

    def config(self):
        return {"normalized_shape": list(self.normalized_shape), "eps": self.eps,
                "elementwise_affine": self.elementwise_affine}

    def _eps(self):
        return float(np.finfo(self.dtype).eps) if self.eps is None else self.eps


class GroupNorm(_Norm):
    """torch.nn.GroupNorm(num_groups, num_channels, eps=1e-5, affine=True): input (N, C, *)."""

    spec = "group_norm"

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, *, dtype=np.float32):
        super().__init__(dtype)
        self.num_groups = _positive_int("GroupNorm", "num_groups", num_groups)
        self.num_channels = _positive_int("GroupNorm", "num_channels", num_channels)
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels must be divisible by num_groups "
                             f"(got {self.num_channels} channels, {self.num_groups} groups)")
        self.eps, self.affine = float(eps), bool(affine)
        if affine:
            self._affine_params(self.num_channels)

    def config(self):
        return {"num_groups": self.num_groups, "num_channels": self.num_channels, "eps": self.eps,
                "affine": self.affine}

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"

    def forward(self, x, training=False, out=None):
        x = self._check_input(x)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ShapeError(f"{self._where()}: input of shape {x.shape} has "
                             f"{x.shape[1] if x.ndim > 1 else 'no'} channels (axis 1), the layer "
                             f"expects {self.num_channels}")
        lay = layout("group_norm", x.shape, num_groups=self.num_groups)
        return self._forward(x, lay, training, True, out=out)[0]


NORM_LAYERS = (BatchNorm1d, BatchNorm2d, BatchNorm3d, LayerNorm, GroupNorm, InstanceNorm1d,
               InstanceNorm2d, RMSNorm)
LAYERS.update({c.__name__: c for c in NORM_LAYERS})

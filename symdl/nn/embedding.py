"""``Embedding`` (torch's name, arguments, weight layout and key): a lookup
table, i.e. the linear map one_hot(i) · W, so its backward is the transpose
rule dW = one_hot(i)ᵀ · g -- the rows of g added into the rows they were
read from (padding_idx's row gets none).

Indices of any shape (N, T) give (N, T, embedding_dim): the (N, T, F)
layout a sequence layer (RNN/GRU/LSTM with ``batch_first=True``) takes, so
``Sequential(Embedding(V, F), <sequence layer>, ...)`` plugs in front of one.
Inside ``Sequential``/``fit`` the indices arrive as floats (the model's
dtype): integral values are accepted, anything else is an error.
"""
from __future__ import annotations

import numpy as np

from symdl.errors import ParameterError, ShapeError

from . import init as _init
from .conv import _int
from .layers import LAYERS, Module

__all__ = ["Embedding", "EMBEDDING_LAYERS"]


class Embedding(Module):
    """weight (num_embeddings, embedding_dim), init N(0, 1) (torch's), with the
    ``padding_idx`` row zero and never updated (its gradient is 0)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, *, dtype=np.float32, rng=None):
        super().__init__(dtype)
        self.num_embeddings = _int("Embedding", "num_embeddings", num_embeddings, 1)
        self.embedding_dim = _int("Embedding", "embedding_dim", embedding_dim, 1)
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise ParameterError("Embedding: max_norm, scale_grad_by_freq and sparse are not "
                                 "supported (leave them at torch's defaults)")
        if padding_idx is not None:
            p = _int("Embedding", "padding_idx", padding_idx, -self.num_embeddings)
            if p >= self.num_embeddings:
                raise ParameterError(f"Embedding: padding_idx {padding_idx} must be within "
                                     f"-{self.num_embeddings}..{self.num_embeddings - 1}")
            padding_idx = p % self.num_embeddings    # torch stores it non-negative
        self.padding_idx = padding_idx
        w = np.empty((self.num_embeddings, self.embedding_dim))
        _init.normal_(w, 0.0, 1.0, rng=rng)
        if padding_idx is not None:
            w[padding_idx] = 0.0
        self._add_param("weight", w.astype(self.dtype))
        self._idx = None

    def config(self):
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim,
                "padding_idx": self.padding_idx}

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}" + (
            "" if self.padding_idx is None else f", padding_idx={self.padding_idx}")

    def _indices(self, x):
        x = np.asarray(x)
        if x.dtype.kind == "f":
            idx = x.astype(np.int64)
            bad = np.flatnonzero(idx.reshape(-1) != x.reshape(-1))
            if bad.size:
                at = np.unravel_index(bad[0], x.shape)
                raise ShapeError(f"{self._where()}: indices must be integers, got {x[at]!r} at "
                                 f"position {tuple(int(i) for i in at)} (input shape {x.shape})")
        elif x.dtype.kind in "iu":
            idx = x.astype(np.int64, copy=False)
        else:
            raise TypeError(f"{self._where()}: indices have dtype {x.dtype}; expected integers")
        bad = np.flatnonzero((idx.reshape(-1) < 0) | (idx.reshape(-1) >= self.num_embeddings))
        if bad.size:
            at = np.unravel_index(bad[0], idx.shape)
            raise ShapeError(f"{self._where()}: index {int(idx[at])} at position "
                             f"{tuple(int(i) for i in at)} is out of range for "
                             f"{self.num_embeddings} embeddings (0..{self.num_embeddings - 1})")
        return idx

    def forward(self, x, training=False, out=None):
        idx = self._indices(x)
        self._idx = idx
        return np.take(self.params["weight"], idx, axis=0)

    def backward(self, grad, out=None, input_grad=True):
        """Fills ``grads["weight"]``; returns None (indices have no gradient)."""
        idx = self._idx
        if idx is None:
            raise RuntimeError(f"{self._where()}: backward() before forward()")
        g = self._input(grad)
        if g.shape != idx.shape + (self.embedding_dim,):
            raise ShapeError(f"{self._where()}: grad has shape {g.shape} but the last forward "
                             f"produced shape {idx.shape + (self.embedding_dim,)}")
        dW = self.grads["weight"]
        dW[...] = 0
        np.add.at(dW, idx.reshape(-1), g.reshape(-1, self.embedding_dim))   # one_hot(i)ᵀ g
        if self.padding_idx is not None:
            dW[self.padding_idx] = 0
        return None

    def _clear(self):
        self._idx = None


EMBEDDING_LAYERS = (Embedding,)
LAYERS.update({c.__name__: c for c in EMBEDDING_LAYERS})

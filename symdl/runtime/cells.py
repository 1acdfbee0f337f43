"""Kernel bundles of the recurrent cells' gate blocks (``symdl.kernel("lstm_cell")``).

A cell's bundle holds one ``GateBlock`` per block of the chosen variant.
``forward(*inputs, *vectors)`` returns the block's results (the new state,
then the saved gate activations) and ``backward(*bwd_args)`` the gradient of
every input (then the per-element contributions of every vector: the layer
sums them over the batch).  Arrays are (batch, hidden), float32 or float64,
all of one dtype; views with strides (column blocks of a gate matrix) work.
"""
from __future__ import annotations

import importlib

import numpy as np

from symdl.errors import ParameterError, ShapeError

#: batch*hidden from which the prange kernels are used
PARALLEL_THRESHOLD = 1 << 15
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


class GateBlock:
    def __init__(self, name: str, module):
        self.name = name
        self.meta = module.BLOCKS[name]
        self._module = module
        self.fwd_args = [*self.meta["inputs"], *self.meta["vectors"]]
        self.results = self.meta["results"]
        self.bwd_args = self.meta["bwd_args"]
        self.grads = self.meta["grads"]
        self._cache: dict = {}

    def fn(self, kind: str, dtype, size: int):
        key = (kind, dtype, size >= PARALLEL_THRESHOLD)
        f = self._cache.get(key)
        if f is None:
            sfx = _SUFFIX.get(np.dtype(dtype))
            if sfx is None:
                raise TypeError(f"{self.name}: gate kernels are float32 or float64, got {dtype}")
            f = getattr(self._module, f"{self.name}_{kind}_{sfx}{'_par' if key[2] else ''}")
            self._cache[key] = f
        return f

    def _check(self, names, arrays):
        if len(arrays) != len(names):
            raise ParameterError(f"{self.name}: expected {len(names)} arrays ({', '.join(names)}), "
                                 f"got {len(arrays)}")
        ref = arrays[0]
        shape = ref.shape
        for n, a in zip(names, arrays):
            if a.dtype != ref.dtype:
                raise TypeError(f"{self.name}: {n} has dtype {a.dtype} but {names[0]} has {ref.dtype}")
            want = (shape[1],) if n in self.meta["vectors"] else shape
            if a.shape != want:
                raise ShapeError(f"{self.name}: {n} has shape {a.shape}, expected {want} "
                                 f"(as {names[0]}: {shape})")
        return shape, ref.dtype

    def forward(self, *arrays, out=None):
        shape, dt = self._check(self.fwd_args, arrays)
        outs = out if out is not None else tuple(np.empty(shape, dt) for _ in self.results)
        self.fn("forward", dt, shape[0] * shape[1])(*arrays, *outs)
        return outs

    def backward(self, *arrays, out=None):
        names = self.bwd_args
        arrs = [a for a, n in zip(arrays, names) if n not in self.meta["vectors"]]
        _, dt = self._check([n for n in names if n not in self.meta["vectors"]], arrs)
        shape = arrs[0].shape
        outs = out if out is not None else tuple(np.empty(shape, dt) for _ in self.grads)
        self.fn("backward", dt, shape[0] * shape[1])(*arrays, *outs)
        return outs


class CellKernels:
    """The gate blocks of one cell variant."""

    def __init__(self, name: str, meta: dict, variant: str):
        self.name, self.meta, self.variant = name, meta, variant
        module = importlib.import_module(meta["module"])
        self.blocks = [GateBlock(b, module) for b in meta["variants"][variant]]

    def __repr__(self):
        return f"CellKernels({self.name!r}, variant={self.variant!r})"


def make_bundle(name: str, meta: dict, module=None, variant=None, **params) -> CellKernels:
    if params:
        raise ParameterError(f"{name} has no parameter {', '.join(map(repr, params))}; "
                             f"its parameters are: variant={meta['params'][0]['default']!r}")
    variant = meta["params"][0]["default"] if variant is None else variant
    if variant not in meta["variants"]:
        raise ParameterError(f"{name}: variant={variant!r} is not one of {list(meta['variants'])}")
    return CellKernels(name, meta, variant)

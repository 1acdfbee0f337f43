"""Kernel bundles of the recurrent cells' gate blocks (``symdl.kernel("lstm_cell")``).

A cell's bundle holds one ``GateBlock`` per block of the chosen variant.
``forward(*inputs, *vectors)`` returns the block's results (the new state,
then the saved gate activations) and ``backward(*bwd_args)`` the gradient of
every input (then the per-element contributions of every vector: the layer
sums them over the batch).  Arrays are (batch, hidden), float32 or float64,
all of one dtype; views with strides (column blocks of a gate matrix) work.
These copy the gate pre-activations into the packed gate matrices the raw
kernels read (``GateBlock.fn``, ``meta["packed"]``); the layers hold their
gates in that layout already and call the raw kernels.
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
        #: input name -> (gate matrix, column block) the raw kernels read it from
        self.packing = {s: (m, k) for m, slots in self.meta["packed"].items()
                        for k, s in enumerate(slots) if s is not None}
        self._cache: dict = {}

    def fn(self, kind: str, dtype, size: int):
        """The raw kernel: arguments ``meta["kernel_fwd"]`` then the results, or
        ``meta["kernel_bwd"]`` then ``meta["kernel_grads"]`` (a packed gate
        matrix is C-contiguous (batch, slots*hidden); nothing is checked)."""
        key = (kind, dtype, size >= PARALLEL_THRESHOLD)
        f = self._cache.get(key)
        if f is None:
            sfx = _SUFFIX.get(np.dtype(dtype))
            if sfx is None:
                raise TypeError(f"{self.name}: gate kernels are float32 or float64, got {dtype}")
            f = getattr(self._module, f"{self.name}_{kind}_{sfx}{'_par' if key[2] else ''}")
            self._cache[key] = f
        return f

    def seq_fn(self, kind: str, dtype):
        """The block's sequence loop (``kind`` "forward" or "backward": all time
        steps in one ``nogil`` call, BLAS through a function pointer;
        ``templates/cells.py.j2``), or None when the block has none."""
        sfx = _SUFFIX.get(np.dtype(dtype))
        return getattr(self._module, f"{self.name}_seq_{kind}_{sfx}", None) if sfx else None

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

    def _pack(self, names, arrays, shape, dt):
        """The raw kernel's arguments from one array per input: the packed inputs copied
        into their gate matrices (column blocks no input fills are zero)."""
        named = dict(zip(names, arrays))
        mats = {m: np.zeros((shape[0], len(slots) * shape[1]), dt) for m, slots in self.meta["packed"].items()}
        for n, (m, k) in self.packing.items():
            if n in named:
                mats[m][:, k * shape[1]:(k + 1) * shape[1]] = named[n]
        return [mats[a] if a in mats else named[a] for a in self._raw_names(names)]

    def _raw_names(self, names):
        out = []
        for n in names:
            n = self.packing[n][0] if n in self.packing else n
            if n not in out:
                out.append(n)
        return out

    def forward(self, *arrays, out=None):
        shape, dt = self._check(self.fwd_args, arrays)
        outs = out if out is not None else tuple(np.empty(shape, dt) for _ in self.results)
        self.fn("forward", dt, shape[0] * shape[1])(*self._pack(self.fwd_args, arrays, shape, dt), *outs)
        return outs

    def backward(self, *arrays, out=None):
        names = self.bwd_args
        arrs = [a for a, n in zip(arrays, names) if n not in self.meta["vectors"]]
        _, dt = self._check([n for n in names if n not in self.meta["vectors"]], arrs)
        shape = arrs[0].shape
        outs = out if out is not None else tuple(np.empty(shape, dt) for _ in self.grads)
        H = shape[1]
        mats = {m: np.zeros((shape[0], len(slots) * H), dt) for m, slots in self.meta["packed"].items()}
        byname = dict(zip(self.grads, outs))
        raw_out = [mats[n] if n in mats else byname[n] for n in self._raw_names(self.grads)]
        self.fn("backward", dt, shape[0] * shape[1])(*self._pack(names, arrays, shape, dt), *raw_out)
        for g, o in zip(self.grads, outs):
            if g in self.packing:
                m, k = self.packing[g]
                o[...] = mats[m][:, k * H:(k + 1) * H]
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

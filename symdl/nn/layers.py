"""Layers on the generated kernels: Linear, Activation, Softmax/LogSoftmax, Dropout.

Every layer has ``params`` and ``grads`` (dicts of NumPy arrays with torch's
names and layouts), ``forward(x, training=False, out=None)`` and
``backward(grad, out=None, input_grad=True)``.  ``backward`` refers to the
last ``forward`` (whose input the layer keeps a reference to) and
*overwrites* ``grads`` (there is no accumulation: no ``zero_grad`` needed).
``out=`` is a hint: a preallocated array the layer may write its result into
(``Sequential`` passes reused buffers this way).  A layer keeps its dtype
(float32 by default, like torch; float64 on request) and casts inputs to it.
"""
from __future__ import annotations

import copy
import math

import numpy as np

from symdl.errors import ParameterError, ShapeError

from . import init as _init

__all__ = ["Module", "Linear", "Activation", "Softmax", "LogSoftmax", "Dropout", "LAYERS"]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in _FLOATS:
        raise TypeError(f"symdl layers are float32 or float64, got dtype {dt}")
    return dt


class Module:
    """Base class: parameter bookkeeping, state dicts, dtype conversion."""

    def __init__(self, dtype=np.float32):
        self.dtype = _dtype(dtype)
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.label = ""          # set by Sequential: "layer 2 (Linear(128, 10))"
        self.training = False    # the mode ``model(x)`` runs in: train() / eval(), as torch

    # ---- to be provided by layers -------------------------------------------------------
    def forward(self, x, training=False, out=None):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad, out=None, input_grad=True):  # pragma: no cover - abstract
        raise NotImplementedError

    def config(self) -> dict:
        """JSON-able constructor arguments (for ``save``/``load``)."""
        return {}

    def extra_repr(self) -> str:
        return ""

    # ---- common API ---------------------------------------------------------------------
    def __call__(self, x, training=None):
        """``forward(x, training=...)``; without ``training=``, in this layer's mode
        (``train()`` / ``eval()``; eval after construction, unlike torch, since
        symdl's ``forward`` defaults to inference)."""
        return self.forward(x, training=self.training if training is None else training)

    def train(self, mode: bool = True):
        """Set training mode (for ``model(x)``); returns self, as torch's ``train()``."""
        self.training = bool(mode)
        for child in getattr(self, "layers", ()):
            child.train(mode)
        return self

    def eval(self):
        """Set inference mode (``train(False)``); returns self."""
        return self.train(False)

    def num_parameters(self) -> int:
        return int(sum(v.size for v in self.params.values()))

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"

    def _where(self) -> str:
        return self.label or repr(self)

    def _add_param(self, name, value):
        self.params[name] = value
        self.grads[name] = np.zeros_like(value)

    def parameters(self) -> list:
        return list(self.params.values())

    def gradients(self) -> list:
        return list(self.grads.values())

    def state_dict(self) -> dict:
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, state, strict=True):
        _load_into(self.params, state, strict, self._where())
        self._params_changed()

    def _params_changed(self):
        """Hook: parameter arrays were replaced (dtype change)."""

    def _input(self, x):
        x = np.asarray(x)
        if x.dtype != self.dtype:
            if x.dtype.kind not in "iuf":
                raise TypeError(f"{self._where()}: input has dtype {x.dtype}; expected numbers")
            x = x.astype(self.dtype)
        elif not x.flags.c_contiguous:
            x = np.ascontiguousarray(x)
        return x

    @staticmethod
    def _buf(out, shape, dtype):
        if out is not None and out.shape == shape and out.dtype == dtype:
            return out
        return np.empty(shape, dtype=dtype)

    def to(self, dtype):
        """Convert this layer's parameters to ``dtype`` in place (like torch's
        ``module.to``); returns self.  New arrays: rebuild optimizers afterwards."""
        dt = _dtype(dtype)
        if dt != self.dtype:
            self.dtype = dt
            self.params = {k: v.astype(dt) for k, v in self.params.items()}
            self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
            self._clear()
            self._params_changed()
        return self

    def astype(self, dtype):
        """A copy of this layer in ``dtype`` (the original is unchanged)."""
        self._clear()
        return copy.deepcopy(self).to(dtype)

    def _clear(self):
        """Forget stored inputs (before copying or saving)."""


def _as_numpy(v):
    if hasattr(v, "detach"):  # a torch tensor
        v = v.detach().cpu().numpy()
    return np.asarray(v)


def _load_into(params: dict, state, strict: bool, where: str, prefix: str = ""):
    state = {k: v for k, v in dict(state).items()}
    missing = [prefix + k for k in params if prefix + k not in state]
    if strict:
        mine = {prefix + k for k in params}
        unexpected = [k for k in state if k.startswith(prefix) and k not in mine]
        if missing or unexpected:
            raise KeyError(f"{where}: state dict does not match: missing {missing or 'nothing'}, "
                           f"unexpected {unexpected or 'nothing'}")
    for k, p in params.items():
        if prefix + k not in state:
            continue
        v = _as_numpy(state[prefix + k])
        if v.shape != p.shape:
            if v.size == p.size == 1:
                v = v.reshape(p.shape)
            else:
                raise ShapeError(f"{where}: {prefix + k} has shape {v.shape} in the state dict but "
                                 f"the parameter has shape {p.shape}")
        if v.dtype.kind not in "iuf":
            raise TypeError(f"{where}: {prefix + k} has dtype {v.dtype}; expected numbers")
        p[...] = v  # in place: optimizers keep references to the arrays


# ----------------------------------------------------------------------------- Linear
class Linear(Module):
    """y = x Wᵀ + b with torch's layout: weight (out_features, in_features), bias (out_features,).

    ``init``: weight initializer (see ``symdl.nn.init``): None is torch's default,
    kaiming_uniform(a=√5) = U(±1/√in_features); a name such as
    ``"xavier_uniform"``, ``"he_normal"``, ``"orthogonal"``; or ``f(array, rng=)``.
    ``bias_init``: None is torch's default U(±1/√in_features); or a name ("zeros").
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, init=None,
                 bias_init=None, dtype=np.float32, rng=None):
        super().__init__(dtype)
        for n, v in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ParameterError(f"Linear: {n} must be a positive integer, got {v!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.init_name = init if isinstance(init, str) or init is None else getattr(init, "__name__", "custom")
        w = np.empty((self.out_features, self.in_features), dtype=np.float64)
        _init.get("default" if init is None else init)(w, rng=rng)
        self._add_param("weight", w.astype(self.dtype))
        if bias:
            b = np.empty(self.out_features, dtype=np.float64)
            if bias_init is None:
                bound = 1.0 / math.sqrt(self.in_features)
                _init.uniform_(b, -bound, bound, rng=rng)
            else:
                _init.get(bias_init)(b, rng=rng)
            self._add_param("bias", b.astype(self.dtype))
        self._x = None

    def config(self):
        return {"in_features": self.in_features, "out_features": self.out_features,
                "bias": "bias" in self.params}

    def extra_repr(self):
        return (f"{self.in_features}, {self.out_features}"
                + ("" if "bias" in self.params else ", bias=False")
                + ("" if self.dtype == np.float32 else f", dtype={self.dtype.name}"))

    def _check(self, x):
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            got = x.shape[-1] if x.ndim else "a scalar"
            raise ShapeError(f"{self._where()} expects inputs with {self.in_features} features "
                             f"(last axis), got {got} (input shape {x.shape})")

    def forward(self, x, training=False, out=None):
        x = self._input(x)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            self._check(x)
            lead = x.shape[:-1]
            y = self.forward(x.reshape(-1, self.in_features), training)
            self._lead = lead
            return y.reshape(*lead, self.out_features)
        self._lead = None
        self._x = x
        y = self._buf(out, (x.shape[0], self.out_features), self.dtype)
        np.matmul(x, self.params["weight"].T, out=y)
        b = self.params.get("bias")
        if b is not None:
            np.add(y, b, out=y)
        return y

    def backward(self, grad, out=None, input_grad=True):
        x = self._x
        if x is None:
            raise RuntimeError(f"{self._where()}: backward() before forward()")
        g = self._input(grad)
        if g.ndim != 2:
            g = g.reshape(-1, self.out_features)
        if g.shape != (x.shape[0], self.out_features):
            raise ShapeError(f"{self._where()}: grad has shape {np.shape(grad)} but the last "
                             f"forward produced shape {(x.shape[0], self.out_features)}")
        W = self.params["weight"]
        np.matmul(g.T, x, out=self.grads["weight"])
        if "bias" in self.grads:
            np.add.reduce(g, axis=0, out=self.grads["bias"])
        if not input_grad:
            return None
        dx = np.matmul(g, W, out=self._buf(out, x.shape, self.dtype))
        return dx.reshape(*self._lead, self.in_features) if self._lead is not None else dx

    def _clear(self):
        self._x = None


# ----------------------------------------------------------------------------- Activation
class Activation(Module):
    """Any elementwise activation through its generated kernels:
    ``Activation("gelu")``, ``Activation("elu", alpha=0.5)``; your own, by
    its bundle (``Activation(symdl.load_kernels(DIR).kernel("my_act"))``),
    by name once its library is loaded, or ``Activation("my_act", kernels=DIR)``.

    Learnable parameters become ``params`` with their gradients in ``grads``:
    prelu's ``weight`` (torch's nn.PReLU: ``num_parameters`` values, one per
    channel on axis 1, init 0.25) and swish's ``beta``.  rrelu samples its
    slopes in training mode (``rng``) and uses their mean in eval mode.
    ``save`` records where a user activation's kernels came from (``kernels``).
    """

    def __init__(self, name, *, num_parameters: int = 1, dtype=np.float32, rng=None,
                 kernels=None, **params):
        super().__init__(dtype)
        from symdl.errors import UnknownNameError
        from symdl.registry import load_kernels, metadata, names

        if not isinstance(name, str):   # a kernel bundle (symdl.kernel / a user library's)
            bundle = name
            if getattr(bundle, "meta", {}).get("family") != "activation":
                raise TypeError(f"Activation takes an activation's name or kernel bundle, not "
                                f"{type(bundle).__name__}")
            name = bundle.name
            params = {**bundle.choices, **bundle.params, **params}
            kernels = kernels or bundle.meta.get("source")
        if kernels is not None:
            _load_library(name, kernels, load_kernels)
        known = names("activation")
        if name not in known:
            raise UnknownNameError("activation", name, known)
        meta, _ = metadata(name)
        self.name = name
        self.source = meta.get("source")       # a user library's directory (None: the catalog)
        self._learnable = [p["name"] for p in meta["params"] if p.get("learnable")]
        self._init_params = {}
        for p in meta["params"]:
            if p["name"] in params and not p.get("learnable"):
                self._init_params[p["name"]] = params[p["name"]]
        bound = dict(params)
        for pname in self._learnable:
            default = next(p["default"] for p in meta["params"] if p["name"] == pname)
            v = np.asarray(params.get(pname, default), dtype=np.float64)
            if v.ndim == 0:
                v = np.full(int(num_parameters), float(v))
            self._add_param(pname, v.astype(self.dtype))
            bound[pname] = self.params[pname]
        self.kernel = _kernel(name, **bound)
        self._params_changed()
        self.rng = rng if rng is not None else (np.random.default_rng() if self.kernel.noise else None)
        self._x = None
        self._noise = None
        self._have_dfdx = False
        self._raw: dict = {}
        self._fast = not self._learnable and self.kernel.noise is None
        # transcendental activations: in training mode one fused kernel gives
        # f(x) and f'(x), and backward is a multiplication (cheaper than a
        # second pass that recomputes exp/erf); piecewise-polynomial ones
        # (relu, hardswish: the spec says so) are cheaper run forward and
        # backward separately
        self._fuse = self._fast and not meta.get("piecewise_polynomial", False)
        self._dfdx = None
        self._ones = None

    def __getstate__(self):  # the kernel bundle holds a module: rebuild it on copy
        state = dict(self.__dict__)
        state["kernel"] = None
        state["_raw"] = {}
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.kernel = _kernel(self.name, **self._init_params, **self.params)
        self._params_changed()

    def _params_changed(self):
        # the bundle reads its learnable values on every call: give it our arrays
        for pname in self._learnable:
            self.kernel.params[pname] = self.params[pname]

    def config(self):
        c = {"name": self.name, **{k: v for k, v in self._init_params.items()}}
        if getattr(self, "source", None):
            from symdl.registry import user_library

            lib = user_library(self.name)
            c["kernels"] = {"path": self.source,
                            "spec_file": getattr(lib, "spec_file", None) if lib else None}
        if self._learnable:
            c["num_parameters"] = int(self.params[self._learnable[0]].size)
        return c

    def extra_repr(self):
        args = [repr(self.name)] + [f"{k}={v!r}" for k, v in self._init_params.items()]
        if self._learnable:
            args.append(f"num_parameters={self.params[self._learnable[0]].size}")
        return ", ".join(args)

    def _kern(self, kind, x):
        """The generated kernel itself, for the common case (no learnable
        parameter, no noise): skips the bundle's per-call checks."""
        key = (kind, x.dtype, x.size)
        fn = self._raw.get(key)
        if fn is None:
            fn = self._raw[key] = (self.kernel._fn(kind, x.dtype, x.size), tuple(self.kernel._scalars()))
        return fn

    def forward(self, x, training=False, out=None):
        x = self._input(x)
        self._x = x
        y = self._buf(out, x.shape, self.dtype)
        if self._fast:
            if training and self._fuse:
                d = self._dfdx
                if d is None or d.shape != x.shape or d.dtype != x.dtype:
                    d = self._dfdx = np.empty(x.shape, x.dtype)
                    self._ones = np.ones(x.size, x.dtype)
                fn, scalars = self._kern("forward_backward", x)
                fn(x.reshape(-1), self._ones, *scalars, y.reshape(-1), d.reshape(-1))
                self._have_dfdx = True
                return y
            self._have_dfdx = False
            fn, scalars = self._kern("forward", x)
            fn(x.reshape(-1), *scalars, y.reshape(-1))
            return y
        if self.kernel.noise is not None:
            self._noise = (self.kernel.sample_noise(x.shape, self.rng, self.dtype)
                           if training else None)
            return self.kernel.forward(x, out=y, noise=self._noise)
        return self.kernel.forward(x, out=y)

    def backward(self, grad, out=None, input_grad=True):
        x = self._x
        if x is None:
            raise RuntimeError(f"{self._where()}: backward() before forward()")
        g = self._input(grad)
        if g.shape != x.shape:
            raise ShapeError(f"{self._where()}: grad has shape {g.shape} but the last forward's "
                             f"input has shape {x.shape}")
        dx = self._buf(out, x.shape, self.dtype)
        if self._fast:
            if self._have_dfdx:
                return np.multiply(g, self._dfdx, out=dx)
            fn, scalars = self._kern("backward", x)
            fn(x.reshape(-1), g.reshape(-1), *scalars, dx.reshape(-1))
            return dx
        if self.kernel.noise is not None:
            return self.kernel.backward(x, g, out=dx, noise=self._noise)
        res = self.kernel.backward(x, g, out=dx)
        for pname, gp in zip(self._learnable, res[1:]):
            self.grads[pname][...] = gp
        return res[0]

    def _clear(self):
        self._x = None
        self._noise = None
        self._raw = {}
        self._dfdx = self._ones = None
        self._have_dfdx = False


# ----------------------------------------------------------------------------- softmax family
class _SoftmaxLayer(Module):
    kernel_name = ""

    def __init__(self, dim: int = -1, *, dtype=np.float32):
        super().__init__(dtype)
        from symdl.registry import kernel
        self.dim = dim
        self.kernel = kernel(self.kernel_name, dim=dim)
        self._x = None

    def __getstate__(self):
        return {**self.__dict__, "kernel": None}

    def __setstate__(self, state):
        from symdl.registry import kernel
        self.__dict__.update(state)
        self.kernel = kernel(self.kernel_name, dim=self.dim)

    def config(self):
        return {"dim": self.dim}

    def extra_repr(self):
        return f"dim={self.dim}"

    def forward(self, x, training=False, out=None):
        x = self._input(x)
        self._x = x
        return self.kernel.forward(x, out=self._buf(out, x.shape, self.dtype))

    def backward(self, grad, out=None, input_grad=True):
        if self._x is None:
            raise RuntimeError(f"{self._where()}: backward() before forward()")
        g = self._input(grad)
        return self.kernel.backward(self._x, g, out=self._buf(out, self._x.shape, self.dtype))

    def _clear(self):
        self._x = None


class Softmax(_SoftmaxLayer):
    """softmax along ``dim`` (max-shifted generated kernel)."""
    kernel_name = "softmax"


class LogSoftmax(_SoftmaxLayer):
    """log_softmax along ``dim``; pair it with ``nll_loss``."""
    kernel_name = "log_softmax"


# ----------------------------------------------------------------------------- Dropout
class Dropout(Module):
    """Dropout with drop probability ``p`` (torch's convention; the notes'
    keep probability is 1 − p).

    * ``mode="inverted"`` (torch's): training multiplies the kept units by
      1/(1 − p); inference is the identity.
    * ``mode="weight_scaling"`` (the notes' inference rule): training only
      zeroes the dropped units; inference multiplies by the keep probability 1 − p.
    """

    MODES = ("inverted", "weight_scaling")

    def __init__(self, p: float = 0.5, mode: str = "inverted", *, dtype=np.float32, rng=None):
        super().__init__(dtype)
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ParameterError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        if mode not in self.MODES:
            raise ParameterError(f"Dropout: mode={mode!r} is not one of {self.MODES}")
        self.p, self.mode = float(p), mode
        self.rng = np.random.default_rng() if rng is None else rng
        self._mask = self._u = None
        self._trained = False

    def config(self):
        return {"p": self.p, "mode": self.mode}

    def extra_repr(self):
        return f"p={self.p}" + ("" if self.mode == "inverted" else f", mode={self.mode!r}")

    def forward(self, x, training=False, out=None):
        x = self._input(x)
        self._trained = training and self.p > 0
        keep = 1.0 - self.p
        if self._trained:
            if self._mask is None or self._mask.shape != x.shape or self._mask.dtype != self.dtype:
                self._u = np.empty(x.shape, self.dtype)
                self._mask = np.empty(x.shape, self.dtype)
            self.rng.random(out=self._u, dtype=self.dtype)
            mask = np.greater_equal(self._u, self.p, out=self._mask)     # 1.0 where kept
            if self.mode == "inverted":
                np.multiply(mask, self.dtype.type(1.0 / keep if keep > 0 else 0.0), out=mask)
            return np.multiply(x, mask, out=self._buf(out, x.shape, self.dtype))
        self._shape = x.shape
        if self.mode == "inverted" or self.p == 0:
            return x
        return np.multiply(x, self.dtype.type(keep), out=self._buf(out, x.shape, self.dtype))

    def backward(self, grad, out=None, input_grad=True):
        g = self._input(grad)
        if self._trained:
            return np.multiply(g, self._mask, out=self._buf(out, g.shape, self.dtype))
        if self.mode == "inverted" or self.p == 0:
            return g
        return np.multiply(g, self.dtype.type(1.0 - self.p), out=self._buf(out, g.shape, self.dtype))

    def _clear(self):
        self._mask = self._u = None


def _load_library(name, kernels, load_kernels):
    """Load the user library an activation's kernels are in: a directory, a
    loaded library, or a saved model's record {"path", "spec_file"}."""
    if hasattr(kernels, "kernel"):
        lib = kernels
        load_kernels(lib.path)
    else:
        rec = kernels if isinstance(kernels, dict) else {"path": str(kernels)}
        path, spec_file = rec.get("path"), rec.get("spec_file")
        try:
            lib = load_kernels(path)
        except FileNotFoundError:
            how = (f"symdl generate --spec-file {spec_file} --out {path}" if spec_file
                   else f"symdl generate --spec-file YOUR_SPECS.py --out {path}")
            raise FileNotFoundError(
                f"activation {name!r} runs on kernels generated from your specs into {path}"
                + (f" (from {spec_file})" if spec_file else "")
                + f", which are missing: regenerate them with `{how}`") from None
    if name not in lib:
        raise ParameterError(f"activation {name!r} is not in the kernel library {lib.path} "
                             f"(it has: {', '.join(lib.names()) or 'nothing'})")


def _kernel(name, **params):
    from symdl.registry import kernel
    return kernel(name, **params)


#: layer classes by name (for ``load``)
LAYERS = {c.__name__: c for c in (Linear, Activation, Softmax, LogSoftmax, Dropout)}

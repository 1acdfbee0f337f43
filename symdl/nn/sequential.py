"""``Sequential``: a stack of layers with torch's state-dict names ("0.weight")."""
from __future__ import annotations

import numpy as np

from symdl.errors import ParameterError

from .layers import LAYERS, Module, _dtype, _load_into
from .serialize import atomic_savez, from_json_array, json_array, read_npz

__all__ = ["Sequential", "load", "CONFIG_KEY"]

#: the .npz member holding the architecture (JSON)
CONFIG_KEY = "__symdl_config__"
_MAX_BUFFERS = 64


def _forward(layer, x, training, out):
    """A sequence layer (symdl.nn.recurrent) returns (output, state): pass its output on."""
    f = getattr(layer, "in_sequential", None)
    return f(x, training) if f is not None else layer.forward(x, training, out)


def _backward(layer, g, out, input_grad):
    f = getattr(layer, "backward_in_sequential", None)
    return f(g) if f is not None else layer.backward(g, out, input_grad)


class Sequential(Module):
    """Layers applied in order.

    >>> model = Sequential(Linear(64, 128), Activation("gelu"), Linear(128, 10))
    >>> logits = model.forward(x, training=True); dx = model.backward(dlogits)
    >>> opt = symdl.optim.Adam(model.parameters(), lr=1e-3); opt.step(model.gradients())

    ``params``/``grads`` are flat dicts with torch's names (``"0.weight"``,
    ``"2.bias"``), so ``model.load_state_dict({k: v.numpy() for k, v in
    torch_seq.state_dict().items()})`` loads a torch ``nn.Sequential`` of the same
    layers.  ``parameters()`` and ``gradients()`` are aligned lists of the same
    arrays (updated in place: an optimizer built once keeps working).

    Intermediate results live in buffers reused between calls with the same
    input shape; the returned output (and input gradient) is always a fresh array.
    """

    def __init__(self, *layers, dtype=None):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise ParameterError(f"Sequential: item {i} is a {type(layer).__name__}, not a "
                                     f"symdl.nn layer")
        if dtype is None:
            with_params = [layer.dtype for layer in layers if layer.params]
            dtype = with_params[0] if with_params else (layers[0].dtype if layers else np.float32)
        super().__init__(dtype)
        self.layers = list(layers)
        for layer in self.layers:
            layer.to(self.dtype) if layer.params else setattr(layer, "dtype", self.dtype)
        self._relabel()
        self._fbuf: dict = {}
        self._bbuf: dict = {}

    # ---- structure ----------------------------------------------------------------------
    def _relabel(self):
        for i, layer in enumerate(self.layers):
            layer.label = f"layer {i} ({layer!r})"

    def add(self, layer):
        """Append a layer (converted to the model's dtype)."""
        if not isinstance(layer, Module):
            raise ParameterError(f"Sequential.add: {type(layer).__name__} is not a symdl.nn layer")
        layer.to(self.dtype) if layer.params else setattr(layer, "dtype", self.dtype)
        self.layers.append(layer)
        self._relabel()
        self._clear()
        return self

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        inner = "".join(f"\n  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        dt = "" if self.dtype == np.float32 else f"  dtype={self.dtype.name}\n"
        return f"Sequential({inner}\n{dt})"

    # ---- parameters -----------------------------------------------------------------------
    @property
    def params(self) -> dict:
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}

    @params.setter
    def params(self, value):  # Module.__init__ assigns {}
        if value:
            raise AttributeError("Sequential.params is derived from its layers")

    @property
    def grads(self) -> dict:
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()}

    @grads.setter
    def grads(self, value):
        if value:
            raise AttributeError("Sequential.grads is derived from its layers")

    def parameters(self) -> list:
        return [v for layer in self.layers for v in layer.params.values()]

    def gradients(self) -> list:
        return [v for layer in self.layers for v in layer.grads.values()]

    def num_parameters(self) -> int:
        return int(sum(v.size for v in self.parameters()))

    def state_dict(self) -> dict:
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, state, strict=True):
        """Copy values into the parameters in place (names and layouts as torch;
        torch tensors are accepted).  ``strict``: the keys must match exactly."""
        state = dict(state)
        mine = self.params
        if strict:
            missing = [k for k in mine if k not in state]
            unexpected = [k for k in state if k not in mine]
            if missing or unexpected:
                raise KeyError(f"state dict does not match the model: missing "
                               f"{missing or 'nothing'}, unexpected {unexpected or 'nothing'} "
                               f"(the model has {list(mine)})")
        for i, layer in enumerate(self.layers):
            if layer.params:
                _load_into(layer.params, state, False, layer._where(), prefix=f"{i}.")
                layer._params_changed()

    def to(self, dtype):
        dt = _dtype(dtype)
        self.dtype = dt
        for layer in self.layers:
            layer.to(dt) if layer.params else setattr(layer, "dtype", dt)
        self._clear()
        return self

    def _clear(self):
        self._fbuf = {}
        self._bbuf = {}
        for layer in self.layers:
            layer._clear()

    # ---- computation ---------------------------------------------------------------------
    def forward(self, x, training=False, out=None):
        x = self._input(x)
        if len(self._fbuf) > _MAX_BUFFERS:
            self._fbuf.clear()
            self._bbuf.clear()
        fb = self._fbuf
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            if i == last:
                y = _forward(layer, x, training, out)
                return y.copy() if (y is x and i > 0) else y  # never hand out a buffer
            key = (i, x.shape, training)
            buf = fb.get(key)
            y = _forward(layer, x, training, buf)
            if buf is None and y is not x:
                fb[key] = y
            x = y
        return x  # no layers: the identity

    def backward(self, grad, out=None, input_grad=True):
        """Gradients of every parameter (into ``grads``) for the cotangent
        ``grad`` of the last forward's output; returns d input (None when
        ``input_grad=False``, which skips the first layer's input gradient)."""
        g = self._input(grad)
        bb = self._bbuf
        for i in range(len(self.layers) - 1, -1, -1):
            layer = self.layers[i]
            if i == 0:
                d = _backward(layer, g, out, input_grad)
                return d.copy() if (d is g and len(self.layers) > 1) else d
            key = (i, g.shape)
            buf = bb.get(key)
            d = _backward(layer, g, buf, True)
            if buf is None and d is not g:
                bb[key] = d
            g = d
        return g if input_grad else None

    def predict(self, X, batch_size=None):
        """Outputs in inference mode (dropout off), computed in batches."""
        X = self._input(X)
        if batch_size is None or len(X) <= batch_size:
            return self.forward(X, training=False)
        parts = [self.forward(X[i:i + batch_size], training=False) for i in range(0, len(X), batch_size)]
        return np.concatenate(parts)

    def fit(self, X, y, **kwargs):
        """Train on (X, y); see ``symdl.train.fit`` for the options.  Returns the history."""
        from symdl.train import fit
        return fit(self, X, y, **kwargs)

    def evaluate(self, X, y, **kwargs):
        """Loss and metrics on (X, y); see ``symdl.train.evaluate``."""
        from symdl.train import evaluate
        return evaluate(self, X, y, **kwargs)

    # ---- files ---------------------------------------------------------------------------
    def config(self) -> dict:
        return {"format": 1, "model": "Sequential", "dtype": self.dtype.name,
                "layers": [{"type": type(layer).__name__, "config": layer.config()}
                           for layer in self.layers]}

    def save(self, path):
        """Architecture and weights in one ``.npz`` (no pickles; atomic write).
        Returns the path written (``.npz`` is appended when there is no suffix)."""
        arrays = {k: v for k, v in self.params.items()}
        arrays[CONFIG_KEY] = json_array(self.config())
        return atomic_savez(path, arrays)

    @classmethod
    def from_config(cls, config: dict) -> "Sequential":
        dtype = np.dtype(config.get("dtype", "float32"))
        layers = []
        for spec in config["layers"]:
            kind = spec["type"]
            if kind not in LAYERS:
                raise ParameterError(f"unknown layer type {kind!r} in a saved model "
                                     f"(known: {', '.join(LAYERS)})")
            layers.append(LAYERS[kind](**spec["config"], dtype=dtype))
        return cls(*layers, dtype=dtype)

    @classmethod
    def load(cls, path) -> "Sequential":
        """A model saved by ``save`` (architecture and weights)."""
        arrays = read_npz(path)
        if CONFIG_KEY not in arrays:
            raise ValueError(f"{path} has no symdl model architecture (was it written by "
                             f"Sequential.save?); load weights with load_weights instead")
        model = cls.from_config(from_json_array(arrays.pop(CONFIG_KEY)))
        model.load_state_dict({k: v for k, v in arrays.items() if not k.startswith("__")})
        return model

    def load_weights(self, path, strict=True):
        """Load the weights of a ``.npz`` written by ``save`` (or ``np.savez(**state_dict)``)."""
        arrays = read_npz(path)
        self.load_state_dict({k: v for k, v in arrays.items() if not k.startswith("__")}, strict)
        return self


def load(path) -> Sequential:
    """``Sequential.load(path)``: a saved model, architecture and weights."""
    return Sequential.load(path)

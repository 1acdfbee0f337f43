"""``Sequential``: a stack of layers with torch's state-dict names ("0.weight")."""
from __future__ import annotations

import numpy as np

from symdl.errors import ParameterError

from .layers import LAYERS, Module, _dtype, _load_into
from .serialize import CONFIG_KEY, atomic_savez, from_json_array, json_array, read_npz

__all__ = ["Sequential", "load", "CONFIG_KEY"]

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
            layer.to(self.dtype) if (layer.params or getattr(layer, "buffers", None)) \
                else setattr(layer, "dtype", self.dtype)
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

    def summary(self, input_shape=None, file=None) -> str:
        """A table of the layers, their output shapes and parameter counts (as
        Keras's ``model.summary()``); printed, and returned.  ``input_shape``:
        one sample's shape, e.g. ``(64,)`` (found from the first Linear when
        omitted); the shapes come from a forward pass on one zero sample."""
        import sys

        if input_shape is None:
            first = next((layer for layer in self.layers if "weight" in layer.params), None)
            if first is not None and getattr(first, "in_features", None):
                input_shape = (first.in_features,)
        shapes = ["?"] * len(self.layers)
        if input_shape is not None:
            x = np.zeros((1, *tuple(input_shape)), dtype=self.dtype)
            for i, layer in enumerate(self.layers):
                x = layer.forward(x, False)
                shapes[i] = str((None, *x.shape[1:]))
        rows = [(f"({i}) {layer!r}", shapes[i], f"{layer.num_parameters():,}")
                for i, layer in enumerate(self.layers)]
        head = ("layer", "output shape", "parameters")
        w = [max(len(r[k]) for r in rows + [head]) for k in range(3)]
        line = "-" * (sum(w) + 4)
        fmt = lambda r: f"{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:>{w[2]}}"  # noqa: E731
        total = self.num_parameters()
        nbytes = total * self.dtype.itemsize
        text = "\n".join([f"Sequential ({self.dtype.name})", line, fmt(head), line,
                          *map(fmt, rows), line,
                          f"total parameters: {total:,} ({nbytes / 1024:.1f} KiB)"])
        print(text, file=file or sys.stdout)
        return text

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
        return {k: v.copy() for k, v in {**self.params, **self.buffers}.items()}

    def load_state_dict(self, state, strict=True):
        """Copy values into the parameters (and buffers: running statistics)
        in place (names and layouts as torch; torch tensors are accepted).
        ``strict``: the keys must match exactly; otherwise the mismatches are
        returned (missing_keys, unexpected_keys, mismatched_keys)."""
        state = dict(state)
        mine = {**self.params, **self.buffers}
        missing = [k for k in mine if k not in state]
        unexpected = [k for k in state if k not in mine]
        if strict:
            if missing or unexpected:
                raise KeyError(f"state dict does not match the model: missing "
                               f"{missing or 'nothing'}, unexpected {unexpected or 'nothing'} "
                               f"(the model has {list(mine)})")
        mismatched = []
        for i, layer in enumerate(self.layers):
            if hasattr(layer, "buffers"):   # normalization layers: parameters and buffers
                mine_i = {k: v for k, v in state.items() if k.startswith(f"{i}.")}
                mismatched += layer.load_state_dict(mine_i, strict=strict, prefix=f"{i}.").mismatched_keys
            elif layer.params:
                _load_into(layer.params, state, False, layer._where(), prefix=f"{i}.")
                layer._params_changed()
        from .normalization import IncompatibleKeys
        return IncompatibleKeys(missing, unexpected, mismatched)

    @property
    def buffers(self) -> dict:
        """Non-learnable state of the layers (running statistics), torch's keys."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers)
                for k, v in getattr(layer, "buffers", {}).items()}

    def to(self, dtype):
        dt = _dtype(dtype)
        self.dtype = dt
        for layer in self.layers:
            layer.to(dt) if (layer.params or getattr(layer, "buffers", None)) else setattr(layer, "dtype", dt)
        self._clear()
        return self

    def _clear(self):
        self._fbuf = {}
        self._bbuf = {}
        for layer in self.layers:
            layer._clear()

    # ---- computation ---------------------------------------------------------------------
    def forward(self, x, training=False, out=None):
        with self._blas_mode():
            return self._run_forward(self._input(x), training, out)

    def _blas_mode(self):
        """One OpenBLAS thread while a model with convolutions runs
        (``symdl.nn.conv.blas_mode``): measured, LeNet forward + backward at batch
        64 in a process with NumPy's 2 OpenBLAS threads, see benchmarks/conv.py."""
        from .conv import blas_mode

        return blas_mode(self.layers)

    def _run_forward(self, x, training, out):
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
        with self._blas_mode():
            return self._run_backward(self._input(grad), out, input_grad)

    def _run_backward(self, g, out, input_grad):
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
    #: what a saved model remembers besides its layers (set by ``symdl train``):
    #: ``classes``, the class name of each output; ``feature_names``, the input
    #: columns in order (``symdl predict`` selects CSV columns by them)
    classes: list | None = None
    feature_names: list | None = None

    def config(self) -> dict:
        cfg = {"format": 1, "model": "Sequential", "dtype": self.dtype.name,
               "layers": [{"type": type(layer).__name__, "config": layer.config()}
                          for layer in self.layers]}
        for k in ("classes", "feature_names"):
            if getattr(self, k) is not None:
                cfg[k] = [str(v) for v in getattr(self, k)]
        return cfg

    def predict_labels(self, X, batch_size=None):
        """The predicted class of each row: its name when the model knows its
        ``classes``, else the output index (argmax)."""
        idx = self.predict(X, batch_size=batch_size).argmax(axis=-1)
        if self.classes is None:
            return idx
        return np.asarray(self.classes, dtype=object)[idx]

    def save(self, path):
        """Architecture and weights in one ``.npz`` (no pickles; atomic write).
        Returns the path written (``.npz`` is appended when there is no suffix)."""
        arrays = {k: v for k, v in {**self.params, **self.buffers}.items()}
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
        model = cls(*layers, dtype=dtype)
        for k in ("classes", "feature_names"):
            if isinstance(config.get(k), list):
                setattr(model, k, [str(v) for v in config[k]])
        return model

    @classmethod
    def load(cls, path) -> "Sequential":
        """A model saved by ``save`` (architecture and weights).  A file that is
        not one raises ``ModelFileError`` ("not a symdl model file: ...")."""
        from symdl.errors import ModelFileError

        from .serialize import check_declared_sizes

        arrays = read_npz(path)
        if CONFIG_KEY not in arrays:
            raise ModelFileError(f"not a symdl model file: {path} has no symdl model "
                                 f"architecture (was it written by Sequential.save?); load bare "
                                 f"weights with load_weights instead")
        try:
            config = from_json_array(arrays.pop(CONFIG_KEY))
            ok = (isinstance(config, dict) and isinstance(config.get("layers"), list)
                  and all(isinstance(s, dict) and isinstance(s.get("type"), str)
                          and isinstance(s.get("config", {}), dict) for s in config["layers"]))
        except (ValueError, TypeError):
            ok = False
        if not ok:
            raise ModelFileError(f"not a symdl model file: {path}: its architecture record is "
                                 f"not a symdl Sequential config")
        check_declared_sizes(config, arrays, path)
        try:
            model = cls.from_config(config)
        except (TypeError, ValueError) as e:
            if isinstance(e, ModelFileError):
                raise
            raise ModelFileError(f"not a consistent symdl model file: {path}: {e}") from None
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

"""``fit``: mini-batch training with a progress bar, metrics, validation,
early stopping and resumable checkpoints (no SymPy import).

>>> history = fit(model, X, y, loss="cross_entropy", optimizer="adam", lr=1e-3,
...               epochs=30, batch_size=32, validation_split=0.1,
...               metrics=["accuracy", "f1"], early_stopping=5,
...               checkpoint="run.npz", seed=0)
>>> history["val_accuracy"][-1]

``model.fit(X, y, ...)`` is the same call.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np

from symdl.errors import ParameterError, ShapeError, SymdlError, UnknownNameError

__all__ = ["fit", "evaluate", "train_step", "History", "TrainingError", "DivergenceWarning",
           "resolve_loss",
           "resolve_optimizer", "check_inputs", "load_checkpoint"]

_MIN_MODE = {"loss", "mae", "mse", "rmse", "fpr", "fnr"}


class TrainingError(SymdlError, RuntimeError):
    """Training stopped: a non-finite loss (the message names epoch and batch)."""

    def __init__(self, msg, epoch=None, batch=None):
        super().__init__(msg)
        self.epoch, self.batch = epoch, batch


class History:
    """Per-epoch values: ``history["loss"]``, ``history["val_accuracy"]``, ...

    ``epoch`` lists the epoch numbers (1-based); ``stopped_epoch`` is set when
    early stopping ended training, ``best_epoch`` is the epoch of the best
    monitored value."""

    def __init__(self, history=None, epoch=None):
        self.history: dict[str, list] = {k: list(v) for k, v in (history or {}).items()}
        self.epoch: list[int] = list(epoch or [])
        self.stopped_epoch = None
        self.best_epoch = None
        self.seconds = 0.0
        self.diverged = False

    def append(self, epoch: int, logs: dict):
        self.epoch.append(epoch)
        for k, v in logs.items():
            self.history.setdefault(k, []).append(float(v))

    def __getitem__(self, key):
        return self.history[key]

    def __contains__(self, key):
        return key in self.history

    def keys(self):
        return self.history.keys()

    def __repr__(self):
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v)
        return f"History({len(self.epoch)} epochs: {last})"

    def to_dict(self) -> dict:
        """The numbers, JSON-able: {"epoch": [...], "history": {...}, ...}."""
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()},
                "best_epoch": self.best_epoch, "stopped_epoch": self.stopped_epoch,
                "seconds": self.seconds}

    def save_json(self, path) -> Path:
        """Write ``to_dict()`` as JSON (atomically); returns the path."""
        import json

        from symdl.nn.serialize import atomic_write_text
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")

    def plot(self, path=None, *, confusion=None, class_names=None, title=None):
        """Loss and metric curves per epoch (train and validation), and with
        ``confusion=`` (a confusion matrix) a panel of it; saved to ``path``
        (PNG, SVG or PDF by its suffix) when given.  Needs matplotlib
        (``pip install 'symdl[plot]'``).  Returns the matplotlib Figure."""
        try:
            import matplotlib
            if path is not None:
                matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("History.plot needs matplotlib: pip install 'symdl[plot]' "
                              "(or pip install matplotlib)") from None
        names = [k for k in self.history if not k.startswith("val_")]
        panels = len(names) + (confusion is not None)
        fig, axes = plt.subplots(1, panels, figsize=(4.2 * panels, 3.6), squeeze=False)
        axes = axes[0]
        for ax, k in zip(axes, names):
            ax.plot(self.epoch, self.history[k], marker="o", ms=3, label=f"train {k}")
            if "val_" + k in self.history:
                ax.plot(self.epoch, self.history["val_" + k], marker="o", ms=3, label=f"validation {k}")
            if self.best_epoch:
                ax.axvline(self.best_epoch, color="0.6", ls=":", lw=1, label="best epoch")
            ax.set_xlabel("epoch")
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.set_title(k)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        if confusion is not None:
            ax = axes[-1]
            cm = np.asarray(confusion)
            im = ax.imshow(cm, cmap="Blues")
            labels = [str(c) for c in (class_names if class_names is not None else range(len(cm)))]
            ax.set_xticks(range(len(cm)), labels, rotation=90 if len(cm) > 6 else 0, fontsize=8)
            ax.set_yticks(range(len(cm)), labels, fontsize=8)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
            ax.set_title("confusion matrix (test)")
            thr = cm.max() / 2 if cm.size else 0
            for (i, j), v in np.ndenumerate(cm):
                ax.text(j, i, str(v), ha="center", va="center", fontsize=7,
                        color="white" if v > thr else "black")
            fig.colorbar(im, ax=ax, fraction=0.046)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=110)
            plt.close(fig)
        return fig


class DivergenceWarning(RuntimeWarning):
    """Training ran to the end but made things worse (the loss rose above its
    value before the first step): the learning rate is probably too large."""


# ----------------------------------------------------------------------------- resolution
def resolve_loss(loss, reduction="mean"):
    """A loss bundle from a name (``symdl.names("loss")``) or a bundle."""
    if hasattr(loss, "forward_backward"):
        return loss
    if getattr(loss, "family", None) == "loss" and isinstance(getattr(loss, "name", None), str):
        loss = loss.name        # a spec (a user's: its kernels loaded with symdl.load_kernels)
    from symdl.registry import kernel, names

    known = names("loss")
    if not isinstance(loss, str) or loss not in known:
        raise UnknownNameError("loss", str(loss), known)
    return kernel(loss, reduction=reduction)


def resolve_optimizer(optimizer, params, lr=None, options=None):
    """An optimizer from a name ("adam", "SGD", ...) or an instance of ``symdl.optim``."""
    from symdl import optim
    from symdl.registry import user_library

    if getattr(optimizer, "family", None) == "optimizer":   # a rule's spec
        optimizer = optimizer.name
    if isinstance(optimizer, str) and user_library(optimizer) is not None:  # a user's rule
        opts = dict(options or {})
        if lr is not None:
            opts["lr"] = lr
        return optim.from_rule(optimizer, params, **opts)
    if isinstance(optimizer, str):
        cls = optim.get(optimizer)
        opts = dict(options or {})
        if lr is not None:
            opts["lr"] = lr
        return cls(params, **opts)
    if isinstance(optimizer, type):
        opts = dict(options or {})
        if lr is not None:
            opts["lr"] = lr
        return optimizer(params, **opts)
    if options:
        raise ParameterError("optimizer_options apply to an optimizer given by name, "
                             "not to an optimizer instance")
    if not hasattr(optimizer, "step"):
        raise ParameterError(f"optimizer must be a name such as 'adam' or a symdl.optim "
                             f"optimizer, got {type(optimizer).__name__}")
    if lr is not None:
        optimizer.lr = lr
    return optimizer


def _is_classification(lossk) -> bool:
    return bool(getattr(lossk, "classes", False))


def _finite_check(X, what):
    bad = ~np.isfinite(X)
    if bad.any():
        r, *c = np.argwhere(bad)[0]
        kind = "NaN" if np.isnan(X[tuple([r, *c])]) else "an infinite value"
        where = f"row {r}" + (f", column {c[0]}" if len(c) == 1 else
                              f", position {tuple(int(i) for i in c)}" if c else "")
        raise ValueError(f"{what} contains {kind} at {where} ({int(bad.sum())} non-finite values "
                         f"in all); remove or impute them before training")


def check_inputs(model, X, y, lossk, what="X"):
    """Validate and convert (X, y) for ``model`` and the loss: numeric finite X in
    the model's dtype, class labels in range (int64) or targets shaped like the output."""
    X = np.asarray(X)
    if X.dtype.kind not in "iufb":
        raise TypeError(f"{what} has dtype {X.dtype}; expected numbers")
    if X.ndim < 2:
        raise ShapeError(f"{what} must be 2-D (samples × features) or more (images: samples × "
                         f"channels × height × width), got shape {X.shape}")
    X = np.ascontiguousarray(X, dtype=model.dtype)
    _finite_check(X, what)
    yname = "y" if what == "X" else what.replace("X", "y")
    y = np.asarray(y)
    if len(y) != len(X):
        raise ShapeError(f"{what} has {len(X)} rows but {yname} has {len(y)}; they must match")
    if len(X) == 0:
        raise ValueError(f"{what} is empty")
    probe = model.forward(X[:1], training=False)
    C = probe.shape[-1] if probe.ndim > 1 else 1
    if _is_classification(lossk) and not (y.dtype.kind == "f" and y.shape == (len(X), C)):
        if y.dtype.kind == "f":
            if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
                raise ValueError(f"{yname} must hold class labels (integers 0..{C - 1}) for "
                                 f"{getattr(lossk, 'name', 'this loss')}; it has non-integral values")
        elif y.dtype.kind not in "iub":
            raise TypeError(f"{yname} has dtype {y.dtype}; expected integer class labels")
        if y.ndim != 1:
            raise ShapeError(f"class labels {yname} must be 1-D, got shape {y.shape}")
        y = y.astype(np.int64)
        bad = np.flatnonzero((y < 0) | (y >= C))
        if bad.size:
            raise ValueError(f"{yname} holds the label {int(y[bad[0]])} (row {int(bad[0])}), outside "
                             f"the class range 0..{C - 1} of the model's {C} outputs")
        if what == "X" and len(y) > 1 and np.all(y == y[0]):
            import warnings
            warnings.warn(f"{yname} holds one class only (label {int(y[0])}): accuracy is "
                          f"trivially 1 and nothing is learned; a classifier needs at least two "
                          f"classes", UserWarning, stacklevel=3)
        return X, np.ascontiguousarray(y)
    if y.dtype.kind not in "iufb":
        raise TypeError(f"{yname} has dtype {y.dtype}; expected numbers")
    y = np.asarray(y, dtype=model.dtype)
    want = (len(X),) + probe.shape[1:]
    if y.shape != want:
        if y.size == int(np.prod(want)):
            y = y.reshape(want)
        else:
            raise ShapeError(f"{yname} has shape {y.shape} but the model's outputs for {what} have "
                             f"shape {want}")
    _finite_check(y, yname)
    return X, np.ascontiguousarray(y)


def _metric_fns(metrics):
    from symdl import metrics as M

    out = []
    for m in metrics or ():
        if callable(m):
            out.append((getattr(m, "__name__", "metric"), "classification", m))
        else:
            kind, fn = M.get(m)
            out.append((m, kind, fn))
    return out


def _labels_of(outputs, lossk):
    if outputs.ndim > 1 and outputs.shape[-1] > 1:
        return outputs.argmax(axis=-1)
    thr = 0.0 if "logits" in getattr(lossk, "name", "") else 0.5
    return (outputs.reshape(len(outputs), -1)[:, 0] > thr).astype(np.int64)


def _compute_metrics(mfns, y, outputs, lossk, prefix="", labels=None):
    logs = {}
    C = outputs.shape[-1] if outputs.ndim > 1 and outputs.shape[-1] > 1 else 2
    for name, kind, fn in mfns:
        if kind == "regression":
            logs[prefix + name] = fn(y, outputs)
        else:
            if labels is None:
                labels = _labels_of(outputs, lossk)
            yt = y if y.ndim == 1 else (y.argmax(-1) if y.shape[-1] > 1 else (y[:, 0] > 0.5))
            try:
                logs[prefix + name] = fn(yt, labels, num_classes=C)
            except TypeError:
                logs[prefix + name] = fn(yt, labels)
    return logs


def _loss_value(lossk, outputs, y, batch_size=4096):
    """Mean loss over all rows (in batches, weighted by batch size)."""
    total, n = 0.0, len(outputs)
    for s in range(0, n, batch_size):
        e = min(n, s + batch_size)
        total += float(lossk.forward(outputs[s:e], y[s:e])) * (e - s)
    return total / n


def evaluate(model, X, y, loss="cross_entropy", metrics=("accuracy",), batch_size=1024) -> dict:
    """{"loss": ..., metric: ...} of ``model`` on (X, y) in inference mode."""
    lossk = resolve_loss(loss)
    X, y = check_inputs(model, X, y, lossk)
    out = model.predict(X, batch_size=batch_size)
    logs = {"loss": _loss_value(lossk, out, y)}
    logs.update(_compute_metrics(_metric_fns(metrics), y, out, lossk))
    return logs


def _takes_out(lossk) -> bool:
    """Does the loss bundle's forward_backward take out= buffers?"""
    ok = getattr(lossk, "_symdl_takes_out", None)
    if ok is None:
        import inspect
        try:
            ok = "out" in inspect.signature(lossk.forward_backward).parameters
        except (TypeError, ValueError):
            ok = False
        try:
            lossk._symdl_takes_out = ok
        except AttributeError:
            pass
    return ok


def _loss_and_grad(lossk, out, y, buffers=None):
    """The loss and d loss / d out; with ``buffers`` (a dict kept between
    calls) the loss writes into arrays reused per output shape."""
    if buffers is None:
        return lossk.forward_backward(out, y)
    bufs = buffers.get(out.shape)
    if bufs is None:
        bufs = buffers[out.shape] = (np.empty((), out.dtype), np.empty_like(out))
    return lossk.forward_backward(out, y, out=bufs)


def blas_mode(model):
    """The BLAS threading of ``model``'s training steps (a reusable context
    manager): ``symdl.nn.conv.blas_mode`` of its layers.  A model with
    convolutions runs OpenBLAS on one thread: its conv layers then split the
    batch over Numba's threads, and the process has one thread pool (two fight
    over the cores: OpenBLAS's workers spin after each threaded product).
    Measured (benchmarks/conv.py, LeNet step, batch 64, 28x28, 2 cores):
    6.3-7.2 ms against 12.5-12.8 ms with OpenBLAS's 2 threads.  Any other
    model: no change."""
    from symdl.nn.conv import blas_mode as layers_mode

    return layers_mode(getattr(model, "layers", (model,)))


def train_step(model, lossk, optimizer, x, y, buffers=None) -> float:
    """One step: forward (training mode), loss and its gradient, backward,
    optimizer step.  Returns the loss (before the step).  ``buffers``: a dict
    kept between calls, where the loss's outputs are reused.  The BLAS
    threading is ``blas_mode(model)``'s."""
    with blas_mode(model):
        val, dout = _loss_and_grad(lossk, model.forward(x, training=True), y,
                                   buffers if buffers is not None and _takes_out(lossk) else None)
        model.backward(dout, input_grad=False)
    optimizer.step(model.gradients())
    return float(val)


# ----------------------------------------------------------------------------- checkpoints
def _save_checkpoint(path, model, optimizer, epoch, history, rng, best, wait, best_state, extra):
    from symdl.nn.serialize import CONFIG_KEY, atomic_savez, flatten, json_array

    arrays = dict(model.params)
    arrays.update(getattr(model, "buffers", {}))   # running statistics
    if hasattr(model, "config"):
        arrays[CONFIG_KEY] = json_array(model.config())
    odesc = flatten(optimizer.state_dict(), "__optim__", arrays)
    if best_state is not None:
        for k, v in best_state.items():
            arrays[f"__best__/{k}"] = v
    layer_rngs = [getattr(layer, "rng", None) for layer in getattr(model, "layers", [])]
    meta = {"format": 1, "epoch": epoch, "history": history.history, "epochs": history.epoch,
            "rng": rng.bit_generator.state,
            "layer_rngs": [r.bit_generator.state if r is not None else None for r in layer_rngs],
            "best": best, "wait": wait, "best_epoch": history.best_epoch,
            "optimizer": odesc, "optimizer_class": type(optimizer).__name__, **extra}
    arrays["__train__"] = json_array(meta)
    return atomic_savez(path, arrays)


def load_checkpoint(path) -> dict:
    """The contents of a checkpoint: {"model": state dict, "optimizer": state dict,
    "epoch": completed epochs, "history": {...}, ...}."""
    from symdl.nn.serialize import from_json_array, read_npz, unflatten

    arrays = read_npz(path, "symdl checkpoint")
    if "__train__" not in arrays:
        from symdl.errors import ModelFileError
        raise ModelFileError(f"not a symdl checkpoint file: {path} (no __train__ entry)")
    meta = from_json_array(arrays["__train__"])
    meta["model"] = {k: v for k, v in arrays.items() if not k.startswith("__")}
    meta["optimizer_state"] = unflatten(meta["optimizer"], arrays)
    best = {k[len("__best__/"):]: v for k, v in arrays.items() if k.startswith("__best__/")}
    meta["best_state"] = best or None
    return meta


# ----------------------------------------------------------------------------- fit
def _show_bar(verbose) -> bool:
    if verbose != 1:
        return False
    try:
        if not sys.stderr.isatty():
            return False
    except (AttributeError, ValueError):
        return False
    import shutil
    # a zero-size (or tiny) terminal: one line per epoch, not blank bar lines
    return shutil.get_terminal_size(fallback=(0, 0)).columns >= 40


def _fmt(logs):
    return "  ".join(f"{k} {v:.4f}" for k, v in logs.items())


def fit(model, X, y, *, loss="cross_entropy", optimizer="adam", lr=None, optimizer_options=None,
        epochs=10, batch_size=32, validation_data=None, validation_split=0.0,
        metrics=("accuracy",), early_stopping=None, monitor=None, min_delta=0.0,
        restore_best=True, checkpoint=None, resume=False, verbose=1, seed=None, shuffle=True,
        scheduler=None, clip_grad_norm=None, regularizers=None) -> History:
    """Train ``model`` on (X, y) with mini-batches; returns a ``History``.

    * ``loss``: a name of ``symdl.names("loss")`` (mean reduction) or a loss bundle.
      With cross_entropy/nll_loss, y holds class labels 0..C−1 (C = output width).
    * ``optimizer``: a name of ``symdl.optim`` ("adam", "sgd", ...; ``lr`` and
      ``optimizer_options`` go to its constructor) or an optimizer instance.
    * ``validation_data=(Xv, yv)`` or ``validation_split`` (the last fraction of
      X, before shuffling); adds ``val_loss`` and ``val_<metric>``.
    * ``metrics``: names of ``symdl.metrics`` ("accuracy", "f1", "f1_micro", "mcc", "mae", ...).
    * ``early_stopping=patience``: stop after that many epochs without improvement of
      ``monitor`` (default val_loss, else loss) by more than ``min_delta``; then
      restore the best weights (``restore_best``).
    * ``checkpoint=path``: after every epoch, model + optimizer state + epoch +
      history + random state in one .npz (atomic write; ``Sequential.load``
      reads it as a model).  ``resume=True`` continues from it when it exists.
    * ``verbose``: 0 silent, 1 a progress bar on a terminal (else one line per
      epoch), 2 one line per epoch.  ``seed``: shuffling and dropout.
    * ``scheduler``: an ``symdl.optim`` LR scheduler, stepped after each epoch
      (``ReduceLROnPlateau`` with the monitored value), or a function of the
      optimizer that builds one.
    * ``regularizers``: weight penalties (``symdl.regularizers``), e.g.
      ``{"l2": 1e-4, "l1": 1e-5}``: their derived gradients are added to the
      weight matrices' gradients before each step, their values to the loss.
    * ``clip_grad_norm=max_norm``: before each step, scale the gradients so that
      their global norm is at most max_norm (``symdl.nn.clip.clip_grad_norm_``).
    * Sequences: X of shape (N, T, F) with a sequence model, e.g.
      ``Sequential(LSTM(F, H, batch_first=True), LastStep(), Linear(H, 1))``.

    A non-finite loss raises ``TrainingError`` naming the epoch and batch; the
    parameters keep the values of the last good step and the checkpoint file
    (written only after complete epochs) stays intact.
    """
    t_start = time.perf_counter()
    lossk = resolve_loss(loss)
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ParameterError(f"epochs must be a non-negative integer, got {epochs!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ParameterError(f"batch_size must be a positive integer, got {batch_size!r}")
    cold, t_cold = [], time.perf_counter()
    if verbose and epochs:      # before any kernel runs (check_inputs calls the model)
        from symdl.runtime.jitcache import cold_modules
        cold = cold_modules("_f32" if model.dtype == np.float32 else "_f64")
        if cold:
            print(f"compiling kernels (first run only; cached for later runs): "
                  f"{', '.join(m.rsplit('.', 1)[-1] for m in cold)}", file=sys.stderr, flush=True)
    X, y = check_inputs(model, X, y, lossk)
    if validation_data is not None:
        if validation_split:
            raise ParameterError("give validation_data or validation_split, not both")
        Xv, yv = check_inputs(model, validation_data[0], validation_data[1], lossk, "validation X")
    elif validation_split:
        if not 0.0 < validation_split < 1.0:
            raise ParameterError(f"validation_split must be in (0, 1), got {validation_split!r}")
        nv = int(math.ceil(len(X) * validation_split))
        if nv >= len(X):
            raise ValueError(f"validation_split={validation_split} leaves no training rows")
        X, Xv, y, yv = X[:-nv], X[-nv:], y[:-nv], y[-nv:]
    else:
        Xv = yv = None
    mfns = _metric_fns(metrics)
    opt = resolve_optimizer(optimizer, model.parameters(), lr, optimizer_options)
    from symdl import regularizers as _reg
    regs = _reg.resolve(regularizers)
    if callable(scheduler) and not hasattr(scheduler, "step"):
        scheduler = scheduler(opt)
    rng = np.random.default_rng(seed)
    layers = list(getattr(model, "layers", []))
    if seed is not None:
        for i, layer in enumerate(layers):
            if getattr(layer, "rng", None) is not None:
                layer.rng = np.random.default_rng([int(seed), i])

    if monitor is None:
        monitor = "val_loss" if Xv is not None else "loss"
    logged = {"loss"} | {m[0] for m in mfns}
    logged |= {"val_" + k for k in logged} if Xv is not None else set()
    if monitor not in logged:
        raise ParameterError(f"monitor={monitor!r} is not among the logged values "
                             f"({', '.join(sorted(logged))})")
    mode_min = monitor.removeprefix("val_") in _MIN_MODE or monitor.endswith("loss")
    history = History()
    best = math.inf if mode_min else -math.inf
    wait, start, best_state = 0, 0, None
    ckpt = None if checkpoint is None else Path(checkpoint)
    if ckpt is not None and resume:
        from symdl.nn.serialize import npz_path
        if npz_path(ckpt).exists():
            state = load_checkpoint(npz_path(ckpt))
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer_state"])
            history = History(state["history"], state["epochs"])
            history.best_epoch = state.get("best_epoch")
            start = int(state["epoch"])
            rng.bit_generator.state = state["rng"]
            for layer, st in zip(layers, state.get("layer_rngs") or []):
                if st is not None and getattr(layer, "rng", None) is not None:
                    layer.rng.bit_generator.state = st
            best = state["best"] if state["best"] is not None else best
            wait = int(state["wait"])
            best_state = state["best_state"]
            if verbose:
                print(f"resuming from {npz_path(ckpt)} after epoch {start}", file=sys.stderr)
        elif verbose:
            print(f"no checkpoint at {npz_path(ckpt)} yet: starting from scratch", file=sys.stderr)

    n = len(X)
    nb = (n + batch_size - 1) // batch_size
    bar_on = _show_bar(verbose)
    tqdm = None
    if bar_on:
        try:
            if "ipykernel" in sys.modules:       # a notebook: its widget bar
                from tqdm.auto import tqdm
            else:                                # a terminal (tqdm.auto imports asyncio)
                from tqdm.std import tqdm
        except ImportError:  # pragma: no cover - tqdm is a dependency
            bar_on = False
    line_on = verbose >= 1 and not bar_on
    classify_metrics = [m for m in mfns if m[1] == "classification"]
    train_labels = np.empty(n, dtype=np.int64) if classify_metrics else None
    train_out = None
    if any(m[1] == "regression" for m in mfns):
        train_out = np.empty((n,) + model.forward(X[:1]).shape[1:], dtype=model.dtype)
    grads = model.gradients()
    # the loss's outputs go to reused buffers (one per batch shape)
    lbufs: dict = {}
    loss_out = _takes_out(lossk)
    initial_loss = None

    step_blas = blas_mode(model)
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        if shuffle:
            perm = rng.permutation(n)
            Xs, ys = X[perm], y[perm]
        else:
            Xs, ys = X, y
        # on a first run the bar starts after the first batch (its compile time
        # would make the estimate of the remaining time wrong)
        first_cold = bool(cold) and epoch == start
        bar = tqdm(total=nb, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", leave=True,
                   dynamic_ncols=True, mininterval=0.2, file=sys.stderr) \
            if bar_on and not first_cold else None
        total = 0.0
        for b in range(nb):
            s = b * batch_size
            e = min(n, s + batch_size)
            xb, yb = Xs[s:e], ys[s:e]
            with step_blas:
                out = model.forward(xb, training=True)
            val, dout = _loss_and_grad(lossk, out, yb, lbufs if loss_out else None)
            val = float(val)
            if initial_loss is None:
                initial_loss = val
            if not math.isfinite(val):
                if bar is not None:
                    bar.close()
                where = (f"; the last good checkpoint {ckpt} (after epoch {epoch}) is intact"
                         if ckpt is not None and epoch > 0 else "")
                raise TrainingError(
                    f"non-finite loss ({val}) at epoch {epoch + 1}, batch {b + 1} of {nb}: training "
                    f"stopped; the parameters are those before this batch{where}. Try a smaller "
                    f"learning rate or check the inputs' scale", epoch=epoch + 1, batch=b + 1)
            with step_blas:
                model.backward(dout, input_grad=False)
            if regs:
                val += _reg.apply(regs, model)
            if clip_grad_norm is not None:
                from symdl.nn.clip import clip_grad_norm_
                clip_grad_norm_(grads, clip_grad_norm)
            opt.step(grads)
            total += val * (e - s)
            if train_labels is not None:
                train_labels[s:e] = _labels_of(out, lossk)
            if train_out is not None:
                train_out[s:e] = out
            if first_cold and b == 0:
                if verbose:
                    print(f"kernels compiled in {time.perf_counter() - t_cold:.1f} s",
                          file=sys.stderr, flush=True)
                if bar_on:
                    bar = tqdm(total=nb, desc=f"epoch {epoch + 1}/{epochs}", unit="batch",
                               leave=True, dynamic_ncols=True, mininterval=0.2, file=sys.stderr)
            if bar is not None:
                bar.update(1)
                if b % 16 == 0 or b == nb - 1:
                    bar.set_postfix_str(f"loss {total / e:.4f}", refresh=False)
        logs = {"loss": total / n}
        if mfns:
            if train_out is not None:
                logs.update(_compute_metrics([m for m in mfns if m[1] == "regression"], ys,
                                             train_out, lossk))
            if classify_metrics:
                logs.update(_compute_metrics(classify_metrics, ys, out if train_out is None else train_out,
                                             lossk, labels=train_labels))
        if Xv is not None:
            vout = model.predict(Xv, batch_size=max(1024, batch_size))
            logs["val_loss"] = _loss_value(lossk, vout, yv)
            logs.update(_compute_metrics(mfns, yv, vout, lossk, prefix="val_"))
        if scheduler is not None:
            if getattr(scheduler, "needs_metric", False):
                scheduler.step(logs[monitor] if monitor in logs else logs["loss"])
            else:
                scheduler.step()
        history.append(epoch + 1, logs)
        # early stopping bookkeeping
        if monitor not in logs:
            raise ParameterError(f"monitor={monitor!r} is not among the logged values "
                                 f"({', '.join(logs)})")
        cur = logs[monitor]
        improved = cur < best - min_delta if mode_min else cur > best + min_delta
        if improved:
            best, wait = cur, 0
            history.best_epoch = epoch + 1
            if early_stopping is not None and restore_best:
                best_state = model.state_dict()
        else:
            wait += 1
        stop = early_stopping is not None and wait >= early_stopping
        dt = time.perf_counter() - t0
        if bar is not None:
            bar.set_postfix_str(_fmt(logs), refresh=True)
            bar.close()
        elif line_on:
            print(f"epoch {epoch + 1}/{epochs}  {_fmt(logs)}  ({dt:.2f} s)", flush=True)
        if ckpt is not None:
            _save_checkpoint(ckpt, model, opt, epoch + 1, history, rng, best, wait, best_state, {})
        if stop:
            history.stopped_epoch = epoch + 1
            if verbose:
                print(f"early stopping after epoch {epoch + 1}: {monitor} has not improved for "
                      f"{wait} epochs (best {best:.4f} at epoch {history.best_epoch})",
                      file=sys.stderr)
            break
    if early_stopping is not None and restore_best and best_state is not None:
        model.load_state_dict(best_state)
    history.optimizer = opt
    history.seconds = time.perf_counter() - t_start
    _warn_if_diverged(history, initial_loss, model, verbose)
    return history


def _warn_if_diverged(history, initial_loss, model, verbose):
    """A run that ends worse than it started (last epoch's mean loss above the
    loss of the first batch before any step), or with weights grown past 1e6,
    gets a ``DivergenceWarning`` (SGD's non-finite loss already stops with
    ``TrainingError``; Adam-like steps are bounded by lr and may not)."""
    import warnings

    if not history.epoch or initial_loss is None or "loss" not in history:
        return
    last = history["loss"][-1]
    wmax = max((float(np.max(np.abs(p))) for p in model.parameters() if p.size), default=0.0)
    why = []
    if last > initial_loss and len(history.epoch) > 1:
        why.append(f"the training loss rose from {initial_loss:.4g} (before the first step) to "
                   f"{last:.4g} (epoch {history.epoch[-1]})")
    if wmax > 1e6:
        why.append(f"the largest weight is {wmax:.3g}")
    if why:
        history.diverged = True
        warnings.warn("training diverged: " + "; ".join(why) + ". Try a smaller learning rate",
                      DivergenceWarning, stacklevel=3)


# the command line moved to symdl.train_cli; its names stay reachable here
_CLI_NAMES = ("register", "schedule_factory", "_cmd_train", "_cmd_task", "_check_train_args",
              "_DefaultsFormatter")


def __getattr__(name: str):
    if name in _CLI_NAMES:
        import importlib

        return getattr(importlib.import_module("symdl.train_cli"), name)
    raise AttributeError(f"module 'symdl.train' has no attribute {name!r}")

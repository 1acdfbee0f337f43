"""Kernel bundles for the softmax family and the losses (no SymPy import).

``make_bundle(name, meta, module, **params)`` returns a ``Softmax`` bundle
(softmax, log_softmax, softmin, logsumexp, glu, maxout: ``forward(x)``,
``backward(x, grad)``, ``forward_backward(x, grad)``), a ``Loss`` bundle
(cross_entropy, nll_loss: ``forward(input, target)``,
``backward(input, target, grad=1.0)`` -> d input, ``forward_backward``;
cached row statistics with ``save_stats=True`` / ``stats=``) or a
``TermLoss`` bundle (every other loss: ``forward(*args)``,
``backward(*args, grad=1.0)``, ``grads(*args)`` -> every differentiated
argument), with torch's argument order and options.

Arrays of any shape are viewed as (outer, C, inner) around the reduced axis
and handed to the generated kernels (serial, or ``prange`` over rows above
``PARALLEL_THRESHOLD`` elements).  dtype in = dtype out (float32/float64;
integer inputs become float64).
"""
from __future__ import annotations

import importlib
import math
import numbers
import warnings

import numpy as np

from symdl.errors import ParameterError, ShapeError

from .arrays import as_float_array, check_out

__all__ = ["Softmax", "Loss", "TermLoss", "make_bundle", "PARALLEL_THRESHOLD"]

#: elements from which the prange variant is used
PARALLEL_THRESHOLD = 1 << 15
_SUFFIX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


def make_bundle(name: str, meta: dict, module, **params):
    """The bundle for a spec of family "softmax" or "loss" (registry entry point).
    A loss whose metadata names another ``module`` (the loss index does) has
    its kernels, and their argument lists, there: that module is imported now."""
    fam = meta["family"]
    if fam == "softmax":
        return Softmax(name, meta, module, **params)
    if fam == "loss":
        modname = meta.get("module")
        if modname and getattr(module, "__name__", None) != modname:
            module = importlib.import_module(modname)
            meta = module.SPECS[name]
        if meta.get("kind") == "term":
            return TermLoss(name, meta, module, **params)
        return Loss(name, meta, module, **params)
    raise ParameterError(f"{name}: family {fam!r} is not served by symdl.runtime.reductions")


def _listing(meta) -> str:
    return ", ".join(f"{p['name']}={p['default']!r}" for p in meta["params"]) or "none"


def _check_params(name, meta, given):
    known = {p["name"] for p in meta["params"]}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ParameterError(f"{name} has no parameter {', '.join(map(repr, unknown))}; "
                             f"its parameters are: {_listing(meta)}")


def _prod(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def _norm_dim(dim, ndim, shape, what="dim"):
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise ParameterError(f"{what} must be an integer, got {dim!r}")
    nd = max(ndim, 1)
    if not -nd <= dim < nd:
        raise ShapeError(f"{what}={dim} is out of range for an input of shape {tuple(shape)} "
                         f"(valid: {-nd}..{nd - 1})")
    return dim % nd


def _loss_grad(name, reduction, grad, oshape, dtype):
    """The incoming gradient of a loss: a float for a reduced loss, else an
    array of the loss's shape (a scalar is broadcast); errors name both shapes."""
    g = np.asarray(grad)
    if reduction != "none":
        if g.size != 1:
            raise ShapeError(f"grad has shape {g.shape} but {name} with reduction="
                             f"{reduction!r} returns a scalar; grad must be a scalar")
        return float(g.reshape(()))
    g = as_float_array(g, "grad", dtype=dtype)
    if g.shape != tuple(oshape):
        if g.ndim == 0:
            return np.full(oshape, g, dtype=dtype)
        raise ShapeError(f"grad has shape {g.shape} but the loss (reduction='none') has shape "
                         f"{tuple(oshape)}; they must match")
    return g


_ARITH = {"f32": np.float32, "f64": np.float64}


class _Bundle:
    def __init__(self, name, meta, module):
        self.name, self.meta, self._module = name, meta, module
        self._cache: dict = {}
        self._work_meta: dict = meta.get("work", {})

    def _work(self, name, dtype, outer, C, inner) -> tuple:
        """The work arrays kernel ``name`` (``<key>_<kind>``) takes after its
        outputs (codegen.reductions.KernelPlan.work): a float64 (rows, n)
        buffer of per-row sums, and the (row blocks, n, C) scratch rows in the
        arithmetic dtype; none for most kernels."""
        w = self._work_meta.get(name)
        if w is None:
            return ()
        nred, nscr, arith = w
        rows = outer * inner
        out = (np.empty((rows, nred)),) if nred else ()
        if nscr:
            nblk = -(-rows // self._module.ROW_BLOCK)
            out += (np.empty((nblk, nscr, C), dtype=_ARITH[arith[_SUFFIX[dtype]]]),)
        return out

    def _fn(self, key, kind, dtype, n):
        fname = f"{key}_{kind}_{_SUFFIX[dtype]}{'_par' if n >= PARALLEL_THRESHOLD else ''}"
        fn = self._cache.get(fname)
        if fn is None:
            fn = self._cache[fname] = getattr(self._module, fname)
        return fn

    @staticmethod
    def _outs(out, shapes, dtype):
        if out is None:
            return [np.empty(s, dtype=dtype) for s in shapes]
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        if len(outs) != len(shapes):
            raise ParameterError(f"out= needs {len(shapes)} array(s), got {len(outs)}")
        for o, s in zip(outs, shapes):
            check_out(o, s, dtype)
        return outs


# ----------------------------------------------------------------------------- softmax family
class Softmax(_Bundle):
    """softmax / log_softmax / softmin (output shaped like x) and logsumexp
    (``dim`` removed) along ``dim``."""

    def __init__(self, name, meta, module, dim=None, **params):
        super().__init__(name, meta, module)
        _check_params(name, meta, params)
        defaults = {p["name"]: p["default"] for p in meta["params"]}
        dim = defaults["dim"] if dim is None else dim
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
            raise ParameterError(f"{name}: dim must be an integer, got {dim!r}")
        self.dim = int(dim)
        self.reduces = list(meta["out_axes"]) == ["r"]
        self.layout = meta.get("layout", "dim")
        self.pool_size = None
        if self.layout == "pool":
            k = params.get("pool_size", defaults["pool_size"])
            if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
                raise ParameterError(f"{name}: pool_size must be a positive integer, got {k!r}")
            self.pool_size = int(k)

    def __repr__(self):
        extra = f", pool_size={self.pool_size}" if self.pool_size else ""
        return f"<symdl kernel {self.name}(dim={self.dim}{extra})>"

    def _layout(self, x):
        """(outer, C, inner, output shape): the kernels' view of x."""
        d = _norm_dim(self.dim, x.ndim, x.shape)
        shape = x.shape if x.ndim else (1,)
        outer, C, inner = _prod(shape[:d]), int(shape[d]), _prod(shape[d + 1:])
        if self.layout == "dim":
            oshape = (x.shape[:d] + x.shape[d + 1:]) if self.reduces and x.ndim else x.shape
            return outer, C, inner, oshape
        k = 2 if self.layout == "halves" else self.pool_size
        if x.ndim == 0 or C % k:
            what = ("halving dimension must be even" if self.layout == "halves"
                    else f"the size of dim must be a multiple of pool_size={k}")
            raise ShapeError(f"{self.name}: {what}, but dimension {d} of the input of shape "
                             f"{tuple(x.shape)} has size {C if x.ndim else 0}")
        oshape = x.shape[:d] + (C // k,) + x.shape[d + 1:]
        if self.layout == "halves":   # rows: (outer, C/2 * inner); c: which half
            return outer, 2, (C // 2) * inner, oshape
        return outer * (C // k), k, inner, oshape   # rows: (outer, group, inner); c: in the group

    def forward(self, x, out=None):
        x = as_float_array(x, "x")
        outer, C, inner, oshape = self._layout(x)
        (y,) = self._outs(out, [oshape], x.dtype)
        if x.size:
            self._fn(self.name, "forward", x.dtype, x.size)(
                x.reshape(-1), outer, C, inner, y.reshape(-1),
                *self._work(self.name + "_forward", x.dtype, outer, C, inner))
        elif y.size:  # logsumexp over an empty axis
            y.fill(-np.inf)
        return y

    def _grad(self, x, grad, oshape):
        g = as_float_array(grad, "grad", dtype=x.dtype)
        if g.shape != tuple(oshape):
            raise ShapeError(f"grad has shape {g.shape} but {self.name}'s output for x of shape "
                             f"{x.shape} (dim={self.dim}) has shape {tuple(oshape)}; they must match")
        return g

    def backward(self, x, grad, out=None):
        """d/dx of sum(grad * f(x)), i.e. the VJP."""
        x = as_float_array(x, "x")
        outer, C, inner, oshape = self._layout(x)
        g = self._grad(x, grad, oshape)
        (dx,) = self._outs(out, [x.shape], x.dtype)
        if x.size:
            self._fn(self.name, "backward", x.dtype, x.size)(
                x.reshape(-1), g.reshape(-1), outer, C, inner, dx.reshape(-1),
                *self._work(self.name + "_backward", x.dtype, outer, C, inner))
        return dx

    def forward_backward(self, x, grad, out=None):
        x = as_float_array(x, "x")
        outer, C, inner, oshape = self._layout(x)
        g = self._grad(x, grad, oshape)
        y, dx = self._outs(out, [oshape, x.shape], x.dtype)
        if x.size:
            self._fn(self.name, "forward_backward", x.dtype, x.size)(
                x.reshape(-1), g.reshape(-1), outer, C, inner, y.reshape(-1), dx.reshape(-1),
                *self._work(self.name + "_forward_backward", x.dtype, outer, C, inner))
        elif y.size:
            y.fill(-np.inf)
        return y, dx


# ----------------------------------------------------------------------------- losses
REDUCTIONS = ("mean", "sum", "none")


class LossStats:
    """Per-row statistics saved by ``Loss.forward(..., save_stats=True)``."""

    __slots__ = ("key", "shape", "dtype", "arrays")

    def __init__(self, key, shape, dtype, arrays):
        self.key, self.shape, self.dtype, self.arrays = key, tuple(shape), np.dtype(dtype), arrays

    def __repr__(self):
        return f"<LossStats {self.key} for input {self.shape} {self.dtype}>"


class Loss(_Bundle):
    """A loss with torch's argument order ``(input, target)`` and options."""

    def __init__(self, name, meta, module, reduction="mean", **params):
        super().__init__(name, meta, module)
        _check_params(name, meta, {"reduction": reduction, **params})
        if reduction not in REDUCTIONS:
            raise ParameterError(f"{name}: reduction={reduction!r} is not one of {REDUCTIONS}")
        self.reduction = reduction
        self.classes = meta["classes"]
        self.targets = meta["targets"]
        self.weight = params.get("weight")
        if self.weight is not None:
            w = np.asarray(self.weight)
            if w.ndim != 1 or w.dtype.kind not in "iuf":
                raise ParameterError(f"{name}: weight must be a 1-D real array (one value per class), "
                                     f"got {w.dtype} of shape {w.shape}")
            self.weight = w.astype(np.float64)
        ii = params.get("ignore_index", -100)
        if isinstance(ii, bool) or not isinstance(ii, numbers.Integral):
            raise ParameterError(f"{name}: ignore_index must be an integer, got {ii!r}")
        self.ignore_index = int(ii)
        ls = params.get("label_smoothing", 0.0)
        if isinstance(ls, bool) or not isinstance(ls, numbers.Real) or not 0.0 <= float(ls) <= 1.0:
            raise ParameterError(f"{name}: label_smoothing must be a number in [0, 1], got {ls!r}")
        self.label_smoothing = float(ls)
        self._keys = {(v["target"], v["weighted"], v["reduction"]): k for v, k in meta["variants"]}

    def __repr__(self):
        opts = [f"reduction={self.reduction!r}"]
        if self.weight is not None:
            opts.append("weight=[...]")
        if "ignore_index" in {p["name"] for p in self.meta["params"]}:
            opts.append(f"ignore_index={self.ignore_index}")
        if self.label_smoothing:
            opts.append(f"label_smoothing={self.label_smoothing}")
        return f"<symdl kernel {self.name}({', '.join(opts)})>"

    # ---- argument checks -----------------------------------------------------------------
    def _prepare(self, input, target):
        x = as_float_array(input, "input")
        t = np.asarray(target)
        if not self.classes:
            if t.dtype.kind not in "iuf":
                raise TypeError(f"target has dtype {t.dtype}; expected a real array")
            t = as_float_array(t, "target", dtype=x.dtype)
            if t.shape != x.shape:
                raise ShapeError(f"input has shape {x.shape} but target has shape {t.shape}; "
                                 f"{self.name} needs equal shapes")
            return x, t, "values", (x.size, 1, 1), x.shape, None
        if x.ndim == 0:
            raise ShapeError(f"{self.name}: input must have a class axis; got shape {x.shape}")
        cdim = 1 if x.ndim >= 2 else 0
        C = int(x.shape[cdim])
        outer = int(x.shape[0]) if cdim == 1 else 1
        inner = _prod(x.shape[2:]) if cdim == 1 else 1
        row_shape = x.shape[:cdim] + x.shape[cdim + 1:]
        w = None
        if self.weight is not None:
            if self.weight.shape != (C,):
                raise ShapeError(f"weight has shape {self.weight.shape} but input of shape {x.shape} "
                                 f"has C = {C} classes; weight must have shape ({C},)")
            w = self.weight.astype(x.dtype)
        if t.dtype.kind in "iu":
            if "index" not in self.targets:
                raise TypeError(f"{self.name} takes float targets, got {t.dtype}")
            if t.shape != row_shape:
                raise ShapeError(f"input has shape {x.shape} but target has shape {t.shape}; class-index "
                                 f"targets must have shape {row_shape} (the input's without the class "
                                 f"axis {cdim})")
            t = np.ascontiguousarray(t, dtype=np.int64)
            bad = t[(t != self.ignore_index) & ((t < 0) | (t >= C))]
            if bad.size:
                raise IndexError(f"{self.name}: class index {int(bad.flat[0])} is out of range for "
                                 f"C = {C} classes (valid: 0..{C - 1}, or ignore_index="
                                 f"{self.ignore_index})")
            kind = "index"
        elif t.dtype.kind == "f":
            if "probs" not in self.targets:
                raise TypeError(f"{self.name} takes class indices (an integer array), got {t.dtype}")
            if t.shape != x.shape:
                raise ShapeError(f"input has shape {x.shape} but target has shape {t.shape}; "
                                 f"probability targets must have the input's shape")
            t = as_float_array(t, "target", dtype=x.dtype)
            kind = "probs" if self._normalized(t, cdim) else "scores"
        else:
            raise TypeError(f"target has dtype {t.dtype}; expected class indices (integers) "
                            f"or probabilities (floats)")
        return x, t, kind, (outer, C, inner), row_shape, w

    @staticmethod
    def _normalized(t, cdim) -> bool:
        """Rows summing to 1 (the declared constraint of the 'probs' kernels)."""
        if t.size == 0:
            return True
        s = t.sum(axis=cdim, dtype=np.float64)
        tol = 8 * float(np.finfo(t.dtype).eps) * t.shape[cdim]
        return bool(np.all(np.abs(s - 1.0) <= tol))

    def _key(self, kind):
        # one kernel set ('rows') serves mean, sum and none (see _run)
        return self._keys[(kind, self.weight is not None, "rows")]

    def _scale(self, t, k, w, rows) -> float:
        """The final scale of the summed loss: 1 for sum; for mean, one over
        the rows (probability targets) or over the summed weight of the
        targets that are not ignore_index (class indices: torch's weighted
        mean; 1/0 = inf when every target is ignored, the loss then nan)."""
        if self.reduction != "mean":
            return 1.0
        if k != "index":
            return 1.0 / rows if rows else math.inf
        valid = t != self.ignore_index
        if w is None:
            den = float(np.count_nonzero(valid))
        else:
            den = float(w[t[valid]].sum(dtype=np.float64))
        return 1.0 / den if den != 0.0 else math.inf

    def _oshape(self, row_shape):
        return row_shape if self.reduction == "none" else ()

    def _grad(self, grad, oshape, dtype):
        return _loss_grad(self.name, self.reduction, grad, oshape, dtype)

    def _run(self, kind, x, t, k, layout, w, g, outs, stats=()):
        """Run a 'rows' kernel: it writes each row's loss and ``scale`` times
        their sum (``outs[0]`` is the loss buffer: the rows for 'none', else
        the sum) and takes one incoming gradient per row (grad·scale in each
        row for a reduced loss)."""
        key = self._key(k)
        argnames = self.meta["kernels"][key][kind]
        rows = layout[0] * layout[2]
        tr = t.reshape(-1)
        scale = self._scale(tr, k, w, rows)
        if kind.startswith("forward"):
            extra = [np.empty(rows if self.reduction != "none" else 1, dtype=x.dtype)]
            outs = [outs[0], *extra, *outs[1:]] if self.reduction == "none" else [*extra, *outs]
        if g is not None and self.reduction != "none":
            g = np.full(rows, g * scale, dtype=x.dtype)
        vals = {"input": x.reshape(-1), "target": tr, "scale": scale,
                "weight": w if w is not None else np.ones(1, x.dtype),
                "grad": g.reshape(-1) if g is not None else None,
                "label_smoothing": self.label_smoothing, "ignore_index": self.ignore_index}
        vals.update({f"stat{i}": a for i, a in enumerate(stats)})
        fn = self._fn(key, kind, x.dtype, x.size)
        if self.reduction == "mean" and rows == 0 and kind.startswith("forward"):
            warnings.warn(f"{self.name}: reduction='mean' over an empty batch; the loss is nan",
                          RuntimeWarning, stacklevel=3)
        fn(*[vals[a] for a in argnames], *layout, *outs, *self._work(f"{key}_{kind}", x.dtype, *layout))
        if kind in ("backward", "forward_backward", "backward_stats") and self.reduction == "mean" \
                and k == "index" and rows:
            if not np.any(t != self.ignore_index):
                # every target ignored: torch skips them all, d input = 0
                # (the derived formula would give 0·(1/0) = nan)
                outs[-1][...] = 0

    def _loss_out(self, out, oshape, dtype):
        if out is None:
            return np.empty(oshape if oshape else (1,), dtype=dtype), None
        check_out(out, oshape, dtype)
        return out.reshape(-1) if oshape else out.reshape(1), out

    @staticmethod
    def _result(buf, given, oshape):
        if given is not None:
            return given
        return buf if oshape else buf[0]

    # ---- public API ----------------------------------------------------------------------
    def forward(self, input, target, out=None, save_stats=False):
        """The loss: a scalar (numpy scalar of the input's dtype) for
        reduction mean/sum, else an array shaped like the target.

        ``save_stats=True`` (cross_entropy with class indices) returns
        ``(loss, stats)``: the per-row statistics the gradient needs (the
        max and the sum of exponentials), which ``backward(..., stats=stats)``
        reads instead of recomputing them -- valid as long as input and
        target are not modified in between."""
        x, t, k, layout, row_shape, w = self._prepare(input, target)
        oshape = self._oshape(row_shape)
        buf, given = self._loss_out(out, oshape, x.dtype)
        if not save_stats:
            self._run("forward", x, t, k, layout, w, None, [buf.reshape(-1)])
            return self._result(buf, given, oshape)
        key = self._key(k)
        if "forward_stats" not in self.meta["kernels"][key]:
            raise ParameterError(f"{self.name}: save_stats needs class-index targets "
                                 f"(no cached-statistics kernels for {k!r} targets)")
        n = sum(1 for a in self.meta["kernels"][key]["backward_stats"] if a.startswith("stat"))
        rows = layout[0] * layout[2]
        stats = LossStats(key, x.shape, x.dtype, [np.empty(rows, dtype=x.dtype) for _ in range(n)])
        self._run("forward_stats", x, t, k, layout, w, None, [buf.reshape(-1)] + stats.arrays)
        return self._result(buf, given, oshape), stats

    def backward(self, input, target, grad=1.0, out=None, stats=None):
        """d loss / d input (times ``grad``, the cotangent of the loss);
        ``stats`` from ``forward(..., save_stats=True)`` skips recomputing
        the row statistics."""
        x, t, k, layout, row_shape, w = self._prepare(input, target)
        g = self._grad(grad, self._oshape(row_shape), x.dtype)
        (dx,) = self._outs(out, [x.shape], x.dtype)
        if stats is None:
            self._run("backward", x, t, k, layout, w, g, [dx.reshape(-1)])
            return dx
        if not isinstance(stats, LossStats) or stats.key != self._key(k) or stats.shape != x.shape \
                or stats.dtype != x.dtype:
            raise ParameterError(f"{self.name}: stats come from a forward with other options, input "
                                 f"shape or dtype (they were saved for {getattr(stats, 'shape', None)})")
        self._run("backward_stats", x, t, k, layout, w, g, [dx.reshape(-1)], stats.arrays)
        return dx

    def forward_backward(self, input, target, grad=1.0, out=None):
        """(loss, d input) in one call."""
        x, t, k, layout, row_shape, w = self._prepare(input, target)
        oshape = self._oshape(row_shape)
        g = self._grad(grad, oshape, x.dtype)
        outs = list(out) if isinstance(out, (tuple, list)) else ([None, None] if out is None else None)
        if outs is None or len(outs) != 2:
            raise ParameterError("out= needs 2 arrays (loss, d input)")
        buf, given = self._loss_out(outs[0], oshape, x.dtype)
        (dx,) = self._outs(outs[1], [x.shape], x.dtype)
        self._run("forward_backward", x, t, k, layout, w, g, [buf.reshape(-1), dx.reshape(-1)])
        return self._result(buf, given, oshape), dx


# ----------------------------------------------------------------------------- term losses
def _real(name, pname, v):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise ParameterError(f"{name}: {pname} must be a real number, got {v!r}")
    return float(v)


class TermLoss(_Bundle):
    """A loss given by a per-row term (mse_loss, binary_cross_entropy,
    margin_ranking_loss, ...): ``forward(*args)``, ``backward(*args, grad=1.0)``
    -> the gradient of the input (a tuple (d input1, d input2) for the
    losses of two inputs), ``grads(*args, grad=1.0)`` -> {argument name:
    gradient} for every argument symdl differentiates (targets, var too),
    ``forward_backward(*args, grad=1.0)`` -> (loss, backward's result).
    Arguments in torch's order; options as keywords, with torch's names."""

    def __init__(self, name, meta, module, **params):
        super().__init__(name, meta, module)
        _check_params(name, meta, params)
        self.params = {}
        self.arrays = {}
        for p in meta["params"]:
            v = params.get(p["name"], p["default"])
            if p["kind"] == "choice":
                if v not in p["choices"] or (isinstance(v, bool) != isinstance(p["choices"][0], bool)):
                    raise ParameterError(f"{name}: {p['name']}={v!r} is not one of {tuple(p['choices'])}")
                self.params[p["name"]] = v
            elif p["kind"] == "array":
                if v is not None:
                    a = np.asarray(v)
                    if a.dtype.kind not in "iuf":
                        raise ParameterError(f"{name}: {p['name']} must be a real array, got {a.dtype}")
                    self.arrays[p["name"]] = a.astype(np.float64)
            else:
                self.params[p["name"]] = _real(name, p["name"], v)
        self.reduction = self.params.pop("reduction")
        self.choices = {c: self.params.pop(c) for c in meta["choices"]}
        self.scalars = dict(self.params)
        if name == "smooth_l1_loss" and self.scalars["beta"] < 0:
            raise ParameterError(f"{name}: beta must be >= 0, got {self.scalars['beta']}")
        if name == "huber_loss" and self.scalars["delta"] <= 0:
            raise ParameterError(f"{name}: delta must be > 0, got {self.scalars['delta']}")
        kred = "none" if self.reduction == "none" else "sum"
        want = dict(self.choices, reduction=kred,
                    **{a["name"]: a["name"] in self.arrays for a in meta["args"] if a["optional"]})
        self.key = next(k for v, k in meta["variants"] if v == want)
        self.positional = [a for a in meta["args"] if not a["optional"]]
        self.wrt = meta["wrt"][self.key]
        self.inputs = [w for w in self.wrt if w not in ("target", "var")] or self.wrt[:1]
        self.classes = meta["classes"]

    def __repr__(self):
        opts = [f"reduction={self.reduction!r}"] + [f"{k}={v!r}" for k, v in
                                                   {**self.choices, **self.scalars}.items()]
        opts += [f"{k}=[...]" for k in self.arrays]
        return f"<symdl kernel {self.name}({', '.join(opts)})>"

    # ---- arguments ------------------------------------------------------------------------
    def _split(self, args, grad):
        n = len(self.positional)
        names = [a["name"] for a in self.positional]
        if len(args) == n + 1 and grad is None:
            args, grad = args[:n], args[n]
        if len(args) != n:
            raise TypeError(f"{self.name} takes {n} arrays ({', '.join(names)}), got {len(args)}")
        return args, (1.0 if grad is None else grad)

    def _prepare(self, args):
        """-> (arrays by kernel argument name, layout, row shape, shapes of the
        differentiated arguments, reductions of broadcast gradients)."""
        first = self.positional[0]["name"]
        x = as_float_array(args[0], first)
        vals = {first: x}
        if self.classes:
            if x.ndim not in (1, 2):
                raise ShapeError(f"{self.name}: {first} must be 1-D or 2-D (rows along dim 0, classes "
                                 f"along dim 1), got shape {x.shape}")
            C = int(x.shape[-1])
            layout = (int(x.shape[0]) if x.ndim == 2 else 1, C, 1)
            rows = x.shape[:-1]
        else:   # elementwise: rows x the last axis (its sum runs in vectorized lanes)
            cols = int(x.shape[-1]) if x.ndim else 1
            layout = (x.size // cols if cols else 0, cols, 1)
            rows = x.shape
        shapes = {first: x.shape}
        post = {}
        for a, v in zip(self.positional[1:], args[1:]):
            n = a["name"]
            if a["kind"] == "index":
                t = np.asarray(v)
                if t.dtype.kind not in "iu":
                    raise TypeError(f"{self.name}: {n} must hold class indices (integers), got {t.dtype}")
                if t.shape != rows:
                    raise ShapeError(f"{first} has shape {x.shape} but {n} has shape {t.shape}; "
                                     f"{n} must have shape {rows}")
                t = np.ascontiguousarray(t, dtype=np.int64)
                bad = t[(t < 0) | (t >= layout[1])]
                if bad.size:
                    raise IndexError(f"{self.name}: class index {int(bad.flat[0])} is out of range for "
                                     f"C = {layout[1]} classes (valid: 0..{layout[1] - 1})")
                vals[n] = t
                continue
            arr = np.asarray(v)
            if arr.dtype.kind not in "iuf":
                raise TypeError(f"{self.name}: {n} has dtype {arr.dtype}; expected a real array")
            arr = as_float_array(arr, n, dtype=x.dtype)
            if a["shape"] == "var":
                vshape = arr.shape
                if vshape != x.shape:
                    if x.ndim and vshape == x.shape[:-1]:
                        arr = arr[..., None]
                    elif not (x.ndim and vshape[:-1] == x.shape[:-1] and vshape[-1:] == (1,)):
                        raise ShapeError(f"{first} has shape {x.shape} but {n} has shape {vshape}; "
                                         f"{n} must have the input's shape, or it without the last "
                                         f"dimension, or with a last dimension of 1")
                    post[n] = vshape
                    arr = np.ascontiguousarray(np.broadcast_to(arr, x.shape))
                shapes[n] = vshape
            else:
                want = rows if a["shape"] == "rows" else x.shape
                if arr.shape != want:
                    raise ShapeError(f"{first} has shape {x.shape} but {n} has shape {arr.shape}; "
                                     f"{self.name} needs {n} of shape {want}")
                shapes[n] = arr.shape
            vals[n] = arr
        for a in self.meta["args"]:
            n = a["name"]
            if not a["optional"] or n not in self.arrays:
                continue
            arr = self.arrays[n]
            if a["shape"] == "classes":
                if arr.shape != (layout[1],):
                    raise ShapeError(f"{n} has shape {arr.shape} but {first} of shape {x.shape} has "
                                     f"C = {layout[1]} classes; {n} must have shape ({layout[1]},)")
                vals[n] = arr.astype(x.dtype)
            else:
                try:
                    b = np.broadcast_to(arr, x.shape)
                except ValueError:
                    raise ShapeError(f"{n} has shape {arr.shape}, which does not broadcast to "
                                     f"{first}'s shape {x.shape}") from None
                vals[n] = np.ascontiguousarray(b, dtype=x.dtype)
        for n, check in self.meta["checks"]:
            a = vals[n]
            if check == "unit" and a.size and not ((a >= 0) & (a <= 1)).all():
                raise ValueError(f"{self.name}: all elements of {n} should be between 0 and 1")
            if check == "nonnegative" and a.size and (a < 0).any():
                raise ValueError(f"{self.name}: {n} has negative entries")
        return vals, layout, rows, shapes, post

    def _scale(self, x, rows, kind):
        if self.name == "kl_div" and self.reduction == "mean" and kind.startswith("forward"):
            warnings.warn("kl_div: reduction='mean' divides the total loss by both the batch size and "
                          "the support size; 'batchmean' divides only by the batch size, and aligns "
                          "with the KL div math definition (torch's warning)", UserWarning, stacklevel=4)
        if self.reduction in ("sum", "none"):
            return 1.0
        n = int(np.prod(rows)) if self.reduction == "mean" else (int(x.shape[0]) if x.ndim else 1)
        if n == 0:
            if kind != "backward":
                warnings.warn(f"{self.name}: reduction={self.reduction!r} over an empty batch; the loss "
                              f"is nan", RuntimeWarning, stacklevel=4)
            return float("nan")
        return 1.0 / n

    def _grad(self, grad, rows, dtype):
        return _loss_grad(self.name, self.reduction, grad, rows, dtype)

    def _call(self, kind, args, grad, out_loss=None, out_grads=None):
        vals, layout, rows, shapes, post = self._prepare(args)
        x = vals[self.positional[0]["name"]]
        vals = {k: v.reshape(-1) for k, v in vals.items()}
        vals.update(self.scalars)
        vals["scale"] = self._scale(x, rows, kind)
        if kind != "forward":
            g = self._grad(grad, rows, x.dtype)
            vals["grad"] = g.reshape(-1) if isinstance(g, np.ndarray) else g
        outs = []
        oshape = tuple(rows) if self.reduction == "none" else ()
        if kind != "backward":
            if out_loss is None:
                buf = np.empty(oshape if oshape else (1,), dtype=x.dtype)
                outs.append(buf.reshape(-1))
            else:
                outs.append(check_out(out_loss, oshape, x.dtype, "out"))
        grads = {}
        if kind != "forward":
            given = self._given(out_grads)
            for w in self.wrt:
                # a gradient has its argument's shape (wgan_gp's per-row critic
                # outputs next to an (N, D) input); a broadcast one the input's
                wshape = x.shape if w in post else shapes.get(w, x.shape)
                if w in given and w not in post:
                    outs.append(check_out(given[w], wshape, x.dtype, f"out (d {w})"))
                    grads[w] = given[w]
                else:
                    grads[w] = np.empty(wshape, dtype=x.dtype)
                    outs.append(grads[w].reshape(-1))
        argnames = self.meta["kernels"][self.key][kind]
        fn = self._fn(self.key, kind, x.dtype, x.size)
        fn(*[vals[a] for a in argnames], *layout, *outs, *self._work(f"{self.key}_{kind}", x.dtype, *layout))
        for w, vshape in post.items():   # a broadcast argument: sum its gradient back
            if w in grads:
                gw = grads[w]
                if vshape == x.shape[:-1]:
                    grads[w] = gw.sum(axis=-1, dtype=np.float64).astype(x.dtype)
                else:
                    grads[w] = gw.sum(axis=-1, keepdims=True, dtype=np.float64).astype(x.dtype)
        loss = None
        if kind != "backward":
            loss = out_loss if out_loss is not None else (buf if oshape else buf[0])
        return loss, grads

    def _given(self, out):
        """out= of backward: an array (one input) or a tuple (two inputs)."""
        if out is None:
            return {}
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        if len(outs) != len(self.inputs):
            raise ParameterError(f"{self.name}: out= needs {len(self.inputs)} array(s) "
                                 f"({', '.join('d ' + n for n in self.inputs)}), got {len(outs)}")
        return dict(zip(self.inputs, outs))

    def _inputs_result(self, grads):
        r = tuple(grads[w] for w in self.inputs)
        return r[0] if len(r) == 1 else r

    # ---- public API ----------------------------------------------------------------------
    def forward(self, *args, out=None):
        """The loss: a scalar of the input's dtype (mean/sum/batchmean) or an
        array of the rows' shape (reduction='none'); ``out``: a preallocated
        array of that shape (0-d for a scalar)."""
        args, _ = self._split(args, 1.0)
        return self._call("forward", args, None, out)[0]

    def backward(self, *args, grad=None, out=None):
        """d loss / d input (times ``grad``); a tuple for two inputs.
        ``out``: preallocated gradient array(s) shaped like the input(s)."""
        args, grad = self._split(args, grad)
        return self._inputs_result(self._call("backward", args, grad, None, out)[1])

    def grads(self, *args, grad=None) -> dict:
        """{argument name: d loss / d argument} for every differentiated argument."""
        args, grad = self._split(args, grad)
        return self._call("backward", args, grad)[1]

    def forward_backward(self, *args, grad=None, out=None):
        """(loss, backward's result) in one kernel; ``out`` = (loss out,
        gradient out(s))."""
        args, grad = self._split(args, grad)
        lo, go = (None, None) if out is None else out
        loss, grads = self._call("forward_backward", args, grad, lo, go)
        return loss, self._inputs_result(grads)

"""Optimizers on the generated fused kernels (no SymPy import).

torch's class and option names::

    opt = symdl.optim.Adam([W, b], lr=1e-3)      # numpy arrays, updated in place
    opt.step([dW, db])                            # aligned list of gradients
    opt.lr = 1e-4                                 # every group (schedules)
    d = opt.state_dict(); opt.load_state_dict(d)  # torch's structure

Each ``step`` runs, per parameter, one fused kernel of ``generated/optimizers.py``
(θ and every state array updated in a single pass) after one call of the
rule's generated scalar function (bias corrections and the like, float64, once
per step).  Both come from the specs in ``symdl.specs.optimizers``.
"""
from __future__ import annotations

import difflib
import math

import numpy as np

from symdl.errors import ParameterError, ShapeError, SymdlError, UnknownNameError

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Adagrad",
           "RMSprop", "Adadelta", "Rprop", "ASGD", "Lion", "AdaBelief", "Yogi", "OptionError", "clip_grad_norm_", "clip_grad_value_",
           "LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "LambdaLR", "LinearLR", "CosineAnnealingWarmRestarts", "CyclicLR", "InverseTimeLR", "get",
           "from_rule", "RuleOptimizer"]

_DTYPES = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
_module = None
_VARIANTS: dict = {}    # (rule, options) -> (rule metadata, kernel key, state keys)


def _gen():
    global _module
    if _module is None:    # each rule's module is imported on first use (symdl.runtime.family)
        from symdl.runtime.family import RULES as mod
        _module = mod
    return _module


class OptionError(SymdlError, ValueError):
    """An optimizer option with an invalid value (torch's messages)."""


def _unknown_options(cls_name: str, unknown, valid) -> ParameterError:
    bad = sorted(unknown)
    hints = []
    for b in bad:
        close = difflib.get_close_matches(b, valid, n=3, cutoff=0.5)
        if close:
            hints.append(f"{b!r}: did you mean {', '.join(map(repr, close))}?")
    msg = (f"{cls_name} got unknown option(s) {', '.join(map(repr, bad))}"
           + (f" ({'; '.join(hints)})" if hints else "")
           + f"; valid options: {', '.join(valid)}")
    return ParameterError(msg)


#: torch's implementation switches: symdl's step is always one fused kernel
#: per parameter, so these are accepted (as hints) and ignored
_TORCH_SWITCHES = {"foreach", "fused"}
_UNSUPPORTED = {"capturable", "differentiable"}


def _reject(cls_name: str, unknown: dict, defaults: dict) -> None:
    """Raise for unknown options (listing the valid ones); accept torch's
    foreach/fused hints and capturable/differentiable=False."""
    rest = {}
    for k, val in unknown.items():
        if k in _TORCH_SWITCHES or (k in _UNSUPPORTED and not val):
            continue
        if k in _UNSUPPORTED:
            raise ParameterError(f"{cls_name}: {k}=True is a torch autograd/CUDA-graph option; "
                                 "symdl's optimizers do not support it")
        rest[k] = val
    if rest:
        raise _unknown_options(cls_name, rest, list(defaults))


def _check_range(name, value, lo=0.0, hi=None, hi_open=True, label=None):
    label = label or name
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise OptionError(f"Invalid {label}: {value!r} (expected a number)") from None
    if not (value >= lo) or (hi is not None and not (value < hi if hi_open else value <= hi)):
        raise OptionError(f"Invalid {label}: {value}")
    return value


class Optimizer:
    """Base class: parameter groups, state, ``step(grads)``, state dicts.

    Subclasses give ``rule`` (the spec name), ``_validate(group)``,
    ``_variant(group)`` (the rule's options from torch's) and the torch
    option names in ``defaults``."""

    rule: str = ""
    #: the generated module holding the rule's kernels (None: the catalog's)
    _module = None

    def _gen(self):
        return self._module if self._module is not None else _gen()

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups: list = []
        self.state: dict = {}
        self._kernels: dict = {}
        self._prep: dict = {}      # parameter index -> (variant key, state, flat views, kernel)
        if isinstance(params, np.ndarray):
            raise TypeError(f"{type(self).__name__}: params must be a list of arrays (or of "
                            "parameter-group dicts), not one array; wrap it: [array]")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for gr in groups:
            self.add_param_group(gr)

    # ---- parameters -----------------------------------------------------------
    def _params(self) -> list:
        return [p for gr in self.param_groups for p in gr["params"]]

    def add_param_group(self, group: dict) -> None:
        if not isinstance(group, dict):
            raise TypeError("a parameter group must be a dict with a 'params' list")
        group = dict(group)
        params = group.get("params")
        if params is None:
            raise ParameterError("a parameter group needs a 'params' entry")
        params = [params] if isinstance(params, np.ndarray) else list(params)
        unknown = {k: group.pop(k) for k in set(group) - set(self.defaults) - {"params", "initial_lr"}}
        _reject(type(self).__name__, unknown, self.defaults)
        seen = {id(p) for p in self._params()}
        for k, p in enumerate(params):
            if not isinstance(p, np.ndarray):
                raise TypeError(f"{type(self).__name__}: parameter {k} is a {type(p).__name__}, "
                                "not a numpy array")
            if p.dtype not in _DTYPES:
                raise ShapeError(f"{type(self).__name__}: parameter {k} has dtype {p.dtype}; "
                                 "float32 and float64 are supported")
            if not p.flags.writeable:
                raise ShapeError(f"{type(self).__name__}: parameter {k} is read-only "
                                 "(the optimizer updates parameters in place)")
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: some parameters appear in more than "
                                 "one parameter group")
            seen.add(id(p))
        for k, val in self.defaults.items():
            group.setdefault(k, val)
        group["params"] = params
        self._validate(group)
        self.param_groups.append(group)

    # ---- subclass hooks ---------------------------------------------------------
    def _validate(self, group: dict) -> None:
        _check_range("lr", group["lr"], label="learning rate")

    def _variant(self, group: dict) -> dict:
        return {"maximize": bool(group.get("maximize", False))}

    def _rule(self, group: dict) -> str:
        return self.rule

    def _hyper(self, meta: dict, group: dict) -> tuple:
        out = []
        for name in meta["hyper"]:
            if name == "beta1":
                out.append(float(group["betas"][0]))
            elif name == "beta2":
                out.append(float(group["betas"][1]))
            else:
                out.append(float(group[name]))
        return tuple(out)

    def _first_step(self, st: dict) -> bool:
        return False

    def _step_t(self, st: dict, first: bool) -> int:
        return int(st["step"])

    # ---- lr ---------------------------------------------------------------------
    @property
    def lr(self) -> float:
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value) -> None:
        value = _check_range("lr", value, label="learning rate")
        for gr in self.param_groups:
            gr["lr"] = value

    # ---- the step ---------------------------------------------------------------
    def _kernel_of(self, key: str, dt: str, par: bool):
        name = f"{key}_{dt}{'_par' if par else ''}"
        k = self._kernels.get(name)
        if k is None:
            k = self._kernels[name] = getattr(self._gen(), name)
        return k

    def _variant_meta(self, group):
        rule = self._rule(group)
        want = self._variant(group)
        mod = self._gen()
        meta = mod.SPECS[rule]
        if "weight_decay" in group and any(p["name"] == "has_weight_decay" for p in meta["params"]):
            # as torch: no decay term at all when it is 0
            want = dict(want, has_weight_decay=group["weight_decay"] != 0)
        ck = (mod.__name__, rule, tuple(want.items()))
        hit = _VARIANTS.get(ck)
        if hit is not None:
            return hit
        for variant, key, states in meta["variants"]:
            if variant == want:
                hit = _VARIANTS[ck] = (meta, key, tuple(states))
                return hit
        raise ParameterError(f"{rule}: no generated kernel for options {want}")  # pragma: no cover

    def _init_state(self, p, meta, group, states, st):
        for s in meta["state"]:
            if s["key"] in states and st.get(s["key"]) is None:
                init = s["init"]
                val = float(group[init]) if isinstance(init, str) else init
                st[s["key"]] = np.full(p.shape, val, dtype=p.dtype)
        for s in meta["scalar_state"]:
            st.setdefault(s["key"], float(s["init"]))
        st.setdefault("step", 0.0)

    def _prepare(self, idx, p, meta, group, key, states):
        """Create missing state, pick the kernel, keep flat views (cached per
        parameter until the variant or the state dict changes)."""
        st = self.state.setdefault(idx, {})
        self._init_state(p, meta, group, states, st)
        contiguous = p.flags.c_contiguous
        flat_p = p.reshape(-1) if contiguous else None
        arrays = tuple(st[k].reshape(-1) for k in states)
        kern = self._kernel_of(key, _DTYPES[p.dtype], p.size >= self._gen().PARALLEL_THRESHOLD)
        prep = self._prep[idx] = (key, st, flat_p, arrays, kern)
        return prep

    def step(self, grads) -> None:
        """Update every parameter in place from the aligned list ``grads``."""
        if isinstance(grads, np.ndarray):
            grads = [grads]
        grads = list(grads)
        n_params = sum(len(gr["params"]) for gr in self.param_groups)
        if len(grads) != n_params:
            raise ShapeError(f"{type(self).__name__}.step got {len(grads)} gradient(s) for "
                             f"{n_params} parameter(s)")
        mod = self._gen()
        idx = 0
        for group in self.param_groups:
            meta, key, states = self._variant_meta(group)
            hyper = self._hyper(meta, group)
            scalars = getattr(mod, key + "_scalars")
            ss_keys = [s["key"] for s in meta["scalar_state"]]
            memo = {}
            for p in group["params"]:
                gr = grads[idx]
                if type(gr) is not np.ndarray:
                    gr = np.asarray(gr)
                if gr.shape != p.shape or gr.dtype != p.dtype:
                    raise ShapeError(
                        f"{type(self).__name__}.step: gradient {idx} has shape {gr.shape} and dtype "
                        f"{gr.dtype}, but parameter {idx} has shape {p.shape} and dtype {p.dtype}")
                st = self.state.get(idx)
                first = self._first_step(st if st is not None else {})
                prep = self._prep.get(idx)
                if prep is None or prep[0] != key or prep[1] is not st:
                    prep = self._prepare(idx, p, meta, group, key, states)
                _, st, flat_p, arrays, kern = prep
                st["step"] = float(st["step"]) + 1.0
                t = self._step_t(st, first)
                if ss_keys:
                    ss = tuple(float(st[k]) for k in ss_keys)
                    res = memo.get((t, ss))
                    if res is None:
                        res = memo[(t, ss)] = scalars(t, *hyper, *ss)
                    for k, val in zip(ss_keys, res[1]):
                        st[k] = float(val)
                else:
                    res = memo.get(t)
                    if res is None:
                        res = memo[t] = scalars(t, *hyper)
                flat_g = gr.reshape(-1) if gr.flags.c_contiguous else np.ascontiguousarray(gr).reshape(-1)
                if flat_p is not None:
                    kern(flat_p, flat_g, *arrays, *res[0])
                else:  # non-contiguous parameter: update a contiguous copy, write it back
                    tmp = np.ascontiguousarray(p).reshape(-1)
                    kern(tmp, flat_g, *arrays, *res[0])
                    p[...] = tmp.reshape(p.shape)
                idx += 1

    def zero_grad(self, grads=None) -> None:
        """Fill the given gradient arrays with zeros (symdl keeps no .grad)."""
        for gr in grads or ():
            gr[...] = 0

    # ---- state dicts --------------------------------------------------------------
    def state_dict(self) -> dict:
        """torch's structure: {"state": {i: {...}}, "param_groups": [{..., "params": [i, ...]}]}
        (copies of the state arrays)."""
        groups, i = [], 0
        for gr in self.param_groups:
            d = {k: (tuple(v) if isinstance(v, list) and k == "betas" else v)
                 for k, v in gr.items() if k != "params"}
            d["params"] = list(range(i, i + len(gr["params"])))
            i += len(gr["params"])
            groups.append(d)
        state = {}
        for k, st in self.state.items():
            state[k] = {name: (val.copy() if isinstance(val, np.ndarray) else val)
                        for name, val in st.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a dict from ``state_dict()`` (ours or torch's: tensors are
        converted with ``np.asarray``)."""
        groups = state_dict.get("param_groups")
        if groups is None or "state" not in state_dict:
            raise ParameterError("a state dict has 'state' and 'param_groups' entries")
        if len(groups) != len(self.param_groups):
            raise ShapeError(f"loaded state dict has {len(groups)} parameter group(s); "
                             f"this optimizer has {len(self.param_groups)}")
        for new, old in zip(groups, self.param_groups):
            if len(new["params"]) != len(old["params"]):
                raise ShapeError("loaded state dict has a parameter group of "
                                 f"{len(new['params'])} parameter(s) where this optimizer has "
                                 f"{len(old['params'])}")
        params = self._params()
        # torch maps the ids in order over the groups
        order = [pid for new in groups for pid in new["params"]]
        mapping = {pid: pos for pos, pid in enumerate(order)}
        state = {}
        for pid, st in state_dict["state"].items():
            if pid not in mapping:
                raise ShapeError(f"state for parameter id {pid!r} matches no parameter")
            pos = mapping[pid]
            p = params[pos]
            out = {}
            for name, val in st.items():
                if val is None:
                    out[name] = None
                    continue
                arr = np.asarray(val)
                if arr.ndim == 0 or (name in ("step", "mu_product") and arr.size == 1):
                    out[name] = float(arr.reshape(()))
                else:
                    if arr.shape != p.shape:
                        raise ShapeError(f"state {name!r} of parameter {pos} has shape {arr.shape}, "
                                         f"but the parameter has shape {p.shape}")
                    out[name] = np.array(arr, dtype=p.dtype, order="C")
            state[pos] = out
        for new, old in zip(groups, self.param_groups):
            for k, val in new.items():
                if k == "params":
                    continue
                if k in self.defaults:
                    old[k] = tuple(val) if k == "betas" else val
        for gr in self.param_groups:
            self._validate(gr)
        self.state = state
        self._prep = {}

    def __repr__(self):
        opts = ", ".join(f"{k}={v!r}" for k, v in self.param_groups[0].items() if k != "params")
        return f"{type(self).__name__}({opts})"


def _betas(cls, betas):
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise OptionError(f"{cls}: betas must be a pair (beta1, beta2), got {betas!r}") from None
    _check_range("beta", b1, 0.0, 1.0, label="beta parameter at index 0")
    _check_range("beta", b2, 0.0, 1.0, label="beta parameter at index 1")


class SGD(Optimizer):
    """torch.optim.SGD: momentum, dampening, nesterov, weight_decay, maximize."""

    rule = "sgd"

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, **unknown):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        _reject("SGD", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        _check_range("lr", gr["lr"], label="learning rate")
        _check_range("momentum", gr["momentum"], label="momentum value")
        _check_range("weight_decay", gr["weight_decay"], label="weight_decay value")
        if gr["nesterov"] and (gr["momentum"] <= 0 or gr["dampening"] != 0):
            raise OptionError("Nesterov momentum requires a momentum and zero dampening")

    def _variant(self, gr):
        mode = "none" if gr["momentum"] == 0 else ("nesterov" if gr["nesterov"] else "heavy_ball")
        return {"momentum_mode": mode, "maximize": bool(gr["maximize"])}

    def _first_step(self, st):
        # torch: the buffer is created as a copy of the gradient the first time
        # momentum is used (no "step" in its state)
        return st.get("momentum_buffer") is None

    def _step_t(self, st, first):
        return 1 if first else 2   # the rule only asks whether t == 1

    def state_dict(self):
        d = super().state_dict()
        for st in d["state"].values():
            st.pop("step", None)
        return d


class Adam(Optimizer):
    """torch.optim.Adam: betas, eps, weight_decay, amsgrad, maximize,
    decoupled_weight_decay (= AdamW)."""

    rule = "adam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False, **unknown):
        defaults = dict(lr=lr, betas=tuple(betas) if not isinstance(betas, (int, float)) else betas,
                        eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        _reject(type(self).__name__, unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        _check_range("lr", gr["lr"], label="learning rate")
        _check_range("eps", gr["eps"], label="epsilon value")
        _betas(type(self).__name__, gr["betas"])
        _check_range("weight_decay", gr["weight_decay"], label="weight_decay value")

    def _rule(self, gr):
        return "adamw" if gr.get("decoupled_weight_decay") else self.rule

    def _variant(self, gr):
        return {"amsgrad": bool(gr["amsgrad"]), "maximize": bool(gr["maximize"])}


class AdamW(Adam):
    """torch.optim.AdamW (decoupled weight decay, default 1e-2)."""

    rule = "adamw"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, **unknown):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True, **unknown)


class Adamax(Optimizer):
    """torch.optim.Adamax."""

    rule = "adamax"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *,
                 maximize=False, **unknown):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize)
        _reject("Adamax", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        Adam._validate(self, gr)


class NAdam(Optimizer):
    """torch.optim.NAdam (momentum_decay schedule; mu_product state)."""

    rule = "nadam"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, maximize=False, **unknown):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        _reject("NAdam", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        Adam._validate(self, gr)
        _check_range("momentum_decay", gr["momentum_decay"], label="momentum_decay value")

    def _variant(self, gr):
        return {"decoupled_weight_decay": bool(gr["decoupled_weight_decay"]),
                "maximize": bool(gr["maximize"])}


class RAdam(NAdam):
    """torch.optim.RAdam (rectification once rho_t > 5)."""

    rule = "radam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, maximize=False, **unknown):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        _reject("RAdam", unknown, defaults)
        Optimizer.__init__(self, params, defaults)

    def _validate(self, gr):
        Adam._validate(self, gr)


class Adagrad(Optimizer):
    """torch.optim.Adagrad: lr_decay, initial_accumulator_value, eps=1e-10; eps_inside_sqrt=True
    divides by √(sum + eps) (the notes; torch has no such flag: √sum + eps)."""

    rule = "adagrad"

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, *, maximize=False, eps_inside_sqrt=False, **unknown):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize, eps_inside_sqrt=eps_inside_sqrt)
        _reject("Adagrad", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        _check_range("lr", gr["lr"], label="learning rate")
        _check_range("lr_decay", gr["lr_decay"], label="lr_decay value")
        _check_range("weight_decay", gr["weight_decay"], label="weight_decay value")
        _check_range("iav", gr["initial_accumulator_value"],
                     label="initial_accumulator_value value")
        _check_range("eps", gr["eps"], label="epsilon value")

    def _variant(self, gr):   # eps_inside_sqrt: g/sqrt(sum + eps) (the notes; not in torch)
        return {"maximize": bool(gr["maximize"]), "eps_inside_sqrt": bool(gr["eps_inside_sqrt"])}


class RMSprop(Optimizer):
    """torch.optim.RMSprop: alpha=0.99, eps=1e-8, momentum, centered; eps_inside_sqrt=True
    divides by √(v + eps) (the notes, Chainer's flag; torch: √v + eps only)."""

    rule = "rmsprop"

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False, eps_inside_sqrt=False, **unknown):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize,
                        eps_inside_sqrt=eps_inside_sqrt)
        _reject("RMSprop", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        _check_range("lr", gr["lr"], label="learning rate")
        _check_range("eps", gr["eps"], label="epsilon value")
        _check_range("momentum", gr["momentum"], label="momentum value")
        _check_range("weight_decay", gr["weight_decay"], label="weight_decay value")
        _check_range("alpha", gr["alpha"], label="alpha value")

    def _variant(self, gr):
        return {"has_momentum": gr["momentum"] > 0, "centered": bool(gr["centered"]),
                "maximize": bool(gr["maximize"]), "eps_inside_sqrt": bool(gr["eps_inside_sqrt"])}


class Adadelta(Optimizer):
    """torch.optim.Adadelta: lr=1.0, rho=0.9, eps=1e-6."""

    rule = "adadelta"

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False,
                 **unknown):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        _reject("Adadelta", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        _check_range("lr", gr["lr"], label="learning rate")
        _check_range("rho", gr["rho"], 0.0, 1.0, hi_open=False, label="rho value")
        _check_range("eps", gr["eps"], label="epsilon value")
        _check_range("weight_decay", gr["weight_decay"], label="weight_decay value")


class Rprop(Optimizer):
    """torch.optim.Rprop: etas=(etaminus, etaplus), step_sizes=(min, max)."""

    rule = "rprop"

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, maximize=False,
                 **unknown):
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), maximize=maximize)
        _reject("Rprop", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        _check_range("lr", gr["lr"], label="learning rate")
        etaminus, etaplus = gr["etas"]
        if not 0.0 < float(etaminus) < 1.0 < float(etaplus):
            raise OptionError(f"Invalid eta values: {etaminus}, {etaplus}")

    def _hyper(self, meta, gr):
        (emin, eplus), (smin, smax) = gr["etas"], gr["step_sizes"]
        return (float(gr["lr"]), float(emin), float(eplus), float(smin), float(smax))


class ASGD(Optimizer):
    """torch.optim.ASGD: averaged SGD (Polyak-Ruppert averaging in state "ax")."""

    rule = "asgd"

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, *,
                 maximize=False, **unknown):
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        maximize=maximize)
        _reject("ASGD", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        _check_range("lr", gr["lr"], label="learning rate")
        _check_range("weight_decay", gr["weight_decay"], label="weight_decay value")


class Lion(Optimizer):
    """Lion (Chen et al. 2023): sign of the interpolated momentum; decoupled weight decay."""

    rule = "lion"

    def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0, *, maximize=False,
                 **unknown):
        defaults = dict(lr=lr, betas=tuple(betas), weight_decay=weight_decay, maximize=maximize)
        _reject("Lion", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        _check_range("lr", gr["lr"], label="learning rate")
        _betas("Lion", gr["betas"])
        _check_range("weight_decay", gr["weight_decay"], label="weight_decay value")


class AdaBelief(Optimizer):
    """AdaBelief (Zhuang et al. 2020): Adam with the variance of g around m; decoupled weight decay."""

    rule = "adabelief"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-16, weight_decay=0, *,
                 maximize=False, **unknown):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize)
        _reject("AdaBelief", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        Adam._validate(self, gr)


class Yogi(Optimizer):
    """Yogi (Zaheer et al. 2018; optax's defaults)."""

    rule = "yogi"

    def __init__(self, params, lr=1e-2, betas=(0.9, 0.999), eps=1e-3, weight_decay=0,
                 initial_accumulator_value=1e-6, *, maximize=False, **unknown):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        _reject("Yogi", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        Adam._validate(self, gr)


OPTIMIZERS = {c.__name__: c for c in (SGD, Adam, AdamW, Adamax, NAdam, RAdam, Adagrad, RMSprop,
                                       Adadelta, Rprop, ASGD, Lion, AdaBelief, Yogi)}


def get(name: str):
    """The optimizer class called ``name`` (case-insensitive: "adam", "SGD", ...)."""
    by_lower = {k.lower(): v for k, v in OPTIMIZERS.items()}
    try:
        return by_lower[name.lower()]
    except KeyError:
        raise UnknownNameError("optimizer", name, list(OPTIMIZERS)) from None


# ---------------------------------------------------------------- any rule, by its spec
class RuleOptimizer(Optimizer):
    """An optimizer for any generated rule -- a user's (``symdl generate
    --spec-file``) or the catalog's -- with the rule's own hyperparameter and
    option names (``lr``, ``beta1``, ``maximize``, ...).  Build it with
    ``from_rule``.  ``has_weight_decay`` follows ``weight_decay != 0``."""

    def __init__(self, rule: str, meta: dict, module, params, **options):
        self.rule, self._module = rule, module
        self._hyper_names = list(meta["hyper"])
        self._choices = {p["name"]: p for p in meta["params"] if p["kind"] == "choice"}
        defaults = {p["name"]: p["default"] for p in meta["params"] if p["kind"] != "choice"}
        defaults.update({n: p["default"] for n, p in self._choices.items() if n != "has_weight_decay"})
        unknown = {k: options.pop(k) for k in list(options) if k not in defaults}
        _reject(rule, unknown, defaults)
        defaults.update(options)
        super().__init__(params, defaults)

    def _validate(self, gr):
        _check_range("lr", gr["lr"], label="learning rate")
        for n in self._hyper_names:
            if gr[n] is None:
                raise OptionError(f"{self.rule}: hyperparameter {n!r} has no default; give {n}=...")
            try:
                float(gr[n])
            except (TypeError, ValueError):
                raise OptionError(f"{self.rule}: {n}={gr[n]!r} is not a number") from None
        for n, p in self._choices.items():
            if n in gr and gr[n] not in p["choices"]:
                raise OptionError(f"{self.rule}: {n}={gr[n]!r} is not one of {p['choices']}")

    def _variant(self, gr):
        return {n: gr[n] for n in self._choices if n != "has_weight_decay"}

    def _hyper(self, meta, gr):
        return tuple(float(gr[n]) for n in meta["hyper"])

    def __repr__(self):
        opts = ", ".join(f"{k}={v!r}" for k, v in self.param_groups[0].items() if k != "params")
        return f"from_rule({self.rule!r}, {opts})"


def from_rule(rule, params, lr=None, *, kernels=None, **options) -> RuleOptimizer:
    """An optimizer running ``rule``'s generated fused kernels.

    rule: a rule's name or its spec (``symdl.specs.OptimizerRule``): one of a
        loaded kernel library (``symdl.load_kernels(DIR)``, or ``kernels=DIR``
        here) or of the catalog ("adam", ...).
    lr, options: the rule's hyperparameters and options by their spec names
        (defaults from the spec); ``weight_decay != 0`` switches its decay term on.

    >>> opt = symdl.optim.from_rule("centered_adam", model.parameters(), lr=1e-3)
    >>> opt.step(model.gradients())
    """
    from symdl.registry import load_kernels, user_library

    name = rule if isinstance(rule, str) else getattr(rule, "name", None)
    if not isinstance(name, str):
        raise TypeError(f"from_rule: rule must be a rule's name or spec, not {type(rule).__name__}")
    lib = None
    if kernels is not None:
        lib = kernels if hasattr(kernels, "module") else load_kernels(kernels)
        if name not in lib:
            raise UnknownNameError(f"rule of {lib.path}", name, lib.names())
    else:
        lib = user_library(name)
    if lib is not None:
        if lib.family(name) != "optimizer":
            raise ParameterError(f"{name!r} is a {lib.family(name)} spec, not an optimizer rule")
        mod = lib.module(name)
    else:
        mod = _gen()
        if name not in mod.SPECS or not mod.SPECS[name]["kernels"]:
            from symdl.registry import user_names

            known = [n for n, m in mod.SPECS.items() if m["kernels"]] + user_names("optimizer")
            raise UnknownNameError("optimizer rule", name, known) from None
    if lr is not None:
        options["lr"] = lr
    return RuleOptimizer(name, mod.SPECS[name], mod, params, **options)


# ---------------------------------------------------------------- gradient clipping
def clip_grad_norm_(grads, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> float:
    """Scale ``grads`` in place so that their joint norm is at most ``max_norm``
    (torch: coefficient max_norm / (norm + 1e-6), clamped to 1); returns the
    total norm before clipping."""
    if isinstance(grads, np.ndarray):
        grads = [grads]
    grads = list(grads)
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(gr))) if gr.size else 0.0 for gr in grads)
    else:
        total = sum(float(np.sum(np.abs(gr.astype(np.float64, copy=False)) ** norm_type))
                    for gr in grads) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise FloatingPointError(f"the total norm of order {norm_type} of the gradients is "
                                 f"non-finite ({total}), so it cannot be clipped")
    coef = min(float(max_norm) / (total + 1e-6), 1.0)
    if coef < 1.0:
        for gr in grads:
            gr *= gr.dtype.type(coef)
    return total


def clip_grad_value_(grads, clip_value: float) -> None:
    """Clamp every gradient entry to [-clip_value, clip_value] in place."""
    if isinstance(grads, np.ndarray):
        grads = [grads]
    c = float(clip_value)
    for gr in grads:
        np.clip(gr, -c, c, out=gr)


# ---------------------------------------------------------------- LR schedules
class LRScheduler:
    """torch-style scheduler: ``step()`` once per epoch sets every group's lr
    from its closed form in ``last_epoch``."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not a symdl.optim optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for gr in optimizer.param_groups:
                gr.setdefault("initial_lr", gr["lr"])
        self.base_lrs = [gr.get("initial_lr", gr["lr"]) for gr in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, base_lr: float, epoch: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_last_lr(self) -> list:
        return list(self._last_lr)

    def step(self) -> None:
        self.last_epoch += 1
        for gr, base in zip(self.optimizer.param_groups, self.base_lrs):
            gr["lr"] = self.lr_at(base, self.last_epoch)
        self._last_lr = [gr["lr"] for gr in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer" and not callable(v)}

    def load_state_dict(self, d: dict) -> None:
        self.__dict__.update(d)


class StepLR(LRScheduler):
    """lr = base · gamma^(epoch // step_size)."""

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base, e):
        return base * self.gamma ** (e // self.step_size)


class MultiStepLR(LRScheduler):
    """lr = base · gamma^(number of milestones ≤ epoch)."""

    def __init__(self, optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        self.milestones, self.gamma = sorted(int(m) for m in milestones), float(gamma)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base, e):
        return base * self.gamma ** sum(1 for m in self.milestones if m <= e)


class ExponentialLR(LRScheduler):
    """lr = base · gamma^epoch  (the notes' η₀e^{-kt} with gamma = e^{-k})."""

    def __init__(self, optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base, e):
        return base * self.gamma ** e


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base - eta_min)(1 + cos(π·epoch/T_max))/2."""

    def __init__(self, optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        self.T_max, self.eta_min = int(T_max), float(eta_min)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base, e):
        return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * e / self.T_max)) / 2


class LambdaLR(LRScheduler):
    """lr = base · lr_lambda(epoch)."""

    def __init__(self, optimizer, lr_lambda, last_epoch: int = -1):
        self.lr_lambda = lr_lambda
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base, e):
        return base * self.lr_lambda(e)


class LinearLR(LRScheduler):
    """Linear warmup: the factor goes from start_factor to end_factor over
    total_iters epochs, then stays (torch.optim.lr_scheduler.LinearLR)."""

    def __init__(self, optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise OptionError("LinearLR: start_factor must be in (0, 1] and end_factor in [0, 1]")
        self.start_factor, self.end_factor = float(start_factor), float(end_factor)
        self.total_iters = int(total_iters)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base, e):
        k = min(e, self.total_iters) / self.total_iters if self.total_iters else 1.0
        return base * (self.start_factor + (self.end_factor - self.start_factor) * k)


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing restarted after T_0, T_0·T_mult, ... epochs (SGDR)."""

    def __init__(self, optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 last_epoch: int = -1):
        if int(T_0) <= 0 or int(T_mult) < 1:
            raise OptionError(f"CosineAnnealingWarmRestarts: T_0 must be a positive integer and "
                              f"T_mult an integer >= 1, got T_0={T_0}, T_mult={T_mult}")
        self.T_0, self.T_mult, self.eta_min = int(T_0), int(T_mult), float(eta_min)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base, e):
        if self.T_mult == 1:
            t_cur, t_i = e % self.T_0, self.T_0
        else:
            n = int(math.log(e / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
            t_cur = e - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
            t_i = self.T_0 * self.T_mult**n
        return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


class CyclicLR(LRScheduler):
    """Triangular cyclical learning rate between base_lr and max_lr, stepped per
    batch (torch's CyclicLR with mode="triangular"/"triangular2"; momentum is
    not cycled)."""

    def __init__(self, optimizer, base_lr: float, max_lr: float, step_size_up: int = 2000,
                 step_size_down: int | None = None, mode: str = "triangular", last_epoch: int = -1):
        if mode not in ("triangular", "triangular2"):
            raise OptionError(f"CyclicLR: mode must be 'triangular' or 'triangular2', not {mode!r}")
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size, self.step_ratio = up + down, up / (up + down)
        self.base_lr, self.max_lr, self.mode = float(base_lr), float(max_lr), mode
        if last_epoch == -1:
            for gr in optimizer.param_groups:
                gr["lr"] = self.base_lr
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base, e):
        cycle = math.floor(1 + e / self.total_size)
        x = 1.0 + e / self.total_size - cycle
        scale = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        height = (self.max_lr - self.base_lr) * scale
        factor = 1.0 if self.mode == "triangular" else 1 / (2.0 ** (cycle - 1))
        return self.base_lr + height * factor


class InverseTimeLR(LRScheduler):
    """lr = base / (1 + k·epoch)  (the notes' η₀/(1 + kt); no torch class)."""

    def __init__(self, optimizer, k: float, last_epoch: int = -1):
        self.k = float(k)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base, e):
        return base / (1 + self.k * e)


from .schedules import ConstantLR, CyclicLR, OneCycleLR, PolynomialLR, ReduceLROnPlateau, SequentialLR  # noqa: E402,F401,I001
from symdl.newton import newton, newton_step  # noqa: E402,F401,I001  (Newton: symdl/newton.py)

"""The optimizer runtime: parameter groups, per-parameter state, the step that
runs a rule's generated fused kernel, torch-style state dicts (no SymPy).

Each ``step`` runs, per parameter, one fused kernel of
``generated/optimizers/<rule>.py`` (θ and every state array updated in a
single pass) after one call of the rule's generated scalar function (bias
corrections and the like, float64, once per step).  Both come from the specs
in ``symdl.specs.optimizers``.
"""
from __future__ import annotations

import difflib

import numpy as np

from symdl.errors import ParameterError, ShapeError, SymdlError

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
    #: state keys holding one number per parameter (not an array of its shape)
    _tensor_states: tuple = ()
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
    def _resolve(self, name: str):
        """The generated module's object ``name``, looked up once per optimizer
        (resolving one through the family view costs ~40 µs)."""
        k = self._kernels.get(name)
        if k is None:
            k = self._kernels[name] = getattr(self._gen(), name)
        return k

    def _kernel_of(self, key: str, dt: str, par: bool):
        return self._resolve(f"{key}_{dt}{'_par' if par else ''}")

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
        per_tensor = meta.get("tensor_state", ())    # one number per parameter (NovoGrad's v)
        for s in meta["state"]:
            if s["key"] in states and st.get(s["key"]) is None:
                init = s["init"]
                val = float(group[init]) if isinstance(init, str) else init
                st[s["key"]] = np.full((1,) if s["key"] in per_tensor else p.shape, val, dtype=p.dtype)
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
        idx = 0
        for group in self.param_groups:
            meta, key, states = self._variant_meta(group)
            hyper = self._hyper(meta, group)
            scalars = self._resolve(key + "_scalars")
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
                    if arr.shape != p.shape and not (name in self._tensor_states and arr.size == 1):
                        raise ShapeError(f"state {name!r} of parameter {pos} has shape {arr.shape}, "
                                         f"but the parameter has shape {p.shape}")
                    out[name] = np.array(arr, dtype=p.dtype, order="C").reshape(
                        (1,) if name in self._tensor_states else p.shape)
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


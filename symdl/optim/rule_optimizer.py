"""``from_rule``: an optimizer for any generated rule (a user's or the
catalog's) under the rule's own hyperparameter names."""
from __future__ import annotations

from symdl.errors import ParameterError, UnknownNameError

from .base import Optimizer, OptionError, _check_range, _gen, _reject

class RuleOptimizer(Optimizer):
    """An optimizer for any generated rule -- a user's (``symdl generate
    --spec-file``) or the catalog's -- with the rule's own hyperparameter and
    option names (``lr``, ``beta1``, ``maximize``, ...).  Build it with
    ``from_rule``.  ``has_weight_decay`` follows ``weight_decay != 0``."""

    def __init__(self, rule: str, meta: dict, module, params, **options):
        self.rule, self._module = rule, module
        self._tensor_states = tuple(meta.get("tensor_state", ()))
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
    if mod.SPECS[name].get("factored"):   # a matrix and a vector kernel: its own step
        raise ParameterError(f"{name!r} factors a matrix's statistics: use symdl.optim.Adafactor(params, ...)")
    if lr is not None:
        options["lr"] = lr
    return RuleOptimizer(name, mod.SPECS[name], mod, params, **options)


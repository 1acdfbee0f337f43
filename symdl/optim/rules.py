"""torch's optimizer classes (``torch.optim`` names, options, defaults and
messages) on the catalog's rules; ``get(name)`` finds one by name."""
from __future__ import annotations

from symdl.errors import UnknownNameError

from .base import Optimizer, OptionError, _betas, _check_range, _reject


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
    """torch.optim.Adagrad: lr_decay, initial_accumulator_value, eps=1e-10."""

    rule = "adagrad"

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, *, maximize=False, **unknown):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        _reject("Adagrad", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        _check_range("lr", gr["lr"], label="learning rate")
        _check_range("lr_decay", gr["lr_decay"], label="lr_decay value")
        _check_range("weight_decay", gr["weight_decay"], label="weight_decay value")
        _check_range("iav", gr["initial_accumulator_value"],
                     label="initial_accumulator_value value")
        _check_range("eps", gr["eps"], label="epsilon value")


class RMSprop(Optimizer):
    """torch.optim.RMSprop: alpha=0.99, eps=1e-8, momentum, centered."""

    rule = "rmsprop"

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False, **unknown):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
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
                "maximize": bool(gr["maximize"])}


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


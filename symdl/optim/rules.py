"""torch's optimizer classes (``torch.optim`` names, options, defaults and
messages) on the catalog's rules; ``get(name)`` finds one by name."""
from __future__ import annotations


from .base import Optimizer, OptionError, _betas, _check_range, _reject


class SGD(Optimizer):
    r"""torch.optim.SGD: momentum, dampening, nesterov, weight_decay, maximize.

    Update rule (spec ``sgd``; momentum_mode='heavy_ball', weight_decay ≠ 0), one step:

    $$
    \begin{aligned}
    \tau_t &= \begin{cases} 1 & \text{for}\: t = 1 \\1 - \tau & \text{otherwise} \end{cases} \\
    g &\leftarrow g + \theta \lambda \\
    b &\leftarrow b \mu + \tau_t g \\
    \theta &\leftarrow - b \mathrm{lr} + \theta
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\mu$ = ``momentum``, $\tau$ = ``dampening``, $\lambda$ =
    ``weight_decay``; state: $b$ = ``momentum_buffer``; $\theta$ the parameter, $g$ its
    gradient, $t$ the step count (1 on the first step).
    """

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
    r"""torch.optim.Adam: betas, eps, weight_decay, amsgrad, maximize,
    decoupled_weight_decay (= AdamW).

    Update rule (spec ``adam``; amsgrad=False, weight_decay ≠ 0), one step:

    $$
    \begin{aligned}
    bc_{1} &= 1 - \beta_{1}^{t} \\
    bc_{2} &= 1 - \beta_{2}^{t} \\
    g &\leftarrow g + \theta \lambda \\
    m &\leftarrow \beta_{1} m + g \left(1 - \beta_{1}\right) \\
    v &\leftarrow \beta_{2} v + g^{2} \left(1 - \beta_{2}\right) \\
    \theta &\leftarrow \theta - \frac{\mathrm{lr} m}{bc_{1} \left(\mathrm{eps} + \frac{\sqrt{v}}{\sqrt{bc_{2}}}\right)}
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\beta_{1}, \beta_{2}$ = ``betas``, $\mathrm{eps}$ =
    ``eps``, $\lambda$ = ``weight_decay``; state: $m$ = ``exp_avg``, $v$ = ``exp_avg_sq``;
    $\theta$ the parameter, $g$ its gradient, $t$ the step count (1 on the first step).
    """

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
    r"""torch.optim.AdamW (decoupled weight decay, default 1e-2).

    Update rule (spec ``adamw``; amsgrad=False, weight_decay ≠ 0), one step:

    $$
    \begin{aligned}
    bc_{1} &= 1 - \beta_{1}^{t} \\
    bc_{2} &= 1 - \beta_{2}^{t} \\
    \theta &\leftarrow \theta \left(- \mathrm{lr} \lambda + 1\right) \\
    m &\leftarrow \beta_{1} m + g \left(1 - \beta_{1}\right) \\
    v &\leftarrow \beta_{2} v + g^{2} \left(1 - \beta_{2}\right) \\
    \theta &\leftarrow \theta - \frac{\mathrm{lr} m}{bc_{1} \left(\mathrm{eps} + \frac{\sqrt{v}}{\sqrt{bc_{2}}}\right)}
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\beta_{1}, \beta_{2}$ = ``betas``, $\mathrm{eps}$ =
    ``eps``, $\lambda$ = ``weight_decay``; state: $m$ = ``exp_avg``, $v$ = ``exp_avg_sq``;
    $\theta$ the parameter, $g$ its gradient, $t$ the step count (1 on the first step).
    """

    rule = "adamw"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, **unknown):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True, **unknown)


class Adamax(Optimizer):
    r"""torch.optim.Adamax.

    Update rule (spec ``adamax``; weight_decay ≠ 0), one step:

    $$
    \begin{aligned}
    bc_{1} &= 1 - \beta_{1}^{t} \\
    g &\leftarrow g + \theta \lambda \\
    m &\leftarrow \beta_{1} m + g \left(1 - \beta_{1}\right) \\
    u &\leftarrow \max\left(\beta_{2} u, \mathrm{eps} + \left|{g}\right|\right) \\
    \theta &\leftarrow \theta - \frac{\mathrm{lr} m}{bc_{1} u}
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\beta_{1}, \beta_{2}$ = ``betas``, $\mathrm{eps}$ =
    ``eps``, $\lambda$ = ``weight_decay``; state: $m$ = ``exp_avg``, $u$ = ``exp_inf``; $\theta$
    the parameter, $g$ its gradient, $t$ the step count (1 on the first step).
    """

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
    r"""torch.optim.NAdam (momentum_decay schedule; mu_product state).

    Update rule (spec ``nadam``; decoupled_weight_decay=False, weight_decay ≠ 0), one step:

    $$
    \begin{aligned}
    bc_{2} &= 1 - \beta_{2}^{t} \\
    \mu_{t} &= \beta_{1} \left(1 - \frac{\left(\frac{24}{25}\right)^{\psi t}}{2}\right) \\
    \mu_{t+1} &= \beta_{1} \left(1 - \frac{\left(\frac{24}{25}\right)^{\psi \left(t + 1\right)}}{2}\right) \\
    \mu_{\Pi} &\leftarrow \mu_{\Pi} \mu_{t} \\
    g &\leftarrow g + \theta \lambda \\
    m &\leftarrow \beta_{1} m + g \left(1 - \beta_{1}\right) \\
    v &\leftarrow \beta_{2} v + g^{2} \left(1 - \beta_{2}\right) \\
    \delta &\leftarrow \mathrm{eps} + \frac{\sqrt{v}}{\sqrt{bc_{2}}} \\
    \theta &\leftarrow \theta - \frac{g \mathrm{lr} \left(1 - \mu_{t}\right)}{\delta \left(1 - \mu_{\Pi}\right)} - \frac{\mathrm{lr} m \mu_{t+1}}{\delta \left(- \mu_{t+1} \mu_{\Pi} + 1\right)}
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\beta_{1}, \beta_{2}$ = ``betas``, $\mathrm{eps}$ =
    ``eps``, $\lambda$ = ``weight_decay``, $\psi$ = ``momentum_decay``; state: $m$ =
    ``exp_avg``, $v$ = ``exp_avg_sq``, $\mu_{\Pi}$ = ``mu_product``; $\theta$ the parameter, $g$
    its gradient, $t$ the step count (1 on the first step).
    """

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
    r"""torch.optim.RAdam (rectification once rho_t > 5).

    Update rule (spec ``radam``; decoupled_weight_decay=False, weight_decay ≠ 0), one step:

    $$
    \begin{aligned}
    bc_{1} &= 1 - \beta_{1}^{t} \\
    bc_{2} &= 1 - \beta_{2}^{t} \\
    \rho_\infty &= -1 + \frac{2}{1 - \beta_{2}} \\
    \rho_t &= \rho_\infty - \frac{2 \beta_{2}^{t} t}{bc_{2}} \\
    r_t &= \sqrt{\max\left(0, \frac{\rho_\infty \left(\rho_t - 4\right) \left(\rho_t - 2\right)}{\rho_t \left(\rho_\infty - 4\right) \left(\rho_\infty - 2\right)}\right)} \\
    g &\leftarrow g + \theta \lambda \\
    m &\leftarrow \beta_{1} m + g \left(1 - \beta_{1}\right) \\
    v &\leftarrow \beta_{2} v + g^{2} \left(1 - \beta_{2}\right) \\
    \theta &\leftarrow \begin{cases} \theta - \frac{\sqrt{bc_{2}} \mathrm{lr} m r_t}{bc_{1} \left(\mathrm{eps} + \sqrt{v}\right)} & \text{for}\: \rho_t > 5 \\\theta - \frac{\mathrm{lr} m}{bc_{1}} & \text{otherwise} \end{cases}
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\beta_{1}, \beta_{2}$ = ``betas``, $\mathrm{eps}$ =
    ``eps``, $\lambda$ = ``weight_decay``; state: $m$ = ``exp_avg``, $v$ = ``exp_avg_sq``;
    $\theta$ the parameter, $g$ its gradient, $t$ the step count (1 on the first step).
    """

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
    r"""torch.optim.Adagrad: lr_decay, initial_accumulator_value, eps=1e-10.

    Update rule (spec ``adagrad``; weight_decay ≠ 0, eps_inside_sqrt=False), one step:

    $$
    \begin{aligned}
    \mathrm{clr} &= \frac{\mathrm{lr}}{\mathrm{lr\_decay} \left(t - 1\right) + 1} \\
    g &\leftarrow g + \theta \lambda \\
    s &\leftarrow g^{2} + s \\
    \theta &\leftarrow - \frac{\mathrm{clr} g}{\mathrm{eps} + \sqrt{s}} + \theta
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\mathrm{lr\_decay}$ = ``lr_decay``, $\lambda$ =
    ``weight_decay``, $s_0$ = ``initial_accumulator_value``, $\mathrm{eps}$ = ``eps``; state:
    $s$ = ``sum`` (initially ``initial_accumulator_value``); $\theta$ the parameter, $g$ its
    gradient, $t$ the step count (1 on the first step).
    """

    rule = "adagrad"

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, *, maximize=False, eps_inside_sqrt=False, **unknown):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize, eps_inside_sqrt=eps_inside_sqrt)
        _reject("Adagrad", unknown, defaults)
        super().__init__(params, defaults)

    def _variant(self, gr):   # eps_inside_sqrt: g/sqrt(sum + eps) (the notes; not in torch)
        return {"maximize": bool(gr["maximize"]), "eps_inside_sqrt": bool(gr["eps_inside_sqrt"])}

    def _validate(self, gr):
        _check_range("lr", gr["lr"], label="learning rate")
        _check_range("lr_decay", gr["lr_decay"], label="lr_decay value")
        _check_range("weight_decay", gr["weight_decay"], label="weight_decay value")
        _check_range("iav", gr["initial_accumulator_value"],
                     label="initial_accumulator_value value")
        _check_range("eps", gr["eps"], label="epsilon value")


class RMSprop(Optimizer):
    r"""torch.optim.RMSprop: alpha=0.99, eps=1e-8, momentum, centered.

    Update rule (spec ``rmsprop``; has_momentum=False, centered=False, weight_decay ≠ 0, eps_inside_sqrt=False), one step:

    $$
    \begin{aligned}
    g &\leftarrow g + \theta \lambda \\
    a &\leftarrow a \alpha + g^{2} \left(1 - \alpha\right) \\
    \delta &\leftarrow \sqrt{a} + \mathrm{eps} \\
    \theta &\leftarrow \theta - \frac{g \mathrm{lr}}{\delta}
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\alpha$ = ``alpha``, $\mathrm{eps}$ = ``eps``, $\lambda$ =
    ``weight_decay``, $\mu$ = ``momentum``; state: $a$ = ``square_avg``; $\theta$ the parameter,
    $g$ its gradient, $t$ the step count (1 on the first step).
    """

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
    r"""torch.optim.Adadelta: lr=1.0, rho=0.9, eps=1e-6.

    Update rule (spec ``adadelta``; weight_decay ≠ 0), one step:

    $$
    \begin{aligned}
    g &\leftarrow g + \theta \lambda \\
    a &\leftarrow a \rho + g^{2} \left(1 - \rho\right) \\
    \delta &\leftarrow \frac{g \sqrt{d + \mathrm{eps}}}{\sqrt{a + \mathrm{eps}}} \\
    d &\leftarrow d \rho + \delta^{2} \left(1 - \rho\right) \\
    \theta &\leftarrow - \delta \mathrm{lr} + \theta
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\rho$ = ``rho``, $\mathrm{eps}$ = ``eps``, $\lambda$ =
    ``weight_decay``; state: $a$ = ``square_avg``, $d$ = ``acc_delta``; $\theta$ the parameter,
    $g$ its gradient, $t$ the step count (1 on the first step).
    """

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
    r"""torch.optim.Rprop: etas=(etaminus, etaplus), step_sizes=(min, max).

    Update rule (spec ``rprop``), one step:

    $$
    \begin{aligned}
    \delta &\leftarrow \begin{cases} \eta_{+} & \text{for}\: g g_{\mathrm{prev}} > 0 \\\eta_{-} & \text{for}\: g g_{\mathrm{prev}} < 0 \\1 & \text{otherwise} \end{cases} \\
    \Delta &\leftarrow \min\left(\Delta_{\max}, \max\left(\Delta_{\min}, \Delta \delta\right)\right) \\
    g &\leftarrow \begin{cases} 0 & \text{for}\: g g_{\mathrm{prev}} < 0 \\g & \text{otherwise} \end{cases} \\
    \theta &\leftarrow - \Delta \operatorname{sign}{\left(g \right)} + \theta \\
    g_{\mathrm{prev}} &\leftarrow g
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\eta_{-}, \eta_{+}$ = ``etas``, $\Delta_{\min},
    \Delta_{\max}$ = ``step_sizes``; state: $g_{\mathrm{prev}}$ = ``prev``, $\Delta$ =
    ``step_size`` (initially ``lr``); $\theta$ the parameter, $g$ its gradient, $t$ the step
    count (1 on the first step).
    """

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
    r"""torch.optim.ASGD: averaged SGD (Polyak-Ruppert averaging in state "ax").

    Update rule (spec ``asgd``; weight_decay ≠ 0), one step:

    $$
    \begin{aligned}
    \eta_t &= \mathrm{lr} \left(\lambda_{a} \mathrm{lr} \left(t - 1\right) + 1\right)^{- \alpha} \\
    \mu_t &= \frac{1}{\max\left(1, t - t_0 - 1\right)} \\
    g &\leftarrow g + \theta \lambda \\
    \theta &\leftarrow - \eta_t g + \theta \left(- \eta_t \lambda_{a} + 1\right) \\
    \bar{\theta} &\leftarrow \begin{cases} \theta & \text{for}\: \mu_t = 1 \\\mu_t \left(\theta - \bar{\theta}\right) + \bar{\theta} & \text{otherwise} \end{cases}
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\lambda_{a}$ = ``lambd``, $\alpha$ = ``alpha``, $t_0$ =
    ``t0``, $\lambda$ = ``weight_decay``; state: $\bar{\theta}$ = ``ax``; $\theta$ the
    parameter, $g$ its gradient, $t$ the step count (1 on the first step).
    """

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
    r"""Lion (Chen et al. 2023): sign of the interpolated momentum; decoupled weight decay.

    Update rule (spec ``lion``; weight_decay ≠ 0), one step:

    $$
    \begin{aligned}
    \theta &\leftarrow \theta \left(- \mathrm{lr} \lambda + 1\right) \\
    \delta &\leftarrow \beta_{1} m + g \left(1 - \beta_{1}\right) \\
    \theta &\leftarrow - \mathrm{lr} \operatorname{sign}{\left(\delta \right)} + \theta \\
    m &\leftarrow \beta_{2} m + g \left(1 - \beta_{2}\right)
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\beta_{1}, \beta_{2}$ = ``betas``, $\lambda$ =
    ``weight_decay``; state: $m$ = ``exp_avg``; $\theta$ the parameter, $g$ its gradient, $t$
    the step count (1 on the first step).
    """

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
    r"""AdaBelief (Zhuang et al. 2020): Adam with the variance of g around m; decoupled weight decay.

    Update rule (spec ``adabelief``; weight_decay ≠ 0), one step:

    $$
    \begin{aligned}
    bc_{1} &= 1 - \beta_{1}^{t} \\
    bc_{2} &= 1 - \beta_{2}^{t} \\
    \theta &\leftarrow \theta \left(- \mathrm{lr} \lambda + 1\right) \\
    m &\leftarrow \beta_{1} m + g \left(1 - \beta_{1}\right) \\
    v &\leftarrow \beta_{2} v + \mathrm{eps} + \left(1 - \beta_{2}\right) \left(g - m\right)^{2} \\
    \theta &\leftarrow \theta - \frac{\mathrm{lr} m}{bc_{1} \left(\mathrm{eps} + \frac{\sqrt{v}}{\sqrt{bc_{2}}}\right)}
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\beta_{1}, \beta_{2}$ = ``betas``, $\mathrm{eps}$ =
    ``eps``, $\lambda$ = ``weight_decay``; state: $m$ = ``exp_avg``, $v$ = ``exp_avg_var``;
    $\theta$ the parameter, $g$ its gradient, $t$ the step count (1 on the first step).
    """

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
    r"""Yogi (Zaheer et al. 2018; optax's defaults).

    Update rule (spec ``yogi``; weight_decay ≠ 0), one step:

    $$
    \begin{aligned}
    g &\leftarrow g + \theta \lambda \\
    m &\leftarrow \beta_{1} m + g \left(1 - \beta_{1}\right) \\
    v &\leftarrow - g^{2} \left(1 - \beta_{2}\right) \operatorname{sign}{\left(- g^{2} + v \right)} + v \\
    \theta &\leftarrow - \frac{\mathrm{lr} m}{\mathrm{eps} + \sqrt{v}} + \theta
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\beta_{1}, \beta_{2}$ = ``betas``, $\mathrm{eps}$ =
    ``eps``, $\lambda$ = ``weight_decay``, $s_0$ = ``initial_accumulator_value``; state: $m$ =
    ``exp_avg`` (initially ``initial_accumulator_value``), $v$ = ``exp_avg_sq`` (initially
    ``initial_accumulator_value``); $\theta$ the parameter, $g$ its gradient, $t$ the step count
    (1 on the first step).
    """

    rule = "yogi"

    def __init__(self, params, lr=1e-2, betas=(0.9, 0.999), eps=1e-3, weight_decay=0,
                 initial_accumulator_value=1e-6, *, maximize=False, **unknown):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        _reject("Yogi", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        Adam._validate(self, gr)


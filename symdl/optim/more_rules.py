"""Optimizers without a torch class: LAMB and LARS (per-tensor trust ratios,
optax's conventions), signSGD, Signum and Adan; same interface as
``symdl.optim.rules`` (option names of optax and the papers' code)."""
from __future__ import annotations

from .base import Optimizer, OptionError, _check_range, _reject
from .rules import Adam


def _betas3(cls, betas):
    try:
        bs = tuple(betas)
    except TypeError:
        bs = ()
    if len(bs) != 3:
        raise OptionError(f"{cls}: betas must be a triple (beta1, beta2, beta3), got {betas!r}")
    for k, b in enumerate(bs):
        _check_range("beta", b, 0.0, 1.0, label=f"beta parameter at index {k}")


class LAMB(Optimizer):
    r"""LAMB (You et al. 2020; optax.lamb's defaults and trust ratio).

    Update rule (spec ``lamb``; bias_correction=True, weight_decay ≠ 0), one step:

    $$
    \begin{aligned}
    bc_{1} &= 1 - \beta_{1}^{t} \\
    bc_{2} &= 1 - \beta_{2}^{t} \\
    m &\leftarrow \beta_{1} m + g \left(1 - \beta_{1}\right) \\
    v &\leftarrow \beta_{2} v + g^{2} \left(1 - \beta_{2}\right) \\
    r &\leftarrow \theta \lambda + \frac{m}{bc_{1} \left(\mathrm{eps} + \sqrt{\epsilon_{\mathrm{root}} + \frac{v}{bc_{2}}}\right)} \\
    \|\theta\|^{2} &= \textstyle\sum_i \theta^{2} \\
    \|r\|^{2} &= \textstyle\sum_i r^{2} \\
    \phi &= \begin{cases} 1 & \text{for}\: \|r\|^{2} = 0 \vee \|\theta\|^{2} = 0 \\\frac{\sqrt{\|\theta\|^{2}}}{\sqrt{\|r\|^{2}}} & \text{otherwise} \end{cases} \\
    \theta &\leftarrow - \mathrm{lr} \phi r + \theta
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\beta_{1}, \beta_{2}$ = ``betas``, $\mathrm{eps}$ =
    ``eps``, $\epsilon_{\mathrm{root}}$ = ``eps_root``, $\lambda$ = ``weight_decay``; state: $m$
    = ``exp_avg``, $v$ = ``exp_avg_sq``; $\theta$ the parameter, $g$ its gradient, $t$ the step
    count (1 on the first step).
    """

    rule = "lamb"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0, *,
                 eps_root=0.0, bias_correction=True, maximize=False, **unknown):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, eps_root=eps_root,
                        weight_decay=weight_decay, bias_correction=bias_correction,
                        maximize=maximize)
        _reject("LAMB", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        Adam._validate(self, gr)
        _check_range("eps_root", gr["eps_root"], label="eps_root value")

    def _variant(self, gr):
        return {"bias_correction": bool(gr["bias_correction"]), "maximize": bool(gr["maximize"])}


class LARS(Optimizer):
    r"""LARS (You, Gitman & Ginsburg 2017; optax.lars's defaults and trust ratio).

    Update rule (spec ``lars``; nesterov=False, weight_decay ≠ 0), one step:

    $$
    \begin{aligned}
    r &\leftarrow g + \theta \lambda \\
    \|\theta\|^{2} &= \textstyle\sum_i \theta^{2} \\
    \|r\|^{2} &= \textstyle\sum_i r^{2} \\
    \phi &= \begin{cases} 1 & \text{for}\: \|r\|^{2} = 0 \vee \|\theta\|^{2} = 0 \\\frac{\eta_{\mathrm{tc}} \sqrt{\|\theta\|^{2}}}{\mathrm{eps} + \sqrt{\|r\|^{2}}} & \text{otherwise} \end{cases} \\
    b &\leftarrow b \mu + \mathrm{lr} \phi r \\
    \theta &\leftarrow - b + \theta
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\mu$ = ``momentum``, $\lambda$ = ``weight_decay``,
    $\eta_{\mathrm{tc}}$ = ``trust_coefficient``, $\mathrm{eps}$ = ``eps``; state: $b$ =
    ``momentum_buffer``; $\theta$ the parameter, $g$ its gradient, $t$ the step count (1 on the
    first step).
    """

    rule = "lars"

    def __init__(self, params, lr=1e-3, momentum=0.9, weight_decay=0, trust_coefficient=1e-3,
                 eps=0.0, nesterov=False, *, maximize=False, **unknown):
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                        trust_coefficient=trust_coefficient, eps=eps, nesterov=nesterov,
                        maximize=maximize)
        _reject("LARS", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        _check_range("lr", gr["lr"], label="learning rate")
        _check_range("momentum", gr["momentum"], label="momentum value")
        _check_range("weight_decay", gr["weight_decay"], label="weight_decay value")
        _check_range("trust_coefficient", gr["trust_coefficient"], label="trust_coefficient value")
        _check_range("eps", gr["eps"], label="epsilon value")

    def _variant(self, gr):
        return {"nesterov": bool(gr["nesterov"]), "maximize": bool(gr["maximize"])}


class NovoGrad(Optimizer):
    r"""NovoGrad (Ginsburg et al. 2019): a per-tensor second moment.

    Update rule (spec ``novograd``; grad_averaging=False, weight_decay ≠ 0), one step:

    $$
    \begin{aligned}
    \|g\|^{2} &= \textstyle\sum_i g^{2} \\
    v_{t} &= \begin{cases} \|g\|^{2} & \text{for}\: t = 1 \\\beta_{2} v + \|g\|^{2} \left(1 - \beta_{2}\right) & \text{otherwise} \end{cases} \\
    m &\leftarrow \beta_{1} m + \frac{g}{\mathrm{eps} + \sqrt{v_{t}}} + \theta \lambda \\
    \theta &\leftarrow - \mathrm{lr} m + \theta
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\beta_{1}, \beta_{2}$ = ``betas``, $\mathrm{eps}$ =
    ``eps``, $\lambda$ = ``weight_decay``; state: $m$ = ``exp_avg``, $v$ = ``exp_avg_sq`` (one
    number per tensor, $v \leftarrow v_{t}$); $\theta$ the parameter, $g$ its gradient, $t$ the
    step count (1 on the first step).
    """

    rule = "novograd"
    _tensor_states = ("exp_avg_sq",)

    def __init__(self, params, lr=1e-3, betas=(0.95, 0.98), eps=1e-8, weight_decay=0,
                 grad_averaging=False, *, maximize=False, **unknown):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        grad_averaging=grad_averaging, maximize=maximize)
        _reject("NovoGrad", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        Adam._validate(self, gr)

    def _variant(self, gr):
        return {"grad_averaging": bool(gr["grad_averaging"]), "maximize": bool(gr["maximize"])}


class SignSGD(Optimizer):
    r"""signSGD (Bernstein et al. 2018).

    Update rule (spec ``sign_sgd``; weight_decay ≠ 0), one step:

    $$
    \begin{aligned}
    g &\leftarrow g + \theta \lambda \\
    \theta &\leftarrow - \mathrm{lr} \operatorname{sign}{\left(g \right)} + \theta
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\lambda$ = ``weight_decay``; state: none; $\theta$ the
    parameter, $g$ its gradient, $t$ the step count (1 on the first step).
    """

    rule = "sign_sgd"

    def __init__(self, params, lr=1e-3, weight_decay=0, *, maximize=False, **unknown):
        defaults = dict(lr=lr, weight_decay=weight_decay, maximize=maximize)
        _reject("SignSGD", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        _check_range("lr", gr["lr"], label="learning rate")
        _check_range("weight_decay", gr["weight_decay"], label="weight_decay value")


class Signum(Optimizer):
    r"""Signum (Bernstein et al. 2018): signSGD on a momentum average.

    Update rule (spec ``signum``; weight_decay ≠ 0), one step:

    $$
    \begin{aligned}
    g &\leftarrow g + \theta \lambda \\
    b &\leftarrow b \mu + g \left(1 - \mu\right) \\
    \theta &\leftarrow - \mathrm{lr} \operatorname{sign}{\left(b \right)} + \theta
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\mu$ = ``momentum``, $\lambda$ = ``weight_decay``; state:
    $b$ = ``momentum_buffer``; $\theta$ the parameter, $g$ its gradient, $t$ the step count (1
    on the first step).
    """

    rule = "signum"

    def __init__(self, params, lr=1e-3, momentum=0.9, weight_decay=0, *, maximize=False,
                 **unknown):
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, maximize=maximize)
        _reject("Signum", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        _check_range("lr", gr["lr"], label="learning rate")
        _check_range("momentum", gr["momentum"], 0.0, 1.0, label="momentum value")
        _check_range("weight_decay", gr["weight_decay"], label="weight_decay value")


class Adan(Optimizer):
    r"""Adan (Xie et al. 2022; the authors' PyTorch defaults and options).

    Update rule (spec ``adan``; no_prox=False), one step:

    $$
    \begin{aligned}
    bc_{1} &= 1 - \beta_{1}^{t} \\
    bc_{2} &= 1 - \beta_{2}^{t} \\
    bc_{3} &= 1 - \beta_{3}^{t} \\
    [t > 1] &= \begin{cases} 0 & \text{for}\: t = 1 \\1 & \text{otherwise} \end{cases} \\
    \delta &\leftarrow [t > 1] \left(g - g_{\mathrm{prev}}\right) \\
    m &\leftarrow \beta_{1} m + g \left(1 - \beta_{1}\right) \\
    m_{\Delta} &\leftarrow \beta_{2} m_{\Delta} + \delta \left(1 - \beta_{2}\right) \\
    n &\leftarrow \beta_{3} n + \left(1 - \beta_{3}\right) \left(\beta_{2} \delta + g\right)^{2} \\
    \theta &\leftarrow \frac{- \frac{\mathrm{lr} \left(\frac{\beta_{2} m_{\Delta}}{bc_{2}} + \frac{m}{bc_{1}}\right)}{\mathrm{eps} + \frac{\sqrt{n}}{\sqrt{bc_{3}}}} + \theta}{\mathrm{lr} \lambda + 1} \\
    g_{\mathrm{prev}} &\leftarrow g
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\beta_{1}, \beta_{2}, \beta_{3}$ = ``betas``,
    $\mathrm{eps}$ = ``eps``, $\lambda$ = ``weight_decay``; state: $m$ = ``exp_avg``,
    $m_{\Delta}$ = ``exp_avg_diff``, $n$ = ``exp_avg_sq``, $g_{\mathrm{prev}}$ = ``pre_grad``;
    $\theta$ the parameter, $g$ its gradient, $t$ the step count (1 on the first step).
    """

    rule = "adan"

    def __init__(self, params, lr=1e-3, betas=(0.98, 0.92, 0.99), eps=1e-8, weight_decay=0.0,
                 no_prox=False, *, maximize=False, **unknown):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        no_prox=no_prox, maximize=maximize)
        _reject("Adan", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        _check_range("lr", gr["lr"], label="learning rate")
        _check_range("eps", gr["eps"], label="epsilon value")
        _betas3("Adan", gr["betas"])
        _check_range("weight_decay", gr["weight_decay"], label="weight_decay value")

    def _variant(self, gr):
        return {"no_prox": bool(gr["no_prox"]), "maximize": bool(gr["maximize"])}

    def _hyper(self, meta, gr):
        b = gr["betas"]
        named = {"beta1": b[0], "beta2": b[1], "beta3": b[2]}
        return tuple(float(named[n]) if n in named else float(gr[n]) for n in meta["hyper"])


class Adafactor(Optimizer):
    r"""torch.optim.Adafactor (torch 2.13): factored second moments for
    parameters with two or more dimensions (the last two; the leading ones a
    batch), the unfactored moving average for vectors; state keys and shapes
    as torch's (``row_var`` (..., R, 1), ``col_var`` (..., 1, C),
    ``variance``).  Parameters of ``PARALLEL_THRESHOLD`` elements or more
    step with the ``prange`` kernels (the same blocks and sums, so the same
    result as the serial ones).

    Update rule (spec ``adafactor``; weight_decay ≠ 0), one step:

    $$
    \begin{aligned}
    w_t &= t^{\hat{\beta}} \\
    \rho_t &= \min\left(\mathrm{lr}, \frac{1}{\sqrt{t}}\right) \\
    R &\leftarrow R + w_t \left(- R + \overline{g^2}_{row}\right) \\
    C &\leftarrow C + w_t \left(- C + \overline{g^2}_{col}\right) \\
    \hat{v} &\leftarrow \frac{C R}{\max\left(\bar{R}, \epsilon_{1}\right)} \\
    u &\leftarrow \frac{g}{\sqrt{\max\left(\epsilon_{1}^{2}, \hat{v}\right)}} \\
    \alpha_t &= \rho_t \max\left(\epsilon_{2}, \frac{\sqrt{\|\theta\|^{2}}}{\sqrt{N}}\right) \\
    D_t &= \max\left(1, \frac{\sqrt{\|u\|^{2}}}{\sqrt{N} d}\right) \\
    \theta &\leftarrow \theta \left(- \mathrm{lr} \lambda + 1\right) - \frac{\alpha_t u}{D_t}
    \end{aligned}
    $$

    Symbols: $\mathrm{lr}$ = ``lr``, $\hat{\beta}$ = ``beta2_decay``, $\epsilon_{1},
    \epsilon_{2}$ = ``eps``, $d$ = ``d``, $\lambda$ = ``weight_decay``; state: $R$ =
    ``row_var``, $C$ = ``col_var``; $\theta$ the parameter, $g$ its gradient, $t$ the step count
    (1 on the first step).
    """

    rule = "adafactor"

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                 weight_decay=0.0, *, foreach=None, maximize=False, **unknown):
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=tuple(eps), d=d,
                        weight_decay=weight_decay, maximize=maximize)
        _reject("Adafactor", unknown, defaults)
        super().__init__(params, defaults)

    def _validate(self, gr):
        _check_range("lr", gr["lr"], label="learning rate")
        if not float(gr["beta2_decay"]) <= 0.0:
            raise OptionError(f"beta2_decay should be <= 0 but is: {gr['beta2_decay']}")
        e1, e2 = gr["eps"]
        if e1 is not None:
            _check_range("eps1", e1, label="epsilon1")
        _check_range("eps2", e2, label="epsilon2")
        if not float(gr["d"]) >= 1.0:
            raise OptionError(f"Clipping threshold d should be >= 1 but is: {gr['d']}")
        _check_range("weight_decay", gr["weight_decay"], label="weight_decay")

    def step(self, grads) -> None:
        """Update every parameter in place from the aligned list ``grads``."""
        import numpy as np

        from symdl.errors import ShapeError

        if isinstance(grads, np.ndarray):
            grads = [grads]
        grads = list(grads)
        params = self._params()
        if len(grads) != len(params):
            raise ShapeError(f"Adafactor.step got {len(grads)} gradient(s) for {len(params)} parameter(s)")
        get, fns = self._resolve, self._kernels
        threshold = get("PARALLEL_THRESHOLD")
        idx = 0
        for group in self.param_groups:
            vkey = ("variant", group["weight_decay"] != 0, bool(group["maximize"]))
            key = fns.get(vkey)
            if key is None:
                variant = {"has_weight_decay": vkey[1], "maximize": vkey[2]}
                key = fns[vkey] = next(k for v, k, _ in get("SPECS")["adafactor"]["variants"] if v == variant)
            for p in group["params"]:
                gr = np.asarray(grads[idx])
                if gr.shape != p.shape or gr.dtype != p.dtype:
                    raise ShapeError(f"Adafactor.step: gradient {idx} has shape {gr.shape} and dtype "
                                     f"{gr.dtype}, but parameter {idx} has shape {p.shape} and dtype {p.dtype}")
                st = self.state.setdefault(idx, {})
                if "step" not in st:
                    st["step"] = 0.0
                    if p.ndim > 1:
                        st["row_var"] = np.zeros(p.shape[:-1] + (1,), p.dtype)
                        st["col_var"] = np.zeros(p.shape[:-2] + (1, p.shape[-1]), p.dtype)
                    else:
                        st["variance"] = np.zeros(p.shape, p.dtype)
                st["step"] = float(st["step"]) + 1.0
                e1, e2 = group["eps"]
                e1 = float(np.finfo(p.dtype).eps) if e1 is None else float(e1)
                kargs, _ = get(key + "_scalars")(
                    st["step"], float(group["lr"]), float(group["beta2_decay"]), e1, float(e2),
                    float(group["d"]), float(group["weight_decay"]))
                dt = "f32" if p.dtype == np.float32 else "f64"
                par = "_par" if p.size >= threshold else ""
                work = p if p.flags.c_contiguous else np.ascontiguousarray(p)
                g = np.ascontiguousarray(gr)
                if p.ndim > 1:
                    shp = (int(np.prod(p.shape[:-2])),) + p.shape[-2:]     # (-1 fails on a size-0 p)
                    get(f"{key}_mat_{dt}{par}")(
                        work.reshape(shp), g.reshape(shp), st["row_var"].reshape(shp[:2]),
                        st["col_var"].reshape(shp[0], shp[2]), *kargs)
                else:
                    get(f"{key}_vec_{dt}{par}")(work.reshape(-1), g.reshape(-1), st["variance"].reshape(-1),
                                                *kargs)
                if work is not p:
                    p[...] = work
                idx += 1

    def load_state_dict(self, state_dict: dict) -> None:
        """torch's or ours: row_var/col_var keep their factored shapes."""
        import numpy as np

        params = self._params()
        state = {}
        for pid, st in state_dict["state"].items():
            p = params[int(pid)]
            state[int(pid)] = {k: (float(np.asarray(v).reshape(())) if k == "step"
                                   else np.array(np.asarray(v), dtype=p.dtype, order="C"))
                               for k, v in st.items()}
        for new, old in zip(state_dict["param_groups"], self.param_groups):
            for k, val in new.items():
                if k != "params" and k in self.defaults:
                    old[k] = tuple(val) if k == "eps" else val
        self.state = state

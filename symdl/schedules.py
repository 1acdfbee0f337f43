"""More learning-rate schedulers with torch's names and semantics (no SymPy);
re-exported by ``symdl.optim``.  Their closed forms are the specs of
``symdl.specs.schedules`` (tests/test_schedules.py checks both ways, and
against torch's trajectories).

* ``ConstantLR``, ``PolynomialLR``: closed forms in the epoch.
* ``SequentialLR(opt, [warmup, main], milestones=[5])``: warmup then main;
  at a milestone the next scheduler restarts from its epoch 0.
* ``ReduceLROnPlateau``: ``step(metric)``; torch's mode, threshold, cooldown,
  min_lr and eps.
* ``OneCycleLR``: stepped per batch; cos or linear annealing, two or three
  phases, momentum (or β₁) cycled inversely when the optimizer has it.
* ``CyclicLR``: ``symdl.optim.CyclicLR`` plus mode ``"exp_range"``
  (height·γ^t).
"""
from __future__ import annotations

import bisect
import math

from symdl.errors import ParameterError

from .optim import schedules as _optim
from .optim.base import OptionError
from .optim.schedules import LRScheduler

__all__ = ["ConstantLR", "PolynomialLR", "SequentialLR", "ReduceLROnPlateau", "OneCycleLR", "CyclicLR"]


class ConstantLR(LRScheduler):
    """lr = base·factor for epoch < total_iters, then base."""

    def __init__(self, optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1):
        if not 0 <= factor <= 1:
            raise OptionError(f"ConstantLR: factor must be in [0, 1], got {factor}")
        self.factor, self.total_iters = float(factor), int(total_iters)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base, e):
        return base * self.factor if e < self.total_iters else base


class PolynomialLR(LRScheduler):
    """lr = base·(1 − min(epoch, total_iters)/total_iters)^power."""

    def __init__(self, optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1):
        if int(total_iters) < 1:
            raise OptionError(f"PolynomialLR: total_iters must be >= 1, got {total_iters}")
        self.total_iters, self.power = int(total_iters), float(power)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base, e):
        return base * (1.0 - min(e, self.total_iters) / self.total_iters) ** self.power


class SequentialLR(LRScheduler):
    """schedulers[i] runs from milestones[i−1] on, restarted at its epoch 0
    (torch.optim.lr_scheduler.SequentialLR)."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch: int = -1):
        schedulers, milestones = list(schedulers), [int(m) for m in milestones]
        if len(milestones) != len(schedulers) - 1:
            raise OptionError(f"SequentialLR: {len(schedulers)} schedulers need {len(schedulers) - 1} "
                              f"milestones, got {len(milestones)}")
        if milestones != sorted(milestones):
            raise OptionError(f"SequentialLR: milestones must increase, got {milestones}")
        for s in schedulers:
            if s.optimizer is not optimizer:
                raise OptionError("SequentialLR: every scheduler must drive the same optimizer")
            if not hasattr(s, "lr_at") or isinstance(s, (ReduceLROnPlateau, SequentialLR)):
                raise OptionError(f"SequentialLR: {type(s).__name__} has no closed form in the epoch")
        self._schedulers, self._milestones = schedulers, milestones
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base, e):
        i = bisect.bisect_right(self._milestones, e)
        return self._schedulers[i].lr_at(base, e - (self._milestones[i - 1] if i else 0))

    def step(self) -> None:
        super().step()
        i = bisect.bisect_right(self._milestones, self.last_epoch)
        self._schedulers[i].last_epoch = self.last_epoch - (self._milestones[i - 1] if i else 0)

    def state_dict(self) -> dict:
        d = super().state_dict()
        d["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return d

    def load_state_dict(self, d: dict) -> None:
        d = dict(d)
        for s, sd in zip(self._schedulers, d.pop("_schedulers", [])):
            s.load_state_dict(sd)
        self.__dict__.update(d)


class ReduceLROnPlateau:
    """Multiply lr by ``factor`` after ``patience`` epochs without improvement of
    the metric given to ``step(metric)`` (torch's semantics, thresholds and
    cooldown); never below ``min_lr``; changes smaller than ``eps`` are skipped."""

    needs_metric = True

    def __init__(self, optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr=0.0, eps: float = 1e-8):
        if factor >= 1.0:
            raise OptionError(f"ReduceLROnPlateau: factor must be < 1, got {factor}")
        if mode not in ("min", "max") or threshold_mode not in ("rel", "abs"):
            raise OptionError(f"ReduceLROnPlateau: mode must be 'min'/'max' and threshold_mode "
                              f"'rel'/'abs', got {mode!r}, {threshold_mode!r}")
        self.optimizer = optimizer
        n = len(optimizer.param_groups)
        self.min_lrs = [float(v) for v in min_lr] if isinstance(min_lr, (list, tuple)) else [float(min_lr)] * n
        if len(self.min_lrs) != n:
            raise OptionError(f"ReduceLROnPlateau: {n} param groups but {len(self.min_lrs)} min_lr values")
        self.mode, self.factor, self.patience = mode, float(factor), int(patience)
        self.threshold, self.threshold_mode = float(threshold), threshold_mode
        self.cooldown, self.eps = int(cooldown), float(eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [gr["lr"] for gr in optimizer.param_groups]

    def _better(self, a, best):
        if self.mode == "min":
            return a < (best * (1 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return a > (best * (1 + self.threshold) if self.threshold_mode == "rel" else best + self.threshold)

    def step(self, metrics) -> None:
        current = float(metrics)
        self.last_epoch += 1
        if self._better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for gr, lo in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(gr["lr"])
                new = max(old * self.factor, lo)
                if old - new > self.eps:
                    gr["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [gr["lr"] for gr in self.optimizer.param_groups]

    def get_last_lr(self) -> list:
        return list(self._last_lr)

    def state_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, d: dict) -> None:
        self.__dict__.update(d)


def _anneal_cos(start, end, pct):
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _anneal_linear(start, end, pct):
    return (end - start) * pct + start


class OneCycleLR(LRScheduler):
    """torch.optim.lr_scheduler.OneCycleLR, stepped once per batch."""

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float = 0.85, max_momentum: float = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False, last_epoch: int = -1):
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ParameterError("OneCycleLR: give total_steps, or epochs and steps_per_epoch")
            total_steps = int(epochs) * int(steps_per_epoch)
        if int(total_steps) <= 0 or not 0 <= pct_start <= 1:
            raise OptionError(f"OneCycleLR: total_steps must be positive and pct_start in [0, 1], got "
                              f"{total_steps}, {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise OptionError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.total_steps = int(total_steps)
        self._anneal = _anneal_cos if anneal_strategy == "cos" else _anneal_linear
        T = self.total_steps
        if three_phase:
            ends = [float(pct_start * T) - 1, float(2 * pct_start * T) - 2, T - 1]
            lrs = [("initial", "max"), ("max", "initial"), ("initial", "min")]
            moms = [("max", "base"), ("base", "max"), ("max", "max")]
        else:
            ends = [float(pct_start * T) - 1, T - 1]
            lrs = [("initial", "max"), ("max", "min")]
            moms = [("max", "base"), ("base", "max")]
        self._phases = list(zip(ends, lrs, moms))
        groups = optimizer.param_groups
        max_lrs = list(max_lr) if isinstance(max_lr, (list, tuple)) else [max_lr] * len(groups)
        self.cycle_momentum = bool(cycle_momentum)
        self._levels = []
        for gr, mx in zip(groups, max_lrs):
            init = float(mx) / div_factor
            lv = {"initial": init, "max": float(mx), "min": init / final_div_factor,
                  "m_max": float(max_momentum), "m_base": float(base_momentum)}
            self._levels.append(lv)
            if last_epoch == -1:
                gr["initial_lr"] = gr["lr"] = init
        if self.cycle_momentum:
            for gr in groups:
                if "momentum" not in gr and "betas" not in gr:
                    raise OptionError("OneCycleLR: cycle_momentum needs an optimizer with momentum or "
                                      "betas (or pass cycle_momentum=False)")
        self._group = 0
        super().__init__(optimizer, last_epoch)

    def _at(self, lv, e, which):
        if e > self.total_steps:
            raise ParameterError(f"OneCycleLR: stepped {e} times, more than total_steps={self.total_steps}")
        start = 0.0
        for i, (end, lr_ends, m_ends) in enumerate(self._phases):
            if e <= end or i == len(self._phases) - 1:
                pct = (e - start) / (end - start)
                if which == "lr":
                    return self._anneal(lv[lr_ends[0]], lv[lr_ends[1]], pct)
                return self._anneal(lv["m_" + m_ends[0]], lv["m_" + m_ends[1]], pct)
            start = end

    def step(self) -> None:
        self.last_epoch += 1
        for gr, lv in zip(self.optimizer.param_groups, self._levels):
            gr["lr"] = self._at(lv, self.last_epoch, "lr")
            if self.cycle_momentum:
                m = self._at(lv, self.last_epoch, "m")
                if "betas" in gr:
                    gr["betas"] = (m, *tuple(gr["betas"])[1:])
                else:
                    gr["momentum"] = m
        self._last_lr = [gr["lr"] for gr in self.optimizer.param_groups]

    def lr_at(self, base, e):
        return self._at(self._levels[0], e, "lr")


class CyclicLR(_optim.CyclicLR):
    """``symdl.optim.CyclicLR`` (triangular, triangular2) plus torch's
    ``"exp_range"``: base_lr + (max_lr − base_lr)·max(0, 1 − x)·γ^t."""

    def __init__(self, optimizer, base_lr: float, max_lr: float, step_size_up: int = 2000,
                 step_size_down: int | None = None, mode: str = "triangular", gamma: float = 1.0,
                 last_epoch: int = -1):
        self.gamma = float(gamma)
        self._exp = mode == "exp_range"
        super().__init__(optimizer, base_lr, max_lr, step_size_up, step_size_down,
                         "triangular" if self._exp else mode, last_epoch)
        if self._exp:
            self.mode = "exp_range"

    def lr_at(self, base, e):
        if not getattr(self, "_exp", False):
            return super().lr_at(base, e)
        cycle = math.floor(1 + e / self.total_size)
        x = 1.0 + e / self.total_size - cycle
        scale = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        return self.base_lr + (self.max_lr - self.base_lr) * scale * self.gamma ** e

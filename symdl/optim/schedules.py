"""The learning-rate schedulers with closed forms in the epoch (torch's
``lr_scheduler`` names); more in ``symdl.schedules``, re-exported by
``symdl.optim``.  Their closed forms are the specs of ``symdl.specs.schedules``."""
from __future__ import annotations

import math

from .base import Optimizer, OptionError

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


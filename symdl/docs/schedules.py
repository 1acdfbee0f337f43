"""The learning-rate schedules of ``symdl.optim`` (runtime classes, not specs):
one generated page with each schedule's closed form (its docstring) and a plot
of its learning rate over epochs, from the class itself.

Schedules are discovered as the subclasses of ``symdl.optim.LRScheduler``;
``EXAMPLES`` gives the arguments a plot uses for those whose constructor
needs some (a schedule missing there is listed, not plotted).
"""
from __future__ import annotations

import inspect
from pathlib import Path

PAGE = "catalog/schedules.md"
BASE_LR = 0.1
EPOCHS = 100

#: constructor arguments for the plot (beyond the optimizer), by class name
EXAMPLES = {
    "StepLR": {"step_size": 30},
    "MultiStepLR": {"milestones": [30, 80]},
    "ExponentialLR": {"gamma": 0.95},
    "CosineAnnealingLR": {"T_max": EPOCHS},
    "LambdaLR": {"lr_lambda": "lambda epoch: 0.97 ** epoch"},
    "CosineAnnealingWarmRestarts": {"T_0": 10, "T_mult": 2},
    "CyclicLR": {"base_lr": 0.01, "max_lr": BASE_LR, "step_size_up": 20},
    "InverseTimeLR": {"k": 0.05},
}


def schedulers() -> list[type]:
    """Every concrete LRScheduler subclass of symdl.optim, in source order."""
    import symdl.optim as O

    found = [c for c in vars(O).values()
             if inspect.isclass(c) and issubclass(c, O.LRScheduler) and c is not O.LRScheduler]
    return sorted(found, key=lambda c: inspect.getsourcelines(c)[1])


def _args(cls) -> dict | None:
    args = dict(EXAMPLES.get(cls.__name__, {}))
    for k, v in args.items():
        if isinstance(v, str) and v.startswith("lambda"):
            args[k] = eval(v)        # noqa: S307 -- a constant of this module
    sig = inspect.signature(cls.__init__)
    missing = [p for n, p in list(sig.parameters.items())[2:]
               if p.default is inspect.Parameter.empty and n not in args
               and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return None if missing else args


def curve(cls) -> list[float] | None:
    """The learning rate of epochs 0..EPOCHS-1 (base lr 0.1), or None."""
    import numpy as np

    import symdl.optim as O

    args = _args(cls)
    if args is None:
        return None
    opt = O.SGD([np.zeros(1)], lr=BASE_LR)
    sched = cls(opt, **args)
    out = []
    for _ in range(EPOCHS):
        out.append(sched.get_last_lr()[0])
        sched.step()
    return out


def _shown_args(cls) -> str:
    return ", ".join(f"{k}={v if isinstance(v, str) else repr(v)}" for k, v in EXAMPLES.get(cls.__name__, {}).items())


def page(header: str) -> str:
    from .pages import md_text

    out = [header, "# Learning-rate schedules", "",
           "The schedules of `symdl.optim` (torch's `torch.optim.lr_scheduler` names and "
           "arguments; `step()` once per epoch). Each plot is drawn from the class itself, "
           f"with base learning rate {BASE_LR} over {EPOCHS} epochs.", ""]
    for cls in schedulers():
        doc = " ".join((inspect.getdoc(cls) or "").split())
        sig = "(" + ", ".join(n if p.default is inspect.Parameter.empty else f"{n}={p.default!r}"
                              for n, p in list(inspect.signature(cls.__init__).parameters.items())[1:]) + ")"
        out += [f"## {cls.__name__}", "", md_text(doc), "", "```python",
                f"symdl.optim.{cls.__name__}{sig}", "```", ""]
        if _args(cls) is None:
            out += ["*Not plotted: no example arguments for its required parameters.*", ""]
            continue
        out += [f"![{cls.__name__}](plots/schedule_{cls.__name__}.svg)", "",
                f"*{cls.__name__}({md_text(_shown_args(cls))})*", ""]
    return "\n".join(out).rstrip() + "\n"


def draw_all(root: Path) -> int:
    from .plots import PLOTS, _figure, _save

    n = 0
    for cls in schedulers():
        lr = curve(cls)
        if lr is None:
            continue
        plt, fig, ax = _figure()
        ax.step(range(len(lr)), lr, where="post", lw=2, label="learning rate")
        ax.set_xlabel("epoch")
        ax.set_title(f"{cls.__name__}({_shown_args(cls)})", fontsize=10)
        _save(plt, fig, ax, root / PLOTS / f"schedule_{cls.__name__}.svg")
        n += 1
    return n

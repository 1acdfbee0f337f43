"""Optimizers on the generated fused kernels (no SymPy import).

torch's class and option names::

    opt = symdl.optim.Adam([W, b], lr=1e-3)      # numpy arrays, updated in place
    opt.step([dW, db])                            # aligned list of gradients
    opt.lr = 1e-4                                 # every group (schedules)
    d = opt.state_dict(); opt.load_state_dict(d)  # torch's structure

The package's modules, by what they hold:

* ``base``: ``Optimizer`` (parameter groups, state, the step that runs a
  rule's generated fused kernel, state dicts) and the option checks;
* ``rules``: torch's classes (``SGD``, ``Adam``, ...; ``get(name)``), each
  docstring giving its update rule in LaTeX from the rule's spec;
* ``more_rules``: rules without a torch class (``LAMB``, ``LARS`` with
  per-tensor trust ratios; ``NovoGrad``, a per-tensor second moment; ``SignSGD``, ``Signum``, ``Adan``; torch's
  ``Adafactor``, factored row/column statistics);
* ``rule_optimizer``: ``from_rule`` (any generated rule by its spec names);
* ``clip``: ``clip_grad_norm_``, ``clip_grad_value_``;
* ``schedules``: ``LRScheduler`` and the closed-form schedules (more in
  ``symdl.schedules``, re-exported here).
"""
from __future__ import annotations

from .base import Optimizer, OptionError
from .clip import clip_grad_norm_, clip_grad_value_
from .more_rules import LAMB, LARS, Adafactor, Adan, NovoGrad, SignSGD, Signum
from .rule_optimizer import RuleOptimizer, from_rule
from .rules import (
    ASGD,
    SGD,
    AdaBelief,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Lion,
    NAdam,
    RAdam,
    RMSprop,
    Rprop,
    Yogi,
)
from .table import OPTIMIZERS, get
from .schedules import (
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    ExponentialLR,
    InverseTimeLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    StepLR,
)

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "Adagrad",
           "RMSprop", "Adadelta", "Rprop", "ASGD", "Lion", "AdaBelief", "Yogi", "OptionError",
           "clip_grad_norm_", "clip_grad_value_",
           "LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "LambdaLR", "LinearLR", "CosineAnnealingWarmRestarts", "CyclicLR", "InverseTimeLR", "get",
           "from_rule", "RuleOptimizer",
           "LAMB", "LARS", "SignSGD", "Signum", "Adan", "Adafactor", "NovoGrad"]

# torch's other schedulers (symdl/schedules.py builds on the ones above;
# its CyclicLR adds mode "exp_range" and replaces the one above)
from symdl.schedules import (  # noqa: E402,F401,I001
    ConstantLR, CyclicLR, OneCycleLR, PolynomialLR, ReduceLROnPlateau, SequentialLR)
from symdl.newton import newton, newton_step  # noqa: E402,F401,I001  (Newton: symdl/newton.py)

"""The spec registry: every formula symdl knows, by name (imports SymPy)."""
from __future__ import annotations

from symdl.errors import UnknownNameError

from .activations import ACTIVATIONS
from .base import Activation, Param, x
from .cells import CELLS
from .losses import LOSS_SPECS
from .normalization import NORM_SPECS
from .optimizers import NOTATIONS, OPTIMIZER_SPECS
from .optimizers_factored import FACTORED_RULES
from .optimizers_more import MORE_RULES
from .optimizers_tensor import TENSOR_RULES
from .regularizers import REGULARIZER_SPECS
from .schedules import SCHEDULE_SPECS
from .softmax import SOFTMAX_SPECS
from .user import (
    ADAM_BIAS_CORRECTIONS,
    MAXIMIZE,
    OptimizerRule,
    ScalarState,
    State,
    bc1,
    bc2,
    elementwise_loss,
    g,
    hyper,
    option,
    prelude,
    t,
    theta,
    weight_decay_option,
    y,
)

FAMILIES = {
    "activation": [s.name for s in ACTIVATIONS],
    "softmax": [s.name for s in SOFTMAX_SPECS],
    "loss": [s.name for s in LOSS_SPECS],
    "optimizer": [s.name for s in (*OPTIMIZER_SPECS, *MORE_RULES, *TENSOR_RULES, *FACTORED_RULES,
                                          *NOTATIONS)],
    "normalization": [s.name for s in NORM_SPECS],
    "cell": [c.name for c in CELLS],
    "regularizer": [s.name for s in REGULARIZER_SPECS],
    "schedule": [s.name for s in SCHEDULE_SPECS],
}
_ALL = {s.name: s for s in (*ACTIVATIONS, *SOFTMAX_SPECS, *LOSS_SPECS, *OPTIMIZER_SPECS, *MORE_RULES,
                            *TENSOR_RULES, *FACTORED_RULES, *NOTATIONS,
                            *NORM_SPECS, *CELLS, *REGULARIZER_SPECS, *SCHEDULE_SPECS)}


def all_specs(family: str | None = None) -> list:
    if family is None:
        return list(_ALL.values())
    if family not in FAMILIES:
        raise UnknownNameError("family", family, FAMILIES)
    return [_ALL[n] for n in FAMILIES[family]]


def get(name: str, family: str | None = None):
    """The spec called ``name`` (optionally required to be of ``family``);
    the catalog's, else one of ``use_specs``."""
    known = _ALL if family is None else {n: _ALL[n] for n in FAMILIES[family]}
    known = {**known, **{n: s for n, s in _USER.items() if family in (None, s.family)}}
    try:
        return known[name]
    except KeyError:
        raise UnknownNameError("spec" if family is None else f"{family} spec", name, known) from None


#: user specs found by ``get`` (``use_specs``); never part of the catalog
_USER: dict = {}


def use_specs(specs) -> None:
    """Let ``get`` (``symdl latex``, ``symdl verify --spec``) find a user's
    specs by name, e.g. those of ``load_spec_file``.  Catalog names win."""
    for s in specs:
        if s.name not in _ALL:
            _USER[s.name] = s


__all__ = ["Activation", "Param", "x", "y", "all_specs", "get", "FAMILIES", "use_specs",
           "elementwise_loss", "OptimizerRule", "State", "ScalarState", "hyper", "option",
           "MAXIMIZE", "weight_decay_option", "prelude", "theta", "g", "t", "bc1", "bc2",
           "ADAM_BIAS_CORRECTIONS"]

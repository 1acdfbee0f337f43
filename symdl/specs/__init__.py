"""The spec registry: every formula symdl knows, by name (imports SymPy)."""
from __future__ import annotations

from symdl.errors import UnknownNameError

from .activations import ACTIVATIONS
from .base import Activation, Param, x
from .cells import CELLS
from .losses import LOSS_SPECS
from .optimizers import NOTATIONS, OPTIMIZER_SPECS
from .softmax import SOFTMAX_SPECS

FAMILIES = {
    "activation": [s.name for s in ACTIVATIONS],
    "softmax": [s.name for s in SOFTMAX_SPECS],
    "loss": [s.name for s in LOSS_SPECS],
    "optimizer": [s.name for s in (*OPTIMIZER_SPECS, *NOTATIONS)],
    "cell": [c.name for c in CELLS],
}
_ALL = {s.name: s for s in (*ACTIVATIONS, *SOFTMAX_SPECS, *LOSS_SPECS, *OPTIMIZER_SPECS, *NOTATIONS, *CELLS)}


def all_specs(family: str | None = None) -> list:
    if family is None:
        return list(_ALL.values())
    if family not in FAMILIES:
        raise UnknownNameError("family", family, FAMILIES)
    return [_ALL[n] for n in FAMILIES[family]]


def get(name: str, family: str | None = None):
    """The spec called ``name`` (optionally required to be of ``family``)."""
    known = _ALL if family is None else {n: _ALL[n] for n in FAMILIES[family]}
    try:
        return known[name]
    except KeyError:
        raise UnknownNameError("spec" if family is None else f"{family} spec", name, known) from None


__all__ = ["Activation", "Param", "x", "all_specs", "get", "FAMILIES"]

"""The spec registry: every formula symdl knows, by name (imports SymPy)."""
from __future__ import annotations

from symdl.errors import UnknownNameError

from .activations import ACTIVATIONS
from .base import Activation, Param, x

_ALL = {s.name: s for s in ACTIVATIONS}
FAMILIES = {"activation": [s.name for s in ACTIVATIONS]}


def all_specs(family: str | None = None) -> list:
    if family is None:
        return list(_ALL.values())
    if family not in FAMILIES:
        raise UnknownNameError("family", family, FAMILIES)
    return [_ALL[n] for n in FAMILIES[family]]


def get(name: str):
    try:
        return _ALL[name]
    except KeyError:
        raise UnknownNameError("spec", name, _ALL) from None


__all__ = ["Activation", "Param", "x", "all_specs", "get", "FAMILIES"]

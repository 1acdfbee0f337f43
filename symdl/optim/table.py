"""Every optimizer class by name: torch's (``rules``) and the rules without a
torch class (``more_rules``); ``get(name)`` finds one case-insensitively."""
from symdl.errors import UnknownNameError

from .more_rules import LAMB, LARS, Adafactor, Adan, NovoGrad, SignSGD, Signum
from .rules import (ASGD, SGD, AdaBelief, Adadelta, Adagrad, Adam, Adamax, AdamW, Lion, NAdam, RAdam,
                    RMSprop, Rprop, Yogi)

OPTIMIZERS = {c.__name__: c for c in (SGD, Adam, AdamW, Adamax, NAdam, RAdam, Adagrad, RMSprop,
                                       Adadelta, Rprop, ASGD, Lion, AdaBelief, Yogi,
                                       LAMB, LARS, NovoGrad, SignSGD, Signum, Adan, Adafactor)}


def get(name: str):
    """The optimizer class called ``name`` (case-insensitive: "adam", "SGD", ...)."""
    by_lower = {k.lower(): v for k, v in OPTIMIZERS.items()}
    try:
        return by_lower[name.lower()]
    except KeyError:
        raise UnknownNameError("optimizer", name, list(OPTIMIZERS)) from None

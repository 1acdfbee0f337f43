"""Render ``generated/activations_d2.py``: f' and f'' kernels of every activation.

The derivative specs (``symdl.derive.second``) go through the same pipeline
as the activations themselves -- ``kernel_source`` and the activations
template -- from their derivations by ``symdl.derive.second.derive_second``;
the header's generator hash also covers the files that build them.
"""
from __future__ import annotations

from .render import ACTIVATION_GENERATOR_FILES, elementary_extra, generator_hash, render_activations

MODULE = "symdl.generated.activations_d2"
FILENAME = "activations_d2.py"
#: what shapes the module besides ACTIVATION_GENERATOR_FILES and the specs
SECOND_GENERATOR_FILES = ACTIVATION_GENERATOR_FILES + ("derive/second.py", "codegen/second.py")


def derivative_specs():
    import symdl.specs as S
    from symdl.derive.second import derivative_specs as build

    return build(S.all_specs("activation"))


def second_generator_hash(elementary) -> str:
    return generator_hash(elementary_extra(elementary), files=SECOND_GENERATOR_FILES)


def render_second(elementary=frozenset()) -> str:
    from symdl.derive.second import derive_second_all

    return render_activations(derivative_specs(), elementary=elementary, module=MODULE,
                              derive=derive_second_all, gen_hash=second_generator_hash(elementary))


def second_target(elementary_available):
    """The ``symdl generate`` target (``elementary_available()``: the
    vectorizable elementary functions of generated/elementary.py)."""
    from .generate import Target

    return Target(FILENAME, lambda: render_second(elementary_available()),
                  lambda: {s.name: s.content_hash() for s in derivative_specs()},
                  lambda: second_generator_hash(elementary_available()))

"""Render ``generated/activations_d2/<name>.py``: f' and f'' kernels of each activation.

The derivative specs (``symdl.derive.second``) go through the same pipeline
as the activations themselves -- ``kernel_source`` and the activations
template -- from their derivations by ``symdl.derive.second.derive_second``;
the header's generator hash also covers the files that build them.
"""
from __future__ import annotations

from .render import ACTIVATION_GENERATOR_FILES, elementary_extra, generator_hash, render_activations

#: what shapes the module besides ACTIVATION_GENERATOR_FILES and the specs
SECOND_GENERATOR_FILES = ACTIVATION_GENERATOR_FILES + ("derive/second.py", "codegen/second.py")


def derivative_specs():
    import symdl.specs as S
    from symdl.derive.second import derivative_specs as build

    return build(S.all_specs("activation"))


def second_generator_hash(elementary) -> str:
    return generator_hash(elementary_extra(elementary), files=SECOND_GENERATOR_FILES)


def second_spec_hashes(spec) -> dict:
    """The header's spec hashes of activation ``spec``'s derivative module:
    d_<name> -> the ACTIVATION's content hash.  The derivative spec is a
    function of it and of the derivation code (the generator hash covers that
    code, the header the SymPy version), so the cheap check need not derive
    anything -- deriving all 39 costs a minute."""
    from symdl.derive.second import second_name

    return {second_name(spec.name): spec.content_hash()}


def render_second(spec, elementary=frozenset()) -> str:
    """The module of activation ``spec``'s derivative spec (d_<name>)."""
    from symdl.derive.second import derivative_spec, derive_second_all

    from .targets import module_of

    dspec = derivative_spec(spec)
    return render_activations([dspec], elementary=elementary,
                              module=module_of("activation_d2", dspec.name),
                              derive=derive_second_all, gen_hash=second_generator_hash(elementary),
                              spec_hashes=second_spec_hashes(spec))


def second_targets(elementary_available, specs=None):
    """The ``symdl generate`` targets, one per activation (``specs``: default
    the catalog's; ``elementary_available()``: the vectorizable elementary
    functions of generated/elementary.py)."""
    from symdl.derive.second import second_name

    from .targets import Target, filename_of

    if specs is None:
        import symdl.specs as S

        specs = S.all_specs("activation")
    return [Target(filename_of("activation_d2", second_name(s.name)),
                   lambda s=s: render_second(s, elementary_available()),
                   lambda s=s: second_spec_hashes(s),
                   lambda: second_generator_hash(elementary_available()))
            for s in specs]

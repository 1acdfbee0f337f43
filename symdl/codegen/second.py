"""Render ``generated/activations_d2.py``: f' and f'' kernels of every activation.

The derivative specs (``symdl.derive.second``) go through the same pipeline
as the activations themselves -- ``kernel_source`` and the activations
template -- from their derivations by ``symdl.derive.second.derive_second``;
the header's generator hash also covers the files that build them.
"""
from __future__ import annotations

import sympy as sp

from .header import make_header
from .printer import DTYPES
from .render import (ACTIVATION_GENERATOR_FILES, _pyrepr, elementary_extra, environment, generator_hash,
                     kernel_source, spec_table)

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

    specs = derivative_specs()
    used: set = set()
    kernels = [kernel_source(d, elementary, used) for s in specs for d in derive_second_all(s)]
    body = environment().get_template("activations.py.j2").render(
        kernels=kernels, dtypes=DTYPES, elementary=sorted(u for u in used if not u.startswith("two_prod")),
        eft=sorted(u for u in used if u.startswith("two_prod")),
        any_learnable=any(k.learnable for k in kernels), specs_table=_pyrepr(spec_table(specs)))
    body = "\n".join(line.rstrip() for line in body.splitlines()).strip() + "\n"
    while "\n\n\n\n" in body:
        body = body.replace("\n\n\n\n", "\n\n\n")
    header = make_header(module=MODULE, template="activations.py.j2",
                         specs={s.name: s.content_hash() for s in specs},
                         generator_hash=second_generator_hash(elementary),
                         sympy_version=sp.__version__, body=body)
    source = header + body
    compile(source, MODULE, "exec")
    return source


def second_target(elementary_available):
    """The ``symdl generate`` target (``elementary_available()``: the
    vectorizable elementary functions of generated/elementary.py)."""
    from .generate import Target

    return Target(FILENAME, lambda: render_second(elementary_available()),
                  lambda: {s.name: s.content_hash() for s in derivative_specs()},
                  lambda: second_generator_hash(elementary_available()))

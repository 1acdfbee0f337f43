"""Where generated kernels live: one module per spec,
``symdl.generated.<family dir>.<name>`` (generated/<family dir>/<name>.py).
Shared by the generator (symdl.codegen) and the runtime (symdl.registry,
symdl.runtime.family); imports nothing."""
from __future__ import annotations

PACKAGE = "symdl.generated"

#: registry family -> directory of generated/ holding one module per spec
FAMILY_DIRS = {
    "activation": "activations",
    "activation_d2": "activations_d2",   # f' and f'' of each activation (spec d_<name>)
    "softmax": "softmax",
    "loss": "losses",
    "optimizer": "optimizers",
}


def module_stem(family: str, name: str) -> str:
    """The file stem of spec ``name``'s module: its name (``d_gelu`` lives
    in activations_d2/gelu.py, beside activations/gelu.py)."""
    return name[2:] if family == "activation_d2" else name


def module_of(family: str, name: str) -> str:
    """The import name of spec ``name``'s kernels: symdl.generated.activations.gelu."""
    return f"{PACKAGE}.{FAMILY_DIRS[family]}.{module_stem(family, name)}"


def filename_of(family: str, name: str) -> str:
    """The path of spec ``name``'s module under generated/."""
    return f"{FAMILY_DIRS[family]}/{module_stem(family, name)}.py"

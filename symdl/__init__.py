"""symdl: the mathematics of neural networks as fast, verified code.

Runtime entry points (no SymPy import):

* ``symdl.names(family=None)`` -- spec names with generated kernels;
* ``symdl.kernel(name, **params)`` -- forward/backward/forward_backward kernels;
* ``symdl.load_kernels(path)`` -- kernels rendered from your own specs.

Symbolic entry point (imports SymPy): ``symdl.spec(name)``.

The training library is imported on demand (``import symdl.nn``): ``symdl.nn``
(layers, ``Sequential``, ``gradcheck``), ``symdl.optim``, ``symdl.train``
(``fit``), ``symdl.metrics``, ``symdl.datasets`` (embedded digits and iris).
None of them imports SymPy.
"""
from __future__ import annotations

from symdl.errors import ParameterError, ShapeError, SymdlError, UnknownNameError
from symdl.registry import kernel, load_kernels, names

__version__ = "0.1.0"


def spec(name: str):
    """The symbolic spec of ``name`` (SymPy expressions, parameters, LaTeX)."""
    from symdl import specs

    return specs.get(name)


def __getattr__(name: str):
    """``symdl.optim`` after a bare ``import symdl`` (imported on first use)."""
    if name == "optim":
        import importlib

        return importlib.import_module("symdl.optim")
    raise AttributeError(f"module 'symdl' has no attribute {name!r}")


__all__ = ["names", "kernel", "spec", "load_kernels", "SymdlError", "UnknownNameError",
           "ParameterError", "ShapeError", "__version__"]

"""Every kernel of a generated module is one Python body ``_py_<kernel>``:
``<kernel>`` (serial) and ``<kernel>_par`` (prange) are Numba compilations of
that same code object (symdl/runtime/jitcache.lazy_kernels), so the checks
of a serial kernel verify the math its parallel copy runs.  This is why the
default run checks the prange path on a sample of specs per family
(tests/test_activations.py, tests/test_term_losses.py,
tests/test_optimizers.py, tests/test_optimizers_extra.py) and the rest under
``-m slow``.  Looking a dispatcher up compiles nothing: this test is cheap."""
import importlib
import pkgutil

import pytest

import symdl.generated as G

#: the generated packages whose kernels have serial and prange copies
PACKAGES = ["activations", "activations_d2", "losses", "softmax", "normalization", "optimizers"]


def _modules(pkg):
    p = importlib.import_module(f"{G.__name__}.{pkg}")
    for info in pkgutil.iter_modules(p.__path__):
        yield importlib.import_module(f"{p.__name__}.{info.name}")


@pytest.mark.parametrize("pkg", PACKAGES)
def test_parallel_kernels_are_the_serial_bodies(pkg):
    checked = 0
    for mod in _modules(pkg):
        bodies = [k for k in vars(mod) if k.startswith("_py_")]
        if not bodies:   # an index module
            continue
        for body in bodies:
            py = getattr(mod, body)
            serial, par = getattr(mod, body[4:]), getattr(mod, body[4:] + "_par")
            assert serial.py_func.__code__ is py.__code__, (mod.__name__, body)
            assert par.py_func.__code__ is py.__code__, (mod.__name__, body)
            assert par.targetoptions.get("parallel") and not serial.targetoptions.get("parallel"), body
            assert "prange" in py.__code__.co_names, (mod.__name__, body)
            checked += 1
        # no kernel outside the bodies: every njit dispatcher the module defines is one of them
        from numba.core.registry import CPUDispatcher
        stray = [k for k, v in vars(mod).items() if isinstance(v, CPUDispatcher)
                 and v.py_func.__module__ == mod.__name__ and not ("_py_" + k.removesuffix("_par")) in bodies]
        assert not stray, (mod.__name__, stray)
    assert checked > 20, (pkg, checked)

"""Each symdl.optim class's docstring gives its update rule in LaTeX, printed
from the rule's spec (no drift), with a symbol-to-argument map naming real
constructor arguments (issue 20 item 4)."""
import inspect

import pytest

from symdl.derive import optimizer_docstrings as D

CLASSES = D.classes()


@pytest.mark.parametrize("cls,spec", CLASSES, ids=[c.__name__ for c, _ in CLASSES])
def test_docstring_is_the_specs_latex(cls, spec):
    block = D.docstring_math(spec, getattr(cls, "_doc_args", None))
    assert block in inspect.getdoc(cls), (
        f"{cls.__name__}'s docstring differs from its spec's LaTeX; run "
        "`python -m symdl.derive.optimizer_docstrings --write`")
    # every equation of the shown variant is there, in order
    for lhs, rhs in spec.update(D.doc_variant(spec)):
        assert D._latex(rhs) in block


@pytest.mark.parametrize("cls,spec", CLASSES, ids=[c.__name__ for c, _ in CLASSES])
def test_symbols_name_constructor_arguments(cls, spec):
    args = set(inspect.signature(cls.__init__).parameters)
    for p in spec.hyper:
        assert D.GROUPED.get(p.name, p.name) in args, (cls.__name__, p.name)


def test_stale_detects_a_changed_docstring(monkeypatch):
    cls, _ = CLASSES[1]
    monkeypatch.setattr(cls, "__doc__", cls.__doc__.replace(r"\beta_{1} m", r"\beta_{2} m"))
    assert cls in D.stale()


def test_optim_imports_no_sympy():
    import subprocess
    import sys

    code = "import sys, symdl.optim; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

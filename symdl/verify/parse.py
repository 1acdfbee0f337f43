"""Reading a claim: LaTeX (``latex_parser``) or SymPy syntax
(``sympy_parser``) into a ``nodes.Node`` tree, with the ``--assume``
declarations; the text is never evaluated.  Spec names of the catalog are
recognized as functions."""
from __future__ import annotations


def _spec_names() -> dict:
    import symdl.specs as S
    from .latex_parser import normalize_name

    return {normalize_name(s.name): s.name for s in S.all_specs("activation")}


def parse_claim(text: str, *, assume="", sympy_syntax=False, functions=None, expression=False):
    """(ast, Assumptions); raises ParseError.  Never evaluates the text."""
    from .build import parse_assume

    a = parse_assume(assume)
    kw = dict(e_symbol=a.e_symbol, functions=functions, spec_names=_spec_names(),
              expression=expression)
    if sympy_syntax:
        from .sympy_parser import parse_sympy
        return parse_sympy(text, **kw), a
    from .latex_parser import parse_latex_claim
    return parse_latex_claim(text, **kw), a

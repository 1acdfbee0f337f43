"""The sides of a claim as SymPy objects ready to compare: symdl's stable
primitives expanded to their definitions and unevaluated derivatives done
(``_finish``), and a chain ``a = b = c`` of scalars or equal-shaped arrays as
scalar (lhs, rhs) pairs (``_pairs_from_sides``).  Used by ``check`` and by
``diagnose``."""
from __future__ import annotations

import sympy as sp

from .build import BuildError


def _pairs_from_sides(sides, guards=None, out_guards=None):
    """Scalar (lhs, rhs) pairs for the chain a = b = c, entries of arrays.

    ``guards[i]``: subterms side i must have defined; appended per pair to ``out_guards``."""
    pairs = []
    for k, (a, b) in enumerate(zip(sides, sides[1:])):
        n_before = len(pairs)
        am, bm = isinstance(a, sp.MatrixBase), isinstance(b, sp.MatrixBase)
        if am != bm or (am and a.shape != b.shape):
            sa = "x".join(map(str, a.shape)) if am else "scalar"
            sb = "x".join(map(str, b.shape)) if bm else "scalar"
            raise BuildError(f"the two sides have different shapes ({sa} vs {sb})")
        if am:
            pairs += [(a[i], b[i]) for i in range(len(a))]
        else:
            pairs.append((a, b))
        if out_guards is not None:
            g = (guards[k], guards[k + 1]) if guards else ([], [])
            out_guards += [g] * (len(pairs) - n_before)
    return pairs


def _scalarize_side(e):
    if isinstance(e, sp.MatrixBase) and e.shape == (1, 1):
        return e[0, 0]
    return e


def _finish(e):
    from symdl.specs.functions import to_definition

    if isinstance(e, sp.MatrixBase):
        return e.applyfunc(_finish)
    if not isinstance(e, sp.Basic):
        return e
    e = to_definition(e)
    if e.has(sp.Derivative, sp.Subs):
        e = e.doit()
    return e

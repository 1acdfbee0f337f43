"""Derivation of a cell's gate block: partials by ``sympy.diff``, VJP, saved values.

For a block with inputs u, steps s_k = e_k(u, s_<k) and outputs y:

1. each step is expanded into the inputs (``full``), so y_j(u) is one
   expression;
2. the partials ∂y_j/∂u_m come from ``sympy.diff`` of those (the sigmoid
   primitive's derivative is itself derived, σ' = σ(u)σ(−u));
3. the backward of the block is the VJP  d u_m = Σ_j d y_j · ∂y_j/∂u_m;
4. the forward values the block declares ``saved`` are substituted back:
   every subexpression equal to such a step's expansion becomes the step's
   symbol (the LSTM's tanh(f c + i g) becomes tanh(c'), c' read from the
   forward); every other step is re-expanded into the pre-activations, so
   the backward evaluates the derived stable forms (σ(u)σ(−u), sech²u;
   ``complements`` turns the 1 − σ(u) of a GRU's 1 − z into σ(−u)).

Nothing here knows a gate's derivative; the tests check the result against
the partials of step 2 evaluated by mpmath.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy as sp

from symdl.specs.cells import GateBlock
from symdl.specs.functions import sigmoid

from .rules import stabilize


def cotangent(sym) -> sp.Symbol:
    return sp.Symbol(f"d_{sym.name}", real=True)


@dataclass
class DerivedBlock:
    block: GateBlock
    full: dict                # step symbol -> its expression in the inputs and vectors
    partials: dict            # (output, input) -> sympy.diff of the expanded output
    forward: dict             # result symbol -> kernel expression (in the inputs)
    fwd_results: list         # step symbols the forward writes (outputs, then saved)
    backward: dict            # input/vector symbol -> d (in the backward's arguments)
    bwd_args: list            # symbols the backward reads (inputs, results, cotangents)

    @property
    def wrt(self):
        return [*self.block.inputs, *self.block.vectors]


def substitute_forward(expr, block: GateBlock, full: dict, available: set):
    """``expr`` in the forward's saved values: their expansions -> their
    symbols; any other step symbol re-expanded until none is left."""
    rules = {full[s]: s for s in block.saved}
    out = expr
    for _ in range(len(block.steps) + 1):   # xreplace does not look inside a replaced subtree
        new = out.xreplace(rules)
        if new == out:
            break
        out = new
    steps = dict(block.steps)
    for _ in range(len(block.steps) + 1):
        missing = [s for s in out.free_symbols if s in steps and s not in available]
        if not missing:
            break
        out = out.xreplace({s: steps[s] for s in missing})
    return out


def _complement_terms(add):
    """In a sum: 1 − σ(u) -> σ(−u) and 1 − tanh(u)² -> sech²(u) (the identities
    σ(−u) = 1 − σ(u), 1 − tanh² = sech², tested on their own); both
    differences lose every digit once σ or tanh rounds to ±1."""
    args = list(add.args)
    if sp.S.One not in args:
        return add
    for t in args:
        if t.is_Mul and len(t.args) == 2 and t.args[0] == -1:
            inner = t.args[1]
            if isinstance(inner, sigmoid):
                rest = [a for a in args if a is not t]
                rest.remove(sp.S.One)
                return sp.Add(sigmoid(-inner.args[0]), *rest)
            if inner.is_Pow and isinstance(inner.base, sp.tanh) and inner.exp == 2:
                rest = [a for a in args if a is not t]
                rest.remove(sp.S.One)
                return sp.Add(sp.cosh(inner.base.args[0]) ** -2, *rest)
    return add


def complements(expr):
    """Apply ``_complement_terms`` to every sum in ``expr``."""
    return expr.replace(lambda e: e.is_Add, _complement_terms)


@functools.lru_cache(maxsize=None)
def derive_block(block: GateBlock) -> DerivedBlock:
    full = {}
    for s, e in block.steps:
        full[s] = e.xreplace(full)
    wrt = [*block.inputs, *block.vectors]
    partials = {(y, u): sp.diff(full[y], u) for y in block.outputs for u in wrt}
    results = [*block.outputs, *[s for s in block.saved if s not in block.outputs]]
    available = set(wrt) | set(block.saved) | {cotangent(y) for y in block.outputs}
    backward = {}
    for u in wrt:
        vjp = sp.Add(*[cotangent(y) * partials[(y, u)] for y in block.outputs])
        backward[u] = complements(stabilize(sp.factor_terms(substitute_forward(vjp, block, full, available))))
    # the results in the inputs, printed as one CSE'd block (shared gates once)
    forward = {s: complements(stabilize(full[s])) for s in results}
    used = set().union(*(e.free_symbols for e in backward.values()))
    order = [*block.inputs, *block.vectors, *results, *(cotangent(y) for y in block.outputs)]
    bwd_args = [s for s in order if s in used]
    return DerivedBlock(block, full, partials, forward, results, backward, bwd_args)

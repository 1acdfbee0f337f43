"""Derivation of a cell's gate block: partials by ``sympy.diff``, VJP, saved values.

For a block with inputs u, steps s_k = e_k(u, s_<k) and outputs y:

1. each step is expanded into the inputs (``full``), so y_j(u) is one
   expression;
2. the partials ∂y_j/∂u_m come from ``sympy.diff`` of those (the sigmoid
   primitive's derivative is itself derived, σ' = σ(u)σ(−u));
3. the backward of the block is the VJP  d u_m = Σ_j d y_j · ∂y_j/∂u_m;
4. forward values are substituted back: every subexpression equal to a
   step's expansion becomes the step's symbol (and σ(−U) becomes 1 − s for a
   step s = σ(U): the identity σ(−U) = 1 − σ(U), tested on its own), so the
   backward reads the saved gate activations instead of recomputing them.
   A step neither saved nor output is re-expanded in terms of what is (the
   LSTM's tanh(c') is computed from the saved c').

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
    forward: list             # [(step symbol, kernel expression)] in order
    fwd_results: list         # step symbols the forward writes (outputs, then saved)
    backward: dict            # input/vector symbol -> d (in the backward's arguments)
    bwd_args: list            # symbols the backward reads (inputs, results, cotangents)

    @property
    def wrt(self):
        return [*self.block.inputs, *self.block.vectors]


def complement_rules(block: GateBlock, full: dict) -> dict:
    """expanded step -> step symbol, outermost first; σ(−U) -> 1 − s for s = σ(U)."""
    rules = {}
    for s, _ in reversed(block.steps):
        e = full[s]
        rules[e] = s
        if isinstance(e, sigmoid):
            rules[sigmoid(-e.args[0])] = 1 - s
    return rules


def substitute_forward(expr, block: GateBlock, full: dict, available: set):
    """``expr`` in the forward's results: expanded steps -> their symbols, then
    steps that are not available re-expanded one level until all are."""
    rules = complement_rules(block, full)
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


@functools.lru_cache(maxsize=None)
def derive_block(block: GateBlock) -> DerivedBlock:
    full = {}
    for s, e in block.steps:
        full[s] = e.xreplace(full)
    wrt = [*block.inputs, *block.vectors]
    partials = {(y, u): sp.diff(full[y], u) for y in block.outputs for u in wrt}
    results = [*block.outputs, *[s for s in block.saved if s not in block.outputs]]
    available = set(wrt) | set(results) | {cotangent(y) for y in block.outputs}
    backward = {}
    for u in wrt:
        vjp = sp.Add(*[cotangent(y) * partials[(y, u)] for y in block.outputs])
        backward[u] = stabilize(sp.factor_terms(substitute_forward(vjp, block, full, available)))
    forward = [(s, stabilize(e)) for s, e in block.steps]
    used = set().union(*(e.free_symbols for e in backward.values()))
    order = [*block.inputs, *block.vectors, *results, *(cotangent(y) for y in block.outputs)]
    bwd_args = [s for s in order if s in used]
    return DerivedBlock(block, full, partials, forward, results, backward, bwd_args)

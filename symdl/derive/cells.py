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
   ``complements`` turns the 1 − σ(u) of a GRU's 1 − z into σ(−u));
5. a block that is a whole cell step (``whole_step``: every input it reads
   from the gate matrix, the RNN and LSTM cells; the sequence loops run it)
   saves its **local partials**: the VJP of step 4 is linear in the
   cotangents, and in each of its products the factors free of cotangents
   (e.g. the LSTM's g σ(a_i) σ(−a_i) = ∂c'/∂a_i and σ(a_o) sech²(c') =
   ∂h'/∂c') become one value the forward computes and writes (``local_partials``;
   a factor equal to a step is that step: the LSTM's d c = f · (…) reads f).
   They are the stable forms of step 4 -- σ(u)σ(−u), sech² -- multiplied in the
   forward, not σ(1 − σ) or 1 − tanh², so no digit is lost where a gate
   saturates; the backward is then a few products and sums, no exp, and
   reads 6 arrays (LSTM) instead of the 4 pre-activations, c and c'.  Only a
   substitution: the backward with each saved symbol replaced by its
   definition is the backward of step 4 (tests/test_cells.py).

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
    #: saved local partial (step 5) -> its expression in the inputs, vectors and
    #: the block's saved steps, a factor of the backward of step 4 (empty for a
    #: block that is not a whole cell step)
    local_partials: dict = None
    #: the backward before step 5 (what ``backward`` equals with ``local_partials`` substituted)
    backward_recomputed: dict = None

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


def whole_step(block: GateBlock) -> bool:
    """A block that is a cell's whole step: all its gate pre-activations read from
    one gate matrix, no column block unused (RNN, LSTM, peephole LSTM; not the
    GRUs', which read a second matrix or leave blocks to another block)."""
    packed = dict(block.packed)
    return set(packed) == {"gates"} and all(s is not None for s in packed["gates"])


def save_factors(block: GateBlock, full: dict, backward: dict):
    """Step 5: (the backward with every factor free of cotangents replaced by a
    saved symbol, {symbol: that factor}).  The VJP is linear in the cotangents:
    in each product, the factors without a cotangent (the local partials, e.g.
    the LSTM's ∂c'/∂a_i = g σ(a_i) σ(−a_i)) are one value the forward computes;
    a factor equal to a step is that step (the LSTM's d c = f · (…) reads f)."""
    cots = {cotangent(y) for y in block.outputs}
    steps = dict(block.steps)
    taken = {x.name for x in (*block.inputs, *block.vectors, *steps, *cots)}
    factors: dict = {}            # expression -> symbol

    def symbol(expr, hint):
        if expr in factors:
            return factors[expr]
        expanded = expr.xreplace(full)
        name = next((st.name for st in steps if full[st] == expanded and st not in factors.values()), None)
        if name is None:
            name, k = hint, 0
            while name in taken:
                k += 1
                name = f"{hint}_{k}"
            taken.add(name)
        factors[expr] = sym = sp.Symbol(name, real=True)
        return sym

    def visit(e, hint):
        if not (e.free_symbols & cots) or e in cots:
            return e
        if e.is_Add:
            return sp.Add(*[visit(t, None) for t in e.args])
        if e.is_Mul:
            coeff, rest = e.as_coeff_Mul()
            args = sp.Mul.make_args(rest)
            free = [x for x in args if not (x.free_symbols & cots)]
            dep = [visit(x, None) for x in args if x.free_symbols & cots]
            if hint is None:     # inside a sum: named after the cotangents it multiplies
                hint = "j_" + "_".join(sorted(c.name for c in args if c in cots))
            saved = [symbol(sp.Mul(*free), hint)] if free else []
            return coeff * sp.Mul(*saved, *dep)
        return e

    out = {u: visit(e, f"j_{u.name}") for u, e in backward.items()}
    return out, {sym: expr for expr, sym in factors.items()}


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
    recomputed, acts = backward, {}
    if whole_step(block):
        backward, acts = save_factors(block, full, backward)
        full = dict(full)
        for s, a in acts.items():
            full.setdefault(s, a.xreplace(full))
        results += [s for s in acts if s not in results]
    # the results in the inputs, printed as one CSE'd block (shared gates once)
    forward = {s: complements(stabilize(full[s])) if s not in acts else acts[s].xreplace(
        {t: full[t] for t in block.saved}) for s in results}
    used = set().union(*(e.free_symbols for e in backward.values()))
    order = [*block.inputs, *block.vectors, *results, *(cotangent(y) for y in block.outputs)]
    bwd_args = [s for s in order if s in used]
    return DerivedBlock(block, full, partials, forward, results, backward, bwd_args, acts, recomputed)

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
   also saves its **activations**: each σ(·), tanh(·) and sech²(·) = cosh(·)⁻²
   the derived backward of step 4 evaluates becomes a value the forward writes
   and the backward reads (``activations``; an activation equal to a step's
   expansion is that step, e.g. the LSTM's gates i, f, g, o).  The saved values
   are the stable forms themselves -- σ(u) *and* σ(−u), tanh and sech² -- not
   σ(1 − σ) or 1 − tanh², so no digit is lost where a gate saturates; the
   backward is then products and sums, no exp.  Only a substitution: the
   backward of step 4 with each saved symbol replaced by its definition is
   the same expression (tests/test_cells.py).

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
    #: saved activation symbol -> its expression in the inputs, vectors and the
    #: block's saved steps, as the backward of step 4 reads it (step 5; empty
    #: for a block that is not a whole cell step)
    activations: dict = None
    #: the backward before step 5 (what ``backward`` equals with ``activations`` substituted)
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


def _is_sech2(e) -> bool:
    return e.is_Pow and isinstance(e.base, sp.cosh) and e.exp == -2


def _activation_name(atom, block, full, taken) -> str:
    """A saved activation's name: the step it equals (LSTM: i, f, g, o), else
    ``<fn>_<argument>`` (tanh_c1, sech2_a_g; σ(−x) of a step s = σ(x): s_comp),
    else ``act<k>``."""
    expanded = atom.xreplace(full)
    for s, e in block.steps:
        if full[s] == expanded:
            return s.name
    if isinstance(atom, sigmoid):
        for s, e in block.steps:
            if full[s] == sigmoid(-atom.args[0]).xreplace(full):
                return f"{s.name}_comp"
    fn, arg = ("sech2", atom.base.args[0]) if _is_sech2(atom) else (type(atom).__name__, atom.args[0])
    if isinstance(arg, sp.Symbol):
        name = f"{fn}_{arg.name}"
        if name not in taken:
            return name
    k = 0
    while f"act{k}" in taken:
        k += 1
    return f"act{k}"


def save_activations(block: GateBlock, full: dict, backward: dict):
    """Step 5: (the backward with each σ, tanh, sech² replaced by a saved symbol,
    {symbol: that activation})."""
    atoms = set()
    for e in backward.values():
        atoms |= e.atoms(sigmoid, sp.tanh)
        atoms |= {p for p in e.atoms(sp.Pow) if _is_sech2(p)}
    taken = {s.name for s in (*block.inputs, *block.vectors, *dict(block.steps), *(cotangent(y) for y in block.outputs))}
    steps = dict(block.steps)
    acts = {}
    for atom in sorted(atoms, key=sp.default_sort_key):
        name = _activation_name(atom, block, full, taken - {s.name for s in steps})
        sym = sp.Symbol(name, real=True)
        if sym in acts or (name in taken and sym not in steps):
            raise ValueError(f"{block.name}: saved activation name {name!r} taken")
        taken.add(name)
        acts[sym] = atom
    # the steps (in the block's order), their complements, then the rest by name
    rank = {s.name: k for k, s in enumerate(steps)}
    n = len(rank)

    def key(sym):
        base = sym.name[:-5] if sym.name.endswith("_comp") else None
        if sym.name in rank:
            return (rank[sym.name], "")
        if base in rank:
            return (n + rank[base], "")
        return (2 * n, sym.name)

    acts = {s: acts[s] for s in sorted(acts, key=key)}
    rule = {a: s for s, a in acts.items()}
    return {u: e.xreplace(rule) for u, e in backward.items()}, acts


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
        backward, acts = save_activations(block, full, backward)
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

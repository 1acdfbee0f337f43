"""Render the recurrent cells' gate blocks into ``generated/cells/<cell>.py``.

Each gate block (``symdl.specs.cells``) becomes one forward and one backward
kernel per dtype (float32, float64), each in a serial and a ``prange`` variant,
looping over (batch, hidden) arrays.  The gate pre-activations a block declares
``packed`` are read (and their gradients written) at column blocks of one
C-contiguous gate matrix, the layers' matmul result, so every load is a
contiguous, vectorizable row.  The forward prints the block's results
expanded in its inputs, the backward the derived VJP (``symdl.derive.cells``),
each as one CSE'd block (a gate shared by several results is computed once).
``generated/cells/__init__.py`` is the index (metadata only).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from symdl.derive.cells import cotangent, derive_block, whole_step
from symdl.specs.cells import CELLS

from .header import make_header
from .printer import DTYPES, print_block
from .render import _pyrepr, elementary_extra, environment, generator_hash

TEMPLATE = "cells.py.j2"
INDEX_TEMPLATE = "cells_index.py.j2"
PACKAGE = "symdl.generated.cells"
GENERATOR_FILES = (
    "derive/cells.py", "derive/rules.py", "codegen/cells.py", "codegen/printer.py",
    "codegen/render.py", "codegen/header.py", "specs/functions.py", "specs/cells.py",
)
#: elementary functions the kernels may inline (vectorizable exp/tanh)
ELEMENTARY_BASE = frozenset({"exp", "expm1", "tanh", "sech2"})


@dataclass
class BlockKernel:
    name: str
    fwd_args: list
    bwd_args: list
    fwd_shape: str
    bwd_shape: str
    fwd: dict = field(default_factory=dict)
    bwd: dict = field(default_factory=dict)
    #: dtype -> the backward's row scratch allocations; (matrix, column, scratch) copies
    bwd_alloc: dict = field(default_factory=dict)
    bwd_copy: list = field(default_factory=list)
    #: the sequence loops' kernel calls (``seq_loop``), or None: no loops for this block
    seq: dict | None = None


def _nan_guard(out: str, expr, local) -> list:
    """A Piecewise selects a finite branch for a nan condition: propagate the
    nan of the symbols its conditions test (relu(nan) = nan, as torch)."""
    syms = set()
    for pw in expr.atoms(sp.Piecewise):
        for _, cond in pw.args:
            if cond not in (sp.true, sp.false):
                syms |= cond.free_symbols
    return [f"{out} = {out} if {local(s)} == {local(s)} else {local(s)}"
            for s in sorted(syms, key=lambda s: s.name)]


def _packing(block) -> dict:
    """input symbol -> (matrix, column block) for the inputs read from a packed gate matrix."""
    return {s: (m, k) for m, slots in block.packed for k, s in enumerate(slots) if s is not None}


def _kernel_args(symbols, packing, prefix="") -> list:
    """Kernel argument names: a packed input becomes its matrix, once, where its first input was."""
    out = []
    for s in symbols:
        name = prefix + (packing[s][0] if s in packing else s.name)
        if name not in out:
            out.append(name)
    return out


def block_kernel(block, elementary, used: set) -> BlockKernel:
    d = derive_block(block)
    vectors = set(block.vectors)
    packing = _packing(block)

    def local(s):
        return f"{s.name}_"

    def at(k):
        return "col" if k == 0 else f"{k} * ncol + col"

    def load(s):
        if s in packing:
            m, k = packing[s]
            return f"{local(s)} = {m}[row, {at(k)}]"
        return f"{local(s)} = {s.name}[col]" if s in vectors else f"{local(s)} = {s.name}[row, col]"

    # Gradients stored to two or more column blocks of one matrix go through a row of
    # scratch each, copied after the row's loop: LLVM does not vectorize a loop that
    # stores to one array at offsets a runtime distance (ncol) apart (10x slower).
    written = {}
    for u in d.wrt:
        if u in packing:
            written.setdefault(packing[u][0], []).append(u)
    scratch = {u for us in written.values() if len(us) > 1 for u in us}

    def store(u):
        if u in scratch:
            return f"s_d_{u.name}[col] = d_{u.name}_"
        if u in packing:
            m, k = packing[u]
            return f"out_d_{m}[row, {at(k)}] = d_{u.name}_"
        return f"out_d_{u.name}[row, col] = d_{u.name}_"

    names = {s.name: local(s) for s in (*block.inputs, *block.vectors, *dict(block.steps), *d.local_partials,
                                         *(cotangent(y) for y in block.outputs))}
    fwd_in = [*block.inputs, *block.vectors]
    fwd_out = [f"out_{s.name}" for s in d.fwd_results]
    bwd_out = _kernel_args(d.wrt, packing, "out_d_")
    # the loop's shape: an unpacked (batch, hidden) array (a result; a cotangent)
    k = BlockKernel(block.name, _kernel_args(fwd_in, packing) + fwd_out,
                    _kernel_args(d.bwd_args, packing) + bwd_out, fwd_out[0],
                    cotangent(block.outputs[0]).name)
    k.bwd_copy = [(f"out_d_{packing[u][0]}", at(packing[u][1]), f"s_d_{u.name}")
                  for u in d.wrt if u in scratch]
    for dt in DTYPES:
        k.bwd_alloc[dt] = [f"s_d_{u.name} = np.empty(ncol, {dt})" for u in d.wrt if u in scratch]
        lines = [load(s) for s in fwd_in]
        body, u = print_block({local(s): e for s, e in d.forward.items()}, dt, names, elementary)
        used |= u
        lines += body
        for s, e in d.forward.items():
            lines += _nan_guard(local(s), e, local)
        lines += [f"out_{s.name}[row, col] = {local(s)}" for s in d.fwd_results]
        k.fwd[dt] = "\n".join(lines)
        exprs = {f"d_{u.name}_": d.backward[u] for u in d.wrt}
        body, u = print_block(exprs, dt, names, elementary, prefix="t")
        used |= u
        lines = [load(s) for s in d.bwd_args] + body
        for u_ in d.wrt:
            lines += _nan_guard(f"d_{u_.name}_", d.backward[u_], local)
        lines += [store(u_) for u_ in d.wrt]
        k.bwd[dt] = "\n".join(lines)
    k.seq = seq_loop(block, k)
    return k


#: kernel argument -> the sequence loop's expression at step t for rows b0:b1
#: (``templates/cells.py.j2``: XG/Hs/Cs are (T[+1], batch, .) arrays, V the
#: vectors stacked, dV their per-element gradients (vectors, T, batch, hidden),
#: S the saved local partials (partials, T, batch, hidden))
_SEQ_FWD = {"gates": "A", "c": "Cs[t, b0:b1]", "out_h1": "Hs[t + 1, b0:b1]", "out_c1": "Cs[t + 1, b0:b1]"}
_SEQ_BWD = {"gates": "XG[t, b0:b1]", "c": "Cs[t, b0:b1]", "c1": "Cs[t + 1, b0:b1]", "d_h1": "dt_",
            "d_c1": "dc_", "out_d_gates": "D", "out_d_c": "dc2_"}


def seq_loop(block, k: BlockKernel):
    """The calls of the sequence loops (one ``@njit(nogil=True)`` function over all
    time steps, forward and BPTT, BLAS through a function pointer) for a block
    that is a whole cell step: every gate pre-activation packed in ``gates``
    (``W_ih x + b + W_hh h``), at most a cell state ``c`` and vectors besides,
    results h1 (and c1) and the saved local partials.  None for other blocks (the
    GRU's: the layer's Python loop)."""
    if not whole_step(block):
        return None
    d = derive_block(block)
    vec = {s.name: f"V[{i}]" for i, s in enumerate(block.vectors)}
    dvec = {f"out_d_{s.name}": f"dV[{i}, t, b0:b1]" for i, s in enumerate(block.vectors)}
    acts = {s.name: f"S[{i}, t, b0:b1]" for i, s in enumerate(d.local_partials)}
    fwd = {**_SEQ_FWD, **vec, **{f"out_{n}": e for n, e in acts.items()}}
    bwd = {**_SEQ_BWD, **vec, **dvec, **acts}
    if not (set(k.fwd_args) <= set(fwd) and set(k.bwd_args) <= set(bwd)):
        return None
    if "out_h1" not in k.fwd_args:
        return None
    cell = "c" in k.fwd_args
    if cell != ("out_c1" in k.fwd_args) or cell != ("d_c1" in k.bwd_args) or cell != ("out_d_c" in k.bwd_args):
        return None
    return {"fwd": ", ".join(fwd[a] for a in k.fwd_args), "bwd": ", ".join(bwd[a] for a in k.bwd_args),
            "cell": cell}


def block_table(block) -> dict:
    d = derive_block(block)
    return {"inputs": [s.name for s in block.inputs], "vectors": [s.name for s in block.vectors],
            "outputs": [s.name for s in block.outputs],
            "results": [s.name for s in d.fwd_results],
            "bwd_args": [s.name for s in d.bwd_args],
            "grads": [s.name for s in d.wrt], "doc": block.doc,
            "local_partials": [s.name for s in d.local_partials],
            "packed": {m: [None if s is None else s.name for s in slots] for m, slots in block.packed},
            "kernel_fwd": _kernel_args([*block.inputs, *block.vectors], _packing(block)),
            "kernel_bwd": _kernel_args(d.bwd_args, _packing(block)),
            "kernel_grads": _kernel_args(d.wrt, _packing(block))}


def cell_table(cell) -> dict:
    return {"family": "cell", "module": f"{PACKAGE}.{cell.name}", "params": [
        {"name": "variant", "default": cell.default, "kind": "choice", "choices": list(cell.variants),
         "learnable": False, "positive": False, "nonzero": False}],
        "variants": {v: [b.name for b in bs] for v, bs in cell.variants.items()},
        "torch": cell.torch, "doc": cell.doc, "source": cell.source, "hash": cell.content_hash()}


def _tidy(body: str) -> str:
    body = "\n".join(line.rstrip() for line in body.splitlines()).strip() + "\n"
    while "\n\n\n\n" in body:
        body = body.replace("\n\n\n\n", "\n\n\n")
    return body


def _gen_hash(elementary) -> str:
    return generator_hash(elementary_extra(elementary), files=GENERATOR_FILES,
                          templates=(TEMPLATE, INDEX_TEMPLATE))


def render_cell(cell, elementary=frozenset()) -> str:
    elementary = frozenset(elementary) & ELEMENTARY_BASE
    used: set = set()
    blocks = cell.all_blocks()
    kernels = [block_kernel(b, elementary, used) for b in blocks]
    body = environment().get_template(TEMPLATE).render(
        kernels=kernels, dtypes=DTYPES, elementary=sorted(used),
        specs_table=_pyrepr({cell.name: cell_table(cell)}),
        blocks_table=_pyrepr({b.name: block_table(b) for b in blocks}))
    body = _tidy(body)
    module = f"{PACKAGE}.{cell.name}"
    source = make_header(module=module, template=TEMPLATE, specs={cell.name: cell.content_hash()},
                         generator_hash=_gen_hash(elementary), sympy_version=sp.__version__, body=body) + body
    compile(source, module, "exec")
    return source


def render_index(elementary=frozenset()) -> str:
    elementary = frozenset(elementary) & ELEMENTARY_BASE
    table = {c.name: cell_table(c) for c in CELLS}
    body = environment().get_template(INDEX_TEMPLATE).render(specs_table=_pyrepr(table))
    body = _tidy(body)
    source = make_header(module=PACKAGE, template=INDEX_TEMPLATE,
                         specs={c.name: c.content_hash() for c in CELLS},
                         generator_hash=_gen_hash(elementary), sympy_version=sp.__version__, body=body) + body
    compile(source, PACKAGE, "exec")
    return source


def cell_targets(elementary_available) -> list:
    from .targets import Target

    def avail():
        return frozenset(elementary_available()) & ELEMENTARY_BASE

    targets = [Target("cells/__init__.py", lambda: render_index(avail()),
                      lambda: {c.name: c.content_hash() for c in CELLS},
                      lambda: _gen_hash(avail()))]
    for cell in CELLS:
        targets.append(Target(f"cells/{cell.name}.py", lambda c=cell: render_cell(c, avail()),
                              lambda c=cell: {c.name: c.content_hash()},
                              lambda: _gen_hash(avail())))
    return targets

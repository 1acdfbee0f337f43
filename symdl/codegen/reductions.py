"""Render the softmax family and the losses into ``generated/softmax.py``,
``generated/losses.py`` (the losses' metadata only: importing it compiles and
loads no kernel) and one ``generated/losses_<group>.py`` per loss group.

Layout: an input of any shape is viewed, C-contiguously, as (outer, C, inner)
around the reduced axis ``dim``; a *row* r = (o, i) is one fibre of C
elements at stride ``inner``.  The derivation engine's expressions (inputs,
reduction nodes, sums left by the rules) are scheduled into

* a prologue: class-only sums (sum_c w_c), once per call;
* row passes: a pass over the rows for each level of batch (r) reductions
  (the weighted mean's denominator must be known before the gradient);
  inside a row, one loop over c per level of class reductions (max, then the
  sums that need it, ...), then the row's scalar lines, then one loop over c
  writing element outputs;
* an epilogue for scalar outputs (the reduced loss).

All math arrives as lines printed by ``print_block`` (CSE'd, constants typed
to the dtype); the template holds loops only.  Class sums accumulate in the
kernel's dtype (a spec with ``float32_in_float64`` has its float32 kernels
compute in float64) in one rolled loop whose adds LLVM may reassociate
(``runtime.bits.add_reassoc``: vectorized, like torch; the serial and the
prange kernel compile the same loop and agree bit for bit); batch sums store
one term per row and add them in row order in float64 after the loop (the
serial and the prange kernel give identical results).  A max runs LANES
independent chains.

Run ``python -m symdl.codegen.reductions`` to rewrite the files.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import sympy as sp

from symdl.derive.graph import ReductionDerivation, derive_reduction
from symdl.derive.reduce_stable import normalizers, select_target, stabilize_normalizers, target_select
from symdl.specs.softmax import ArgmaxMask, RMax, RSum, Shifted

from .header import make_header
from .printer import DTYPES, print_block
from .render import _pyrepr, elementary_extra, environment, generator_hash
from .targets import filename_of, module_of

__all__ = ["render_module", "write_reductions", "reduction_targets",
           "reduction_specs", "kernel_plans", "OUTPUT_DIR", "TEMPLATE", "ELEMENTARY_BASE",
           "module_layout"]

TEMPLATE = "reductions.py.j2"
#: the files whose content shapes the generated modules (besides the specs,
#: hashed one by one): a change to any of them makes the files stale
REDUCTION_GENERATOR_FILES = (
    "derive/graph.py", "derive/axes.py", "derive/reduce_rules.py", "derive/reduce_stable.py", "derive/rules.py",
    "codegen/reductions.py",
    "codegen/printer.py", "codegen/render.py", "codegen/header.py", "specs/functions.py",
    "specs/base.py", "specs/softmax.py", "specs/losses.py",
)
PACKAGE = "symdl.generated"
#: elementary functions the kernels may take from symdl.generated.elementary
ELEMENTARY_BASE = frozenset({"exp", "log", "log1p", "expm1", "tanh", "erf", "erfc"})
#: canonical order of kernel arguments (the runtime passes them by name;
#: names not listed follow in alphabetical order)
ARG_ORDER = ("input", "input1", "input2", "d_real", "d_fake", "target", "var", "weight",
             "pos_weight", "grad", "scale", "label_smoothing", "ignore_index")


def _output_dir() -> Path:
    here = Path(__file__).resolve().parents[2] / "generated"
    if here.is_dir():
        return here
    import symdl.generated
    return Path(symdl.generated.__file__).resolve().parent


OUTPUT_DIR = _output_dir()


def elementary_available() -> frozenset:
    """Names f with ``def f_f64(`` in generated/elementary.py -- the same set
    ``symdl generate`` passes to every target (so headers agree)."""
    path = OUTPUT_DIR / "elementary.py"
    if not path.exists():
        return frozenset()
    text = path.read_text(encoding="utf-8")
    return frozenset(m.group(1) for m in re.finditer(r"^def (\w+)_f64\(", text, re.MULTILINE))


def reduction_specs() -> list:
    from symdl.specs.losses import LOSS_SPECS
    from symdl.specs.softmax import SOFTMAX_SPECS
    return list(SOFTMAX_SPECS) + list(LOSS_SPECS)


# ----------------------------------------------------------------------------- lifting
@dataclass
class Atom:
    sym: sp.Symbol
    kind: str          # sum | max
    axis: str          # r | c
    body: sp.Expr      # in input symbols and other atoms
    axes: frozenset    # the axes of the reduced value


class Program:
    """The outputs of one kernel with every reduction lifted into an Atom."""

    def __init__(self, d: ReductionDerivation, outputs: dict):
        self.d, self.graph = d, d.graph
        self.atoms: dict = {}
        self._keys: dict = {}
        self.outputs = {name: self.lift(e) for name, e in outputs.items()}

    def axes(self, e) -> frozenset:
        out = set()
        for s in e.free_symbols:
            if s in self.atoms:
                out |= self.atoms[s].axes
            elif s in self.graph.nodes:
                out |= set(self.graph.nodes[s].axes)
        return frozenset(out)

    def _add(self, sym, kind, axis, body):
        if kind not in ("sum", "max"):
            raise NotImplementedError(f"reduction kind {kind}")
        atom = Atom(sym, kind, axis, body, self.axes(body) - {axis})
        self.atoms[sym] = atom
        self._keys.setdefault((kind, body, axis), sym)
        return sym

    def _red(self, red):
        body = self.lift(red.body)
        kind = "sum" if isinstance(red, RSum) else "max"
        key = (kind, body, red.axis)
        if key in self._keys:
            return self._keys[key]
        return self._add(sp.Symbol(f"a{len(self.atoms)}", real=True), kind, red.axis, body)

    def lift(self, e):
        e = sp.sympify(e)
        if e.has(RSum, RMax):
            e = e.replace(lambda a: isinstance(a, (RSum, RMax)), self._red)
        for s in sorted(e.free_symbols, key=lambda s: s.name):
            n = self.graph.nodes.get(s)
            if n is not None and n.kind in ("sum", "mean", "max") and s not in self.atoms:
                body = self.lift(self.d.node_body(s))
                if s not in self.atoms:
                    self._add(s, n.kind, n.axis, body)
        return e

    # ---- dependencies ----------------------------------------------------------------
    def atoms_in(self, e) -> list:
        return [self.atoms[s] for s in sorted(e.free_symbols, key=lambda s: s.name) if s in self.atoms]

    def c_closure(self, exprs) -> list:
        """Class atoms (with a row axis) needed by exprs, through class-atom bodies."""
        seen, stack = {}, list(exprs)
        while stack:
            for a in self.atoms_in(stack.pop()):
                if a.axis == "c" and a.axes and a.sym not in seen:
                    seen[a.sym] = a
                    stack.append(a.body)
        return list(seen.values())

    def r_deps(self, e) -> set:
        """Batch (r) atoms e needs: directly or inside class-atom bodies."""
        out, stack, seen = set(), [e], set()
        while stack:
            for a in self.atoms_in(stack.pop()):
                if a.sym in seen:
                    continue
                seen.add(a.sym)
                if a.axis == "r":
                    out.add(a.sym)
                else:
                    stack.append(a.body)
        return out

    def c_level(self, atom) -> int:
        inner = [a for a in self.atoms_in(atom.body) if a.axis == "c" and a.axes]
        return 1 + max((self.c_level(a) for a in inner), default=0)


# ----------------------------------------------------------------------------- schedule
@dataclass
class Level:
    init: list
    loads: list
    lines: list
    update: list
    fin: list
    lanes: list = field(default_factory=list)   # maxima: LANES independent accumulators
    combine: list = field(default_factory=list)
    fill: list = field(default_factory=list)    # map loop into scratch (costly max bodies)
    rolled: list = field(default_factory=list)  # the sums' loop body (add_reassoc)


#: a max over classes runs LANES independent comparison chains (a single chain
#: is latency-bound: ~3-4x slower, and LLVM does not vectorize it); they are
#: combined at the end of the row
LANES = 8


@dataclass
class Pass:
    pre: list = field(default_factory=list)
    row_loads: list = field(default_factory=list)
    levels: list = field(default_factory=list)
    row_lines: list = field(default_factory=list)
    elem_loads: list = field(default_factory=list)
    elem_lines: list = field(default_factory=list)
    post: list = field(default_factory=list)
    reductions: list = field(default_factory=list)   # r accumulators (for prange)
    scratch: int = 0                                 # scratch rows per row (costly levels)

    @property
    def uses_scratch(self) -> bool:
        return self.scratch > 0


@dataclass
class KernelPlan:
    name: str
    args: list
    outputs: list          # [(arg name, axes)]
    prologue: dict         # dt -> lines
    passes: dict           # dt -> [Pass]
    epilogue: dict         # dt -> lines
    uses_row_index: bool = False
    arith: dict = field(default_factory=dict)   # dt -> arithmetic dtype (scratch rows)

    @property
    def work(self) -> tuple:
        """(float64 columns of the per-row sum buffer ``rbuf``, scratch rows
        per row block in ``swork``): the work arrays the caller passes after
        the outputs (``runtime/reductions.work_arrays``).  A kernel allocates
        nothing itself: an allocation inside it would make its first load
        from Numba's disk cache import numba's array module (~40 ms)."""
        ps = [p for pp in self.passes.values() for p in pp]
        return (max((len(p.reductions) for p in ps), default=0),
                max((p.scratch for p in ps), default=0))


def _names(prog: Program) -> dict:
    names = {s.name: f"{s.name}_" for s, n in prog.graph.nodes.items() if n.kind == "input"}
    names.update({s.name: s.name for s in prog.atoms})
    return names


class Loader:
    """Load lines for input symbols, by the axes where they vary (converted
    to the arithmetic dtype ``dt`` when the arrays hold another one)."""

    def __init__(self, prog: Program, dt: str, storage: str | None = None):
        self.prog, self.dt = prog, dt
        self.widen = storage is not None and storage != dt
        self.args: set = set()

    def _read(self, ref: str) -> str:
        return f"{self.dt}({ref})" if self.widen else ref

    def _src(self, s):
        return self.prog.graph.nodes[s]

    def inputs_of(self, exprs) -> list:
        syms = set().union(*[sp.sympify(e).free_symbols for e in exprs]) if exprs else set()
        return sorted((s for s in syms if s in self.prog.graph.nodes
                       and self._src(s).kind == "input"), key=lambda s: s.name)

    def load(self, s, where: str, k="K", cc="cc", suffix="") -> list:
        n = self._src(s)
        kind, *rest = n.source
        v = f"{s.name}_"
        if where == "elem" and suffix and set(n.axes) & {"c"}:
            v = f"{s.name}_{suffix}"
        one, zero = f"{self.dt}(1.0)", f"{self.dt}(0.0)"
        axes = set(n.axes)
        if kind == "size":
            return [f"{v} = {self.dt}({'C' if rest[0] == 'c' else 'R'})"] if where == "kernel" else []
        if kind == "scalar":
            self.args.add(rest[0])
            return [f"{v} = {self.dt}({rest[0]})"] if where == "kernel" else []
        if kind == "array":
            self.args.add(rest[0])
            if axes == {"r", "c"} and where == "elem":
                return [f"{v} = {self._read(f'{rest[0]}[{k}]')}"]
            if axes == {"r"} and where == "row":
                return [f"{v} = {self._read(f'{rest[0]}[rr]')}"]
            if axes == {"c"} and where == "elem":
                return [f"{v} = {self._read(f'{rest[0]}[{cc}]')}"]
            return []
        if kind == "onehot":
            self.args.add(rest[0])
            return [f"{v} = {one} if {cc} == tg else {zero}"] if where == "elem" else []
        if kind == "cindex":   # the class selector [c = k]
            return [f"{v} = {one} if {cc} == {rest[0]} else {zero}"] if where == "elem" else []
        if kind == "valid":
            self.args.update({rest[0], "ignore_index"})
            return [f"{v} = {one} if tg != ignore_index else {zero}"] if where == "row" else []
        if kind == "gather":   # an (r, c) or (c) array at the row's target class (reduce_stable.onehot_gather)
            arr, src_axes = rest
            self.args.update({arr, "target", "ignore_index"})
            if where != "row":
                return []
            ref = f"{arr}[base + tq * inner]" if set(src_axes) == {"r", "c"} else f"{arr}[tq]"
            return [f"{v} = {self._read(ref)}"]
        raise ValueError(n.source)

    def needs_tg(self, syms) -> bool:
        return any(self._src(s).source[0] in ("onehot", "valid", "gather") for s in syms)

    def needs_gather(self, syms) -> bool:
        return any(self._src(s).source[0] == "gather" for s in syms)

    def block(self, syms, where, **kw) -> list:
        out = []
        for s in syms:
            out += self.load(s, where, **kw)
        return out


def _print(exprs: dict, dt, names, elementary, prefix, used) -> list:
    if not exprs:
        return []
    lines, u = print_block(exprs, dt, names, elementary, prefix=prefix)
    used |= u
    return lines


def arithmetic_dtype(spec, dt: str) -> str:
    """The dtype a kernel for ``dt`` arrays computes in: its own, or float64
    for the float32 kernels of a spec that asks for it
    (``float32_in_float64``: sums of squares that must neither underflow nor
    overflow in float32)."""
    return "f64" if dt == "f32" and getattr(spec, "float32_in_float64", False) else dt


def plan_kernel(name: str, prog: Program, out_axes: dict, dt: str, elementary, used: set,
                storage: str | None = None):
    """Schedule one kernel for one dtype; returns (prologue, passes, epilogue, args).
    ``dt`` is the arithmetic dtype, ``storage`` the arrays' (default: ``dt``)."""
    names = _names(prog)
    ld = Loader(prog, dt, storage)
    outs = prog.outputs
    elem_out = {k: e for k, e in outs.items() if set(out_axes[k]) == {"r", "c"}}
    row_out = {k: e for k, e in outs.items() if set(out_axes[k]) == {"r"}}
    scal_out = {k: e for k, e in outs.items() if not out_axes[k]}
    r_atoms = {s: a for s, a in prog.atoms.items() if a.axis == "r"}
    c_const = [a for a in prog.atoms.values() if a.axis == "c" and not a.axes]
    for a in r_atoms.values():
        if a.kind != "sum":
            raise NotImplementedError("max over the batch axis")

    memo: dict = {}

    def rpass(sym):
        if sym not in memo:
            memo[sym] = 1 + max((rpass(b) for b in prog.r_deps(r_atoms[sym].body)), default=0)
        return memo[sym]

    def out_pass(e):
        return 1 + max((rpass(b) for b in prog.r_deps(e)), default=0)

    n_pass = max([rpass(s) for s in r_atoms] + [out_pass(e) for e in {**elem_out, **row_out}.values()]
                 + [0])
    # batch sums that no row needs (the loss total next to a gradient) join
    # the last pass: the fused kernel then reads the input once per level
    needed: set = set()
    stack = [e for e in {**elem_out, **row_out}.values()]
    while stack:
        for b in prog.r_deps(stack.pop()):
            if b not in needed:
                needed.add(b)
                stack.append(r_atoms[b].body)
    for s_ in r_atoms:
        if s_ not in needed:
            memo[s_] = max(rpass(s_), n_pass)
    # -- prologue: class-only sums, once
    prologue = []
    kernel_syms = ld.inputs_of(list(outs.values()) + [a.body for a in prog.atoms.values()])
    prologue += ld.block(kernel_syms, "kernel")
    for lev in sorted({prog.c_level(a) for a in c_const}):
        atoms = [a for a in c_const if prog.c_level(a) == lev]
        body = {f"b_{a.sym.name}": a.body for a in atoms}
        prologue += [f"acc_{a.sym.name} = {dt}({'0.0' if a.kind == 'sum' else '-np.inf'})" for a in atoms]
        prologue.append("for cc in range(C):")
        inner = ld.block(ld.inputs_of(body.values()), "elem")
        inner += _print(body, dt, names, elementary, f"p{lev}", used)
        inner += [_update(a) for a in atoms]
        prologue += ["    " + ln for ln in inner]
        prologue += [f"{a.sym.name} = {dt}(acc_{a.sym.name})" for a in atoms]
    passes = []
    for p in range(1, n_pass + 1):
        ps = Pass()
        p_ratoms = [a for s, a in r_atoms.items() if rpass(s) == p]
        p_elem = {k: e for k, e in elem_out.items() if out_pass(e) == p}
        p_row = {k: e for k, e in row_out.items() if out_pass(e) == p}
        row_exprs = {f"rb_{a.sym.name}": a.body for a in p_ratoms}
        row_exprs.update({f"o_{k}": e for k, e in p_row.items()})
        catoms = prog.c_closure(list(row_exprs.values()) + list(p_elem.values()))
        all_exprs = list(row_exprs.values()) + list(p_elem.values()) + [a.body for a in catoms]
        syms = ld.inputs_of(all_exprs)
        if ld.needs_tg(syms):
            ps.row_loads.append("tg = target[rr]")
            ld.args.add("target")
        if ld.needs_gather(syms):   # a class to read at: the target, or 0 in an ignored row (never read past C)
            ps.row_loads.append("tq = tg if tg != ignore_index else 0")
        ps.row_loads += ld.block(syms, "row")
        ps.row_loads += ["{VIEWS}"]
        scratch: dict = {}
        for lev in sorted({prog.c_level(a) for a in catoms}):
            atoms = [a for a in catoms if prog.c_level(a) == lev]
            ps.levels.append(_class_level(atoms, ld, dt, names, elementary, f"q{p}{lev}", used, scratch))
        ps.scratch = len(scratch)
        if p_elem:   # row-invariant factors of the element outputs: once per row
            hoisted: dict = {}
            p_elem = {k: _hoist(e, lambda u: "c" in prog.axes(u), hoisted, f"h{p}_")
                      for k, e in p_elem.items()}
            row_exprs.update({h.name: v for v, h in hoisted.items()})
        ps.row_lines = _print(row_exprs, dt, names, elementary, f"w{p}", used)
        # batch sums: each row stores its terms, summed in row order after the
        # loop (identical results for the serial and the prange kernel)
        for j, a in enumerate(p_ratoms):
            ps.row_lines.append(f"rbuf[rr, {j}] = rb_{a.sym.name}")
            ps.post.append(f"{a.sym.name} = {dt}(racc_{a.sym.name})")
        ps.reductions = [a.sym.name for a in p_ratoms]
        for k in p_row:
            ps.row_lines.append(f"{k}[rr] = o_{k}")
        if p_elem:
            # values the reduction loops of this row left in scratch are read, not recomputed
            reuse = {b: sp.Symbol(f"scr_{i}", real=True) for b, i in scratch.items()}
            p_elem = {k: e.xreplace(reuse) for k, e in p_elem.items()}
            ps.elem_loads = [f"scr_{i}_ = scr[{i}, cc]" for b, i in scratch.items()
                             if any(e.has(reuse[b]) for e in p_elem.values())]
            ps.elem_loads += ld.block(ld.inputs_of(p_elem.values()), "elem")
            enames = {**names, **{s_.name: f"{s_.name}_" for s_ in reuse.values()}}
            ps.elem_lines = _print({f"o_{k}": e for k, e in p_elem.items()}, dt, enames, elementary,
                                   f"e{p}", used)
            ps.elem_lines += [f"{k}[K] = o_{k}" for k in p_elem]
        _tidy_pass(ps)
        # (r, c) arrays indexed [K...]: a per-row view for the unit-stride loops
        text = "\n".join(ps.elem_loads + ps.elem_lines + [ln for lv in ps.levels for ln in
                                           lv.loads + lv.lines + lv.fill + lv.rolled + sum(lv.lanes, [])])
        views = sorted(set(re.findall(r"(\w+)\[K", text)) | set(re.findall(r"(\w+)_v\[", text)))
        i = ps.row_loads.index("{VIEWS}")
        ps.row_loads[i:i + 1] = [f"{a}_v = {a}[base:base + C]" for a in views]
        passes.append(ps)
    epilogue = _print({f"o_{k}": e for k, e in scal_out.items()}, dt, names, elementary, "z", used)
    epilogue += [f"{k}[0] = o_{k}" for k in scal_out]
    args = [a for a in ARG_ORDER if a in ld.args] + sorted(ld.args - set(ARG_ORDER))
    return prologue, passes, epilogue, args


def _tidy_pass(ps: Pass) -> None:
    """Remove the rolled sums' stores of scratch rows that no later loop of
    the row reads (e.g. the exponentials in a forward kernel), then fold the
    bodies used once into their updates; the rows left are renumbered (a pass
    that reads no scratch row allocates no scratch)."""
    reads = "\n".join(ps.elem_loads + [ln for lv in ps.levels for ln in
                                        lv.lines + lv.rolled + sum(lv.lanes, [])])
    read = {int(i) for i in re.findall(r"= scr\[(\d+), cc", reads)}
    for lv in ps.levels:
        lv.rolled = _fold_into_updates([ln for ln in lv.rolled if not (
            (m := re.match(r"scr\[(\d+), cc\] = ", ln)) and int(m.group(1)) not in read)])
    # the rows left, renumbered 0, 1, ...
    new = {i: j for j, i in enumerate(sorted(read))}

    def renumber(lines):
        return [re.sub(r"scr\[(\d+), ", lambda m: f"scr[{new[int(m.group(1))]}, ", ln) for ln in lines]
    ps.elem_loads = renumber(ps.elem_loads)
    for lv in ps.levels:
        lv.fill, lv.rolled, lv.lines = renumber(lv.fill), renumber(lv.rolled), renumber(lv.lines)
        lv.lanes = [renumber(lane) for lane in lv.lanes]
    ps.scratch = len(new)


def _hoist(e, varying, table: dict, prefix: str):
    """``e`` with its row-invariant parts replaced by symbols (``table``:
    value -> symbol), computed once per row instead of once per element: a
    product's invariant factors become one factor (g·v/N: one multiply per
    element; a division by a row sum becomes a multiplication by its
    reciprocal, since without fast-math LLVM never makes that rewrite)."""
    def sym(v):
        if v not in table:
            table[v] = sp.Symbol(f"{prefix}{len(table)}", real=True)
        return table[v]

    def go(u):
        if not u.args or not isinstance(u, sp.Basic):
            return u
        if isinstance(u, sp.Expr) and not varying(u):
            return u if (u.is_number or u.is_Symbol) else sym(u)
        if u.is_Mul:
            inv = [a for a in u.args if not varying(a)]
            var = [a for a in u.args if varying(a)]
            if len(inv) > 1 or (inv and not (inv[0].is_Symbol or inv[0].is_number)):
                return sym(sp.Mul(*inv)) * sp.Mul(*[go(a) for a in var])
            return sp.Mul(*inv, *[go(a) for a in var])
        return u.func(*[go(a) for a in u.args])

    return go(e)


def _class_level(atoms, ld, dt, names, elementary, prefix, used, scratch: dict) -> Level:
    """One level of class reductions (independent of each other).

    Sums: one rolled loop over the classes whose adds are ``add_reassoc``
    (``fadd reassoc``, in the arithmetic dtype): LLVM splits each sum over
    vector lanes and vectorizes the loop, exp/log bodies included; the
    summation order is LLVM's, the same for the serial and the prange kernel
    (one loop body, compiled alike), and inf/nan stay IEEE.  A body that
    calls exp/log is stored into a row of the per-row scratch buffer as it is
    summed; ``scratch`` (body -> row) collects them so that later loops of
    the same row read the values instead of recomputing them.

    Maxes: ``_max_lanes`` (LLVM does not vectorize a rolled compare-select
    chain)."""
    sums = [a for a in atoms if a.kind == "sum"]
    maxes = [a for a in atoms if a.kind == "max"]
    lv = _max_lanes(maxes, ld, dt, names, elementary, prefix, used, scratch) if maxes else \
        Level(init=[], loads=[], lines=[], update=[], fin=[])
    if sums:
        known = [a for a in sums if a.body in scratch]   # computed (and stored) by an earlier level
        body = {f"b_{a.sym.name}": a.body for a in sums if a not in known}
        rolled = [f"b_{a.sym.name} = scr[{scratch[a.body]}, cc]" for a in known]
        rolled += ld.block(ld.inputs_of(body.values()), "elem")
        rolled += _print(body, dt, names, elementary, prefix + "s", used)
        for a in sums:
            n = a.sym.name
            if a not in known and _costly(a.body):
                scratch[a.body] = len(scratch)
                rolled.append(f"scr[{scratch[a.body]}, cc] = b_{n}")
            rolled.append(f"{n} = add_reassoc({n}, b_{n})")
        lv.init.append(" = ".join([a.sym.name for a in sums] + [f"{dt}(0.0)"]))
        lv.rolled = _inline_aliases(rolled)
    return lv


def _max_lanes(atoms, ld, dt, names, elementary, prefix, used, scratch: dict) -> Level:
    """Class maxima: LANES lanes per step, each with its own accumulator
    (independent compare-select chains: a single chain is latency-bound),
    then the lanes combined, then a scalar tail loop over the remaining
    classes (the strided rows run that loop alone).  A nan element never
    wins a comparison, in any lane.

    Bodies that call exp/log are first computed by a map loop (no loop-carried
    dependency: LLVM vectorizes it, exp included) into rows of the scratch
    buffer (``scratch``: body -> row)."""
    costly = [a for a in atoms if _costly(a.body)]
    fill = []
    if costly:
        cb = {f"b_{a.sym.name}": a.body for a in costly}
        fill = ld.block(ld.inputs_of(cb.values()), "elem") + _print(cb, dt, names, elementary,
                                                                    prefix + "f", used)
        for a in costly:
            scratch.setdefault(a.body, len(scratch))
            fill.append(f"scr[{scratch[a.body]}, cc] = b_{a.sym.name}")
    cheap = [a for a in atoms if a not in costly]
    syms = ld.inputs_of([a.body for a in cheap])
    lanes = []
    for j in range(LANES):
        lnames = dict(names)
        lnames.update({s.name: f"{s.name}_{j}" for s in syms if "c" in ld._src(s).axes})
        lines = [f"b_{a.sym.name}_{j} = scr[{scratch[a.body]}, cc{j}]" for a in costly]
        lines += ld.block(syms, "elem", k=f"K{j}", cc=f"cc{j}", suffix=str(j))
        lines += _print({f"b_{a.sym.name}_{j}": a.body for a in cheap}, dt, lnames, elementary,
                        f"{prefix}l{j}", used)
        lines += [_update(a, f"_{j}") for a in atoms]
        at = "c0" if j == 0 else f"c0 + {j}"   # lane j's class, in the unit-stride loop
        lanes.append([re.sub(rf"\bcc{j}\b", f"({at})" if j else at, ln.replace(f"[K{j}]", f"_v[{at}]"))
                      for ln in _inline_aliases(lines)])
    lv = _combine_level(atoms, dt, lanes)
    lv.fill = fill
    lv.loads = ld.block(syms, "elem")
    lines = [f"b_{a.sym.name} = scr[{scratch[a.body]}, cc]" for a in costly]
    lines += _print({f"b_{a.sym.name}": a.body for a in cheap}, dt, names, elementary, prefix, used)
    lv.lines, lv.update = _inline_aliases(lines + lv.update), []
    return lv


def _fold_into_updates(lines: list) -> list:
    """A body ``b_<atom> = <expr>`` used only by its sum's update is written
    into it: ``<atom> = add_reassoc(<atom>, <expr>)``."""
    defs = {m.group(1): (i, m.group(2)) for i, ln in enumerate(lines)
            if (m := re.fullmatch(r"(b_\w+) = (.+)", ln))}
    out = list(lines)
    for i, ln in enumerate(lines):
        m = re.fullmatch(r"(\w+) = add_reassoc\(\1, (b_\w+)\)", ln)
        if m and m.group(2) in defs:
            b = m.group(2)
            if sum(len(re.findall(rf"\b{b}\b", x)) for x in lines) == 2:   # its definition and this use
                j, expr = defs[b]
                out[i], out[j] = f"{m.group(1)} = add_reassoc({m.group(1)}, {expr})", None
    return [ln for ln in out if ln is not None]


def _inline_aliases(lines: list) -> list:
    """``lines`` without the copies ``b_<atom> = <name>`` (a reduction body
    that is a bare input or CSE temporary): later lines use the name."""
    out, alias = [], {}
    for ln in lines:
        if alias:
            ln = re.sub(r"\bb_\w+", lambda m: alias.get(m.group(0), m.group(0)), ln)
        m = re.fullmatch(r"(b_\w+) = (\w+)", ln)
        if m:
            alias[m.group(1)] = m.group(2)
        else:
            out.append(ln)
    return out


def _costly(e) -> bool:
    """A body with a function call (exp, log, ...) other than the shift."""
    return any(not isinstance(f, (Shifted, ArgmaxMask)) for f in e.atoms(sp.Function))


def _combine_level(atoms, dt, lanes) -> Level:
    """The lanes' accumulators of class maxima, and their combination (the
    builtin ``max``: a lane starts at -inf and never takes a nan, so no nan
    reaches it)."""
    init = [" = ".join([f"acc_{a.sym.name}_{j}" for j in range(LANES)] + [f"{dt}(-np.inf)"]) for a in atoms]
    combine = [f"acc_{a.sym.name} = max({', '.join(f'acc_{a.sym.name}_{j}' for j in range(LANES))})"
               for a in atoms]
    return Level(init=init, loads=[], lines=[], update=[_update(a) for a in atoms],
                 fin=[f"{a.sym.name} = {dt}(acc_{a.sym.name})" for a in atoms],
                 lanes=lanes, combine=combine)


def _update(a: Atom, lane="") -> str:
    n, b = f"acc_{a.sym.name}{lane}", f"b_{a.sym.name}{lane}"
    if a.kind == "sum":
        return f"{n} += {b}"
    return f"{n} = {b} if {b} > {n} else {n}"


# ----------------------------------------------------------------------------- kernels
KINDS = ("forward", "backward", "forward_backward")


def _plan(d: ReductionDerivation, name: str, kind: str, prog: Program, axes: dict, elementary,
          used: set) -> KernelPlan:
    """One kernel for both dtypes, each computing in its arithmetic dtype."""
    arith = {dt: arithmetic_dtype(d.spec, dt) for dt in DTYPES}
    pro, pas, epi, args = {}, {}, {}, None
    for dt in DTYPES:
        pro[dt], pas[dt], epi[dt], args = plan_kernel(kind, prog, axes, arith[dt], elementary, used,
                                                      storage=dt)
    return KernelPlan(name, args, [(k, axes[k]) for k in prog.outputs], pro, pas, epi, arith=arith)


def kernel_plans(d: ReductionDerivation, elementary=frozenset(), used=None) -> list[KernelPlan]:
    """forward (out), backward (out_d<w> for each differentiated input w, in
    the spec's order) and forward_backward (both) for both dtypes."""
    used = set() if used is None else used
    exprs = {"out": d.forward_expr}
    axes = {"out": d.out_axes}
    for w, gexpr in (d.grads or {d.x: d.grad_expr}).items():
        exprs[f"out_d{w.name}"] = gexpr
        axes[f"out_d{w.name}"] = tuple(d.graph.nodes[w].axes)
    grads = list(exprs)[1:]
    # the normalizer's cancellations (log S at S = 1 + tiny, p - 1, the
    # softmax VJP at a dominant class): symdl.derive.reduce_stable
    exprs = stabilize_normalizers(exprs, normalizers(d), seed=d.seed)
    # a class-index target as a selection: Σ_c t·f -> f gathered at the
    # target, v·E -> Where(v, E) (no 0·nan): symdl.derive.reduce_stable
    exprs = select_target(exprs, target_select(d))
    fwd = ["out"]
    if d.variant.get("reduction") == "rows":
        # a class loss's one kernel for every reduction: each row's loss and
        # scale times their sum (batch sums add in float64, in row order)
        exprs["out_sum"] = sp.Symbol("scale", real=True) * RSum(exprs["out"], sp.Symbol("r"))
        axes["out_sum"] = ()
        fwd.append("out_sum")
    kind_outputs = {"forward": fwd, "backward": grads, "forward_backward": fwd + grads}
    plans = []
    for kind, outs in kind_outputs.items():
        plans.append(_plan(d, f"{d.key}_{kind}", kind, Program(d, {k: exprs[k] for k in outs}), axes,
                           elementary, used))
    if getattr(d.spec, "cache_stats", False) and d.variant.get("target") == "index":
        plans += stats_plans(d, exprs, axes, grads, elementary, used)
    return plans


def stats_plans(d, exprs, axes, grads, elementary, used) -> list[KernelPlan]:
    """The cached-statistics pair: ``forward_stats`` (the loss and, per row,
    every class reduction the gradient needs: stat0, stat1, ... -- e.g. the
    max and the sum of exponentials) and ``backward_stats`` (the gradient
    with those reductions read from the stats instead of recomputed: one
    pass over the input instead of one per reduction level)."""
    prog = Program(d, {k: exprs[k] for k in grads})
    catoms = [a for a in prog.atoms.values() if a.axis == "c" and a.axes]
    if not catoms:
        return []

    def as_expr(a):   # an atom as a formula the forward program lifts again
        if a.sym in d.graph.nodes:
            return a.sym
        body = a.body.xreplace({b.sym: as_expr(b) for b in prog.atoms_in(a.body)})
        return (RSum if a.kind == "sum" else RMax)(body, sp.Symbol(a.axis))

    stats = {}
    for i, a in enumerate(catoms):
        name = f"stat{i}"
        if sp.Symbol(name, real=True) not in d.graph.nodes:
            d.graph.input(name, ("r",), source=("array", name))
        stats[a.sym] = (name, sp.Symbol(name, real=True), as_expr(a))
    # forward_stats: the loss and the statistics (row outputs)
    f_exprs = {k: exprs[k] for k in ("out", "out_sum") if k in exprs}
    f_exprs.update({n: e for n, _, e in stats.values()})
    f_axes = {**axes, **{n: ("r",) for n, _, _ in stats.values()}}
    fprog = Program(d, f_exprs)
    # backward_stats: the class atoms become inputs
    rep = {a: s for a, (_, s, _) in stats.items()}
    bprog = Program(d, {})
    bprog.atoms = {k: Atom(a.sym, a.kind, a.axis, a.body.xreplace(rep), a.axes)
                   for k, a in prog.atoms.items() if k not in rep}
    bprog._keys = {}
    bprog.outputs = {k: e.xreplace(rep) for k, e in prog.outputs.items()}
    out = []
    for kind, pr, ax in (("forward_stats", fprog, f_axes), ("backward_stats", bprog, axes)):
        out.append(_plan(d, f"{d.key}_{kind}", kind, pr, ax, elementary, used))
    return out


def _kernel_variants(spec) -> list:
    """The variants that get kernels: a class loss's 'sum' serves 'mean' too
    (a runtime scale); every other spec's variants as they are."""
    return spec.kernel_variants() if hasattr(spec, "kernel_variants") else spec.variants()


def spec_table(specs, module=None) -> dict:
    table = {}
    for s in specs:
        entry = {"family": s.family, "torch": s.torch, "doc": s.doc, "hash": s.content_hash(),
                 "params": [{"name": p.name, "default": p.default, "kind": p.kind,
                             "choices": list(p.choices)} for p in s.params],
                 "kernels": {}}
        if s.family == "loss":
            entry["module"] = module or module_of("loss", s.name)
            entry["classes"] = s.classes
            entry["variants"] = [[v, s.key(s.name, v)] for v in _kernel_variants(s)]
            if getattr(s, "kind", "") == "term":
                entry["kind"] = "term"
                entry["args"] = [{"name": a.name, "axes": list(a.axes), "optional": a.optional,
                                  "kind": a.kind, "shape": a.shape} for a in s.args]
                entry["wrt"] = {s.key(s.name, v): s.wrt(v) for v in s.variants()}
                entry["checks"] = [list(c) for c in s.checks]
                entry["choices"] = [p.name for p in s.choices]
            else:
                entry["kind"] = "class"
                entry["targets"] = list(s.targets)
        else:
            entry["out_axes"] = list(s.out_axes)
            entry["layout"] = getattr(s, "layout", "dim")
            entry["variants"] = [[{}, s.name]]
        table[s.name] = entry
    return table


def _generator_hash(elementary, template=TEMPLATE, module="") -> str:
    """The generator files' hash; the softmax module does not depend on
    specs/losses.py (editing a loss leaves it, and its Numba cache, alone)."""
    files = REDUCTION_GENERATOR_FILES
    if ".softmax" in module:
        files = tuple(f for f in files if f != "specs/losses.py")
    return generator_hash(elementary_extra(elementary), files=files, templates=(template,))


def module_layout() -> dict:
    """filename -> (module name, specs) of every generated module for the
    softmax family and the losses: one module per spec
    (generated/softmax/<name>.py, generated/losses/<name>.py)."""
    from symdl.specs.losses import LOSS_SPECS
    from symdl.specs.softmax import SOFTMAX_SPECS

    out = {}
    for family, specs in (("softmax", SOFTMAX_SPECS), ("loss", LOSS_SPECS)):
        for s in specs:
            out[filename_of(family, s.name)] = (module_of(family, s.name), [s])
    return out


def _finish(body, module, template, specs, elementary) -> str:
    body = "\n".join(line.rstrip() for line in body.splitlines()).strip() + "\n"
    # the template's blank lines: at most one inside a function, two before a top-level line
    body = re.sub(r"\n{3,}(?=[ \t])", "\n\n", body)
    body = re.sub(r"\n{4,}", "\n\n\n", body)
    header = make_header(module=module, template=template,
                         specs={s.name: s.content_hash() for s in specs},
                         generator_hash=_generator_hash(elementary, template, module),
                         sympy_version=sp.__version__, body=body)
    source = header + body
    compile(source, module, "exec")
    return source


def render_module(specs, *, module, elementary=None) -> str:
    """Full source (header + body) of a module with the kernels of ``specs``."""
    specs = list(specs)
    elementary = elementary_available() if elementary is None else frozenset(elementary)
    used: set = set()
    kernels = []
    table = spec_table(specs, module)
    for s in specs:
        for v in _kernel_variants(s):
            d = derive_reduction(s, v)
            for plan in kernel_plans(d, elementary, used):
                kernels.append(plan)
                record_plan(table[s.name], d.key, plan)
    return _finish(render_body(kernels, table, module, used), module, TEMPLATE, specs, elementary)


def record_plan(entry: dict, key: str, plan: KernelPlan) -> None:
    """Enter ``plan`` in its spec's metadata: its arguments under
    ``kernels[key][kind]`` and, when it takes work arrays, their sizes and
    the scratch's arithmetic dtype under ``work[kernel name]``."""
    entry["kernels"].setdefault(key, {})[plan.name[len(key) + 1:]] = plan.args
    if any(plan.work):
        entry.setdefault("work", {})[plan.name] = [*plan.work, dict(plan.arith)]


def render_body(kernels: list, table: dict, module, used: set) -> str:
    """The template's text for ``kernels`` (catalog modules and a user's loss
    module alike), before the header."""
    return environment().get_template(TEMPLATE).render(
        kernels=kernels, dtypes=DTYPES, specs_table=_pyrepr(table), module=module,
        reassoc=any(lv.rolled for k in kernels for ps in k.passes.values() for p in ps for lv in p.levels),
        elementary=sorted(u for u in used if not u.startswith("two_prod")),
        eft=sorted(u for u in used if u.startswith("two_prod")))


def write_reductions(out_dir: Path | None = None) -> list[Path]:
    from .targets import atomic_write
    out_dir = Path(out_dir) if out_dir is not None else OUTPUT_DIR
    paths = []
    for t in reduction_targets():
        path = out_dir / t.filename
        text = t.render()
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            atomic_write(path, text)   # (an unchanged file keeps its mtime: Numba's cache stays valid)
            paths.append(path)
    return paths


def reduction_targets(elementary=None) -> list:
    """The ``symdl generate`` targets (for ``symdl.codegen.generate.builtin_targets``):
    generated/softmax/<name>.py and generated/losses/<name>.py, one per spec.
    ``elementary``: a callable returning the available elementary base names
    (default: read generated/elementary.py)."""
    from .targets import Target

    avail = elementary or elementary_available
    targets = []
    for fname, (mod, specs) in module_layout().items():
        targets.append(Target(
            fname,
            lambda m=mod, sp_=specs: render_module(sp_, module=m, elementary=avail()),
            lambda sp_=specs: {s.name: s.content_hash() for s in sp_},
            lambda m=mod: _generator_hash(avail(), TEMPLATE, m)))
    return targets


if __name__ == "__main__":  # pragma: no cover
    for p in write_reductions(Path(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(f"wrote {p}")

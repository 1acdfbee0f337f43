"""Mutation check: does the ground-truth harness reject a slightly wrong kernel?

A *mutant* is a kernel bundle whose generated module is wrapped so that one
kernel function (one entry point, dtype and serial/parallel variant) scales
one of its outputs by ``1 + rel`` after every call: the value, an input
gradient, or one learnable parameter's gradient (a row of the kernel's
partial sums).  ``rel`` is 1e-6 for float64 kernels and 1e-4 for float32
ones.  No file is edited; the bundle keeps its real kernels otherwise.

A check *catches* a mutant when it reports a failure.  A mutant whose
scaling never changed a value during the check, although called (an output that is 0, ±inf
or nan at every point, e.g. binary_step's derivative) computes the same
kernel as the original: it is *equivalent* and counted apart, not as made.

    for m in activation_mutants(bundle):
        outcome = run(m, bundle, lambda b: check_activation(spec, b))

Kernels may also be found through a bundle's public methods (``discover``;
``discover_settings``: per (dtype, path) setting, for the normalization and
cell checks, each mutant then checked in the settings that reach it);
``cell_mutations`` perturbs each gate's column block of a packed gate
matrix on its own.
"""
from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass

import numpy as np

#: relative perturbation per kernel dtype
REL = {"f64": 1e-6, "f32": 1e-4}


@dataclass(frozen=True)
class Mutation:
    """Scale output ``arg`` (row ``row`` of it, for partial sums; column
    block ``cols = (k, n)`` of n, for a packed gate matrix) of kernel
    function ``fname`` by ``factor`` after each call."""
    fname: str
    arg: "str | int"
    factor: float
    row: int | None = None
    label: str = ""
    cols: tuple | None = None

    def __str__(self):
        return self.label or f"{self.fname}:{self.arg}" + (f"[{self.row}]" if self.row is not None else "")


class MutantModule:
    """A generated module with one function's output perturbed."""

    def __init__(self, module, mutation: Mutation):
        self._module, self._mutation = module, mutation
        self.calls = 0
        self.changed = False
        fn = getattr(module, mutation.fname)
        if isinstance(mutation.arg, int):   # a position (found by discover)
            self._pos = mutation.arg
        else:
            names = list(inspect.signature(getattr(fn, "py_func", fn)).parameters)
            self._pos = names.index(mutation.arg)
        self._fn = fn

    def __getattr__(self, name):
        if name == self._mutation.fname:
            return self._call
        return getattr(self._module, name)

    def _call(self, *args):
        r = self._fn(*args)
        m = self._mutation
        a = args[self._pos]
        view = a[m.row] if m.row is not None else a
        if m.cols is not None:
            k, n = m.cols
            w = view.shape[-1] // n
            view = view[..., k * w:(k + 1) * w]
        before = view.copy()
        with np.errstate(all="ignore"):
            view *= view.dtype.type(m.factor)
        self.calls += 1
        self.changed |= not np.array_equal(before, view, equal_nan=True)
        return r


def mutant_bundle(bundle, mutation: Mutation):
    """(a copy of ``bundle`` running the mutation, its MutantModule)."""
    mod = MutantModule(bundle._module, mutation)
    b = copy.copy(bundle)
    b._module = mod
    b._cache = {}
    return b, mod


def _outputs(fn) -> list:
    names = list(inspect.signature(getattr(fn, "py_func", fn)).parameters)
    return [n for n in names if n == "out" or n.startswith("out_") or n == "partial"]


def kernel_mutations(module, keys, n_learnable: int = 0, factor=None) -> list:
    """Every (kernel function, output) of the kernels of variant ``keys``:
    each entry point, dtype and serial/parallel variant; each output array,
    and each parameter's row of ``partial``."""
    out = []
    for key in sorted(keys):
        for kind in ("forward", "backward", "forward_backward"):
            for dt in ("f64", "f32"):
                for par in ("", "_par"):
                    fname = f"{key}_{kind}_{dt}{par}"
                    fn = getattr(module, fname, None)   # (loss modules build kernels on first access)
                    if fn is None:
                        continue
                    f = factor if factor is not None else 1.0 + REL[dt]
                    for arg in _outputs(fn):
                        rows = range(n_learnable) if arg == "partial" else [None]
                        for r in rows:
                            out.append(Mutation(fname, arg, f, r))
    return out


def activation_mutants(bundle) -> list:
    """The mutations of an elementwise bundle's kernels (its variant)."""
    return kernel_mutations(bundle._module, {bundle.key}, len(bundle.learnable))


def loss_mutants(bundle) -> list:
    """The mutations of a term loss's kernels: both kernel reductions ('none'
    and 'sum', which 'mean' and 'batchmean' scale) of its options."""
    meta = bundle.meta
    want = dict(bundle.choices, **{a["name"]: a["name"] in bundle.arrays for a in meta["args"] if a["optional"]})
    keys = {k for v, k in meta["variants"] if all(v.get(n) == c for n, c in want.items())}
    return kernel_mutations(bundle._module, keys)


def optimizer_mutants(module, rule_name: str) -> list:
    """The mutations of an optimizer rule's step kernels: each variant, dtype
    and serial/parallel kernel; the new θ and each new state array."""
    out = []
    if module.SPECS[rule_name].get("factored"):   # Adafactor: a matrix and a vector kernel
        for _variant, key, _states in module.SPECS[rule_name]["variants"]:
            for dt in ("f64", "f32"):
                for kind, args in (("mat", ("param", "row_var", "col_var")), ("vec", ("param", "variance"))):
                    for par in ("", "_par"):
                        out += [Mutation(f"{key}_{kind}_{dt}{par}", a, 1.0 + REL[dt]) for a in args]
        return out
    for _variant, key, states in module.SPECS[rule_name]["variants"]:
        for dt in ("f64", "f32"):
            for par in ("", "_par"):
                for arg in ["param", *states]:
                    out.append(Mutation(f"{key}_{dt}{par}", arg, 1.0 + REL[dt]))
    return out


# ------------------------------------------------------------ kernels found through the public API
#: the public entry points of a bundle (symdl.runtime.reductions): the kernel
#: a call reaches is labelled with the one it came through
ENTRIES = ("forward_backward", "forward", "backward", "grads")


@dataclass
class KernelUse:
    """A kernel function a check reached through a bundle's public methods:
    the (entry point, reduction, dtype name, parallel) of each call, and the
    positions of the array arguments the calls wrote (its outputs)."""
    fname: str
    contexts: set
    outputs: set

    @property
    def dtypes(self) -> set:
        return {c[2] for c in self.contexts}

    @property
    def reductions(self) -> set:
        return {c[1] for c in self.contexts}


class Recorder:
    """A generated module that records every kernel function called through
    it, with the public entry point and options of the call (read from the
    calling bundle's frame) and which array arguments the call wrote."""

    def __init__(self, module):
        self._module = module
        self.uses: dict = {}

    def __getattr__(self, name):
        fn = getattr(self._module, name)
        if not callable(fn) or name.startswith("_") or isinstance(fn, type):
            return fn

        nwork = _n_work(self._module, name)

        def call(*args):
            # the trailing work arrays (scratch the kernel writes, SPECS[...]["work"]) are no output
            arrays = [(i, a, a.copy()) for i, a in enumerate(args[:len(args) - nwork])
                      if isinstance(a, np.ndarray)]
            r = fn(*args)
            wrote = {i for i, a, before in arrays if not np.array_equal(a, before, equal_nan=True)}
            wrote |= _refilled(fn, args, arrays, wrote)
            use = self.uses.setdefault(name, KernelUse(name, set(), set()))
            use.outputs |= wrote
            use.contexts.add(_context(args))
            return r
        return call


def _n_work(module, fname: str) -> int:
    """How many work arrays kernel function ``fname`` (``<key>_<kind>_<dt>[_par]``)
    takes after its outputs (a reduction module's SPECS[...]["work"])."""
    base = fname[:-4] if fname.endswith("_par") else fname
    base = base[:-4] if base.endswith(("_f32", "_f64")) else base
    for meta in (getattr(module, "SPECS", None) or {}).values():
        w = meta.get("work", {}).get(base) if isinstance(meta, dict) else None
        if w:
            return (w[0] > 0) + (w[1] > 0)
    return 0


def _refilled(fn, args, arrays, wrote) -> set:
    """The float arrays the call left as they were but wrote all the same (an
    output allocated holding the values the kernel stores, e.g. zeros): each
    filled with nan and the kernel run again; the arrays restored after."""
    after = [(a, a.copy()) for _, a, _ in arrays]
    out = set()
    for i, a, _ in arrays:
        if i in wrote or a.dtype.kind != "f" or not a.size or not a.flags.writeable:
            continue
        a[...] = np.nan
        with np.errstate(all="ignore"):
            fn(*args)
        if not np.isnan(a).all():
            out.add(i)
        for b, v in after:
            b[...] = v
    return out


def _context(args):
    from symdl.runtime.reductions import PARALLEL_THRESHOLD
    entry, red = "?", None
    f = inspect.currentframe()
    while f is not None:   # the innermost bundle frame: a public entry point, or its dispatcher
        loc, name = f.f_locals, f.f_code.co_name
        if "self" in loc and (name in ENTRIES or (name in ("_call", "_run") and isinstance(loc.get("kind"), str))):
            entry = name if name in ENTRIES else loc["kind"]
            red = getattr(loc["self"], "reduction", None)
            break
        f = f.f_back
    fl = [a for a in args if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    dt = fl[0].dtype.name if fl else "?"
    n = max((a.size for a in fl), default=0)
    return (entry, red, dt, n >= PARALLEL_THRESHOLD)


def discover(bundle, check) -> list:
    """Run ``check`` on a copy of ``bundle`` whose module records its kernel
    calls: the KernelUse of every kernel function the check reached through
    the bundle's public methods (no generated name is assumed)."""
    rec = Recorder(bundle._module)
    b = copy.copy(bundle)
    b._module = rec
    b._cache = {}
    check(b)
    return [rec.uses[k] for k in sorted(rec.uses)]


def discovered_mutations(uses) -> list:
    """Each output of each discovered kernel, perturbed by 1 + REL of its dtype."""
    out = []
    for u in uses:
        dts = u.dtypes
        rel = REL["f32"] if dts == {"float32"} else REL["f64"]
        for pos in sorted(u.outputs):
            out.append(Mutation(u.fname, pos, 1.0 + rel, label=f"{u.fname}:out#{pos}"))
    return out


def discover_settings(bundle, check, settings) -> tuple:
    """``discover`` once per setting (e.g. a (dtype, path) pair), ``check(b,
    setting)`` checking that setting only: (the KernelUse of every kernel
    reached, merged; {kernel function: the settings that reached it}) -- a
    mutant is then checked in those settings, the others cannot see it."""
    uses, reach = {}, {}
    for st in settings:
        for u in discover(bundle, lambda b, st=st: check(b, st)):
            m = uses.setdefault(u.fname, KernelUse(u.fname, set(), set()))
            m.contexts |= u.contexts
            m.outputs |= u.outputs
            reach.setdefault(u.fname, []).append(st)
    return [uses[k] for k in sorted(uses)], reach


def cell_mutations(block, uses) -> list:
    """The mutations of a recurrent cell's gate block (a GateBlock) from its
    discovered kernels: each output of each kernel, and each gate's column
    block of a packed gate-matrix output (``meta["packed"]``: the gradients of
    several gates share one matrix; each is perturbed alone)."""
    meta, out = block.meta, []
    for u in uses:
        rel = REL["f32"] if u.dtypes == {"float32"} else REL["f64"]
        entries = {c[0] for c in u.contexts}
        if entries == {"forward"}:
            names = [*meta["kernel_fwd"], *meta["results"]]
        elif entries == {"backward"}:
            names = [*meta["kernel_bwd"], *meta["kernel_grads"]]
        else:
            raise ValueError(f"{u.fname}: reached through {sorted(entries)}, expected forward or backward")
        for pos in sorted(u.outputs):
            slots = meta["packed"].get(names[pos]) if entries == {"backward"} else None
            if not slots:
                out.append(Mutation(u.fname, pos, 1.0 + rel, label=f"{u.fname}:{names[pos]}"))
                continue
            out += [Mutation(u.fname, pos, 1.0 + rel, label=f"{u.fname}:{names[pos]}[d {s}]", cols=(k, len(slots)))
                    for k, s in enumerate(slots) if s is not None]
    return out


def mutant_module(module, mutation: Mutation) -> MutantModule:
    """A module whose one kernel runs the mutation (optimizers: pass it as
    ``check_optimizer(..., module=...)``)."""
    return MutantModule(module, mutation)


@dataclass
class Outcome:
    mutation: Mutation
    caught: bool
    equivalent: bool
    detail: str = ""


def run(mutation: Mutation, bundle, check) -> Outcome:
    """Run ``check(mutant_bundle)`` (a CheckResult); was the mutant caught?
    ``bundle`` may also be a generated module (optimizers): ``check`` then
    gets the mutant module."""
    if hasattr(bundle, "_module"):
        b, mod = mutant_bundle(bundle, mutation)
    else:
        b = mod = MutantModule(bundle, mutation)
    res = check(b)
    caught = not res.ok
    detail = str(res.failures[0]) if caught else ""
    if not mod.calls:
        detail = "never called by the check"
    # equivalent: called, yet the scaling changed no value (a kernel the check
    # never calls is a mutant it missed, not an equivalent one)
    return Outcome(mutation, caught, mod.calls > 0 and not mod.changed and not caught, detail)


def score(outcomes) -> tuple:
    """(caught, made, equivalent): equivalent mutants are not 'made'."""
    made = [o for o in outcomes if not o.equivalent]
    return sum(o.caught for o in made), len(made), len(outcomes) - len(made)

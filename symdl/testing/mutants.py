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
    """Scale output ``arg`` (row ``row`` of it, for partial sums) of kernel
    function ``fname`` by ``factor`` after each call."""
    fname: str
    arg: str
    factor: float
    row: int | None = None
    label: str = ""

    def __str__(self):
        return self.label or f"{self.fname}:{self.arg}" + (f"[{self.row}]" if self.row is not None else "")


class MutantModule:
    """A generated module with one function's output perturbed."""

    def __init__(self, module, mutation: Mutation):
        self._module, self._mutation = module, mutation
        self.calls = 0
        self.changed = False
        fn = getattr(module, mutation.fname)
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
                    out += [Mutation(f"{key}_{kind}_{dt}", a, 1.0 + REL[dt]) for a in args]
        return out
    for _variant, key, states in module.SPECS[rule_name]["variants"]:
        for dt in ("f64", "f32"):
            for par in ("", "_par"):
                for arg in ["param", *states]:
                    out.append(Mutation(f"{key}_{dt}{par}", arg, 1.0 + REL[dt]))
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

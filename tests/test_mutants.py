"""The ground-truth harness rejects slightly wrong kernels (mutation check).

symdl.testing.mutants wraps a bundle's generated module so that one kernel
function (entry point x dtype x serial/parallel) scales one output (value,
an input gradient, one parameter's gradient; an optimizer's θ or one state)
by 1 + 1e-6 (float64) or 1 + 1e-4 (float32).  The checks of
symdl.testing must report every such mutant.

* the three mutants an audit found every semantic test let through are
  regression tests of the harness;
* a fixed sample of mutants, rotated weekly (SYMDL_MUTANT_SEED overrides the
  seed; a failure prints it), runs by default;
* ``-m slow`` runs every mutant of every family and prints the score table.

A mutant is checked in its kernel's dtype (and, for a loss, with the
reductions that call its kernel): the checks of the other dtype and
reductions run other kernels and cannot see it.  The normalization and cell
kernels are found per (dtype, serial/prange path) setting
(``mutants.discover_settings``): the saved statistics, dx, dweight, dbias of
each normalization kernel; each result and each gate's gradient (a column
block of a packed gate matrix: ``mutants.cell_mutations``) of each gate block.
"""
import datetime
import os
import time

import numpy as np
import pytest

import symdl
import symdl.specs as S
from symdl.specs import losses as L
from symdl.testing import check_activation, check_class_loss, check_loss, check_optimizer, check_softmax
from symdl.testing import mutants as M

from test_term_losses import OPTIONS, _args, _resolve

SEED = int(os.environ.get("SYMDL_MUTANT_SEED", datetime.date.today().isocalendar()[1]))
TERM = {s.name: s for s in L.LOSS_SPECS if getattr(s, "kind", "") == "term"}


def loss_cases(name, opts):
    rng = np.random.default_rng(5)
    return [_args(name, opts, kind, rng) for kind in ("random", "extreme")]


def loss_bundles(name):
    """(bundle, cases) for each option set of the term-loss table."""
    rng = np.random.default_rng(7)
    out = []
    for opts0 in OPTIONS.get(name, [{}]):
        opts = _resolve(opts0, rng)
        out.append((symdl.kernel(name, **opts), loss_cases(name, opts)))
    return out


# ---------------------------------------------------------------- the audit's three mutants
def test_gaussian_fused_derivative_mutant_is_caught():
    spec, b = S.get("gaussian"), symdl.kernel("gaussian")
    for dt in ("f32", "f64"):
        m = M.Mutation(f"gaussian_forward_backward_{dt}", "out_dx", 1.001)
        o = M.run(m, b, lambda bb: check_activation(spec, bb))
        assert o.caught and not o.equivalent, o
        assert "forward_backward dx" in o.detail


def test_swish_beta_gradient_mutant_is_caught():
    spec, b = S.get("swish"), symdl.kernel("swish")
    for entry in ("backward", "forward_backward"):
        m = M.Mutation(f"swish_{entry}_f64", "partial", 1 + 1e-7, row=0)
        b2, mod = M.mutant_bundle(b, m)
        res = check_activation(spec, b2, dtypes=(np.float64,))
        assert mod.changed and not res.ok
        with pytest.raises(AssertionError, match=rf"swish {entry} d beta .*float64: worst relative error"):
            res.assert_ok()


def test_huber_fused_sum_gradient_mutant_is_caught():
    """The kernel is found through the public API (the one the bundle's
    forward_backward with reduction='sum' runs in float64), not by name."""
    spec = TERM["huber_loss"]
    (b, cases), = loss_bundles("huber_loss")
    b = symdl.kernel("huber_loss", reduction="sum", **b.scalars)
    uses = M.discover(b, lambda bb: check_loss(spec, bb, cases=cases, reductions=["sum"]))
    use, = [u for u in uses if ("forward_backward", "sum", "float64", False) in u.contexts]
    assert len(use.outputs) == 3                          # the loss, d input, d target
    m = M.Mutation(use.fname, sorted(use.outputs)[1], 1.0001)   # d input: the output after the loss
    o = M.run(m, b, lambda bb: check_loss(spec, bb, cases=cases, dtypes=(np.float64,)))
    assert o.caught, o
    assert "forward_backward d input" in o.detail and "float64" in o.detail


# ---------------------------------------------------------------- families
def _dtype(m):
    """The dtype of a mutated kernel: the check runs it in that dtype only
    (the other dtype's kernels cannot observe the mutant)."""
    return np.float32 if "_f32" in m.fname else np.float64


def _activation_family():
    for spec in S.all_specs("activation"):
        for variant in spec.variants():
            yield lambda spec=spec, variant=variant: (
                f"activation {spec.name}", M.activation_mutants(b := symdl.kernel(spec.name, **variant)), b,
                lambda m: lambda bb: check_activation(spec, bb, variant, dtypes=(_dtype(m),)))


def _restricted(uses, m):
    """(dtypes, reductions, paths) of the calls that reached mutant m's kernel."""
    use = uses[m.fname]
    dts = tuple(np.dtype(d) for d in sorted(use.dtypes))
    reds = sorted(r for r in use.reductions if r is not None)
    paths = tuple(sorted({"parallel" if c[3] else "serial" for c in use.contexts}))
    return dts, reds, paths


def _discovered(label, b, cases, check_with):
    """A family unit whose kernels are found by running the check through
    the bundle's public methods (symdl.testing.mutants.discover), on the
    cases the unmutated kernels pass (a known, xfailed cancellation would
    'catch' every mutant)."""
    good = [c for c in cases if check_with(b, [c]).ok]
    assert good, f"{label}: no case passes unmutated"
    found = M.discover(b, lambda bb: check_with(bb, good))
    uses = {u.fname: u for u in found}
    return (label, M.discovered_mutations(found), b,
            lambda m: (lambda bb: check_with(bb, good, *_restricted(uses, m))))


def _loss_family():
    for name, spec in TERM.items():
        for b, cases in loss_bundles(name):
            yield lambda spec=spec, b=b, cases=cases: _discovered(
                f"loss {spec.name}", b, cases,
                lambda bb, cs, dts=(np.float64, np.float32), reds=None, paths=None: check_loss(
                    spec, bb, cases=cs, dtypes=dts, reductions=reds or None))


def _softmax_family():
    from symdl.specs.softmax import SOFTMAX_SPECS
    from symdl.testing.vector import default_cases
    for spec in SOFTMAX_SPECS:
        yield lambda spec=spec: _discovered(
            f"softmax {spec.name}", symdl.kernel(spec.name), default_cases(spec),
            lambda bb, cs, dts=(np.float64, np.float32), reds=None, paths=("serial", "parallel"): check_softmax(
                spec, bb, cases=cs, dtypes=dts, paths=paths))


def _class_loss_family(full=False):
    """(the CI sample runs the prange kernels of the FAST_PARALLEL option sets
    only: every other option set compiles its own; -m slow runs them all)"""
    from test_reduction_harness import FAST_PARALLEL, LOSSES, OPTION_SETS
    from symdl.testing.class_loss import default_cases
    for name, spec in LOSSES.items():
        for oname, opts in OPTION_SETS[name].items():
            every = ("serial", "parallel") if full or (name, oname) in FAST_PARALLEL else ("serial",)
            yield lambda spec=spec, opts=opts, oname=oname, every=every: _discovered(
                f"class loss {spec.name} {oname}", (b := symdl.kernel(spec.name, **opts)),
                default_cases(b.meta, b.ignore_index),
                lambda bb, cs, dts=(np.float64, np.float32), reds=None, paths=every:
                    check_class_loss(spec, bb, cases=cs, dtypes=dts, reductions=reds or None, paths=paths))


def _optimizer_family():
    from symdl.runtime.family import RULES as G
    for name in G.SPECS:
        variants = [v for v, k, _ in G.SPECS[name]["variants"]]
        keys = [k for v, k, _ in G.SPECS[name]["variants"]]
        yield lambda name=name, variants=variants, keys=keys: (
            f"optimizer {name}", M.optimizer_mutants(G, name), G,
            lambda m: lambda mod: check_optimizer(
                name, module=mod, dtypes=(_dtype(m),),
                variants=[v for v, k in zip(variants, keys) if m.fname.startswith(k + "_")]))


#: the (dtype, path) settings of the normalization and cell checks
SETTINGS = [(dt, path) for dt in (np.float64, np.float32) for path in ("serial", "parallel")]


def _by_setting(label, b, check, mutations):
    """A family unit whose kernels are found by running ``check(bundle,
    settings)`` through the bundle's public methods once per (dtype, path)
    setting: each mutant is checked in the settings that reached its kernel.
    The unmutated kernels pass every setting (else every mutant would be
    'caught')."""
    res = check(b, SETTINGS)
    assert res.ok, f"{label}: the unmutated kernels fail\n{res.describe()}"
    uses, reach = M.discover_settings(b, lambda bb, st: check(bb, [st]), SETTINGS)
    return label, mutations(uses), b, lambda m: (lambda bb: check(bb, reach[m.fname]))


def _merged(results):
    from symdl.testing import CheckResult
    out = CheckResult()
    for r in results:
        out.extend(r)
    return out


def _normalization_family():
    from symdl.testing import normalization as N
    for name in N.specs():
        yield lambda name=name: _by_setting(
            f"normalization {name}", N.NormBundle(name),
            lambda bb, sts: _merged(N.check_normalization(name, bb, dtypes=(dt,), paths=(p,)) for dt, p in sts),
            M.discovered_mutations)


def _cell_family():
    from symdl.testing import cells as C
    for i in range(len(C.BLOCKS)):
        b = C.gate_block(i)
        yield lambda i=i, b=b: _by_setting(
            f"cell {C.BLOCKS[i][1]}: {C.IDS[i]}", b,
            lambda bb, sts: _merged(C.check_cell_block(i, bb, dtypes=(dt,), paths=(p,)) for dt, p in sts),
            lambda uses: M.cell_mutations(b, uses))


#: each family yields units: thunks -> (label, mutations, bundle, mutation -> check)
FAMILIES = {"activation": _activation_family, "loss": _loss_family, "optimizer": _optimizer_family,
            "softmax": _softmax_family, "class loss": _class_loss_family,
            "normalization": _normalization_family, "cell": _cell_family}


def _report(outcomes_by_family):
    lines = [f"{'family':14s} {'caught':>7s} {'made':>6s} {'equivalent':>10s}"]
    for fam, outs in outcomes_by_family.items():
        c, n, e = M.score(outs)
        lines.append(f"{fam:14s} {c:7d} {n:6d} {e:10d}")
    return "\n".join(lines)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_mutation_sample(family):
    """A fixed sample (seed rotated weekly): 4 mutants of one unit of each
    family (an activation, a loss option set, an optimizer rule, a softmax,
    a class-loss option set, a normalization, a cell's gate block), each
    rejected by its check.  One test per family, so that the workers share
    the kernels' compiles."""
    rng = np.random.default_rng([SEED, list(FAMILIES).index(family)])
    units = list(FAMILIES[family]())
    label, muts, b, check = units[rng.integers(len(units))]()
    pick = rng.choice(len(muts), size=min(4, len(muts)), replace=False)
    outcomes = [M.run(muts[i], b, check(muts[i])) for i in pick]
    escaped = [str(o.mutation) for o in outcomes if not o.caught and not o.equivalent]
    assert not escaped, f"{label}: mutants not caught (SYMDL_MUTANT_SEED={SEED}): {escaped}"
    print(_report({family: outcomes}))


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_mutant_is_caught(family):
    outcomes, escaped = [], []
    gen = FAMILIES[family]
    for unit in (gen(full=True) if family == "class loss" else gen()):
        t0 = time.perf_counter()
        label, muts, b, check = unit()
        outs = [M.run(m, b, check(m)) for m in muts]
        outcomes += outs
        escaped += [f"{label}: {o.mutation} {o.detail}" for o in outs if not o.caught and not o.equivalent]
        print(f"{label}: {'%d/%d caught, %d equivalent' % M.score(outs)} ({time.perf_counter() - t0:.1f} s)",
              flush=True)
    print("\n" + _report({family: outcomes}))
    assert not escaped, "\n".join(escaped)

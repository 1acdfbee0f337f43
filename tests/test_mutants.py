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
reductions run other kernels and cannot see it.
"""
import datetime
import os

import numpy as np
import pytest

import symdl
import symdl.specs as S
from symdl.specs import losses as L
from symdl.testing import check_activation, check_loss, check_optimizer
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
    spec = TERM["huber_loss"]
    (b, cases), = loss_bundles("huber_loss")
    m = M.Mutation("huber_loss__sum_forward_backward_f64", "out_dx", 1.0001)
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
            b = symdl.kernel(spec.name, **variant)
            yield (f"activation {spec.name}", M.activation_mutants(b), b,
                   lambda m, spec=spec, variant=variant:
                   lambda bb: check_activation(spec, bb, variant, dtypes=(_dtype(m),)))


def _loss_family():
    for name, spec in TERM.items():
        for b, cases in loss_bundles(name):
            reds = next(p["choices"] for p in b.meta["params"] if p["name"] == "reduction")
            yield (f"loss {name}", M.loss_mutants(b), b,
                   lambda m, spec=spec, cases=cases, reds=reds: lambda bb: check_loss(
                       spec, bb, cases=cases, dtypes=(_dtype(m),),
                       reductions=[r for r in reds if (r == "none") == ("__none_" in m.fname)]))


def _optimizer_family():
    from symdl.runtime.family import RULES as G
    for name in G.SPECS:
        variants = [v for v, k, _ in G.SPECS[name]["variants"]]
        keys = [k for v, k, _ in G.SPECS[name]["variants"]]
        yield (f"optimizer {name}", M.optimizer_mutants(G, name), G,
               lambda m, name=name, variants=variants, keys=keys: lambda mod: check_optimizer(
                   name, module=mod, dtypes=(_dtype(m),),
                   variants=[v for v, k in zip(variants, keys) if m.fname.startswith(k + "_")]))


FAMILIES = {"activation": _activation_family, "loss": _loss_family, "optimizer": _optimizer_family}


def _report(outcomes_by_family):
    lines = [f"{'family':12s} {'caught':>7s} {'made':>6s} {'equivalent':>10s}"]
    for fam, outs in outcomes_by_family.items():
        c, n, e = M.score(outs)
        lines.append(f"{fam:12s} {c:7d} {n:6d} {e:10d}")
    return "\n".join(lines)


def test_mutation_sample():
    """A fixed sample (seed rotated weekly): 4 mutants of one activation, one
    loss option set and one optimizer rule, each rejected by its check."""
    rng = np.random.default_rng(SEED)
    outcomes = {}
    for fam, gen in FAMILIES.items():
        units = list(gen())
        label, muts, b, check = units[rng.integers(len(units))]
        pick = rng.choice(len(muts), size=min(4, len(muts)), replace=False)
        outcomes[fam] = [M.run(muts[i], b, check(muts[i])) for i in pick]
        escaped = [str(o.mutation) for o in outcomes[fam] if not o.caught and not o.equivalent]
        assert not escaped, f"{label}: mutants not caught (SYMDL_MUTANT_SEED={SEED}): {escaped}"
    print(_report(outcomes))


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_mutant_is_caught(family):
    outcomes, escaped = [], []
    for label, muts, b, check in FAMILIES[family]():
        for m in muts:
            o = M.run(m, b, check(m))
            outcomes.append(o)
            if not o.caught and not o.equivalent:
                escaped.append(f"{label}: {m} {o.detail}")
    print("\n" + _report({family: outcomes}))
    assert not escaped, "\n".join(escaped)

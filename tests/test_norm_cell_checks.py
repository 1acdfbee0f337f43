"""The normalization and cell checks of symdl.testing (``check_normalization``,
``check_cell_block``: what the mutation check runs) pass on the generated
kernels: every output -- the saved mean, variance and rstd included -- in
both dtypes, through the serial and the prange kernels (these for
PARALLEL_SAMPLE by default, all under ``-m slow``), and the running-estimate
update.  (The per-output
tests, tests/test_normalization_kernels.py and tests/test_cells.py, run the
serial kernels at their cases' sizes.)"""
import numpy as np
import pytest
from sampling import slow_unless

from symdl.testing import cells as C
from symdl.testing import normalization as N


#: the prange kernels checked in the default run (the rest: -m slow); each
#: norm's prange kernels are compiled from the serial bodies the default run
#: checks (tests/test_one_body.py), and their compiles dominate this file
PARALLEL_SAMPLE = {"layer_norm"}


def _check(name, paths):
    res = N.check_normalization(name, paths=paths)
    whats = {r.which.split(" (")[0] for r in res}
    assert {"training saved var", "training saved rstd", "training dx"} <= whats
    assert ("training saved mean" in whats) == N.specs()[name].centered
    assert {"training running mean", "training running var"} <= whats or not N.specs()[name].running
    assert {r.which.rsplit(", ", 1)[1] for r in res} == {p + ")" for p in paths}
    res.assert_ok()


@pytest.mark.parametrize("name", list(N.specs()))
def test_check_normalization_passes(name):
    _check(name, ("serial",))


@pytest.mark.parametrize("name", slow_unless(list(N.specs()), lambda n: n in PARALLEL_SAMPLE, ids=str))
def test_check_normalization_parallel_passes(name):
    _check(name, ("parallel",))


@pytest.mark.parametrize("index", range(len(C.BLOCKS)), ids=C.IDS)
def test_check_cell_block_passes(index):
    res = C.check_cell_block(index)
    assert {r.dtype for r in res} == {"float64", "float32"}
    res.assert_ok()


def test_check_normalization_sees_a_wrong_variance():
    """The saved variance feeds only the running estimates: the check holds it
    to its truth itself (a variance off by 1e-6 passed every other output)."""
    from symdl.testing import mutants as M

    b = N.NormBundle("layer_norm")
    m = M.Mutation("forward_train_f64", "var", 1 + 1e-6)
    bad, mod = M.mutant_bundle(b, m)
    res = N.check_normalization("layer_norm", bad, dtypes=(np.float64,), paths=("serial",))
    assert mod.changed and not res.ok
    assert {r.which.split(" (")[0] for r in res.failures} == {"training saved var"}

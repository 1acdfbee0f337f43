"""`symdl train --model cnn`: a small CNN on the 8x8 digits as (N, 1, 8, 8)
images through fit (issue 21).  The full default run (>= 0.98 test
accuracy) is slow; the fast test runs the same path for 3 epochs."""
import re

import pytest

from symdl.cli import main


def _accuracy(out):
    return float(re.search(r"test accuracy ([0-9.]+)", out).group(1))


def test_cnn_digits_fast(capsys):
    assert main(["train", "--model", "cnn", "--epochs", "3", "--quiet", "--no-save"]) == 0
    assert _accuracy(capsys.readouterr().out) >= 0.93


@pytest.mark.slow
def test_cnn_digits_reaches_098(capsys):
    assert main(["train", "--model", "cnn", "--quiet", "--no-save"]) == 0
    assert _accuracy(capsys.readouterr().out) >= 0.98


@pytest.mark.parametrize("argv", [["--dataset", "iris"], ["--csv", "x.csv"]])
def test_cnn_needs_the_digit_images(argv, capsys):
    assert main(["train", "--model", "cnn", "--quiet", "--no-save", *argv]) == 2
    assert "--model cnn trains on the 8x8 digit images" in capsys.readouterr().err


def test_fit_image_inputs_are_checked():
    import numpy as np

    import symdl.nn as nn
    from symdl.errors import ShapeError

    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Flatten(), nn.Linear(3 * 2 * 2, 2))
    X = np.zeros((4, 2, 4, 4), np.float32)
    X[1, 1, 2, 3] = np.nan
    with pytest.raises(ValueError, match=r"NaN at row 1, position \(1, 2, 3\)"):
        model.fit(X, np.array([0, 1, 0, 1]), epochs=1, verbose=0)
    with pytest.raises(ShapeError, match=r"expects 2 input channels.*\(1, 3, 4, 4\)"):
        model.fit(np.zeros((4, 3, 4, 4)), np.array([0, 1, 0, 1]), epochs=1, verbose=0)


def test_cnn_steps_run_openblas_on_one_thread():
    """``train.blas_mode``: a model with convolutions trains with OpenBLAS on
    one thread (the conv layers then split the batch over Numba's threads),
    the previous count restored after each step; other models are untouched."""
    import numpy as np

    import symdl.nn as nn
    from symdl import optim
    from symdl.runtime import blas
    from symdl.train import blas_mode, resolve_loss, train_step

    if not blas.can_split():
        pytest.skip("OpenBLAS's thread count is not settable here (or one CPU)")
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    mlp = nn.Sequential(nn.Linear(4, 3))
    assert isinstance(blas_mode(cnn), blas.OneThread)
    assert not isinstance(blas_mode(mlp), blas.OneThread)
    prev = blas.threads_set(2)
    try:
        seen = []
        forward = cnn.forward

        def spy(x, **kw):
            seen.append(blas.threads_get())
            return forward(x, **kw)
        cnn.forward = spy
        x = np.random.default_rng(0).standard_normal((4, 1, 8, 8)).astype(np.float32)
        opt = optim.SGD(cnn.parameters(), lr=0.1)
        train_step(cnn, resolve_loss("cross_entropy"), opt, x, np.array([0, 1, 2, 0]))
        assert seen == [1] and blas.threads_get() == 2
    finally:
        if prev is not None:
            blas.threads_set(prev)

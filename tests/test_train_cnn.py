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


def test_sequential_with_convolutions_runs_openblas_on_one_thread():
    """``Sequential.forward``/``backward`` of a model with convolutions run every
    layer with OpenBLAS on one thread (``symdl.nn.conv.blas_mode``), the count
    restored after; a model without convolutions leaves it alone."""
    import numpy as np

    import symdl.nn as nn
    from symdl.runtime import blas

    if not blas.can_split():
        pytest.skip("OpenBLAS's thread count is not settable here (or one CPU)")
    seen = []

    def spy(layer):                         # records OpenBLAS's count in the layer's calls
        forward, backward = layer.forward, layer.backward

        def f(x, training=False, out=None):
            seen.append(("f", blas.threads_get()))
            return forward(x, training, out)

        def b(grad, out=None, input_grad=True):
            seen.append(("b", blas.threads_get()))
            return backward(grad, out, input_grad)
        layer.forward, layer.backward = f, b
        return layer

    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), spy(nn.Flatten()), nn.Linear(2 * 6 * 6, 3))
    mlp = nn.Sequential(nn.Linear(4, 3), spy(nn.Flatten()), nn.Linear(3, 2))
    prev = blas.threads_set(2)
    try:
        x = np.random.default_rng(0).standard_normal((4, 1, 8, 8)).astype(np.float32)
        cnn.forward(x, training=True)
        cnn.backward(np.ones((4, 3), np.float32))
        assert seen == [("f", 1), ("b", 1)] and blas.threads_get() == 2
        seen.clear()
        nested = nn.Sequential(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten()), spy(nn.Linear(2 * 6 * 6, 3)))
        nested.forward(x, training=True)
        assert seen == [("f", 1)] and blas.threads_get() == 2
        seen.clear()
        mlp.forward(np.ones((5, 4), np.float32), training=True)
        mlp.backward(np.ones((5, 2), np.float32))
        assert seen == [("f", 2), ("b", 2)] and blas.threads_get() == 2
    finally:
        if prev is not None:
            blas.threads_set(prev)

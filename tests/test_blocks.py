"""The elementwise kernels loop over cache-line-aligned blocks
(symdl.runtime.blocks): every element is computed exactly once, whatever
the array's alignment and size, and the serial and prange variants agree
bit for bit (also with a trig element that takes the libm pass)."""
import numpy as np
import pytest

import symdl
from symdl.runtime.blocks import ALIGN, BLOCK, aligned_head, block_start, block_stop, n_blocks

SIZES = [0, 1, 15, 16, 17, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK + 17, 5 * BLOCK + 3]


def _at_offset(n, dtype, offset):
    """An n-element array starting ``offset`` elements past a 64-byte boundary."""
    buf = np.empty(n + 2 * ALIGN, dtype)
    start = ((-buf.ctypes.data) % ALIGN) // buf.itemsize + offset
    return buf[start:start + n]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("offset", [0, 1, 4, 7])
def test_blocks_cover_each_element_once(n, offset):
    out = _at_offset(n, np.float32, offset)
    h = aligned_head(out, n)
    assert 0 <= h <= min(n, ALIGN // 4 - 1)
    assert (out.ctypes.data + 4 * h) % ALIGN == 0 or h == n
    seen = np.zeros(n, int)
    for b in range(n_blocks(n, h)):
        s, e = block_start(b, h), block_stop(b, h, n)
        if b > 0 and s < n:
            assert (out.ctypes.data + 4 * s) % ALIGN == 0
        seen[s:e] += 1
    assert (seen == 1).all()


@pytest.mark.parametrize("name", ["relu", "gelu", "sinusoid"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_serial_and_parallel_variants_agree_at_any_alignment(name, dtype):
    k = symdl.kernel(name)
    scalars = tuple(k._scalars())
    rng = np.random.default_rng(3)
    for n in SIZES[1::2]:
        for offset in (0, 3):
            x = _at_offset(n, dtype, offset)
            x[:] = rng.standard_normal(n) * 3
            x[n // 2] = 1e30            # sinusoid: outside the vector path (libm pass)
            x[n // 3] = np.nan
            g = np.ones_like(x)
            for kind, ins, nout in (("forward", (x,), 1), ("backward", (x, g), 1),
                                    ("forward_backward", (x, g), 2)):
                serial, par = k._fn(kind, np.dtype(dtype), 1), k._fn(kind, np.dtype(dtype), 10**9)
                assert serial is not par
                a = [_at_offset(n, dtype, offset) for _ in range(nout)]
                b = [_at_offset(n, dtype, (offset + 5) % 16) for _ in range(nout)]
                serial(*ins, *scalars, *a)
                par(*ins, *scalars, *b)
                for u, v in zip(a, b):
                    np.testing.assert_array_equal(u, v)
                    assert np.isfinite(u[np.isfinite(x)]).all(), (name, kind, n)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_learnable_kernels_split_off_the_unaligned_head(dtype):
    """prelu with one weight runs the elements before out's first 64-byte
    boundary in a call of their own (runtime.elementwise._parts); y, dx and
    d weight do not depend on where the arrays start."""
    from symdl.runtime.elementwise import _parts
    k = symdl.kernel("prelu", weight=0.25)
    rng = np.random.default_rng(4)
    n = 3 * BLOCK + 5
    ref = rng.standard_normal(n)
    g_ref = rng.standard_normal(n)
    results = []
    for offset in (0, 3):
        x, g = _at_offset(n, dtype, offset), _at_offset(n, dtype, offset)
        x[:], g[:] = ref, g_ref
        y, dx = _at_offset(n, dtype, offset), _at_offset(n, dtype, offset)
        parts = _parts(y, [np.ones(1)])
        assert len(parts) == (1 if offset == 0 else 2)
        assert all((y.ctypes.data + y.itemsize * a) % ALIGN == 0 for a, _ in parts[1:])
        _, _, dw = k.forward_backward(x, g, out=(y, dx))
        results.append((y.copy(), dx.copy(), float(dw)))
    (y0, dx0, dw0), (y1, dx1, dw1) = results
    np.testing.assert_array_equal(y0, y1)
    np.testing.assert_array_equal(dx0, dx1)
    xs = ref.astype(dtype).astype(np.float64)
    truth = float(np.sum(np.where(xs > 0, 0.0, xs) * g_ref.astype(dtype).astype(np.float64)))
    tol = 1e-12 if dtype == np.float64 else 1e-6
    assert abs(dw0 - truth) <= tol * abs(truth) and abs(dw1 - truth) <= tol * abs(truth)
    assert _parts(np.empty((4, 3)).reshape(-1), [np.ones(3)]) == [(0, 12)]   # per channel: one call

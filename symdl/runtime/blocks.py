"""Cache-line-aligned blocks for the elementwise kernels' loops.

NumPy places a large array 16 bytes past a 64-byte boundary (the allocator's
chunk header), so every 512-bit load and store of a plain ``prange`` loop
straddles two cache lines.  Streaming kernels then run far below the
memory's bandwidth: relu's fused forward+backward at N = 1e7, float32,
2 threads, took 9.4-12 ms on such arrays and 6.3 ms on aligned ones.

The kernels therefore loop over blocks: block 0 is the *head*, the elements
before ``out``'s first 64-byte boundary (at most 15); every later block has
BLOCK elements and starts on a boundary, whichever thread runs it.  Inputs
allocated the same way as ``out`` (the usual case) are aligned too.  Indices
are unsigned in the kernels (no wraparound select, which would turn the
loads into gathers).
"""
from __future__ import annotations

from numba import njit

#: cache line (and AVX-512 vector) size in bytes
ALIGN = 64
#: elements per block after the head: a multiple of every vector width, large
#: enough that the block loop costs nothing, small enough to balance threads
BLOCK = 8192


@njit(cache=True)
def aligned_head(out, n):
    """Elements of ``out`` before its first ALIGN-byte boundary (<= n)."""
    h = ((-out.ctypes.data) & (ALIGN - 1)) // out.itemsize
    return min(n, h)


@njit(cache=True)
def n_blocks(n, h):
    """Blocks for n elements with a head of h: the head plus ceil((n-h)/BLOCK)."""
    return (n - h + BLOCK - 1) // BLOCK + 1


@njit(cache=True)
def block_start(b, h):
    return 0 if b == 0 else h + (b - 1) * BLOCK


@njit(cache=True)
def block_stop(b, h, n):
    return h if b == 0 else min(n, h + b * BLOCK)

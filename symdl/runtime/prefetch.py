"""Software prefetch for the optimizer kernels' streaming loops.

An optimizer step reads every array of its state once (Adam: param, grad,
exp_avg, exp_avg_sq) and writes most of them back, so beyond the caches its
speed is the number of cache-line misses each core keeps in flight.  The
hardware prefetcher keeps some; the out-of-order window adds the demand misses
of the iterations it holds. The more arithmetic an element needs, the fewer
iterations fit in that window.  Adam's sqrt, division and the multiply-adds
around them left a plain ``prange`` loop 5-10% slower than a loop over the same
arrays with no arithmetic.

The kernels therefore loop over chunks of CHUNK elements. Before each chunk
of an array of PREFETCH_FROM bytes or more, they ask for the lines of every
array AHEAD bytes further on (``prefetch``: one
``llvm.prefetch``, a hint that never faults and changes no result).  Adam at
N = 1e7, float32, 2 threads then runs as fast as the arithmetic-free loop
(benchmarks/optimizers.py, ``%stream``).
"""
from __future__ import annotations

from llvmlite import ir
from numba import njit, types, uint64
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload

__all__ = ["CHUNK", "AHEAD", "LINE", "PREFETCH_FROM", "prefetch", "prefetch_write",
           "worth_prefetching", "n_chunks", "chunk_start", "chunk_stop", "prefetch_chunk"]

#: elements per chunk: several 512-bit vectors of either dtype, so the inner
#: loop vectorizes and unrolls like a plain one
CHUNK = 64
#: bytes between the chunk being computed and the lines being fetched
#: (4-8 KiB measured best on the 2-core machine; 2 KiB was too close)
AHEAD = 4096
#: cache line in bytes
LINE = 64
#: bytes per array from which the kernels prefetch.  Below this, the state
#: is served from the L3 fast enough that the hints only add instructions:
#: Adam float32 at N = 1e6 (4 MB per array) was ~8% slower with them, at
#: 3e6 and 1e7 (12 and 40 MB) 5-10% faster.
PREFETCH_FROM = 8 << 20


def prefetch(a, i):
    """Hint: fetch the cache line of ``a[i]`` into L2.  No effect on results;
    in plain Python it does nothing."""
    return None


def prefetch_write(a, i):
    """Hint: fetch the cache line of ``a[i]`` into L2, owned for writing
    (``prefetchw``), for an output the kernel will store to.  No effect on
    results; in plain Python it does nothing."""
    return None


def _prefetch_intrinsic(rw: int):
    @intrinsic
    def _prefetch(typingctx, a, i):
        if not (isinstance(a, types.Array) and isinstance(i, types.Integer)):
            raise TypingError("prefetch expects an array and an integer index")
        sig = types.none(a, i)

        def codegen(context, builder, signature, args):
            arr = context.make_array(signature.args[0])(context, builder, args[0])
            # not inbounds: the address is only a hint and is never dereferenced
            ptr = builder.gep(arr.data, [args[1]])
            i8p = ir.IntType(8).as_pointer()
            i32 = ir.IntType(32)
            fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
            fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
            # read (0) or write (1), temporal locality 2 (keep in L2), data cache
            builder.call(fn, [builder.bitcast(ptr, i8p), i32(rw), i32(2), i32(1)])
            return context.get_dummy_value()
        return sig, codegen
    return _prefetch


_prefetch_read, _prefetch_write = _prefetch_intrinsic(0), _prefetch_intrinsic(1)


@overload(prefetch, inline="always")
def _ol_prefetch(a, i):
    if isinstance(a, types.Array) and isinstance(i, types.Integer):
        return lambda a, i: _prefetch_read(a, i)


@overload(prefetch_write, inline="always")
def _ol_prefetch_write(a, i):
    if isinstance(a, types.Array) and isinstance(i, types.Integer):
        return lambda a, i: _prefetch_write(a, i)


@njit(inline="always", cache=True)
def worth_prefetching(a):
    """Whether ``a`` is large enough (PREFETCH_FROM bytes) for the hints."""
    return uint64(a.shape[0]) * uint64(a.itemsize) >= uint64(PREFETCH_FROM)


@njit(inline="always", cache=True)
def n_chunks(n):
    """Chunks covering n elements (the last one may be short)."""
    return (uint64(n) + uint64(CHUNK - 1)) // uint64(CHUNK)


@njit(inline="always", cache=True)
def chunk_start(c):
    return uint64(c) * uint64(CHUNK)


@njit(inline="always", cache=True)
def chunk_stop(c, n):
    return min(uint64(c) * uint64(CHUNK) + uint64(CHUNK), uint64(n))


@njit(inline="always", cache=True)
def prefetch_chunk(a, lo, write=False):
    """Prefetch the lines of ``a[lo + AHEAD/itemsize : ... + CHUNK]`` that
    lie inside ``a`` (one hint per cache line).  ``write=True`` for an
    output the kernel only stores to (``prefetch_write``): asking for its
    lines owned ahead of the stores beat both a read hint and none."""
    n = uint64(a.shape[0])
    step = uint64(LINE // a.itemsize)
    ahead = uint64(lo) + uint64(AHEAD // a.itemsize)
    for q in range(uint64(0), uint64(CHUNK), step):
        j = ahead + q
        if j < n:
            if write:
                prefetch_write(a, j)
            else:
                prefetch(a, j)

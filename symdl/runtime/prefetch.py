"""Software prefetch for the optimizer kernels' streaming loops.

An optimizer step reads every array of its state once (Adam: param, grad,
exp_avg, exp_avg_sq) and writes most of them back.  Beyond the caches its speed
is the number of cache-line misses each core keeps in flight.  The hardware
prefetcher keeps some; the out-of-order window adds the demand misses of the
iterations it holds.  Adam's sqrt, division and multiply-adds fill that
window, and they left a plain ``prange`` loop 5-10% slower than a loop over the
same arrays with no arithmetic.

The prange kernels therefore loop over chunks of CHUNK elements.  On arrays of
PREFETCH_FROM bytes or more, before each chunk they hint the lines of every
array AHEAD bytes further on (``prefetch_chunk``).  Each hint is one
``llvm.prefetch``: it never faults and changes no result.  Adam at N = 1e7,
float32, 2 threads then runs as fast as the loop with no arithmetic
(benchmarks/optimizers.py, ``%stream``), and SGD-momentum's step through
``symdl.optim`` gained 3-7% as well.

Each kernel is one body, compiled serially and with ``parallel=True``
(runtime/jitcache.lazy_kernels).  On arrays that are not prefetched the
chunks are SPAN elements long: run serially (below the parallel threshold)
the body then loops like a plain loop.

The helpers are plain ``@njit`` functions, compiled once per signature, not
``inline="always"``: Numba's own inlining re-types each call site, which
made a kernel's serial compile 4x and its parallel compile 2x longer (0.46
vs 0.18 s, 1.1 vs 0.55 s, Adam float32).  LLVM inlines them into the
kernels anyway: the machine code runs as fast.
"""
from __future__ import annotations

from llvmlite import ir
from numba import njit, types, uint64
from numba.core import cgutils
from numba.core.errors import TypingError
from numba.extending import intrinsic, overload

__all__ = ["CHUNK", "SPAN", "AHEAD", "LINE", "PREFETCH_FROM", "prefetch", "worth_prefetching", "n_chunks",
           "chunk_len", "chunk_start", "chunk_stop", "lines_ahead", "prefetch_chunk"]

#: elements per chunk: several 512-bit vectors of either dtype, so the inner
#: loop vectorizes and unrolls like a plain one (256 was slower: the hints
#: then go out in bursts)
CHUNK = 64
#: elements per chunk where the kernels do not prefetch (arrays under
#: PREFETCH_FROM, every serial call of the runtime): 64-element chunks cost a
#: serial loop ~2% at 1e5 elements against a plain one, 2048 nothing
#: measurable, and the parallel threshold (131072) still makes 64 of them
SPAN = 2048
#: bytes between the chunk being computed and the lines being fetched
#: (4-8 KiB measured best on the 2-core machine; 16 KiB was worse)
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
        # read, temporal locality 2 (keep in L2), data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(2), i32(1)])
        return context.get_dummy_value()
    return sig, codegen


@overload(prefetch, inline="always")
def _ol_prefetch(a, i):
    if isinstance(a, types.Array) and isinstance(i, types.Integer):
        return lambda a, i: _prefetch(a, i)


@njit(cache=True)
def worth_prefetching(a):
    """Whether ``a`` is large enough (PREFETCH_FROM bytes) for the hints."""
    return uint64(a.shape[0]) * uint64(a.itemsize) >= uint64(PREFETCH_FROM)


@njit(cache=True)
def chunk_len(ahead=True):
    """Elements per chunk: CHUNK where the loop prefetches, else SPAN."""
    return uint64(CHUNK) if ahead else uint64(SPAN)


@njit(cache=True)
def n_chunks(n, ahead=True):
    """Chunks covering n elements (the last one may be short)."""
    s = chunk_len(ahead)
    return (uint64(n) + s - uint64(1)) // s


@njit(cache=True)
def chunk_start(c, ahead=True):
    return uint64(c) * chunk_len(ahead)


@njit(cache=True)
def chunk_stop(c, n, ahead=True):
    s = chunk_len(ahead)
    return min(uint64(c) * s + s, uint64(n))


@njit(cache=True)
def lines_ahead(lo, n, itemsize):
    """(start, stop, step) of the element indices, one per cache line, AHEAD
    bytes past a chunk starting at ``lo``, clipped to n elements."""
    start = uint64(lo) + uint64(AHEAD // itemsize)
    return start, min(start + uint64(CHUNK), uint64(n)), uint64(LINE // itemsize)


@njit(cache=True)
def prefetch_chunk(a, lo):
    """Hint the lines of ``a`` AHEAD bytes past a chunk at ``lo`` (those
    inside the array).  The kernels call it once per array, so the hints go
    out array by array: for Adam at 1e7 that beat one loop hinting every
    array at each line by ~5%."""
    j0, j1, dj = lines_ahead(lo, a.shape[0], a.itemsize)
    for j in range(j0, j1, dj):
        prefetch(a, j)

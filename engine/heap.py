"""The C heap under torch's CPU tensors, told to keep what an iteration frees (Linux, glibc).

Every iteration allocates the network's activations and their gradients afresh and frees them at
its end. glibc serves each block over its mmap threshold (at most 32 MiB) with a fresh mapping
and unmaps it when freed, and gives back the top of the heap over its trim threshold: so every
iteration page-faults its activations in again, one fault per 4 KiB page, each page zeroed by the
kernel. Told to use the heap only and keep freed memory, the next iteration reuses it. Measured
on 2 cores (one 2048 x 1536 scale, iterations 3 to 5): float32 22.1 -> 12.8 s an iteration, peak
RSS 8.4 -> 12.5 GiB; bf16 22.7 -> 12.9 s, 5.2 -> 6.5 GiB (heap blocks of many sizes fit each
other's holes less well than fresh mappings). 512 px: about 5 % (bf16) and 9 % (float32), within
that size's noise. The heap can grow where a freed block is a little too small for the next
aligned request of its size (a test pattern of two tensors allocated and freed in turn gained
256 MiB on some rounds; tests/test_heap.py's iteration of 140 MiB grows the heap by up to
440 MiB over its first 7 rounds, then no more); the engine's iterations level off within a few
(bf16 at 2048 px: 6.47-6.57 GiB over 14 iterations), and ``release()`` hands what is free back
to the system after every run, so neither a long session nor an idle window holds a print run's
gigabytes.
"""

from __future__ import annotations

import ctypes
import functools
import sys

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_MAX = -4
M_ARENA_MAX = -8
NEVER = -1  # as M_TRIM_THRESHOLD: never trim the heap's top on free (mallopt(3)); release() does


@functools.cache
def _glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # glibc's alone: another libc's mallopt takes other parameters
    except (OSError, AttributeError):
        return None
    return libc


def available() -> bool:
    return _glibc() is not None


def keep_freed_memory() -> bool:
    """No mappings of their own for large blocks, the heap's top kept until ``release()``, one
    arena: True if glibc took all three."""
    libc = _glibc()
    if libc is None:
        return False
    # one arena for every thread: a thread's own arena grows in mappings of its own (64 MiB at
    # most), which the window's worker thread would fault in afresh every iteration
    taken = [libc.mallopt(M_MMAP_MAX, 0), libc.mallopt(M_TRIM_THRESHOLD, NEVER), libc.mallopt(M_ARENA_MAX, 1)]
    return all(taken)


def release() -> None:
    """Give the free memory in every arena back to the system (glibc's malloc_trim)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(ctypes.c_size_t(0))

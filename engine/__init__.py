"""Impasto's style-transfer engine: plain PyTorch and Pillow, no Qt.

Nothing here imports Qt (tests/test_architecture.py enforces it): the QThread worker lives in
``gui.worker``.
"""

import os

# Read once, when torch loads its OpenMP runtime (libgomp): how long its idle threads spin before
# they sleep. By default they spin long enough to take a core from NNPACK's threads, which run the
# float32 CPU path's convolutions between OpenMP operations (engine/vgg.py): a 512 px iteration
# on 2 cores took 1.12 s with the default and 0.92 s with 10000 spins; the bf16 path was unchanged
# (0.80 s). So engine must be imported before torch, as main.py does.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")


def _cpu_runs_bf16() -> bool:
    """Whether the CPU path will run in bf16 (engine.devices.autocast_dtype), told before torch
    loads: oneDNN's bf16 needs AVX-512 BW, VL and DQ (torch's _is_mkldnn_bf16_supported)."""
    if os.environ.get("IMPASTO_CPU_BF16", "1") == "0":
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            flags = next((line.split(":", 1)[1].split() for line in info if line.startswith("flags")), [])
    except OSError:
        return False
    return {"avx512bw", "avx512vl", "avx512dq"} <= set(flags)


# Read by torch's CPU allocator (Linux only): back its large tensors with transparent huge pages
# (madvise). Every iteration allocates and frees the activations afresh, and from about 1024 px
# they are big enough that the kernel's page faults, one per 4 KiB page, cost more than the
# ReLUs and pooling that touch them: a 2048 px float32 iteration on 2 cores took 29 s with 4 KiB
# pages and 19.5 s with huge pages (512 px: no difference). Only for the float32 path: a 2048 px
# bf16 iteration took 17.7 s with them against 16.2 s without (one sitting, 3 iterations each).
if not _cpu_runs_bf16():
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

from engine import heap  # noqa: E402

# IMPASTO_HEAP=system: glibc's own settings, as before engine/heap.py, for benchmarks
if os.environ.get("IMPASTO_HEAP") != "system":
    heap.keep_freed_memory()  # each iteration reuses the last one's memory

from engine.errors import (  # noqa: E402, F401
    DeviceError,
    ImageError,
    ImpastoError,
    OutOfMemoryError,
    SettingsError,
    WeightsError,
)

__version__ = "0.1.0"

"""Compute devices: choice (CUDA > MPS > CPU), names, precision policy and memory checks."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass

import torch

from engine.errors import DeviceError, OutOfMemoryError


@dataclass(frozen=True)
class DeviceInfo:
    id: str  # "cuda:0", "mps", "cpu": what settings.device takes
    name: str  # what a person reads in the device picker


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def available_devices() -> list[DeviceInfo]:
    devices = []
    if torch.cuda.is_available():
        devices += [DeviceInfo(f"cuda:{i}", torch.cuda.get_device_name(i)) for i in range(torch.cuda.device_count())]
    if mps_available():
        devices.append(DeviceInfo("mps", "Apple GPU (Metal)"))
    devices.append(DeviceInfo("cpu", f"CPU — {cpu_name()}"))
    return devices


def resolve_device(request: str = "auto") -> torch.device:
    if request == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda:0")
        return torch.device("mps" if mps_available() else "cpu")
    if request == "cpu":
        return torch.device("cpu")
    if request == "mps":
        if not mps_available():
            raise DeviceError("Apple MPS is not available on this machine.")
        return torch.device("mps")
    if request.startswith("cuda"):
        index = int(request.partition(":")[2] or 0)
        if not torch.cuda.is_available():
            if os.environ.get("IMPASTO_CPU_ONLY_BUILD"):
                raise DeviceError("This build of Impasto is CPU-only; CUDA needs the full build.")
            raise DeviceError("CUDA is not available on this machine (no NVIDIA GPU or driver).")
        if index >= torch.cuda.device_count():
            raise DeviceError(f"There is no GPU cuda:{index} (found {torch.cuda.device_count()}).")
        return torch.device(f"cuda:{index}")
    raise DeviceError(f"Unknown device {request!r}.")


def cpu_supports_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The dtype the network runs in under autocast, or None for plain float32.

    "auto" picks the fast path measured in bench/: bf16 on CUDA (fp16 on older cards) and on
    CPUs with native bf16; float32 on MPS, whose reduced precision hurts L-BFGS.
    """
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        return torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_supports_bf16() and os.environ.get("IMPASTO_CPU_BF16", "1") != "0":
        return torch.bfloat16
    return None


def use_channels_last(device: torch.device) -> bool:
    """channels_last helps cuDNN, and oneDNN's convolutions in bf16 and in float32 alike: a 512 px
    float32 iteration on 2 cores took 1.84 s without it and 1.65 s with it. (It was off on the
    float32 path until L-BFGS learnt to take back a step that blows the loss up, engine/lbfgs.py:
    its rounding once sent the selftest's 64 px run from a loss of 63 to 7e7 in one step.)
    NNPACK takes the contiguous layout, so a float32 CPU run with use_winograd has it off.
    IMPASTO_CHANNELS_LAST=0/1 overrides the choice, for benchmarks."""
    forced = os.environ.get("IMPASTO_CHANNELS_LAST")
    if forced in ("0", "1"):
        return forced == "1"
    return device.type in ("cuda", "cpu")


def use_winograd(device: torch.device, dtype: torch.dtype | None) -> bool:
    """The float32 CPU path convolves with NNPACK's Winograd kernels (engine/vgg.py), where torch
    has NNPACK (AVX2 and FMA3 on x86) and on Linux, where it was measured: a 512 px iteration on 2
    cores took 1.61 s with oneDNN's direct convolution and 0.92 s with NNPACK. Elsewhere torch's
    OpenMP runtime is another, whose idle threads spin far longer (engine/__init__.py).
    IMPASTO_WINOGRAD=0/1 overrides the platform choice (not the need for float32 and NNPACK)."""
    if device.type != "cpu" or dtype is not None or os.environ.get("IMPASTO_WINOGRAD") == "0":
        return False
    if not sys.platform.startswith("linux") and os.environ.get("IMPASTO_WINOGRAD") != "1":
        return False
    return torch.backends.nnpack.is_available()


def use_cuda_graphs(device: torch.device) -> bool:
    """On CUDA each scale's forward and backward pass is captured once as a CUDA graph and replayed
    (engine/transfer.py): a 512 px iteration is a few hundred small kernels, and on an H100 an
    eager one spent most of its time in Python launching them. IMPASTO_CUDA_GRAPHS=0 turns it off.
    Only on the current device (the one a bare "cuda" names): captures and side streams go there."""
    if device.type != "cuda" or os.environ.get("IMPASTO_CUDA_GRAPHS", "1") == "0":
        return False
    return device.index is None or device.index == torch.cuda.current_device()


def configure(device: torch.device) -> None:
    """cuDNN's autotuner (benchmark mode) stays off: it times every algorithm for each new input
    shape, and a run meets ten (the picture and the painting at five scales). Measured on an H100
    (torch 2.11, bf16, 512 px): the default run took 9.4-12.8 s with it and 4.9-5.6 s without, and
    500 iterations at one size 5.09 s with it and 4.29 s without. IMPASTO_CUDNN_BENCHMARK=1 turns it on."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = os.environ.get("IMPASTO_CUDNN_BENCHMARK") == "1"


def free_memory(device: torch.device) -> int | None:
    """Bytes the device can still give, or None when unknown."""
    try:
        if device.type == "cuda":
            return torch.cuda.mem_get_info(device)[0]
        if device.type == "cpu":
            return _available_ram()
    except (ValueError, OSError, RuntimeError):
        pass
    return None


LBFGS_HISTORY = 50  # image-sized vector pairs L-BFGS keeps

# NNPACK keeps its workspace, the whole layer's transformed input and output (about 7 bytes per pixel
# per input and output channel, measured), for as long as the thread lives, and never shrinks it;
# a layer that would need more than this is convolved directly (conv1_2 from 1448 px on), so a
# float32 run holds at most this much more than before NNPACK. Measured at 2048 px (tubingen, 2
# cores): direct 32.7 s an iteration, peak RSS 7.6 GiB; NNPACK everywhere 23.6 s, 10.0 GiB; with
# this limit 26.8 s, 8.4 GiB.
WINOGRAD_WORKSPACE = 2**30
WORKSPACE_PER_PIXEL_CHANNEL = 7


def nnpack_workspace(pixels: int, channels: int) -> int:
    """Bytes of NNPACK's workspace for one layer of ``pixels`` and ``channels`` in and out together."""
    return WORKSPACE_PER_PIXEL_CHANNEL * pixels * channels


def winograd_workspace(pixels: int) -> int:
    """The most NNPACK's workspace holds in a run on a picture of ``pixels``: conv1_2's (64 + 64
    channels at full size), or WINOGRAD_WORKSPACE if that is more (engine/vgg.py keeps larger
    layers direct)."""
    return min(WINOGRAD_WORKSPACE, nnpack_workspace(pixels, 128))


def _available_ram() -> int | None:
    """RAM that can be had without swapping: MemAvailable counts the reclaimable page cache,
    which free pages (sysconf's AVPHYS_PAGES) do not."""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    if hasattr(os, "sysconf") and "SC_AVPHYS_PAGES" in os.sysconf_names:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return None


def estimate_bytes(height: int, width: int, bytes_per_value: int = 4,
                   history: int = LBFGS_HISTORY, winograd: bool = False) -> int:
    """Rough peak memory of one iteration at this size: the activations VGG19 keeps for the
    backward pass up to relu5_1 (about 610 values per input pixel over its layers; measured on
    the CPU: 2.3 KB per pixel at 1024 px), with the slack of a heap that keeps freed memory for
    reuse (engine/heap.py: 800 values in all; the float32 2048 px default peaked at 13.1 GiB),
    plus L-BFGS's history and a few image copies, plus NNPACK's workspace when the run uses it
    (``winograd``)."""
    pixels = height * width
    workspace = winograd_workspace(pixels) if winograd else 0
    return int(pixels * (800 * bytes_per_value + 3 * 4 * (2 * history + 8))) + workspace


def suggest_size(long_side: int, height: int, width: int, available: int, winograd: bool = False) -> int:
    """The largest long side (a multiple of 64, at least 64) whose estimate fits ``available``."""
    size = long_side
    while size > 64:
        size = max(64, int(size / 2 ** 0.5) // 64 * 64)
        scale = size / max(height, width)
        if estimate_bytes(int(height * scale), int(width * scale), winograd=winograd) < available:
            break
    return size


def check_fits(device: torch.device, height: int, width: int, long_side: int, winograd: bool = False) -> None:
    """Refuse a size that clearly cannot fit, before spending minutes to find out."""
    available = free_memory(device)
    if available is None:
        return
    needed = estimate_bytes(height, width, winograd=winograd)
    if needed > available:
        size = suggest_size(long_side, height, width, available, winograd)
        raise OutOfMemoryError(
            f"{long_side} px needs about {needed / 2**30:.1f} GiB but {device.type.upper()} has "
            f"{available / 2**30:.1f} GiB free; try {size} px.",
            suggested_size=size,
        )


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, (RuntimeError, MemoryError)) and (
        "out of memory" in text or "can't allocate memory" in text or isinstance(exc, MemoryError)
    )


def empty_cache(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()

"""Faults and edge cases inside a run: one-pixel lines, out of memory, Stop in every phase, a
process killed in the middle of a save."""

from __future__ import annotations

import math

import pytest
import torch

from engine import transfer
from engine.errors import OutOfMemoryError
from engine.settings import MIN_SIZE, TransferSettings
from gui.main_window import suggested_size
from tests.helpers import content_image, style_image
from tests.test_robustness_cases import one_line, two_tone


def tiny(**changes) -> TransferSettings:
    return TransferSettings(size=32, start_size=32, iterations=2, device="cpu", precision="fp32").replace(**changes)


# ---------------------------------------------------------------- one-pixel lines


@pytest.mark.parametrize("size, expected", [((1, 1000), (1, 32)), ((1000, 1), (32, 1)), ((2, 999), (1, 32))])
def test_one_pixel_line_runs_with_finite_losses(size, expected):
    steps = []
    result = transfer.run(tiny(), on_step=steps.append, content=two_tone(*size, across=size[1] == 1),
                          styles=[style_image()])
    assert result.image.size == expected and not result.stopped
    losses = [s for s in steps if s.phase == "optimising"]
    assert losses and all(math.isfinite(s.loss) and math.isfinite(s.tv_loss) for s in losses)


# ---------------------------------------------------------------- out of memory


def oom_after(monkeypatch, calls_before: int, sizes: list | None = None):
    """Make the device run out of memory after ``calls_before`` loss evaluations (in any run);
    ``sizes`` collects the image size of every evaluation."""
    real = transfer._Run._closure
    count = [0]

    def closure(self, x, optimizer):
        count[0] += 1
        if sizes is not None:
            sizes.append(tuple(x.shape[-2:]))
        if count[0] > calls_before:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(self, x, optimizer)

    monkeypatch.setattr(transfer._Run, "_closure", closure)
    return count


@pytest.mark.parametrize("size, start", [(48, 48), (32, 32), (100, 100)])
def test_out_of_memory_at_the_first_scale_suggests_a_smaller_size(monkeypatch, size, start):
    oom_after(monkeypatch, 0)
    with pytest.raises(OutOfMemoryError) as info:
        transfer.run(tiny(size=size, start_size=start), content=content_image(), styles=[style_image()])
    suggested = info.value.suggested_size
    assert suggested is not None and MIN_SIZE <= suggested < size
    assert f"try {suggested} px" in one_line(str(info.value))


def test_out_of_memory_at_the_smallest_size_names_no_size(monkeypatch):
    oom_after(monkeypatch, 0)
    with pytest.raises(OutOfMemoryError) as info:
        transfer.run(tiny(size=MIN_SIZE, start_size=MIN_SIZE), content=content_image(), styles=[style_image()])
    assert info.value.suggested_size is None
    assert "; try another device" in one_line(str(info.value))
    assert suggested_size(str(info.value)) is None  # so the window does not offer a size

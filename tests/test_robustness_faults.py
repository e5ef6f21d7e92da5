"""Faults and edge cases inside a run: one-pixel lines, out of memory, Stop in every phase, a
process killed in the middle of a save."""

from __future__ import annotations

import math

import pytest
from PIL import Image

from engine import transfer
from engine.settings import TransferSettings
from tests.helpers import content_image, style_image
from tests.test_robustness_cases import two_tone


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

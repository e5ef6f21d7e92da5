"""Region masks: where each style applies (Gatys et al. 2017, "Controlling Perceptual Factors in
Neural Style Transfer", spatial control).

A mask is a greyscale picture: white, the style applies; black, it does not; grey, partly. It is
named in ``TransferSettings.style_masks`` (one entry per style, "" = everywhere) either as a file
or as a ``data:image/png;base64,...`` URI, which is how a painted mask travels in the settings,
the presets' neighbours and the recipe saved with a result.

At each scale a mask is resized to the output (bilinear: soft edges stay soft) and taken down to
every layer's grid by 2x2 average pooling at each of the network's pools, on the same grid
(``ceil_mode``) as the network's own pooling. So a unit's weight is the share of the pixels below
it that the mask covers: a unit astride a border counts partly for both regions. Pooling by the
receptive field instead (a unit counts only if its whole field lies inside) would erode a region
by half a field at every layer, about 100 px at relu5_1, and empty a small region's deep layers.

No Qt here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from engine import images, layers
from engine.errors import ImageError, SettingsError

DATA_PREFIX = "data:image/png;base64,"
STORED_SIDE = 512  # long side of a mask kept in a recipe (the GUI paints at this size too)
MIN_STORED_SIDE = 32
JPEG_ROOM = 56_000  # characters of mask data a JPEG's recipe can hold beside the rest (EXIF: 64 KB)
UNCOVERED = ("photo", "blend")  # what the region no mask covers takes: content only, or every style blended


# ------------------------------------------------------------------------ reading and writing


def is_data(spec: str) -> bool:
    return spec.startswith("data:")


def label(index: int) -> str:
    return f"Mask {index + 1}"


def decode(spec: str, name: str = "Mask") -> Image.Image:
    """The mask ``spec`` names (a file or a data URI) as an "L" image, or ImageError."""
    if not is_data(spec):
        try:
            return images.load_image(spec).convert("L")
        except ImageError as exc:
            raise ImageError(f"{name}: {exc}") from None
    if not spec.startswith(DATA_PREFIX):
        raise ImageError(f"{name}: only PNG data (data:image/png;base64,...) can be embedded.")
    try:
        data = base64.b64decode(spec[len(DATA_PREFIX):], validate=True)
        with Image.open(io.BytesIO(data)) as picture:
            if picture.width * picture.height > images.DEFAULT_MAX_PIXELS:
                raise ImageError(f"{name}: the embedded mask is too large.")
            return picture.convert("L")
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError):
        raise ImageError(f"{name}: the embedded PNG data cannot be read.") from None


def encode(mask: Image.Image) -> str:
    """``mask`` as a PNG data URI (greyscale)."""
    buffer = io.BytesIO()
    mask.convert("L").save(buffer, format="PNG", optimize=True)
    return DATA_PREFIX + base64.b64encode(buffer.getvalue()).decode("ascii")


def stored(mask: Image.Image, side: int = STORED_SIDE) -> Image.Image:
    """``mask`` no larger than ``side`` on its long side (masks are resized to the content anyway)."""
    if max(mask.size) <= side:
        return mask
    return mask.resize(images.fit_size(*mask.size, side), Image.Resampling.BILINEAR)


def is_empty(mask: Image.Image) -> bool:
    return mask.getextrema()[1] == 0


def embedded(style_masks: list[str], room: int | None = None) -> list[str]:
    """The masks as data URIs, for a recipe that must not depend on a file that may move: files
    read in at STORED_SIDE, data kept as it is. With ``room`` (characters; a JPEG's EXIF holds
    64 KB), masks that would not fit are stored smaller, halving their side until they do."""
    specs = [spec if not spec or is_data(spec) else encode(stored(decode(spec))) for spec in style_masks]
    side = STORED_SIDE
    while room is not None and sum(map(len, specs)) > room and side > MIN_STORED_SIDE:
        side //= 2
        specs = [encode(stored(decode(spec), side)) if spec else "" for spec in specs]
    return specs


def check(style_masks: list[str], style_count: int) -> list[Image.Image | None]:
    """The decoded masks (None for "everywhere"), or one line on the first problem: a count that
    does not match the styles, a mask that cannot be read, one that is black everywhere."""
    if style_masks and len(style_masks) != style_count:
        raise SettingsError(f"Got {len(style_masks)} mask(s) for {style_count} style image(s); give one per style.")
    decoded = []
    for index, spec in enumerate(style_masks):
        mask = decode(spec, label(index)) if spec else None
        if mask is not None and is_empty(mask):
            raise ImageError(f"{label(index)} is black everywhere, so its style would apply nowhere.")
        decoded.append(mask)
    return decoded


def summary(style_masks: list[str]) -> list[str]:
    """A short name for each mask, for logs: the file, or "painted <hash>" for embedded data."""
    return [f"painted {hashlib.sha1(spec.encode()).hexdigest()[:8]}" if is_data(spec) else spec for spec in style_masks]


# ------------------------------------------------------------------------ down to the network


def mask_tensor(mask: Image.Image, width: int, height: int, device) -> torch.Tensor:
    """(1, 1, height, width) float32 in 0..1: ``mask`` resized to the output of one scale."""
    resized = mask if mask.size == (width, height) else mask.resize((width, height), Image.Resampling.BILINEAR)
    values = torch.from_numpy(np.asarray(resized.convert("L"), dtype=np.float32) / 255.0)
    return values[None, None].to(device)


def pools_before(layer: str) -> int:
    """How many 2x2 poolings the network applies before ``layer`` (conv3_1 -> 2, pool3 -> 3)."""
    return layers.block(layer) - (0 if layer.startswith("pool") else 1)


def layer_masks(mask: torch.Tensor, names) -> dict[str, torch.Tensor]:
    """``mask`` on the grid of each layer of ``names``, pooled as the network pools (see above)."""
    by_depth = [mask]
    for _ in range(max((pools_before(name) for name in names), default=0)):
        by_depth.append(F.avg_pool2d(by_depth[-1], 2, ceil_mode=True))
    return {name: by_depth[pools_before(name)] for name in names}


def uncovered(region_masks: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Per layer, how much of each unit no mask covers: 1 - (sum of the masks), at least 0."""
    names = region_masks[0]
    return {name: (1 - sum(masks[name] for masks in region_masks)).clamp_(min=0) for name in names}


__all__ = [
    "DATA_PREFIX", "JPEG_ROOM", "STORED_SIDE", "UNCOVERED", "check", "decode", "embedded", "encode", "is_data", "is_empty",
    "label", "layer_masks", "mask_tensor", "pools_before", "stored", "summary", "uncovered",
]

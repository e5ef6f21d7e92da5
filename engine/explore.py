"""The layer explorer: what each VGG19 layer sees, for artists.

* Content reconstructions (Gatys et al. 2015, Fig. 1): an image rebuilt from noise so that one
  layer's activations match the content image's. Shallow layers keep the pixels, deep ones only
  the arrangement.
* Style reconstructions: texture synthesised from the style image's Gram matrices over a growing
  set of layers (conv1_1; conv1_1 + conv2_1; ...). One layer gives fine grain, all five the
  painting's manner.
* Feature maps (Zeiler & Fergus 2013): the strongest channels of a layer over the content image,
  and the image patches (one receptive field each) that excite one channel most.

Reconstructions run through ``engine.transfer.run``, the one optimisation loop of Impasto, and
are cached in memory per image, so the GUI shows a tile it has already computed at once.
No Qt here: progress goes through ``on_step`` and each finished tile through ``on_tile``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from engine import devices, images, timing, transfer
from engine.errors import SettingsError
from engine.layers import ALL_LAYERS, channels, layer_name, receptive_field
from engine.settings import MAX_SIZE, MIN_SIZE, TransferSettings
from engine.vgg import VGGFeatures
from engine.weights import load_weights

WHATS = ("content", "style", "features")
ROW_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
DEFAULT_SIZE = 128
DEFAULT_ITERATIONS = 150
DEFAULT_FEATURE_LAYER = "conv3_1"
DEFAULT_MAPS = 16
DEFAULT_PATCHES = 8
PAD_GREY = (128, 128, 128)  # fills the part of a receptive field that lies outside the image
CACHE_LIMIT = 256  # tiles; one 128 px tile is about 50 kB

TileCallback = Callable[["Tile"], None]


@dataclass
class ExploreRequest:
    """What to explore. ``content`` feeds content reconstructions and feature maps, ``style``
    feeds style reconstructions (and the style patches of feature maps, when given)."""

    what: str
    content: object = ""  # path or PIL image
    style: object = ""  # path or PIL image
    layer: str | None = None  # content: that layer alone; style: the row up to it; features: the layer
    channel: int | None = None  # features: the channel whose patches to show (None: the strongest)
    size: int = DEFAULT_SIZE
    iterations: int = DEFAULT_ITERATIONS
    maps: int = DEFAULT_MAPS
    patches: int = DEFAULT_PATCHES
    base: TransferSettings = field(default_factory=TransferSettings)  # device, weights, pooling, seed

    def validate(self) -> "ExploreRequest":
        if self.what not in WHATS:
            raise SettingsError(f"Explore what must be one of {', '.join(WHATS)} (got {self.what!r}).")
        if self.layer is not None and self.layer not in ALL_LAYERS:
            raise SettingsError(f"Unknown VGG19 layer {self.layer!r} (use names like conv3_1 or relu4_2).")
        if not MIN_SIZE <= self.size <= MAX_SIZE:
            raise SettingsError(f"Size must be between {MIN_SIZE} and {MAX_SIZE} pixels (got {self.size}).")
        if self.iterations < 1:
            raise SettingsError(f"Iterations must be at least 1 (got {self.iterations}).")
        if self.maps < 1 or self.patches < 1:
            raise SettingsError("The number of feature maps and of patches must be at least 1.")
        if self.channel is not None:
            width = channels(self.feature_layer())
            if not 0 <= self.channel < width:
                raise SettingsError(f"{self.feature_layer()} has channels 0 to {width - 1} (got {self.channel}).")
        needed = "style" if self.what == "style" else "content"
        if not _given(getattr(self, needed)):
            raise SettingsError(f"No {needed} image given.")
        # only the fields a tile uses are checked: a look the Stylize tab cannot run yet is no concern here
        reconstruction_settings(self.base, "content", ROW_LAYERS[:1], self.size, self.iterations).validate(
            need_images=False
        )
        return self

    def feature_layer(self) -> str:
        return self.layer or DEFAULT_FEATURE_LAYER

    def sheet_settings(self) -> TransferSettings:
        """The base settings with this request's images (where they are files): what a sheet's
        recipe records, and whose ``input_paths()`` no sheet may overwrite."""
        content, style = _path_of(self.content), _path_of(self.style)
        return self.base.replace(content=content, styles=[style] if style else [], style_blend=[], style_masks=[])

    def layer_sets(self) -> list[tuple[str, ...]]:
        """The layers of each reconstruction tile, in order."""
        if self.what == "content":
            return [(self.layer,)] if self.layer else [(name,) for name in ROW_LAYERS]
        if self.what == "style":
            if self.layer:
                return [style_set_upto(self.layer)]
            return [ROW_LAYERS[: i + 1] for i in range(len(ROW_LAYERS))]
        return []


@dataclass
class Tile:
    kind: str  # "original", "content", "style", "feature" or "patch"
    row: str  # heading of the sheet row it belongs to
    index: int  # position in its row
    label: str
    image: Image.Image
    layers: tuple[str, ...] = ()
    channel: int | None = None
    value: float | None = None  # mean activation (feature map) or peak activation (patch)
    cached: bool = False


@dataclass
class ExploreResult:
    request: ExploreRequest
    tiles: list[Tile]
    stopped: bool
    seconds: float
    title: str = ""

    def sheet(self) -> Image.Image:
        return make_sheet(self.title, _rows(self.tiles))


# --- layers ---------------------------------------------------------------------------------
def style_set_upto(layer: str) -> tuple[str, ...]:
    """The row's layers shallower than ``layer``, then ``layer`` (conv3_1 -> conv1_1, conv2_1, conv3_1)."""
    depth = ALL_LAYERS.index(layer)
    return tuple(name for name in ROW_LAYERS if ALL_LAYERS.index(name) < depth) + (layer,)


def tile_label(what: str, layers: tuple[str, ...]) -> str:
    if what == "style" and len(layers) > 1:
        return f"+ {layer_name(layers[-1])}"
    return layer_name(layers[-1])


def row_heading(what: str) -> str:
    if what == "content":
        return "Content rebuilt from noise using one layer only"
    return "Style rebuilt from noise: each tile adds one layer"


# --- cache ----------------------------------------------------------------------------------
class _TileCache:
    """A small thread-safe LRU of finished reconstructions."""

    def __init__(self, limit: int = CACHE_LIMIT):
        self._limit = limit
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key) -> Image.Image | None:
        with self._lock:
            image = self._items.get(key)
            if image is not None:
                self._items.move_to_end(key)
            return image

    def put(self, key, image: Image.Image) -> None:
        with self._lock:
            self._items[key] = image
            self._items.move_to_end(key)
            while len(self._items) > self._limit:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


_cache = _TileCache()


def clear_cache() -> None:
    _cache.clear()


def image_key(source) -> tuple:
    """Identity of an image for the cache: path + modification time, or a hash of the pixels."""
    if isinstance(source, Image.Image):
        return ("pixels", source.size, hashlib.sha1(source.convert("RGB").tobytes()).hexdigest())
    path = Path(source)
    try:
        stat = path.stat()
    except OSError:
        return ("path", str(path.resolve()), None, None)
    return ("path", str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def _cache_key(source_key, what, layers, request: ExploreRequest) -> tuple:
    base = request.base
    return (source_key, what, tuple(layers), request.size, request.iterations, base.weights, base.pooling, base.seed)


# --- reconstructions ----------------------------------------------------------------------
def reconstruction_settings(base: TransferSettings, what: str, layers, size: int, iterations: int) -> TransferSettings:
    """Settings for one tile: one scale, noise start, no smoothing, only the chosen layers, and
    every iteration run (no plateau), so that tiles compare and the progress counts them.

    float32 always: with bf16 the engine's L-BFGS (no line search) was seen to diverge once the
    relative loss gets tiny, which these single-objective runs reach; at explorer sizes fp32 is
    also the faster of the two on a CPU.
    """
    weights = {name: 1.0 for name in layers}
    return base.replace(
        content="", styles=[], style_blend=[], style_masks=[], init="noise", init_image="", size=size, start_size=size,
        iterations=iterations, iteration_growth=1.0, plateau=0.0, tv_weight=0.0, optimizer="lbfgs", preserve_colors="none", style_scale=1.0,
        precision="fp32", content_weight=1.0, style_weight=1.0,
        content_layers=weights if what == "content" else {},
        style_layers=weights if what == "style" else {},
    )


def reconstruct(
    request: ExploreRequest,
    on_step: transfer.StepCallback | None = None,
    should_stop: transfer.StopCheck | None = None,
    on_tile: TileCallback | None = None,
) -> ExploreResult:
    """A row of content or style reconstructions; cached tiles come back without any work."""
    what = request.what
    source = request.content if what == "content" else request.style
    picture = _load(source)
    key = image_key(source)
    heading = row_heading(what)
    original = images.resize_long_side(picture, request.size)
    tiles = [Tile("original", heading, 0, "original" if what == "content" else "style image", original)]
    _send(on_tile, tiles[0])
    # for style the "content" only sets the output size: a plain grey canvas of the style's shape
    content = picture if what == "content" else Image.new("RGB", original.size, PAD_GREY)
    row = _RowProgress(on_step, len(request.layer_sets()), request.iterations)
    stop = should_stop or (lambda: False)
    stopped = False
    for number, layers in enumerate(request.layer_sets()):
        if stop():
            stopped = True
            break
        cache_key = _cache_key(key, what, layers, request)
        image = _cache.get(cache_key)
        cached = image is not None
        if cached:
            row.skip_tile(number)
        else:
            settings = reconstruction_settings(request.base, what, layers, request.size, request.iterations)
            styles = [picture] if what == "style" else []
            result = transfer.run(settings, row.tile_callback(number), stop, content=content, styles=styles)
            if result.stopped:
                stopped = True
                break
            image = result.image
            _cache.put(cache_key, image)
        tile = Tile(what, heading, number + 1, tile_label(what, layers), image, tuple(layers), cached=cached)
        tiles.append(tile)
        _send(on_tile, tile)
    return ExploreResult(request, tiles, stopped, row.elapsed(), _title(request, source))


class _RowProgress:
    """Turns each tile's Progress into progress over the whole row (tiles x iterations)."""

    def __init__(self, on_step, tiles: int, iterations: int):
        self.on_step = on_step or (lambda progress: None)
        self.iterations = iterations
        self.total = tiles * iterations
        self.started = time.perf_counter()
        self.computed = 0  # iterations optimised so far; cached tiles take no time and count none

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def skip_tile(self, number: int) -> None:
        done = (number + 1) * self.iterations
        self.on_step(transfer.Progress(phase="cached", iteration=done, total=self.total, elapsed=self.elapsed(),
                                       eta=self._eta(done)))

    def tile_callback(self, number: int) -> transfer.StepCallback:
        computed_before = self.computed

        def step(progress: transfer.Progress) -> None:
            self.computed = computed_before + progress.iteration
            done = number * self.iterations + progress.iteration
            self.on_step(dataclasses.replace(
                progress, iteration=done, total=self.total, elapsed=self.elapsed(), eta=self._eta(done),
            ))

        return step

    def _eta(self, done: int) -> float | None:
        return timing.eta(self.elapsed(), self.computed, self.total - done)


# --- feature maps and receptive fields -------------------------------------------------------
@dataclass
class FeatureMap:
    channel: int
    mean: float  # mean of the rectified activation over the image
    activation: torch.Tensor  # (h, w), float32, on the CPU


def activations(picture: Image.Image, layer: str, base: TransferSettings) -> torch.Tensor:
    """(channels, h, w) activations of ``layer`` for ``picture`` (already at its working size)."""
    device = devices.resolve_device(base.device)
    model = VGGFeatures(load_weights(base.weights), layer, base.pooling).to(device)
    with torch.no_grad():
        out = model(images.pil_to_tensor(picture).to(device), [layer])[layer]
    return out[0].float().cpu()


def strongest_maps(acts: torch.Tensor, count: int) -> list[FeatureMap]:
    """The ``count`` channels with the highest mean rectified activation, strongest first."""
    means = acts.clamp(min=0).mean(dim=(1, 2))
    order = torch.argsort(means, descending=True)[:count]
    return [FeatureMap(int(c), float(means[c]), acts[c]) for c in order]


def unit_box(layer: str, row: int, col: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) in input pixels of the receptive field of unit (row, col).

    With 3x3 convolutions (padding 1) and 2x2 pools, unit j of a layer of stride s is centred
    on pixel j*s + (s-1)/2, and its field of ``size`` pixels starts (size - s)/2 before j*s.
    """
    size, stride = receptive_field(layer)
    left = col * stride - (size - stride) // 2
    top = row * stride - (size - stride) // 2
    return left, top, left + size, top + size


def crop_receptive_field(picture: Image.Image, layer: str, row: int, col: int) -> Image.Image:
    """The size x size patch of ``picture`` that unit (row, col) of ``layer`` sees; what lies
    outside the image is grey."""
    left, top, right, bottom = unit_box(layer, row, col)
    patch = Image.new("RGB", (right - left, bottom - top), PAD_GREY)
    inside = (max(left, 0), max(top, 0), min(right, picture.width), min(bottom, picture.height))
    if inside[0] < inside[2] and inside[1] < inside[3]:
        patch.paste(picture.convert("RGB").crop(inside), (inside[0] - left, inside[1] - top))
    return patch


def peaks(activation: torch.Tensor, count: int, radius: int) -> list[tuple[int, int, float]]:
    """Up to ``count`` (row, col, value) of the highest positive activations, each at least
    ``radius`` units from the ones before (so the patches are not all the same spot)."""
    values = activation.clone().float()
    found = []
    while len(found) < count:
        value, flat = values.flatten().max(0)
        if not value > 0:
            break
        row, col = divmod(int(flat), values.shape[1])
        found.append((row, col, float(value)))
        values[max(row - radius, 0): row + radius + 1, max(col - radius, 0): col + radius + 1] = -math.inf
    return found


def top_patches(picture: Image.Image, acts: torch.Tensor, layer: str, channel: int, count: int):
    """[(patch image, activation)] of the spots of ``picture`` that excite ``channel`` most."""
    size, stride = receptive_field(layer)
    radius = max(1, size // (2 * stride))
    return [
        (crop_receptive_field(picture, layer, row, col), value)
        for row, col, value in peaks(acts[channel], count, radius)
    ]


def colorize(activation: torch.Tensor) -> Image.Image:
    """A feature map as a heat image (dark = silent, bright yellow = its own maximum)."""
    values = activation.clamp(min=0).numpy()
    top = float(values.max())
    scaled = values / top if top > 0 else values
    rgb = np.stack([np.interp(scaled, HEAT_STOPS, HEAT_COLOURS[:, i]) for i in range(3)], axis=-1)
    return Image.fromarray(np.rint(rgb).astype(np.uint8))


HEAT_STOPS = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
HEAT_COLOURS = np.array([(0, 0, 4), (87, 16, 110), (188, 55, 84), (249, 142, 9), (252, 255, 164)], dtype=float)


def features(request: ExploreRequest, on_tile: TileCallback | None = None,
             should_stop: transfer.StopCheck | None = None) -> ExploreResult:
    """The strongest feature maps of one layer, then the patches that excite one channel most."""
    started = time.perf_counter()
    layer = request.feature_layer()
    content = images.resize_long_side(_load(request.content), request.size)
    acts = activations(content, layer, request.base)
    maps = strongest_maps(acts, request.maps)
    heading = (f"The {len(maps)} strongest channels of {layer_name(layer)} over the content image "
               "(each scaled to its own peak)")
    tiles = [Tile("original", "Content image", 0, "content", content)]
    for index, fmap in enumerate(maps, 1):
        tiles.append(Tile("feature", heading, index, f"ch {fmap.channel}", colorize(fmap.activation),
                          (layer,), fmap.channel, fmap.mean))
    for tile in tiles:
        _send(on_tile, tile)
    channel = request.channel if request.channel is not None else maps[0].channel
    sources = [("content", content, acts)]
    if _given(request.style) and not (should_stop and should_stop()):
        style = images.resize_long_side(_load(request.style), request.size)
        sources.append(("style", style, activations(style, layer, request.base)))
    for name, picture, picture_acts in sources:
        heading = f"Where {layer_name(layer)} channel {channel} fires most in the {name} image"
        patches = top_patches(picture, picture_acts, layer, channel, request.patches)
        for index, (patch, value) in enumerate(patches):
            tile = Tile("patch", heading, index, _amount(value), patch, (layer,), channel, value)
            tiles.append(tile)
            _send(on_tile, tile)
    stopped = bool(should_stop and should_stop())
    return ExploreResult(request, tiles, stopped, time.perf_counter() - started, _title(request, request.content))


def explore(
    request: ExploreRequest,
    on_step: transfer.StepCallback | None = None,
    should_stop: transfer.StopCheck | None = None,
    on_tile: TileCallback | None = None,
) -> ExploreResult:
    """Run one explorer request (the GUI's worker job and the CLI both call this)."""
    request.validate()
    if request.what == "features":
        return features(request, on_tile, should_stop)
    return reconstruct(request, on_step, should_stop, on_tile)


# --- the sheet ------------------------------------------------------------------------------
MARGIN, GAP, LABEL_HEIGHT, HEADING_HEIGHT, MIN_CELL = 12, 8, 18, 22, 96
PAPER, INK, FAINT = (250, 250, 247), (25, 25, 25), (110, 110, 110)


def make_sheet(title: str, rows: list[tuple[str, list[Tile]]]) -> Image.Image:
    """One image: a title, then for each (heading, tiles) row a heading and the tiles, each in a
    square cell with its label underneath. Small tiles (3 px patches, 8 px feature maps) are
    enlarged with hard pixel edges; nothing is shrunk."""
    font, bold = _font(12), _font(15)
    blocks = [_row_block(heading, tiles, font) for heading, tiles in rows]
    width = max([MARGIN * 2 + _text_width(title, bold)] + [MARGIN * 2 + b.width for b in blocks])
    height = MARGIN + HEADING_HEIGHT + sum(b.height + GAP for b in blocks) + MARGIN
    sheet = Image.new("RGB", (width, height), PAPER)
    ImageDraw.Draw(sheet).text((MARGIN, MARGIN), title, fill=INK, font=bold)
    top = MARGIN + HEADING_HEIGHT
    for block in blocks:
        sheet.paste(block, (MARGIN, top))
        top += block.height + GAP
    return sheet


def _row_block(heading: str, tiles: list[Tile], font) -> Image.Image:
    cell_w, cell_h = _cell(tiles)
    columns = _columns(tiles)
    lines = math.ceil(len(tiles) / columns)
    width = max(columns * cell_w + (columns - 1) * GAP, _text_width(heading, font))
    height = HEADING_HEIGHT + lines * (cell_h + LABEL_HEIGHT + GAP)
    block = Image.new("RGB", (width, height), PAPER)
    draw = ImageDraw.Draw(block)
    draw.text((0, 2), heading, fill=FAINT, font=font)
    for number, tile in enumerate(tiles):
        x = (number % columns) * (cell_w + GAP)
        y = HEADING_HEIGHT + (number // columns) * (cell_h + LABEL_HEIGHT + GAP)
        shown = _fit(tile.image, cell_w, cell_h)
        block.paste(shown, (x + (cell_w - shown.width) // 2, y + (cell_h - shown.height) // 2))
        label_x = x + (cell_w - _text_width(tile.label, font)) / 2
        draw.text((max(label_x, x), y + cell_h + 2), tile.label, fill=INK, font=font)
    return block


def _cell(tiles: list[Tile]) -> tuple[int, int]:
    """(width, height) of one cell: the largest tile, enlarged so its long side is MIN_CELL or more."""
    width = max(t.image.width for t in tiles)
    height = max(t.image.height for t in tiles)
    enlarge = max(1.0, MIN_CELL / max(width, height))
    return round(width * enlarge), round(height * enlarge)


def _columns(tiles: list[Tile]) -> int:
    """Feature maps in a square-ish grid; other rows on one line."""
    if any(t.kind == "feature" for t in tiles):
        return math.ceil(math.sqrt(len(tiles)))
    return len(tiles)


def _fit(picture: Image.Image, width: int, height: int) -> Image.Image:
    """Enlarge a small picture to fill the cell with crisp pixels; never shrink one."""
    scale = min(width / picture.width, height / picture.height)
    if scale <= 1:
        return picture
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    return picture.resize(size, Image.Resampling.NEAREST)


def _font(size: int):
    try:
        return ImageFont.load_default(size)
    except (TypeError, OSError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _text_width(text: str, font) -> int:
    return math.ceil(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(text, font=font))


def _rows(tiles: list[Tile]) -> list[tuple[str, list[Tile]]]:
    rows: dict[str, list[Tile]] = {}
    for tile in tiles:
        rows.setdefault(tile.row, []).append(tile)
    return [(heading, sorted(row, key=lambda t: t.index)) for heading, row in rows.items()]


def save_sheet(result: ExploreResult, path, quality: int = 95) -> Path:
    """Write the sheet atomically; refuses to overwrite the images it was made from. Its recipe is
    the settings explored with (so "restore from image" works on a sheet) plus what was shown."""
    request = result.request
    settings = request.sheet_settings()
    recipe = {**settings.recipe(), "impasto_explorer": {
        "what": request.what, "layer": request.layer, "channel": request.channel, "size": request.size,
        "iterations": request.iterations, "stopped": result.stopped,
    }}
    return images.save_image(result.sheet(), path, recipe=recipe, quality=quality, inputs=settings.input_paths())


# --- helpers --------------------------------------------------------------------------------
def _given(source) -> bool:
    return isinstance(source, Image.Image) or bool(source)


def _load(source) -> Image.Image:
    return source.convert("RGB") if isinstance(source, Image.Image) else images.load_image(source)


def _send(on_tile: TileCallback | None, tile: Tile) -> None:
    if on_tile is not None:
        on_tile(tile)


def _amount(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _path_of(source) -> str:
    return "" if isinstance(source, Image.Image) or not source else str(source)


def _name(source) -> str:
    return "" if isinstance(source, Image.Image) or not source else Path(source).name


def _title(request: ExploreRequest, source) -> str:
    name = _name(source) or "image"
    if request.what == "features":
        return f"Feature maps of {request.feature_layer()}: {name}, {request.size} px"
    kind = "Content" if request.what == "content" else "Style"
    return f"{kind} reconstructions: {name}, {request.size} px, {request.iterations} L-BFGS iterations each"


__all__ = [
    "DEFAULT_ITERATIONS", "DEFAULT_SIZE", "ROW_LAYERS", "WHATS", "ExploreRequest", "ExploreResult", "FeatureMap",
    "Tile", "activations", "clear_cache", "colorize", "crop_receptive_field", "explore", "features",
    "image_key", "make_sheet", "peaks", "reconstruct", "reconstruction_settings", "save_sheet", "strongest_maps",
    "style_set_upto", "top_patches", "unit_box",
]

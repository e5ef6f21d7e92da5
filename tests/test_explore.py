"""engine.explore: reconstructions, the tile cache, receptive-field crops, feature maps, the sheet."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from engine import explore, images
from engine.errors import ImageError, SettingsError
from engine.layers import ALL_LAYERS, layer_name, receptive_field
from engine.settings import TransferSettings
from engine.vgg import VGGFeatures
from engine.weights import load_weights
from tests.conftest import ROOT
from tests.helpers import content_image, style_image

CPU = TransferSettings(device="cpu")


@pytest.fixture
def content_path(tmp_path):
    path = tmp_path / "content.png"
    content_image(48, 40).save(path)
    return path


@pytest.fixture
def style_path(tmp_path):
    path = tmp_path / "style.png"
    style_image(48).resize((48, 32)).save(path)
    return path


def request(what, content="", style="", **kw):
    kw.setdefault("base", CPU)
    return explore.ExploreRequest(what, content=content, style=style, **kw)


def mse(a: Image.Image, b: Image.Image) -> float:
    return float(((np.asarray(a, float) - np.asarray(b, float)) / 255).__pow__(2).mean())


# --- reconstructions ----------------------------------------------------------------------
def test_shallow_layers_rebuild_the_pixels_deep_layers_only_the_arrangement(content_path):
    errors = {}
    for layer in ("conv1_1", "conv5_1"):
        result = explore.explore(request("content", content_path, layer=layer, size=48, iterations=30))
        original, rebuilt = result.tiles
        assert rebuilt.image.size == original.image.size == (48, 40)
        errors[layer] = mse(rebuilt.image, original.image)
    # the pixels come back: about 0.021 measured (0.006 while L-BFGS clamped after each step: this
    # synthetic photo's pure colours sit on the box, which the penalty lets 30 iterations overshoot)
    assert errors["conv1_1"] < 0.03
    assert errors["conv1_1"] * 4 < errors["conv5_1"], errors


def test_a_row_reports_tiles_times_iterations_and_emits_each_tile(content_path):
    steps, tiles = [], []
    req = request("content", content_path, size=24, iterations=2)
    result = explore.explore(req, on_step=steps.append, on_tile=tiles.append)
    optimising = [p.iteration for p in steps if p.phase == "optimising"]
    assert optimising == list(range(1, 11))
    assert {p.total for p in steps} == {10}
    assert [t.label for t in tiles] == ["original", *map(layer_name, explore.ROW_LAYERS)]
    assert [t.layers for t in tiles[1:]] == [(name,) for name in explore.ROW_LAYERS]
    assert tiles == result.tiles and not result.stopped


def test_style_row_grows_the_layer_set(style_path):
    req = request("style", style=style_path, size=32, iterations=3)
    assert req.layer_sets() == [explore.ROW_LAYERS[: i + 1] for i in range(5)]
    assert request("style", style=style_path, layer="relu3_2").layer_sets() == [
        ("conv1_1", "conv2_1", "conv3_1", "relu3_2")
    ]
    losses = []
    single = request("style", style=style_path, layer="conv2_1", size=32, iterations=6)
    result = explore.explore(single, on_step=lambda p: p.phase == "optimising" and losses.append(p.style_loss))
    tile = result.tiles[-1]
    assert (tile.kind, tile.label, tile.layers) == ("style", "+ depth 2.1", ("conv1_1", "conv2_1"))
    assert tile.image.size == (32, 21)  # the style's shape, not the grey canvas's colour
    assert losses[-1] < losses[0] / 2


def test_reconstruction_settings_use_only_the_chosen_layers():
    content = explore.reconstruction_settings(CPU, "content", ("conv4_1",), 64, 10)
    assert content.active_content_layers() == {"conv4_1": 1.0} and not content.active_style_layers()
    assert (content.init, content.tv_weight, content.scale_sizes(), content.styles) == ("noise", 0.0, [64], [])
    assert content.plateau == 0.0 and content.total_iterations() == 10  # every iteration of every tile runs
    content.validate(need_images=False)
    style = explore.reconstruction_settings(CPU, "style", ("conv1_1", "conv2_1"), 64, 10)
    assert not style.active_content_layers() and set(style.active_style_layers()) == {"conv1_1", "conv2_1"}


def test_finished_tiles_come_from_the_cache_until_the_file_changes(content_path):
    req = request("content", content_path, layer="conv2_1", size=24, iterations=3)
    first = explore.explore(req)
    steps = []
    again = explore.explore(req, on_step=steps.append)
    assert again.tiles[1].cached and not first.tiles[1].cached
    assert again.tiles[1].image.tobytes() == first.tiles[1].image.tobytes()
    assert not [p for p in steps if p.phase == "optimising"]
    assert steps[-1].iteration == steps[-1].total == 3
    other = explore.explore(request("content", content_path, layer="conv2_1", size=24, iterations=4))
    assert not other.tiles[1].cached  # another iteration count is another tile
    stat = os.stat(content_path)
    os.utime(content_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert not explore.explore(req).tiles[1].cached


def test_stop_acts_within_one_iteration_and_caches_nothing(content_path):
    seen = []

    def on_step(progress):
        if progress.phase == "optimising":
            seen.append(progress.iteration)

    req = request("content", content_path, size=24, iterations=50)
    result = explore.explore(req, on_step=on_step, should_stop=lambda: len(seen) >= 3)
    assert result.stopped
    assert seen == [1, 2, 3]
    assert [t.kind for t in result.tiles] == ["original"]
    assert not explore.explore(req, should_stop=lambda: True).tiles[1:]


def test_pil_images_are_keyed_by_their_pixels():
    picture = content_image(20, 16)
    assert explore.image_key(picture) == explore.image_key(picture.copy())
    assert explore.image_key(picture) != explore.image_key(picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT))


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"what": "colour"}, "must be one of"),
        ({"layer": "conv9_9"}, "Unknown VGG19 layer"),
        ({"what": "features", "layer": "conv2_1", "channel": 128}, "channels 0 to 127"),
        ({"size": 8}, "Size must be"),
        ({"iterations": 0}, "Iterations"),
        ({"what": "style"}, "No style image"),
        ({"content": ""}, "No content image"),
    ],
)
def test_bad_requests_are_refused_with_one_line(content_path, changes, message):
    req = request(**{"what": "content", "content": content_path, **changes})
    with pytest.raises(SettingsError, match=message) as info:
        explore.explore(req)
    assert "\n" not in str(info.value)


def test_a_missing_image_is_an_image_error(tmp_path):
    with pytest.raises(ImageError):
        explore.explore(request("features", tmp_path / "gone.png"))


# --- receptive fields and patches ------------------------------------------------------------
@pytest.mark.parametrize("layer", ALL_LAYERS)
def test_receptive_field_crops_have_the_layer_size(layer):
    size, stride = receptive_field(layer)
    picture = content_image(40, 30)
    for row, col in ((0, 0), (1, 2), (100, 100)):
        assert explore.crop_receptive_field(picture, layer, row, col).size == (size, size)


@pytest.mark.parametrize("layer", ["conv1_1", "pool1", "conv2_1", "conv3_1", "pool3", "conv4_1"])
def test_the_crop_box_is_exactly_what_the_unit_sees(layer):
    """The input pixels whose gradient reaches one interior unit fill unit_box exactly."""
    model = VGGFeatures(load_weights("auto"), layer, "avg")  # avg pooling: every pixel in reach counts
    torch.manual_seed(0)
    x = torch.rand(1, 3, 96, 96, requires_grad=True)
    out = model(x, [layer])[layer]
    row, col = out.shape[-2] // 2, out.shape[-1] // 2
    out[0, :, row, col].sum().backward()
    reached = (x.grad[0].abs().sum(0) > 0).nonzero()
    top, left = reached.min(0).values.tolist()
    bottom, right = (reached.max(0).values + 1).tolist()
    assert (left, top, right, bottom) == explore.unit_box(layer, row, col)


def test_crops_copy_the_right_pixels_and_pad_outside_with_grey():
    values = np.arange(30 * 40 * 3, dtype=np.uint32).reshape(30, 40, 3) % 251
    picture = Image.fromarray(values.astype(np.uint8))
    inner = np.asarray(explore.crop_receptive_field(picture, "conv2_1", 5, 6))  # box x 8..18, y 6..16
    assert np.array_equal(inner, values[6:16, 8:18])
    corner = np.asarray(explore.crop_receptive_field(picture, "conv2_1", 0, 0))  # box -4..6
    assert np.array_equal(corner[4:, 4:], values[:6, :6])
    assert (corner[:4] == explore.PAD_GREY).all() and (corner[:, :4] == explore.PAD_GREY).all()


def test_peaks_are_strongest_first_and_spread_out():
    activation = torch.zeros(10, 10)
    activation[2, 2], activation[2, 3], activation[7, 7], activation[5, 0] = 9, 8, 7, -1
    assert explore.peaks(activation, 5, radius=1) == [(2, 2, 9.0), (7, 7, 7.0)]
    assert explore.peaks(activation, 1, radius=1) == [(2, 2, 9.0)]


# --- feature maps --------------------------------------------------------------------------
def test_feature_maps_are_the_strongest_channels_at_the_layer_resolution(content_path, style_path):
    tiles = []
    req = request("features", content_path, style_path, layer="conv3_1", size=48, patches=3)
    result = explore.explore(req, on_tile=tiles.append)
    maps = [t for t in result.tiles if t.kind == "feature"]
    assert len(maps) == 16
    assert all(t.image.size == (12, 10) for t in maps)  # 48x40 at stride 4
    means = [t.value for t in maps]
    assert means == sorted(means, reverse=True) and means[0] > 0
    acts = explore.activations(images.resize_long_side(images.load_image(content_path), 48), "conv3_1", CPU)
    assert acts.shape == (256, 10, 12)
    assert maps[0].channel == int(acts.clamp(min=0).mean(dim=(1, 2)).argmax())
    patches = [t for t in result.tiles if t.kind == "patch"]
    assert {t.channel for t in patches} == {maps[0].channel}
    assert all(t.image.size == (24, 24) for t in patches)
    assert {t.row for t in patches} == {
        f"Where depth 3.1 channel {maps[0].channel} fires most in the {name} image" for name in ("content", "style")
    }
    assert tiles == result.tiles


def test_a_chosen_channel_gets_its_own_patches(content_path):
    result = explore.explore(request("features", content_path, layer="conv1_1", channel=5, size=32, patches=4))
    patches = [t for t in result.tiles if t.kind == "patch"]
    assert patches and {t.channel for t in patches} == {5}
    values = [t.value for t in patches]
    assert values == sorted(values, reverse=True)
    assert all(t.image.size == (3, 3) for t in patches)


def test_colorize_runs_from_dark_to_bright():
    heat = np.asarray(explore.colorize(torch.tensor([[0.0, 0.5], [1.0, -3.0]])), float).sum(axis=2)
    assert heat[1, 0] > heat[0, 1] > heat[0, 0] == heat[1, 1]


# --- the sheet ---------------------------------------------------------------------------------
def test_feature_maps_are_laid_out_as_a_square_grid():
    colours = [(16 * i, 255 - 16 * i, (97 * i) % 256) for i in range(16)]
    tiles = [explore.Tile("feature", "maps", i, f"ch {i}", Image.new("RGB", (12, 8), c)) for i, c in enumerate(colours)]
    sheet = np.asarray(explore.make_sheet("grid", [("maps", tiles)]))
    centres = []
    for colour in colours:
        ys, xs = np.nonzero((sheet == colour).all(axis=2))
        assert len(ys) >= 96 * 64  # each 12x8 map enlarged to the 96 px cell
        centres.append((round(xs.mean()), round(ys.mean())))
    assert len({x for x, _ in centres}) == 4 and len({y for _, y in centres}) == 4
    assert centres == sorted(centres, key=lambda c: (c[1], c[0]))  # row by row


def test_the_sheet_is_saved_atomically_with_a_recipe_and_never_over_an_input(content_path, tmp_path):
    result = explore.explore(request("features", content_path, layer="conv1_1", size=32, maps=4, patches=2))
    sheet = result.sheet()
    target = explore.save_sheet(result, tmp_path / "sheet.png")
    with Image.open(target) as saved:
        assert saved.size == sheet.size
    recipe = images.read_recipe(target)
    assert recipe["impasto_explorer"]["what"] == "features" and recipe["content"] == str(content_path)
    assert TransferSettings.from_dict(recipe, strict=False).content == str(content_path)
    before = content_path.read_bytes()
    with pytest.raises(ImageError, match="Refusing to overwrite"):
        explore.save_sheet(result, content_path)
    assert content_path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["content.png", "sheet.png"]


def test_the_explorer_engine_does_not_import_qt():
    code = "import sys, engine.explore; print('PySide6' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_rest_of_the_look_does_not_block_exploring(content_path):
    odd_look = TransferSettings(device="cpu", content_layers={}, style_layers={}, style_blend=[1.0, 2.0])
    req = request("content", content_path, layer="conv1_1", size=24, iterations=1, base=odd_look)
    assert explore.explore(req).tiles[1].kind == "content"
    with pytest.raises(SettingsError, match="device"):
        explore.explore(request("content", content_path, base=TransferSettings(device="tpu")))

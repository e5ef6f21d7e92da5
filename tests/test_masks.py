"""Region masks (issue 14): where each style applies, on real weights and tiny images; the command
line's --masks and its one-line errors; the recipe keeps the masks; a batch ignores them."""

import pytest
import torch
from PIL import Image, ImageDraw

import main
from engine import images, jobs, masks, transfer
from engine.batch.names import BatchOptions
from engine.batch.plan import checked
from engine.errors import ImageError, SettingsError
from engine.layers import RELU_LAYERS
from engine.settings import TransferSettings
from engine.vgg import VGGFeatures
from engine.weights import load_weights
from tests.helpers import content_image, style_image
from tests.test_engine import gram_distance

W, H = 64, 48
RUN = dict(size=64, start_size=64, iterations=40, plateau=0.0, device="cpu", precision="fp32",
           preview_interval_ms=10**6)


def dots_image(size: int = 48) -> Image.Image:
    """A style as unlike ``style_image`` (blue stripes on cream) as can be: yellow dots on black."""
    image = Image.new("RGB", (size, size), (20, 20, 20))
    draw = ImageDraw.Draw(image)
    for y in range(4, size, 12):
        for x in range(4, size, 12):
            draw.ellipse((x, y, x + 7, y + 7), fill=(250, 220, 30))
    return image


def half_mask(left: bool, size=(W, H)) -> Image.Image:
    mask = Image.new("L", size, 0)
    width, height = size
    box = (0, 0, width // 2 - 1, height) if left else (width // 2, 0, width, height)
    ImageDraw.Draw(mask).rectangle(box, fill=255)
    return mask


def difference(a: Image.Image, b: Image.Image, columns: slice) -> float:
    """Mean absolute pixel difference (0..1) over a band of columns."""
    return float((images.pil_to_tensor(a) - images.pil_to_tensor(b))[..., columns].abs().mean())


# ------------------------------------------------------------------------ engine


def test_masks_are_pooled_onto_every_layer_grid_of_the_network():
    """Odd sizes: each layer's mask has that layer's grid (the network pools with ceil_mode), and
    a border unit takes the share of its pixels the mask covers."""
    model = VGGFeatures(load_weights(), "relu5_1")
    mask = masks.mask_tensor(half_mask(True, (37, 29)), 37, 29, "cpu")
    with torch.no_grad():
        feats = model(torch.rand(1, 3, 29, 37), RELU_LAYERS[:13])
    pooled = masks.layer_masks(mask, list(feats))
    for name, f in feats.items():
        assert pooled[name].shape[-2:] == f.shape[-2:], name
    assert 0 < float(pooled["relu3_1"][0, 0, 0, 4]) < 1  # astride the border: partly covered
    assert float(pooled["relu1_1"].mean()) == pytest.approx(float(mask.mean()))


def test_guided_gram_of_a_full_mask_is_the_gram():
    feats = torch.rand(1, 8, 5, 7)
    full = torch.ones(1, 1, 5, 7)
    from engine import losses

    assert torch.allclose(losses.guided_gram(feats, full), losses.gram_matrix(feats), atol=1e-5)
    left = torch.zeros(1, 1, 5, 7)
    left[..., :3] = 1
    assert torch.allclose(losses.guided_gram(feats, left), losses.gram_matrix(feats[..., :3]), atol=1e-5)


def test_two_styles_with_left_and_right_masks_each_take_their_half():
    settings = TransferSettings(**RUN, styles=["stripes", "dots"],
                                style_masks=[masks.encode(half_mask(True)), masks.encode(half_mask(False))])
    result = transfer.run(settings, content=content_image(W, H), styles=[style_image(), dots_image()])
    left, right = result.image.crop((0, 0, W // 2, H)), result.image.crop((W // 2, 0, W, H))
    assert gram_distance(left, style_image()) < gram_distance(left, dots_image()) / 5
    assert gram_distance(right, dots_image()) < gram_distance(right, style_image()) / 5


@pytest.mark.parametrize("uncovered", ["photo", "blend"])
def test_what_no_mask_covers_keeps_the_photo_or_takes_the_blend(uncovered):
    photo = content_image(W, H)
    settings = TransferSettings(**RUN, styles=["stripes"], style_masks=[masks.encode(half_mask(True))],
                                mask_uncovered=uncovered)
    result = transfer.run(settings, content=photo, styles=[style_image()])
    styled, rest = difference(result.image, photo, slice(0, W // 2)), difference(result.image, photo, slice(W // 2 + 4, W))
    assert styled > 0.2  # the covered half is painted either way
    if uncovered == "photo":
        assert rest < styled / 3
    else:
        assert rest > styled * 0.7


def test_an_all_black_mask_keeping_the_photo_leaves_the_photo():
    photo = content_image(W, H)
    black = masks.encode(Image.new("L", (W, H), 0))
    settings = TransferSettings(**{**RUN, "iterations": 8}, styles=["stripes"], style_masks=[black])
    result = transfer.run(settings, content=photo, styles=[style_image()])
    assert result.losses["style"] == 0.0
    assert difference(result.image, photo, slice(0, W)) < 0.03


def test_masks_steer_a_running_optimisation_and_the_log_names_them_briefly():
    steering = transfer.Steering()
    painted = [masks.encode(half_mask(True)), ""]
    settings = TransferSettings(**{**RUN, "iterations": 4}, styles=["stripes", "dots"])

    def on_step(progress):
        if progress.phase == "optimising" and progress.iteration == 2:
            steering.update(settings.replace(style_masks=painted))

    result = transfer.run(settings, on_step, steering=steering, content=content_image(W, H),
                          styles=[style_image(), dots_image()])
    assert result.settings.style_masks == painted
    [entry] = result.steering
    assert entry["iteration"] == 2
    assert entry["changes"]["style_masks"][0].startswith("painted ") and len(entry["changes"]["style_masks"][0]) < 20


@pytest.mark.parametrize("colours", ["luminance", "match"])
def test_masks_work_with_colour_modes_blends_bf16_and_scales(colours):
    settings = TransferSettings(**{**RUN, "iterations": 3, "start_size": 32, "precision": "bf16"},
                                styles=["stripes", "dots"], style_blend=[2.0, 1.0], preserve_colors=colours,
                                style_masks=[masks.encode(half_mask(True)), ""], mask_uncovered="blend")
    result = transfer.run(settings, content=content_image(W, H), styles=[style_image(), dots_image()])
    assert result.image.size == (W, H) and result.losses["style"] > 0


def test_mask_data_round_trips_and_bad_data_is_one_line():
    mask = half_mask(True)
    assert masks.decode(masks.encode(mask)).tobytes() == mask.tobytes()
    with pytest.raises(ImageError, match="^Mask 2: the embedded PNG data cannot be read.$"):
        masks.decode(masks.DATA_PREFIX + "bm90IGEgcG5n", "Mask 2")
    assert masks.stored(Image.new("L", (2000, 1000))).size == (512, 256)


# ------------------------------------------------------------------------ command line


@pytest.fixture
def inputs(tmp_path):
    content, stripes, dots = tmp_path / "photo.png", tmp_path / "stripes.png", tmp_path / "dots.png"
    content_image(W, H).save(content)
    style_image().save(stripes)
    dots_image().save(dots)
    left, right = tmp_path / "left.png", tmp_path / "right.png"
    half_mask(True, (200, 150)).save(left)  # any size: resized to the content
    half_mask(False, (200, 150)).save(right)
    return content, stripes, dots, left, right


FAST = ["--size", "32", "--iterations", "3", "--device", "cpu"]


def test_cli_masks_run_and_the_recipe_keeps_them(inputs, tmp_path):
    content, stripes, dots, left, right = inputs
    out = tmp_path / "out.jpg"
    assert main.cli(["stylize", str(content), str(stripes), str(dots), "--masks", str(left), str(right),
                     "--unmasked", "blend", "-o", str(out), *FAST]) == 0
    restored = TransferSettings.from_dict(images.read_recipe(out), strict=False).validate()
    assert restored.mask_uncovered == "blend"
    assert all(masks.is_data(spec) for spec in restored.style_masks)  # the masks themselves, not paths
    for spec, source in zip(restored.style_masks, (left, right)):
        assert masks.decode(spec).tobytes() == Image.open(source).convert("L").tobytes()
    assert [s.mask for s in jobs.styles_of(restored)] == restored.style_masks


def bad_mask_cases(tmp_path, left):
    unreadable = tmp_path / "notes.png"
    unreadable.write_text("not an image")
    black = tmp_path / "black.png"
    Image.new("L", (20, 20), 0).save(black)
    return {
        "count": ([str(left)], "Got 1 mask(s) for 2 style image(s); give one per style."),
        "missing": ([str(left), str(tmp_path / "gone.png")], "Mask 2: "),
        "unreadable": ([str(unreadable), str(left)], "Mask 1: "),
        "empty": ([str(left), str(black)], "Mask 2 is black everywhere, so its style would apply nowhere."),
    }


@pytest.mark.parametrize("case", ["count", "missing", "unreadable", "empty"])
def test_cli_bad_masks_exit_2_with_one_line_and_write_nothing(inputs, tmp_path, capsys, case):
    content, stripes, dots, left, _ = inputs
    given, message = bad_mask_cases(tmp_path, left)[case]
    out = tmp_path / "out" / "result.png"
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main.cli(["stylize", str(content), str(stripes), str(dots), "--masks", *given, "-o", str(out), *FAST])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and message in err and "Traceback" not in err, err
    assert not out.parent.exists() and sorted(p.name for p in tmp_path.iterdir()) == before


def test_an_output_may_not_overwrite_a_mask(inputs, capsys):
    content, stripes, _, left, _ = inputs
    assert main.cli(["stylize", str(content), str(stripes), "--masks", str(left), "-o", str(left), *FAST]) == 2
    assert "left.png" in capsys.readouterr().err


# ------------------------------------------------------------------------ settings, jobs, batch


def test_settings_refuse_a_mask_count_that_does_not_match():
    with pytest.raises(SettingsError, match="Got 2 mask"):
        TransferSettings(styles=["a"], style_masks=["", ""]).validate(need_images=False)
    assert TransferSettings(styles=["a"]).mask_uncovered == "photo"
    with pytest.raises(SettingsError, match="mask_uncovered"):
        TransferSettings(mask_uncovered="sky").validate(need_images=False)


def test_styles_carry_their_masks_and_no_mask_means_no_list():
    settings = TransferSettings(styles=["a", "b"], style_masks=["m.png", ""])
    styles = jobs.styles_of(settings)
    assert [s.mask for s in styles] == ["m.png", ""]
    assert jobs.with_styles(settings, [jobs.Style("a"), jobs.Style("b")]).style_masks == []
    assert jobs.with_styles(settings, styles[::-1]).style_masks == ["", "m.png"]
    assert "m.png" in settings.input_paths() and not any(
        p.startswith("data:") for p in settings.replace(style_masks=[masks.encode(half_mask(True)), ""]).input_paths())


def test_a_batch_ignores_masks(tmp_path):
    settings = TransferSettings(styles=[str(tmp_path / "s.png")], style_masks=["left.png"])
    ran, _ = checked([str(tmp_path)], settings, BatchOptions(output_dir=str(tmp_path / "out")))
    assert ran.style_masks == []


def test_the_explorer_ignores_the_masks_of_the_stylize_tab():
    from engine import explore

    base = TransferSettings(styles=["a", "b"], style_masks=["m.png", ""])
    request = explore.ExploreRequest("style", style="s.png", base=base)
    assert request.sheet_settings().validate(need_images=False).style_masks == []
    assert explore.reconstruction_settings(base, "style", ["relu1_1"], 32, 2).validate(need_images=False).style_masks == []


def test_masks_too_large_for_a_jpeg_recipe_are_kept_smaller(tmp_path):
    """A JPEG's EXIF holds 64 KB: a noisy mask (233 KB as PNG data at 512 px) is stored smaller."""
    noise = Image.fromarray(torch.randint(0, 256, (341, 512), dtype=torch.uint8).numpy())
    spec = masks.encode(noise)
    settings = TransferSettings(content="photo.png", styles=["a.png"], style_masks=[spec])
    outcome = jobs.JobResult(transfer.TransferResult(content_image(W, H), False, 1, 0.1, settings),
                             jobs.Content(content_image(W, H)), settings)
    jobs.save(outcome, tmp_path / "out.jpg")
    [kept] = TransferSettings.from_dict(images.read_recipe(tmp_path / "out.jpg"), strict=False).style_masks
    assert len(kept) <= masks.JPEG_ROOM and masks.decode(kept).size[0] < 512
    assert masks.decode(kept).size[0] / masks.decode(kept).size[1] == pytest.approx(512 / 341, rel=0.05)
    jobs.save(outcome, tmp_path / "out.png")  # a PNG holds it all
    assert TransferSettings.from_dict(images.read_recipe(tmp_path / "out.png"), strict=False).style_masks == [spec]

"""The engine on real weights and tiny images: losses, stopping, seeds, steering, colours."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from engine import color, images, losses, transfer
from engine.errors import OutOfMemoryError
from engine.layers import RELU_LAYERS, conv_shapes
from engine.settings import TransferSettings
from engine.vgg import VGGFeatures
from engine.weights import load_weights
from tests.helpers import content_image, style_image
from tests.conftest import ROOT

TINY = dict(size=40, start_size=40, iterations=6, iteration_growth=1.0, device="cpu", precision="fp32", preview_interval_ms=0)


def tiny_settings(**changes) -> TransferSettings:
    return TransferSettings(**{**TINY, **changes})


def stylize(settings, **kw):
    steps = []
    result = transfer.run(settings, on_step=steps.append, content=content_image(), styles=[style_image()], **kw)
    return result, [s for s in steps if s.phase == "optimising"]


def gram_distance(image, style, layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1")) -> float:
    """Style distance as the engine measures it: the style at the output's long side."""
    model = VGGFeatures(load_weights(), "relu4_1")
    style = images.resize_long_side(style, max(image.size))
    with torch.no_grad():
        a = model(images.pil_to_tensor(image), layers)
        b = model(images.pil_to_tensor(style), layers)
    return sum(float(losses.relative_error(losses.gram_matrix(a[n]), losses.gram_matrix(b[n]))) for n in layers)


def layout_similarity(a, b) -> float:
    """Correlation of the coarse brightness layout (12x10 cells) of two images."""
    def cells(image):
        return color.luminance(images.pil_to_tensor(image.resize((12, 10), Image.BOX))).flatten()

    return float(torch.corrcoef(torch.stack([cells(a), cells(b)]))[0, 1])


def test_engine_does_not_import_qt():
    """Every module of engine/ imported for real (tests/test_architecture.py also checks statically)."""
    code = (
        "import importlib, pkgutil, sys, engine\n"
        "for m in pkgutil.walk_packages(engine.__path__, 'engine.'): importlib.import_module(m.name)\n"
        "print('engine.jobs' in sys.modules and 'engine.batch.runner' in sys.modules, 'PySide6' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True False"


def test_feature_shapes_per_layer():
    model = VGGFeatures(load_weights())
    feats = model(torch.rand(1, 3, 48, 64), RELU_LAYERS)
    channels = dict(conv_shapes())
    for name in RELU_LAYERS:
        block = int(name[4])
        scale = 2 ** (block - 1)
        expected = (1, channels[name.replace("relu", "conv")][0], -(-48 // scale), -(-64 // scale))
        assert tuple(feats[name].shape) == expected, name


def test_network_stops_at_deepest_layer_in_use():
    model = VGGFeatures(load_weights(), "relu2_1")
    assert model.names[-1] == "relu2_1"
    assert len([n for n in model.names if n.startswith("conv")]) == 3


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
@pytest.mark.parametrize("shape", [(1, 3, 5, 4), (2, 4, 2, 2), (1, 1, 3, 3)])
def test_gram_matrix_and_its_gradient_match_the_textbook_formula(layout, shape):
    features = torch.randn(*shape, dtype=torch.float64).contiguous(memory_format=layout).requires_grad_()
    flat = features.detach().reshape(shape[0], shape[1], -1)
    assert torch.allclose(losses.gram_matrix(features), flat @ flat.mT / (shape[2] * shape[3]))
    assert torch.autograd.gradcheck(losses.gram_matrix, (features,))


def test_gram_matrix_of_bf16_features_is_float32_and_its_gradient_keeps_their_dtype_and_layout():
    features = torch.rand(1, 8, 6, 5).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    features.requires_grad_()
    target = torch.rand(1, 8, 8)
    losses.relative_error(losses.gram_matrix(features), target).backward()
    assert losses.gram_matrix(features).dtype == torch.float32
    assert features.grad.dtype == torch.bfloat16
    assert features.grad.is_contiguous(memory_format=torch.channels_last)
    # the same gradient as autograd through the float32 formula, up to bf16 rounding
    wide = features.detach().float().requires_grad_()
    flat = wide.reshape(1, 8, 30)
    losses.relative_error(flat @ flat.mT / 30, target).backward()
    assert torch.allclose(features.grad.float(), wide.grad, rtol=0.02, atol=1e-3 * wide.grad.abs().max().item())


def test_losses_fall_and_style_distance_falls_while_content_stays():
    content, style = content_image(96, 80), style_image(96)
    settings = tiny_settings(size=48, start_size=48, iterations=12)
    steps = []
    result = transfer.run(settings, on_step=steps.append, content=content, styles=[style])
    steps = [s for s in steps if s.phase == "optimising"]
    assert steps[-1].loss < steps[0].loss
    assert steps[-1].style_loss < 0.5 * steps[0].style_loss
    photo = content.resize(result.image.size, Image.LANCZOS)
    assert gram_distance(result.image, style) < 0.5 * gram_distance(photo, style)
    # The photo's layout survives: far closer to it than the painting's layout is.
    assert layout_similarity(result.image, photo) > 0.8
    assert layout_similarity(style.resize(photo.size), photo) < 0.5


def test_progress_reports_eta_scales_and_previews():
    settings = tiny_settings(size=48, start_size=34, iterations=3, start_share=0, preview_interval_ms=60_000)
    result, steps = stylize(settings)
    assert [s.iteration for s in steps] == list(range(1, 7))
    assert {s.scale for s in steps} == {0, 1} and steps[-1].scales == 2
    assert steps[-1].eta == pytest.approx(0, abs=1e-6) and steps[0].eta > 0
    previews = [s for s in steps if s.preview is not None]
    # The first frame comes at once; then a 60 s interval lets only each scale's last frame through.
    assert [s.iteration for s in previews] == [1, 3, 6]
    assert max(result.image.size) == 48


def test_stop_within_one_iteration():
    stop = []
    steps = []

    def on_step(progress):
        steps.append(progress)
        if progress.iteration == 3:
            stop.append(True)  # the user presses Stop while iteration 3 is reported

    result = transfer.run(tiny_settings(iterations=50), on_step=on_step, should_stop=lambda: bool(stop),
                          content=content_image(), styles=[style_image()])
    assert result.stopped
    assert result.iterations == 3
    assert result.image.size == (40, 33)


def test_stop_before_the_first_iteration_returns_the_content():
    result = transfer.run(tiny_settings(), should_stop=lambda: True, content=content_image(), styles=[style_image()])
    assert result.stopped and result.iterations == 0


def test_same_seed_same_image_on_cpu():
    settings = tiny_settings(init="noise", seed=7, iterations=3)
    first, _ = stylize(settings)
    second, _ = stylize(settings)
    other, _ = stylize(settings.replace(seed=8))
    assert first.image.tobytes() == second.image.tobytes()
    assert first.image.tobytes() != other.image.tobytes()


def test_steering_changes_weights_mid_run():
    steering = transfer.Steering()
    settings = tiny_settings(iterations=6)
    seen = []

    def on_step(progress):
        if progress.phase != "optimising":
            return
        seen.append(progress)
        if progress.iteration == 2:
            steering.update(settings.replace(style_weight=0.0, tv_weight=0.0))

    transfer.run(settings, on_step=on_step, steering=steering, content=content_image(), styles=[style_image()])
    early, late = seen[1], seen[-1]
    assert early.loss == pytest.approx(settings.content_weight * early.content_loss
                                       + settings.style_weight * early.style_loss
                                       + settings.tv_weight * early.tv_loss, rel=1e-4)
    assert late.loss == pytest.approx(settings.content_weight * late.content_loss, rel=1e-4)


def test_steering_changes_only_the_weights_and_the_result_says_what_ran():
    """A preset applied mid-run names a size, scale, colour mode...: only the weights, layers and
    blend steer, and the result's settings (the recipe the GUI saves) are what ran: the settings
    it started with plus the weights in force at the end, with the steering history beside them."""
    steering = transfer.Steering()
    settings = tiny_settings(iterations=4)
    preset = settings.replace(
        style_weight=50.0, tv_weight=0.0, style_layers={"relu1_1": 1.0, "relu2_1": 2.0},  # these steer
        size=64, start_size=32, iterations=9, style_scale=0.5, preserve_colors="match", optimizer="adam",
        init="noise", learning_rate=0.5, pooling="avg", seed=5, precision="bf16",  # these cannot
    )
    sizes = []

    def on_step(progress):
        if progress.phase == "optimising":
            sizes.append(progress.size)
            if progress.iteration == 2:
                steering.update(preset)

    result = transfer.run(settings, on_step=on_step, steering=steering, content=content_image(), styles=[style_image()])
    assert result.iterations == 4 and set(sizes) == {(40, 33)}
    ran = settings.replace(style_weight=50.0, tv_weight=0.0, style_layers={"relu1_1": 1.0, "relu2_1": 2.0})
    for name in ("size", "start_size", "iterations", "style_scale", "preserve_colors", "optimizer", "init",
                 "learning_rate", "pooling", "seed", "precision"):
        assert getattr(result.settings, name) == getattr(settings, name), name
    assert result.settings == ran
    assert result.steering == [{"iteration": 2, "changes": {
        "style_weight": 50.0, "tv_weight": 0.0, "style_layers": {"relu1_1": 1.0, "relu2_1": 2.0}}}]
    from engine.settings import STEERING_KEY

    recipe = result.recipe()
    assert recipe[STEERING_KEY] == result.steering
    assert TransferSettings.from_dict(recipe) == ran  # strict: the history does not get in the way
    unsteered = transfer.run(settings, content=content_image(), styles=[style_image()])
    assert unsteered.steering == [] and unsteered.recipe() == settings.recipe(run=unsteered.run_record())


def test_steering_can_add_a_layer_that_was_off():
    steering = transfer.Steering()
    settings = tiny_settings(style_layers={"relu1_1": 1.0}, iterations=4)

    def on_step(progress):
        if progress.iteration == 1:
            steering.update(settings.replace(style_layers={"relu1_1": 1.0, "relu4_1": 1.0}))

    result = transfer.run(settings, on_step=on_step, steering=steering,
                          content=content_image(), styles=[style_image()])
    assert result.iterations == 4 and not result.stopped
    assert "relu4_1" in result.settings.style_layers


def test_steering_changes_the_style_blend(monkeypatch):
    blends = []
    original = losses.blend_grams
    monkeypatch.setattr(losses, "blend_grams", lambda grams, weights: blends.append(weights) or original(grams, weights))
    steering = transfer.Steering()
    settings = tiny_settings(iterations=3, styles=["a", "b"], style_blend=[1.0, 0.0])

    def on_step(progress):
        if progress.iteration == 1:
            steering.update(settings.replace(style_blend=[1.0, 3.0]))

    result = transfer.run(settings, on_step=on_step, steering=steering, content=content_image(),
                          styles=[style_image(), style_image().rotate(90)])
    assert blends == [[1.0, 0.0], [0.25, 0.75]]
    assert result.settings.style_blend == [1.0, 3.0]


def test_a_style_image_smaller_than_the_working_size_is_never_enlarged_and_the_run_says_so(monkeypatch):
    """Enlarging a style image blurs its strokes: it is used at most at its own size."""
    sides = []
    real = transfer.Stylizer._style_tensor

    def style_tensor(self, *args):
        tensor = real(self, *args)
        sides.append(tuple(tensor.shape[-2:]))
        return tensor

    monkeypatch.setattr(transfer.Stylizer, "_style_tensor", style_tensor)
    steps = []
    settings = tiny_settings(size=48, start_size=34, iterations=1, styles=["/art/small painting.png"])
    transfer.run(settings, on_step=steps.append, content=content_image(), styles=[style_image(40)])
    assert sides == [(34, 34), (40, 40)]  # 34 px: smaller than the painting; 48 px: capped at its 40 px
    notes = [step.note for step in steps if step.note]
    assert len(notes) == 1 and "small painting.png" in notes[0] and "40 px" in notes[0] and "48 px" in notes[0]

    sides.clear()
    steps.clear()
    transfer.run(tiny_settings(size=48, start_size=48, iterations=1, style_scale=0.5), on_step=steps.append,
                 content=content_image(), styles=[style_image(40)])
    assert sides == [(24, 24)] and not [step.note for step in steps if step.note]  # smaller: as before


def test_each_scale_starts_from_an_upsampled_image_within_0_and_1(monkeypatch):
    """Bicubic upsampling overshoots at sharp edges; the next scale must start displayable."""
    starts = []
    real = transfer._Run._initial

    def initial(self, *args):
        start = real(self, *args)
        starts.append((float(start.min()), float(start.max())))
        return start

    monkeypatch.setattr(transfer._Run, "_initial", initial)
    checks = Image.new("L", (12, 10))
    checks.putdata([255 * ((x + y) % 2) for y in range(10) for x in range(12)])
    content = checks.resize((48, 40), Image.NEAREST).convert("RGB")  # black and white 4 px squares
    transfer.run(tiny_settings(size=48, start_size=24, iterations=1), content=content, styles=[style_image()])
    assert len(starts) == 3
    assert all(0.0 <= low and high <= 1.0 for low, high in starts), starts


def test_luminance_mode_keeps_content_colours():
    # Equal layer weights: the default's strong relu1_1 drives this tiny, saturated picture's
    # luminance to extremes, where its colours leave the sRGB gamut and are clipped.
    equal = {name: 1.0 for name in ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")}
    result, _ = stylize(tiny_settings(preserve_colors="luminance", style_layers=equal, style_weight=10.0))
    out = color.rgb_to_yiq(images.pil_to_tensor(result.image))[:, 1:]
    content = color.rgb_to_yiq(images.pil_to_tensor(content_image().resize(result.image.size)))[:, 1:]
    assert (out - content).abs().mean() < 0.02


def test_colour_matching_gives_style_the_content_statistics():
    style = images.pil_to_tensor(style_image())
    content = images.pil_to_tensor(content_image())
    matched = color.match_colors(style, content)
    def gap(image):  # distance of colour mean and covariance to the content's
        pixels, target = image[0].reshape(3, -1), content[0].reshape(3, -1)
        return float((pixels.mean(1) - target.mean(1)).norm() + (pixels.cov() - target.cov()).norm())

    assert gap(matched) < 0.2 * gap(style)
    result, steps = stylize(tiny_settings(preserve_colors="match"))
    assert steps[-1].style_loss < steps[0].style_loss


def test_colour_modes_adapt_style_targets_to_each_content(monkeypatch):
    matched_to = []
    original = color.match_colors
    monkeypatch.setattr(color, "match_colors",
                        lambda style, content: matched_to.append(float(content.mean())) or original(style, content))
    stylizer = transfer.Stylizer(tiny_settings(iterations=1, preserve_colors="match"), [style_image()])
    dark, light = content_image(), Image.new("RGB", (48, 40), (250, 250, 250))
    for content in (dark, light, dark):
        stylizer.stylize(content)
    assert len(matched_to) == 3 and matched_to[0] == matched_to[2] != matched_to[1]


def test_blend_weights_pick_styles():
    plain = style_image()
    other = style_image().rotate(90)
    base = tiny_settings(iterations=2, styles=["a", "b"])
    one, _ = stylize(base.replace(styles=["a"]))
    weighted = transfer.run(base.replace(style_blend=[1.0, 0.0]), content=content_image(), styles=[plain, other])
    assert one.image.tobytes() == weighted.image.tobytes()


def test_adam_keeps_pixels_in_range():
    result, steps = stylize(tiny_settings(optimizer="adam", learning_rate=0.05, iterations=8))
    assert steps[-1].loss < steps[0].loss
    assert result.image.mode == "RGB"


def test_bf16_autocast_runs_and_losses_fall():
    result, steps = stylize(tiny_settings(precision="bf16", iterations=6))
    assert steps[-1].loss < steps[0].loss


def test_size_that_cannot_fit_names_a_smaller_one(monkeypatch):
    from engine import devices

    monkeypatch.setattr(devices, "free_memory", lambda device: 200 * 2**20)
    with pytest.raises(OutOfMemoryError) as info:
        transfer.run(tiny_settings(size=2048, start_size=2048), content=content_image(400, 300),
                     styles=[style_image()])
    assert info.value.suggested_size < 2048
    assert f"try {info.value.suggested_size} px" in str(info.value)
    assert devices.estimate_bytes(*(int(info.value.suggested_size * f) for f in (0.75, 1))) < 200 * 2**20


@pytest.mark.skipif(not os.path.exists("/proc/meminfo"), reason="Linux only")
def test_cpu_free_memory_counts_reclaimable_cache():
    from engine import devices

    fields = dict(line.split(":", 1) for line in open("/proc/meminfo"))
    available = int(fields["MemAvailable"].split()[0]) * 1024
    assert abs(devices.free_memory(torch.device("cpu")) - available) < 512 * 2**20


def test_out_of_memory_during_a_run_becomes_a_clear_error(monkeypatch):
    calls = []
    original = transfer._Run._closure

    def exploding(self, x, optimizer):
        calls.append(1)
        if len(calls) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(self, x, optimizer)

    monkeypatch.setattr(transfer._Run, "_closure", exploding)
    with pytest.raises(OutOfMemoryError) as info:
        stylize(tiny_settings(size=48, start_size=34, iterations=2))
    assert info.value.suggested_size == 34
    assert "\n" not in str(info.value)


def test_each_scale_runs_its_own_count_and_progress_counts_work():
    settings = tiny_settings(size=56, start_size=40, iterations=3, iteration_growth=2.0, plateau=0.0, start_share=0)
    assert settings.scale_iterations() == [6, 3]
    result, steps = stylize(settings)
    assert result.iterations == 9
    assert [sum(1 for s in steps if s.scale == k) for k in range(2)] == [6, 3]
    fractions = [s.fraction for s in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    work = transfer.scale_work(settings, content_image().size)  # pixels x iterations of each scale
    assert steps[5].fraction == pytest.approx(work[0] / sum(work))


def test_each_scale_optimises_the_content_of_its_own_layers(monkeypatch):
    """coarse_content: the targets and the loss of each scale use the layers content_layers_at
    names for it, steered layers included."""
    seen = []
    original = transfer._Run._prepare_targets

    def prepare(self, side):
        original(self, side)
        seen.append((side, sorted(self.content_layers), sorted(self.content_targets), sorted(self.needed_layers)))

    monkeypatch.setattr(transfer._Run, "_prepare_targets", prepare)
    settings = tiny_settings(size=64, start_size=16, iterations=1, plateau=0.0, style_layers={"relu1_1": 1.0})
    stylize(settings)
    coarse, top = ["relu3_2", "relu4_2"], ["relu4_2"]
    assert [side for side, *_ in seen] == [16, 23, 32, 45, 64]
    assert [layers for _, layers, _, _ in seen] == [coarse] * 4 + [top]
    assert all(layers == targets and needed == sorted(layers + ["relu1_1"]) for _, layers, targets, needed in seen)
    seen.clear()
    stylize(settings.replace(coarse_content=False))
    assert [layers for _, layers, _, _ in seen] == [top] * 5
    seen.clear()
    steering = transfer.Steering()
    steering.update(settings.replace(content_layers={"relu5_1": 1.0}))  # taken at the first iteration
    stylize(settings, steering=steering)
    assert [layers for _, layers, _, _ in seen][:2] == [coarse, ["relu4_1", "relu5_1"]]
    assert seen[-1][1] == ["relu5_1"]


def test_a_plateau_ends_a_scale_early_and_the_progress_still_ends_at_one():
    window = transfer.PLATEAU_WINDOW
    result, steps = stylize(tiny_settings(iterations=window + 40, plateau=0.5))  # any fall below 50 %/it
    assert window < result.iterations < window + 40 and not result.stopped
    assert steps[-1].fraction == 1.0
    never, _ = stylize(tiny_settings(iterations=window + 3, plateau=0.0))
    assert never.iterations == window + 3


def test_pixels_stay_displayable_through_the_scales_and_the_loss_falls(monkeypatch):
    starts = []
    original = transfer._Run._initial
    def initial(self, *args):
        start = original(self, *args)
        starts.append(start.clone())  # the run then optimises ``start`` in place
        return start

    monkeypatch.setattr(transfer._Run, "_initial", initial)
    result, steps = stylize(tiny_settings(size=56, start_size=40, iterations=8, iteration_growth=1.0))
    assert steps[-1].loss < steps[0].loss
    assert all(0 <= float(s.min()) and float(s.max()) <= 1 for s in starts)  # each scale starts in the box


@pytest.mark.parametrize("clamp", [True, False])
def test_the_benchmarks_clamp_box_is_impasto_0_1s(monkeypatch, clamp):
    """IMPASTO_BOX=clamp (bench_speed.py "old-0.1") steps as Impasto 0.1 did: the pixels clamped
    after each L-BFGS step and no penalty in what it minimises; otherwise the penalty keeps them."""
    monkeypatch.setattr(transfer, "CLAMP_BOX", clamp)
    initial, closure, step = transfer._Run._initial, transfer._Run._closure, transfer._Run._step
    minimised, ranges = [], []

    def outside_the_box(self, *args):
        return initial(self, *args) + 0.5  # half the pixels start out of the box

    def spied_closure(self, x, optimizer):
        value = closure(self, x, optimizer)
        minimised.append((float(value), self.last_losses["loss"]))
        return value

    def spied_step(self, x, optimizer):
        step(self, x, optimizer)
        ranges.append((float(x.min()), float(x.max())))

    monkeypatch.setattr(transfer._Run, "_initial", outside_the_box)
    monkeypatch.setattr(transfer._Run, "_closure", spied_closure)
    monkeypatch.setattr(transfer._Run, "_step", spied_step)
    stylize(tiny_settings(size=48, start_size=48, iterations=4))
    in_box = all(0 <= low and high <= 1 for low, high in ranges)
    no_penalty = all(value == pytest.approx(loss, rel=1e-5) for value, loss in minimised)
    assert len(ranges) == 4
    assert (in_box, no_penalty) == (clamp, clamp)


@pytest.mark.parametrize("precision", ["auto", "fp32"])
def test_one_scale_from_the_photo_converges_without_jumps(shared_image, precision):
    """L-BFGS must see the box it is kept in: with a clamp after each step, tubingen x The Starry
    Night at 128 px on the bf16 path jumped 30- to 100-fold every few iterations and ended at
    2.5x its starting loss (68.4 from 27.2) after 30 iterations."""
    from engine import transfer

    settings = TransferSettings(
        content=str(shared_image("tubingen.jpg")), styles=[str(shared_image("starry_night.jpg"))],
        size=128, start_size=128, iterations=30, plateau=0.0, precision=precision,
    )
    trajectory = []
    result = transfer.run(settings, lambda p: trajectory.append(p.loss) if p.phase == "optimising" else None)
    assert len(trajectory) == 30
    assert trajectory[-1] < 0.1 * trajectory[0]
    assert max(trajectory[-10:]) < 1.5 * min(trajectory[-10:])  # settled, not jumping
    assert result.image.size == (128, 96)


@pytest.mark.parametrize("module", ["cli.stylize", "cli.batch", "cli.selftest", "gui.main_window", "engine.transfer"])
def test_engine_sets_the_openmp_spin_count_before_torch_loads(module):
    """libgomp reads GOMP_SPINCOUNT once, as torch loads it: every entry point must import
    engine (which sets it) before torch, or the float32 path's NNPACK threads lose a core."""
    code = (
        "import os, sys\n"
        "os.environ.pop('GOMP_SPINCOUNT', None)\n"
        "seen = {}\n"
        "class Watch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' and not seen:\n"
        "            seen['spin'] = os.environ.get('GOMP_SPINCOUNT')\n"
        "            seen['thp'] = os.environ.get('THP_MEM_ALLOC_ENABLE')\n"
        "sys.meta_path.insert(0, Watch())\n"
        f"import {module}\n"
        "import torch\n"  # where the module left it for later: its run imports it after engine
        "print(seen.get('spin'), seen.get('thp'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    env["IMPASTO_CPU_BF16"] = "0"  # huge pages are the float32 path's
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "10000 1"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/cpuinfo")
def test_huge_pages_only_where_the_cpu_path_runs_float32(monkeypatch):
    """engine decides before torch loads whether the CPU path will be bf16; it must agree with
    torch's own answer, or a bf16 run gets huge pages (slower) or a float32 one misses them."""
    import engine
    from engine import devices

    monkeypatch.delenv("IMPASTO_CPU_BF16", raising=False)
    assert engine._cpu_runs_bf16() == devices.cpu_supports_bf16()
    monkeypatch.setenv("IMPASTO_CPU_BF16", "0")
    assert not engine._cpu_runs_bf16()


def _transparent_huge_pages() -> str:
    try:
        modes = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return ""
    return modes.split("[")[1].split("]")[0] if "[" in modes else ""


@pytest.mark.skipif(_transparent_huge_pages() != "madvise",
                    reason="needs Linux with transparent huge pages on request (madvise), where only torch's asking gets them")
def test_large_cpu_tensors_get_huge_pages():
    """Importing engine makes torch ask for huge pages for its large CPU tensors on the float32
    path, which cut a 2048 px float32 iteration from 29 s to 19.5 s (engine/__init__.py)."""
    code = (
        "import engine, torch\n"
        "t = torch.ones(64 * 2**20)\n"  # 256 MiB, touched
        "rollup = open('/proc/self/smaps_rollup').read().split('\\n')\n"
        "print([l.split()[1] for l in rollup if l.startswith('AnonHugePages:')][0])"
    )
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    env["IMPASTO_CPU_BF16"] = "0"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout.strip()) >= 128 * 1024  # kB: at least half of it in huge pages


def test_every_cpu_path_and_cuda_use_channels_last(monkeypatch):
    from engine import devices

    monkeypatch.delenv("IMPASTO_CHANNELS_LAST", raising=False)
    assert devices.use_channels_last(torch.device("cpu"))  # bf16, and float32 where NNPACK is missing
    assert devices.use_channels_last(torch.device("cuda"))
    assert not devices.use_channels_last(torch.device("mps"))
    monkeypatch.setenv("IMPASTO_CHANNELS_LAST", "0")
    assert not devices.use_channels_last(torch.device("cpu"))


def test_only_cuda_runs_replay_graphs_and_the_switch_turns_them_off(monkeypatch):
    from engine import devices

    monkeypatch.delenv("IMPASTO_CUDA_GRAPHS", raising=False)
    assert devices.use_cuda_graphs(torch.device("cuda"))
    assert not devices.use_cuda_graphs(torch.device("cpu")) and not devices.use_cuda_graphs(torch.device("mps"))
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert devices.use_cuda_graphs(torch.device("cuda:0")) and not devices.use_cuda_graphs(torch.device("cuda:1"))
    monkeypatch.setenv("IMPASTO_CUDA_GRAPHS", "0")
    assert not devices.use_cuda_graphs(torch.device("cuda"))


def test_a_capture_that_fails_gives_no_graph_and_no_gradient(monkeypatch):
    """transfer's CUDA graphs fall back to eager evaluation when a capture fails (on a GPU:
    tests/test_cuda.py); here the capture is refused before any GPU work."""
    def refused(graph):
        raise RuntimeError("CUDA error: operation not permitted when stream is capturing")

    monkeypatch.setattr(torch.cuda, "CUDAGraph", lambda: None)
    monkeypatch.setattr(torch.cuda, "graph", refused)
    x = torch.zeros((1, 3, 4, 4), requires_grad=True)
    x.grad = torch.ones_like(x)
    assert transfer._GraphedObjective.capture(lambda: x.sum(), x) is None
    assert x.grad is None


def test_cudnns_autotuner_is_off_unless_asked_for(monkeypatch):
    """A run meets ten input shapes; the autotuner timed every algorithm for each (H100: the
    default run took 9.4-12.8 s with it, 4.9-5.6 s without)."""
    from engine import devices

    monkeypatch.setattr(torch.backends.cudnn, "benchmark", True)
    monkeypatch.delenv("IMPASTO_CUDNN_BENCHMARK", raising=False)
    devices.configure(torch.device("cuda"))  # sets a flag only: needs no GPU
    assert torch.backends.cudnn.benchmark is False
    monkeypatch.setenv("IMPASTO_CUDNN_BENCHMARK", "1")
    devices.configure(torch.device("cuda"))
    assert torch.backends.cudnn.benchmark is True

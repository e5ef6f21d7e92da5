"""Snapshots (engine and ``stylize --save-every``) and continuing a saved result
(``stylize --continue``): real weights, tiny images."""

import hashlib

import numpy as np
import pytest
from PIL import Image

import main
from bench.quality import objective
from engine import images, transfer
from engine.continuation import read_parent, refine_start_size
from engine.settings import PARENT_KEY, TransferSettings
from engine.snapshots import Snapshot, SnapshotKeeper
from tests.helpers import content_image, style_image

TWO_SCALES = ["--size", "32", "--start-size", "23", "--iterations", "3", "--iteration-growth", "1",
              "--start-share", "0", "--plateau", "0", "--device", "cpu"]


@pytest.fixture
def inputs(tmp_path):
    content, style = tmp_path / "photo.png", tmp_path / "paint.png"
    content_image().save(content)
    style_image().save(style)
    return content, style


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    resized = np.asarray(b.resize(a.size, Image.LANCZOS), np.float32)
    return float(np.abs(np.asarray(a, dtype=np.float32) - resized).mean())


# --------------------------------------------------------------------------- the engine


def test_the_keeper_drops_the_oldest_intermediate_snapshots_first():
    picture = Image.new("RGB", (32, 32))  # 3 KiB each
    keeper = SnapshotKeeper(limit_mb=4 * 3 / 1024)  # room for four
    taken = [Snapshot(picture, i, 0, end_of_scale=i == 2) for i in range(1, 7)]
    dropped = [s.iteration for snapshot in taken for s in keeper.add(snapshot)]
    assert dropped == [1, 3]
    assert [s.iteration for s in keeper.snapshots] == [2, 4, 5, 6]
    tiny = SnapshotKeeper(limit_mb=1e-6)  # nothing fits: the newest one is still kept
    for snapshot in taken:
        tiny.add(snapshot)
    assert [s.iteration for s in tiny.snapshots] == [6]


def test_a_run_takes_a_snapshot_every_n_iterations_and_at_each_scales_end():
    settings = TransferSettings(size=32, start_size=23, iterations=3, iteration_growth=1.0, start_share=0, plateau=0,
                                device="cpu", snapshot_every=2, preview_interval_ms=10**6)
    reported = []
    result = transfer.run(settings, lambda p: p.snapshot and reported.append(p.snapshot),
                          content=content_image(), styles=[style_image()])
    assert [(s.iteration, s.scale, s.end_of_scale) for s in reported] == [(2, 0, False), (3, 0, True),
                                                                         (4, 1, False), (6, 1, True)]
    assert [max(s.image.size) for s in reported] == [23, 23, 32, 32]
    assert result.snapshots == reported and reported[-1].image.tobytes() == result.image.tobytes()
    plain = transfer.run(settings.replace(snapshot_every=0), content=content_image(), styles=[style_image()])
    assert plain.snapshots == []  # the default: no snapshots, today's memory


def test_refine_schedule_goes_on_above_the_parents_size():
    for parent, size in ((512, 1024), (400, 1024), (600, 1024), (32, 48), (512, 513)):
        sizes = TransferSettings(size=size, start_size=refine_start_size(parent, size)).scale_sizes()
        assert sizes[-1] == size and min(sizes) > parent
        assert round(sizes[0] / 2 ** 0.5) <= parent  # the first step above the parent, not one further
    assert TransferSettings(size=512, start_size=refine_start_size(512, 512)).scale_sizes() == [512]
    # a print size: the steps of 2 above 512 px, and the root-two ones below it, as a fresh run has them
    fresh = TransferSettings(size=2048).scale_sizes()
    by_side = dict(zip(fresh, TransferSettings(size=2048, start_share=0).scale_iterations()))
    for parent in (100, 300, 400, 512, 600, 1024, 1500):
        refined = TransferSettings(size=2048, start_size=refine_start_size(parent, 2048, 512), init="image",
                                   init_image="parent.png")
        assert refined.scale_sizes() == [side for side in fresh if side > parent], parent
        # the counts a fresh run has at those sides (no start_share: the parent is the coarse start)
        assert refined.scale_iterations() == [by_side[side] for side in refined.scale_sizes()]


# --------------------------------------------------------------------------- --save-every


def test_save_every_writes_each_snapshot_with_its_recipe_and_the_output_as_ever(inputs, tmp_path, capsys):
    content, style = inputs
    out = tmp_path / "out" / "result.png"
    assert main.cli(["stylize", str(content), str(style), "-o", str(out), *TWO_SCALES, "--save-every", "2"]) == 0
    assert "and 3 snapshots" in capsys.readouterr().err
    # iterations 1-3 at 23 px, 4-6 at 32 px: every 2nd, the end of the first scale; the 6th is the output
    written = sorted(p.name for p in out.parent.iterdir())
    assert written == ["result.png", "result_2.png", "result_3.png", "result_4.png"]
    for name, side in (("result_2.png", 23), ("result_3.png", 23), ("result_4.png", 32), ("result.png", 32)):
        assert max(images.image_size(out.parent / name)) == side
        recipe = images.read_recipe(out.parent / name)
        assert recipe["content"] == str(content) and recipe["snapshot_every"] == 2


def test_a_stopped_run_keeps_the_whole_snapshots_and_leaves_no_partial_file(inputs, tmp_path, monkeypatch, capsys):
    content, style = inputs
    out = tmp_path / "out" / "result.png"
    pressed = __import__("threading").Event()
    monkeypatch.setattr("cli.common.interrupt_flag", lambda: __import__("contextlib").nullcontext(pressed))
    written = []
    real_save = images.save_image

    def save_then_press_ctrl_c(*args, **kwargs):
        path = real_save(*args, **kwargs)
        written.append(path.name)
        if len(written) == 2:
            pressed.set()
        return path

    monkeypatch.setattr(images, "save_image", save_then_press_ctrl_c)
    code = main.cli(["stylize", str(content), str(style), "-o", str(out), *TWO_SCALES, "--save-every", "1"])
    assert code == 130 and "2 snapshots were kept; the output was not written" in capsys.readouterr().err
    assert sorted(p.name for p in out.parent.iterdir()) == ["result_1.png", "result_2.png"]  # no temp file
    assert all(images.read_recipe(out.parent / name) for name in written)


# --------------------------------------------------------------------------- --continue


@pytest.fixture
def parent(inputs, tmp_path):
    """A 32 px result started from noise (so it looks nothing like the photo), with its recipe."""
    content, style = inputs
    path = tmp_path / "parent.png"
    assert main.cli(["stylize", str(content), str(style), "-o", str(path), "--size", "32", "--start-size", "32",
                     "--iterations", "3", "--plateau", "0", "--device", "cpu", "--init", "noise"]) == 0
    return path


def test_continue_at_the_same_size_lowers_the_objective(inputs, parent, tmp_path):
    content, style = inputs
    out = tmp_path / "more.png"
    assert main.cli(["stylize", "--continue", str(parent), "-o", str(out), "--iterations", "15"]) == 0
    settings = read_parent(parent).settings
    judged = [objective(Image.open(path).convert("RGB"), Image.open(content).convert("RGB"),
                        [Image.open(style).convert("RGB")], settings)["objective"] for path in (parent, out)]
    assert images.image_size(out) == images.image_size(parent)
    assert judged[1] < 0.9 * judged[0], judged


def test_refine_to_a_larger_size_starts_from_the_parent_not_the_photo(inputs, parent, tmp_path, capsys):
    content, _ = inputs
    before = digest(parent)
    assert main.cli(["stylize", "--continue", str(parent), "--size", "48", "--iterations", "2",
                     "--save-every", "1"]) == 0
    out = tmp_path / "parent_48px.png"  # a new name beside the parent, never the parent
    assert digest(parent) == before and max(images.image_size(out)) == 48
    first = Image.open(tmp_path / "parent_48px_1.png").convert("RGB")  # after the first iteration, at 34 px
    assert max(first.size) == 34
    parent_pixels, photo = Image.open(parent).convert("RGB"), Image.open(content).convert("RGB")
    assert mean_difference(first, parent_pixels) < 0.5 * mean_difference(first, photo)

    recipe = images.read_recipe(out)
    lineage = recipe[PARENT_KEY]
    assert lineage["sha256"] == before and lineage["recipe"] == images.read_recipe(parent)
    assert recipe["init"] == "image" and recipe["init_image"] == str(parent) and recipe["size"] == 48
    assert TransferSettings.from_dict(recipe).size == 48  # the lineage key is no setting


def test_command_line_options_override_the_recipe(parent, tmp_path):
    out = tmp_path / "heavier.png"
    assert main.cli(["stylize", "--continue", str(parent), "-o", str(out), "--iterations", "1",
                     "--style-weight", "9"]) == 0
    recipe = images.read_recipe(out)
    assert recipe["style_weight"] == 9 and recipe["iterations"] == 1 and recipe["content_weight"] == 1


@pytest.mark.parametrize("case, message", [
    ("no recipe", "plain.png holds no Impasto recipe"),
    ("style gone", "its recipe names inputs that are gone: style "),
    ("content gone", "its recipe names inputs that are gone: content "),
    ("over the parent", "Refusing to overwrite the input image parent.png"),
    ("with inputs", "--continue takes the content and styles from the recipe"),
])
def test_continue_refuses_with_one_line_and_writes_nothing(inputs, parent, tmp_path, capsys, case, message):
    content, style = inputs
    argv = ["stylize", "--continue", str(parent), "--iterations", "1"]
    if case == "no recipe":
        Image.new("RGB", (16, 16)).save(tmp_path / "plain.png")
        argv[2] = str(tmp_path / "plain.png")
    elif case == "style gone":
        style.unlink()
    elif case == "content gone":
        content.unlink()
    elif case == "over the parent":
        argv += ["-o", str(parent)]
    else:
        argv += [str(content)]
    capsys.readouterr()
    before = {p.name: digest(p) for p in tmp_path.iterdir() if p.is_file()}
    assert main.cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert {p.name: digest(p) for p in tmp_path.iterdir() if p.is_file()} == before


# --------------------------------------------------------------------------- batch refine


@pytest.fixture
def results(inputs, tmp_path):
    """A folder of two 32 px results with recipes, and a plain picture without one."""
    content, style = inputs
    folder = tmp_path / "results"
    for name in ("a.png", "b.png"):
        assert main.cli(["stylize", str(content), str(style), "-o", str(folder / name), "--size", "32",
                         "--start-size", "32", "--iterations", "2", "--device", "cpu"]) == 0
    Image.new("RGB", (20, 20)).save(folder / "plain.png")
    return folder


def test_batch_refines_each_result_from_its_own_recipe_and_skips_those_done(results, tmp_path, capsys):
    out = tmp_path / "prints"
    argv = ["batch", str(results), "--refine-to", "48", "-o", str(out), "--iterations", "1"]
    assert main.cli(argv) == 2  # plain.png failed; the others are done
    err = capsys.readouterr().err
    assert "plain.png holds no Impasto recipe" in err
    assert sorted(p.name for p in out.glob("*.png")) == ["a.png", "b.png"]
    for name in ("a.png", "b.png"):
        recipe = images.read_recipe(out / name)
        assert max(images.image_size(out / name)) == 48 and recipe["iterations"] == 1
        assert recipe[PARENT_KEY]["sha256"] == digest(results / name)
    made = {name: digest(out / name) for name in ("a.png", "b.png")}

    assert main.cli(argv) == 2
    assert "0 to do, 2 already done" in capsys.readouterr().err
    assert {name: digest(out / name) for name in made} == made  # skipped, not redone

    named = ["batch", str(results), "--refine-to", "48", "-o", str(tmp_path / "other"), "--dry-run",
             "--template", "{stem}_{style}.{ext}"]
    assert main.cli(named) == 0
    assert "a_paint.png" in capsys.readouterr().out  # {style}: from each result's own recipe


def test_a_stopped_refine_batch_resumes_with_what_is_left(results, tmp_path):
    from engine import batch

    (results / "plain.png").unlink()
    options = batch.BatchOptions(output_dir=str(tmp_path / "prints"), template=batch.REFINE_TEMPLATE)
    done = []

    def stop_after_the_first(item):
        if item.state == batch.DONE:
            done.append(item.name)

    first = batch.run_refine([results], 48, {"iterations": 1}, options, on_item=stop_after_the_first,
                             should_stop=lambda: bool(done))
    assert first.interrupted and first.done == 1
    second = batch.run_refine([results], 48, {"iterations": 1}, options)
    assert (second.done, second.skipped, second.failed) == (1, 1, 0)
    third = batch.plan_refine([results], 64, {"iterations": 1}, options)  # another size: all to do again
    assert len(third.pending) == 2


def test_a_recipe_with_paths_relative_to_the_results_folder_is_found_from_anywhere(tmp_path, monkeypatch):
    folder = tmp_path / "work"
    folder.mkdir()
    content_image().save(folder / "photo.png")
    style_image().save(folder / "paint.png")
    monkeypatch.chdir(folder)
    assert main.cli(["stylize", "photo.png", "paint.png", "-o", "r.png", "--size", "32", "--start-size", "32",
                     "--iterations", "1", "--device", "cpu"]) == 0
    monkeypatch.chdir(tmp_path)
    assert main.cli(["stylize", "--continue", "work/r.png", "--iterations", "1", "-o", "more.png"]) == 0
    recipe = images.read_recipe(tmp_path / "more.png")
    assert recipe["content"] == str(folder / "photo.png") and recipe["init_image"] == str(folder / "r.png")

"""engine.batch and ``main.py batch``: naming, scanning, the manifest, resume, stop, full disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as settings_for_hypothesis
from hypothesis import strategies as st
from PIL import Image

from engine import batch, images
from engine.batch import BatchError, BatchOptions, BatchStopped, PauseGate, plan_batch, read_manifest, run_batch
from engine.errors import DestinationError
from engine.settings import TransferSettings

ROOT = Path(__file__).resolve().parent.parent


def picture(path: Path, size=(40, 32), colour=(200, 80, 40)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, colour)
    image.paste((20, 40, 220), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    image.save(path)
    return path


@pytest.fixture
def style(tmp_path) -> Path:
    path = tmp_path / "styles" / "waves.png"
    path.parent.mkdir()
    image = Image.new("RGB", (32, 32), (240, 220, 40))
    for x in range(0, 32, 6):
        image.paste((20, 40, 160), (x, 0, x + 2, 32))
    image.save(path)
    return path


@pytest.fixture
def settings(style) -> TransferSettings:
    return TransferSettings(styles=[str(style)], size=32, start_size=32, iterations=2, device="cpu")


def options(out: Path, **kw) -> BatchOptions:
    return BatchOptions(output_dir=str(out), **kw)


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".impasto-*")]


def by_name(items) -> dict:
    return {Path(item.source).name: item for item in items}


def manifest_states(out: Path) -> dict:
    entries = read_manifest(out)["impasto_batch"]["items"]
    return {Path(e["source"]).name: e["state"] for e in entries}


# ---------------------------------------------------------------- names


def test_template_fields():
    name = batch.render_name("{index:03d}-{stem}_{style}.{ext}", stem="photo", style="waves", ext="jpg",
                             index=7, date="2024-05-01")
    assert name == "007-photo_waves.jpg"
    assert batch.render_name("{date}/{stem}.{ext}", stem="a", style="s", ext="png", index=1,
                             date="2024-05-01") == "2024-05-01/a.png"
    two = TransferSettings(styles=["x/starry.jpg", "y/scream.png"])
    assert batch.style_label(two) == "starry+scream"
    assert batch.output_extension("a/b.JPEG", "same") == "jpeg"
    assert batch.output_extension("a/b.bmp", "same") == "png"
    assert batch.output_extension("a/b.jpg", "webp") == "webp"


@pytest.mark.parametrize("template", [
    "../{stem}.{ext}", "a/../../{stem}.{ext}", "/tmp/{stem}.{ext}", "C:/out/{stem}.{ext}",
    "C:{stem}.{ext}", "..\\{stem}.{ext}", "\\\\server\\share\\{stem}.{ext}",
])
def test_template_escape_refused(template, tmp_path, settings):
    with pytest.raises(BatchError, match="outside the output folder"):
        batch.check_template(template)
    with pytest.raises(BatchError, match="outside the output folder"):
        plan_batch([tmp_path], settings, options(tmp_path / "out", template=template))


@given(st.text(alphabet=st.sampled_from(list("ab./\\:C{}_-~ ")) , max_size=14),
       st.text(alphabet=st.sampled_from(list("ab./\\: ")), min_size=1, max_size=6))
@settings_for_hypothesis(max_examples=300, deadline=None)
def test_accepted_names_stay_inside_the_output_folder(template, stem):
    """Whatever a template or a file name holds, an accepted name resolves inside the folder."""
    try:
        name = batch.render_name(template + ".{ext}", stem=stem, style="s", ext="png", index=1, date="d")
    except BatchError:
        return
    out = Path("/srv/out")
    assert os.path.normpath(out / name).startswith(str(out) + os.sep)


@pytest.mark.parametrize("template, message", [
    ("{name}.{ext}", "unknown field"),
    ("{stem.upper}.{ext}", "unknown field"),
    ("{stem}", "not an image file name"),
    ("{stem}.gif", "not an image file name"),
    ("{stem.{ext}", "not valid"),
    ("{index:q}.{ext}", "cannot be used"),
])
def test_bad_template_explained(template, message):
    with pytest.raises(BatchError, match=message):
        batch.check_template(template)


def test_same_names_get_distinct_outputs(tmp_path, settings):
    first = picture(tmp_path / "a" / "x.jpg")
    second = picture(tmp_path / "b" / "x.png")
    out = tmp_path / "out"
    picture(out / "x_waves.png")  # someone's own file: never overwritten
    plan = plan_batch([first, second], settings, options(out))
    outputs = [Path(item.output) for item in plan.items]
    assert len(set(outputs)) == 2
    assert out / "x_waves.png" not in outputs
    assert all(path.parent == out and path.name.startswith("x_waves") for path in outputs)


def test_output_folder_as_input_refused(tmp_path, settings):
    picture(tmp_path / "in" / "a.png")
    with pytest.raises(BatchError, match="also an input folder"):
        plan_batch([tmp_path / "in"], settings, options(tmp_path / "in"))
    with pytest.raises(BatchError, match="also an input folder"):
        run_batch([tmp_path / "in"], settings, options(tmp_path / "in"))
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["a.png"]  # nothing written there


def test_recursion_mirrors_folders_and_skips_outputs(tmp_path, settings):
    source = tmp_path / "photos"
    picture(source / "a.png")
    picture(source / "trip" / "day1" / "b.jpg")
    picture(source / "stylized" / "old_output.png")  # the output folder, inside the input tree
    picture(source / "earlier" / "c_waves.png")  # an earlier batch's output folder
    (source / "earlier" / batch.MANIFEST_NAME).write_text("{}")
    picture(source / ".hidden.png")
    (source / "notes.txt").write_text("not an image")
    out = source / "stylized"

    flat = plan_batch([source], settings, options(out))
    assert [Path(i.source).name for i in flat.items] == ["a.png"]

    plan = plan_batch([source], settings, options(out, recursive=True))
    mapping = {Path(i.source).relative_to(source).as_posix(): Path(i.output).relative_to(out).as_posix()
               for i in plan.items}
    assert mapping == {"a.png": "a_waves.png", "trip/day1/b.jpg": "trip/day1/b_waves.png"}


def test_missing_input_and_unreadable_folder_reported(tmp_path, settings, monkeypatch):
    picture(tmp_path / "in" / "a.png")
    locked = tmp_path / "in" / "locked"
    picture(locked / "b.png")
    real_scandir = os.scandir

    def scandir(path):  # chmod 000 does not stop root, so refuse the way the OS would
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    plan = plan_batch([tmp_path / "in", tmp_path / "nowhere"], settings, options(tmp_path / "out", recursive=True))
    states = {Path(i.source).name: (i.state, i.reason) for i in plan.items}
    assert states["a.png"][0] == "waiting"
    assert states["locked"][0] == "failed" and "Cannot read folder" in states["locked"][1]
    assert states["nowhere"][0] == "failed" and "Not found" in states["nowhere"][1]


# ---------------------------------------------------------------- running


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    folder = tmp_path / "in"
    picture(folder / "good1.jpg", (40, 32))
    picture(folder / "good2.png", (32, 44), (30, 160, 90))
    (folder / "text.jpg").write_text("this is not a picture")
    whole = picture(tmp_path / "whole.png", (48, 48))
    (folder / "truncated.png").write_bytes(whole.read_bytes()[:120])
    return folder


def test_batch_goes_past_bad_files_then_resumes(mixed_folder, tmp_path, settings):
    out = tmp_path / "out"
    events, steps = [], []
    summary = run_batch([mixed_folder], settings, options(out), on_item=lambda i: events.append((i.name, i.state)),
                        on_progress=steps.append)

    assert (summary.done, summary.skipped, summary.failed, summary.interrupted) == (2, 0, 2, False)
    items = by_name(summary.items)
    assert "not an image file" in items["text.jpg"].reason
    assert items["truncated.png"].state == "failed" and items["truncated.png"].reason
    for name in ("good1.jpg", "good2.png"):
        output = Path(items[name].output)
        assert output.parent == out and output.suffix == ".png"
        assert images.read_recipe(output)["content"] == items[name].source
        assert max(Image.open(output).size) == 32
    assert manifest_states(out) == {"good1.jpg": "done", "good2.png": "done", "text.jpg": "failed",
                                    "truncated.png": "failed"}
    assert read_manifest(out)["styles"] == settings.styles  # the settings, readable by --settings
    assert temp_files(out) == []
    fractions = [s.fraction for s in steps]
    assert fractions == sorted(fractions) and 0.5 < fractions[-1] <= 1  # truncated.png failed late
    assert all(s.eta is not None for s in steps if s.step.iteration > 0)

    again = []
    summary = run_batch([mixed_folder], settings, options(out), on_item=lambda i: again.append((i.name, i.state)))
    assert (summary.done, summary.skipped, summary.failed) == (0, 2, 2)
    assert ("good1.jpg", "running") not in again and ("good2.png", "running") not in again


def test_batch_progress_counts_the_engine_work_when_scales_differ_in_iterations(tmp_path, settings):
    """Coarse scales running more iterations (iteration_growth): the batch's fractions come from
    the engine's own estimate (transfer.scale_work), so they still rise steadily to 1."""
    folder = tmp_path / "in"
    picture(folder / "a.png", (48, 40))
    picture(folder / "b.png", (40, 48), colour=(10, 120, 200))
    steps = []
    grown = settings.replace(size=40, start_size=20, iterations=2, iteration_growth=2.0)
    summary = run_batch([folder], grown, options(tmp_path / "out"), on_progress=steps.append)
    assert summary.done == 2
    fractions = [s.fraction for s in steps]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    for image in (1, 2):
        items = [s.item_fraction for s in steps if s.index == image]
        assert items == sorted(items) and items[-1] == pytest.approx(1.0)
        assert items[-2] < 0.999  # the bar is not full before the last iteration of the last scale


def test_changed_settings_or_missing_output_redo_items(tmp_path, settings):
    folder = tmp_path / "in"
    picture(folder / "a.png")
    picture(folder / "b.png", colour=(10, 120, 200))
    out = tmp_path / "out"
    steps = []
    run_batch([folder], settings, options(out), on_progress=steps.append)
    assert steps[-1].fraction == pytest.approx(1.0) and steps[-1].eta == pytest.approx(0.0)
    first = read_manifest(out)["impasto_batch"]["settings_hash"]

    summary = run_batch([folder], settings.replace(device="auto", preview_interval_ms=10), options(out))
    assert summary.skipped == 2  # device and preview rate do not change the pixels

    changed = settings.replace(tv_weight=3.0)
    summary = run_batch([folder], changed, options(out))
    assert summary.done == 2 and summary.skipped == 0
    assert read_manifest(out)["impasto_batch"]["settings_hash"] != first
    assert images.read_recipe(out / "a_waves.png")["tv_weight"] == 3.0

    (out / "b_waves.png").unlink()
    summary = run_batch([folder], changed, options(out))
    assert (summary.done, summary.skipped) == (1, 1) and (out / "b_waves.png").is_file()


def test_redo_does_named_inputs_again_over_their_outputs(tmp_path, settings):
    folder = tmp_path / "in"
    picture(folder / "a.png")
    picture(folder / "b.png", colour=(10, 120, 200))
    out = tmp_path / "out"
    run_batch([folder], settings, options(out))
    first = read_manifest(out)["impasto_batch"]["items"]
    os.utime(out / "a_waves.png", (0, 0))  # so a rewrite shows

    plan = plan_batch([folder], settings, options(out), redo=[folder / "a.png"])
    assert {name: item.state for name, item in by_name(plan.items).items()} == {"a.png": "waiting", "b.png": "skipped"}
    summary = run_batch([folder], settings, options(out), redo=[str(folder / "a.png")])
    assert (summary.done, summary.skipped) == (1, 1)
    assert (out / "a_waves.png").stat().st_mtime > 0  # the same output, written again
    assert sorted(p.name for p in out.glob("*.png")) == ["a_waves.png", "b_waves.png"]  # no a_waves-2
    again = read_manifest(out)["impasto_batch"]["items"]
    assert [e["output"] for e in again] == [e["output"] for e in first]


def test_stop_mid_item_writes_nothing_and_rerun_resumes(tmp_path, settings):
    folder = tmp_path / "in"
    for name in ("a", "b", "c"):
        picture(folder / f"{name}.png")
    out = tmp_path / "out"
    stop = threading.Event()
    runs: list[str] = []

    def on_item(item):
        if item.state == "running":
            runs.append(item.name)

    def on_progress(progress):
        if progress.position == 2 and progress.step.iteration >= 1:
            stop.set()  # Ctrl-C in the middle of the second image

    summary = run_batch([folder], settings, options(out), on_item=on_item, on_progress=on_progress,
                        should_stop=stop.is_set)
    assert summary.interrupted and (summary.done, summary.not_started) == (1, 2)
    assert sorted(p.name for p in out.glob("*.png")) == ["a_waves.png"]
    assert manifest_states(out) == {"a.png": "done", "b.png": "waiting", "c.png": "waiting"}
    assert temp_files(out) == []

    summary = run_batch([folder], settings, options(out), on_item=on_item)
    assert (summary.done, summary.skipped, summary.interrupted) == (2, 1, False)
    assert runs == ["a.png", "b.png", "b.png", "c.png"]  # only the unfinished one twice
    assert manifest_states(out) == {"a.png": "done", "b.png": "done", "c.png": "done"}


def test_full_disk_stops_the_batch(tmp_path, settings, monkeypatch):
    folder = tmp_path / "in"
    for name in ("a", "b", "c"):
        picture(folder / f"{name}.png")
    out = tmp_path / "out"
    real_save = images.save_image
    calls = []

    def save_until_full(image, path, **kw):
        calls.append(path)
        if len(calls) == 2:
            raise DestinationError(f"No space left on device while saving {Path(path).name}")
        return real_save(image, path, **kw)

    monkeypatch.setattr(images, "save_image", save_until_full)
    with pytest.raises(BatchStopped, match="No space left") as stopped:
        run_batch([folder], settings, options(out))
    summary = stopped.value.summary
    assert (summary.done, summary.failed, summary.not_started) == (1, 0, 2)
    assert len(calls) == 2  # the third image was not even tried
    assert sorted(p.name for p in out.glob("*.png")) == ["a_waves.png"]
    assert manifest_states(out) == {"a.png": "done", "b.png": "waiting", "c.png": "waiting"}

    monkeypatch.setattr(images, "save_image", real_save)
    summary = run_batch([folder], settings, options(out))
    assert (summary.done, summary.skipped) == (2, 1)


def test_pause_holds_the_loop_and_resume_continues(tmp_path, settings):
    picture(tmp_path / "in" / "a.png")
    gate = PauseGate()
    steps = []

    def on_progress(progress):
        steps.append(progress.step.iteration)
        if len(steps) == 1:
            gate.pause()  # takes effect at once: this very callback blocks

    results = []
    worker = threading.Thread(target=lambda: results.append(
        run_batch([tmp_path / "in"], settings.replace(iterations=4), options(tmp_path / "out"),
                  on_progress=on_progress, pause=gate)))
    worker.start()
    deadline = time.monotonic() + 60
    while not steps and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)
    assert len(steps) == 1 and worker.is_alive()
    gate.resume()
    worker.join(60)
    assert results and results[0].done == 1
    assert steps[-1] == 4  # the same item carried on to its end


def test_stop_while_paused(tmp_path, settings):
    picture(tmp_path / "in" / "a.png")
    gate, stop = PauseGate(), threading.Event()
    gate.pause()
    results = []
    worker = threading.Thread(target=lambda: results.append(
        run_batch([tmp_path / "in"], settings, options(tmp_path / "out"), should_stop=stop.is_set, pause=gate)))
    worker.start()
    time.sleep(0.3)
    assert worker.is_alive()
    stop.set()
    worker.join(10)
    assert results and results[0].interrupted and results[0].done == 0
    assert not list((tmp_path / "out").glob("*.png"))


def test_second_batch_on_same_folder_refused(tmp_path, settings):
    picture(tmp_path / "in" / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    with batch.runner._folder_lock(out):
        with pytest.raises(BatchError, match="Another Impasto batch"):
            run_batch([tmp_path / "in"], settings, options(out))


def test_damaged_manifest_is_reported_not_overwritten(tmp_path, settings):
    picture(tmp_path / "in" / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / batch.MANIFEST_NAME).write_text("{ broken")
    with pytest.raises(BatchError, match="damaged"):
        run_batch([tmp_path / "in"], settings, options(out))
    assert (out / batch.MANIFEST_NAME).read_text() == "{ broken"


def test_earlier_batch_outputs_are_kept(tmp_path, settings, style):
    """A second, different batch into the same folder never takes the first one's names."""
    picture(tmp_path / "one" / "x.png")
    picture(tmp_path / "two" / "x.png", colour=(0, 200, 0))
    out = tmp_path / "out"
    run_batch([tmp_path / "one"], settings, options(out))
    before = (out / "x_waves.png").read_bytes()
    summary = run_batch([tmp_path / "two"], settings, options(out))
    assert Path(summary.items[0].output).name == "x_waves-2.png"
    assert (out / "x_waves.png").read_bytes() == before
    assert len(read_manifest(out)["impasto_batch"]["items"]) == 2


# ---------------------------------------------------------------- command line


def cli_args(inputs, style, out, *extra) -> list[str]:
    return ["batch", *map(str, inputs), "--style", str(style), "-o", str(out), "--size", "32",
            "--iterations", "2", "--device", "cpu", *extra]


def test_cli_defaults_match_the_engine():
    from cli import batch as cli_batch

    assert (cli_batch.DEFAULT_TEMPLATE, cli_batch.EXTENSIONS) == (batch.DEFAULT_TEMPLATE, batch.EXTENSIONS)


def test_cli_exit_codes_and_summary(mixed_folder, tmp_path, style, capsys):
    from main import cli

    out = tmp_path / "out"
    assert cli(cli_args([mixed_folder], style, out)) == 2
    captured = capsys.readouterr()
    assert "Batch: 2 done, 0 skipped, 2 failed" in captured.out
    assert "text.jpg is not an image file" in captured.err

    good = tmp_path / "good"
    picture(good / "one.png")
    assert cli(cli_args([good, mixed_folder / "good1.jpg"], style, out, "--format", "jpg")) == 0
    assert "Batch: 2 done, 0 skipped, 0 failed" in capsys.readouterr().out
    assert (out / "one_waves.jpg").is_file() and (out / "good1_waves.jpg").is_file()

    assert cli(cli_args([good], style, out, "--template", "../{stem}.{ext}")) == 2
    assert "outside the output folder" in capsys.readouterr().err


def test_batch_never_writes_over_the_init_image(tmp_path, style, capsys):
    """An earlier output used as the init image of a rerun with other settings: the rerun would
    reuse that output's name for the same photo; it takes another name instead."""
    from main import cli

    picture(tmp_path / "in" / "a.png")
    out = tmp_path / "out"
    assert cli(cli_args([tmp_path / "in"], style, out)) == 0
    start = out / "a_waves.png"
    before = start.read_bytes()
    assert cli(cli_args([tmp_path / "in"], style, out, "--init-image", str(start))) == 0, capsys.readouterr().err
    assert "Batch: 1 done, 0 skipped, 0 failed" in capsys.readouterr().out
    assert start.read_bytes() == before
    assert sorted(p.name for p in out.glob("*.png")) == ["a_waves-2.png", "a_waves.png"]
    assert images.read_recipe(out / "a_waves-2.png")["init_image"] == str(start)


def _start_cli(args, tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, str(ROOT / "main.py"), *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_first_done(process, out: Path, timeout=120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if "done" in manifest_states(out).values():
                return
        except (TypeError, ValueError, OSError, KeyError):
            pass  # not written yet
        time.sleep(0.01)
    process.kill()
    pytest.fail(f"no item finished in time: {process.communicate()}")


@pytest.fixture
def three_photos(tmp_path) -> Path:
    folder = tmp_path / "in"
    for index in range(3):
        picture(folder / f"p{index}.png", (48, 40), (60 * index, 90, 200 - 40 * index))
    return folder


def test_killed_batch_restarts_without_redoing(three_photos, tmp_path, style, settings):
    out = tmp_path / "out"
    process = _start_cli(cli_args([three_photos], style, out, "--size", "48", "--iterations", "12"), tmp_path)
    _wait_for_first_done(process, out)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    done_before = {name for name, state in manifest_states(out).items() if state == "done"}
    assert done_before and len(done_before) < 3

    runs = []
    summary = run_batch([three_photos], settings.replace(size=48, start_size=48, iterations=12), options(out),
                        on_item=lambda i: runs.append(i.name) if i.state == "running" else None)
    assert not done_before & set(runs)
    assert summary.skipped == len(done_before) and summary.done == 3 - len(done_before)
    assert set(manifest_states(out).values()) == {"done"}
    assert temp_files(out) == []
    assert len(list(out.glob("*.png"))) == 3


def test_ctrl_c_exits_130_and_writes_nothing_partial(three_photos, tmp_path, style):
    out = tmp_path / "out"
    process = _start_cli(cli_args([three_photos], style, out, "--size", "48", "--iterations", "12"), tmp_path)
    _wait_for_first_done(process, out)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "run the same command again to resume" in stderr
    states = manifest_states(out)
    written = {p.name for p in out.glob("*.png")}
    assert written == {f"{Path(n).stem}_waves.png" for n, s in states.items() if s == "done"}
    assert temp_files(out) == []
    assert "skipped" in stdout and "done" in stdout

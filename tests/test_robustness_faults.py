"""Faults and edge cases inside a run: one-pixel lines, out of memory, Stop in every phase, a
process killed in the middle of a save."""

from __future__ import annotations

import contextlib
import io
import math
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from PIL import Image

import main
from engine import batch, devices, images, transfer
from engine.errors import OutOfMemoryError
from engine.settings import MIN_SIZE, TransferSettings
from tests.helpers import content_image, style_image
from tests.test_robustness_cases import error_line, new_files, one_line, snapshot, temp_files, two_tone


FAST = ["--size", "32", "--iterations", "1", "--device", "cpu"]


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
    # so the window (which reads suggested_size, never the text) does not offer a size


@pytest.fixture
def files(tmp_path):
    """(content, style, output folder) for runs through the CLI and the GUI."""
    content, style = tmp_path / "photo.png", tmp_path / "style.png"
    content_image().save(content)
    style_image().save(style)
    return content, style, tmp_path / "out"


def test_cli_out_of_memory_is_one_line_with_a_size(files, monkeypatch, capsys):
    content, style, out = files
    oom_after(monkeypatch, 1)  # the first scale (34 px) fits, the second does not
    code = main.cli(["stylize", str(content), str(style), "-o", str(out / "r.png"), *FAST, "--size", "48",
                     "--start-size", "34"])
    err = error_line(capsys.readouterr().err)
    assert code == 2 and "Ran out of CPU memory at 48 px; try 34 px" in err
    assert not out.exists()


def test_cli_size_that_cannot_fit_is_refused_before_the_run(files, monkeypatch, capsys):
    content, style, out = files
    monkeypatch.setattr(devices, "free_memory", lambda device: 80 * 2**20)
    calls = oom_after(monkeypatch, 10**6)  # counts evaluations, never fails
    code = main.cli(["stylize", str(content), str(style), "-o", str(out / "r.png"), *FAST, "--size", "1024"])
    err = error_line(capsys.readouterr().err)
    assert code == 2 and "1024 px needs about" in err and "try 128 px" in err
    assert calls[0] == 0 and not out.exists()


def photos_where_b_runs_out_of_memory(root: Path, monkeypatch) -> Path:
    """root/in with a.png, b.png and c.png; at 48 px only b.png (36 rows) runs out of memory."""
    folder = root / "in"
    folder.mkdir()
    for name, size in (("a", (40, 32)), ("b", (48, 36)), ("c", (40, 32))):
        content_image(*size).save(folder / f"{name}.png")
    real = transfer._Run._closure

    def closure(self, x, optimizer):
        if tuple(x.shape[-2:]) == (36, 48):
            raise torch.OutOfMemoryError("CUDA out of memory.")
        return real(self, x, optimizer)

    monkeypatch.setattr(transfer._Run, "_closure", closure)
    return folder


def test_batch_item_out_of_memory_fails_that_item_and_goes_on(files, monkeypatch, capsys):
    content, style, out = files
    folder = photos_where_b_runs_out_of_memory(content.parent, monkeypatch)
    code = main.cli(["batch", str(folder), "--style", str(style), "-o", str(out), *FAST, "--size", "48"])
    captured = capsys.readouterr()
    assert code == 2 and "Batch: 2 done, 0 skipped, 1 failed" in captured.out
    failed = [line for line in captured.err.splitlines() if "failed" in line and "b.png" in line]
    assert len(failed) == 1 and "Out of memory: Ran out of CPU memory at 48 px; try 24 px" in failed[0]
    assert sorted(p.name for p in out.glob("*.png")) == ["a_style.png", "c_style.png"]


# ---------------------------------------------------------------- Stop in every phase

PHASES = ["weights", "style targets", "scale boundary"]


class StopAt:
    """Presses Stop (calls ``action``) the first time a run reaches ``phase``: while the weights
    load, while the style targets are computed, or as the second scale begins; and counts the
    loss evaluations (iterations) done before and after."""

    def __init__(self, monkeypatch, phase: str, action):
        self.action = action
        self.evaluations = 0
        self.at_stop: int | None = None
        real_closure = transfer._Run._closure

        def closure(run, x, optimizer):
            self.evaluations += 1
            return real_closure(run, x, optimizer)

        monkeypatch.setattr(transfer._Run, "_closure", closure)
        if phase == "weights":
            real_weights = transfer.load_weights
            monkeypatch.setattr(transfer, "load_weights", lambda source: self._then(real_weights, source))
        elif phase == "style targets":
            real_grams = transfer.Stylizer.style_grams
            monkeypatch.setattr(transfer.Stylizer, "style_grams", lambda *args: self._then(real_grams, *args))
        elif phase == "scale boundary":
            real_scale = transfer._Run._scale

            def scale(run, index, *args):
                return self._then(real_scale, run, index, *args) if index == 1 else real_scale(run, index, *args)

            monkeypatch.setattr(transfer._Run, "_scale", scale)
        else:
            raise ValueError(phase)

    def _then(self, function, *args):
        if self.at_stop is None:
            self.at_stop = self.evaluations
            self.action()
        return function(*args)

    @property
    def fired(self) -> bool:
        return self.at_stop is not None

    @property
    def after_stop(self) -> int:
        """Iterations run after Stop was pressed: 0 is "within one iteration" at a phase boundary."""
        return self.evaluations - self.at_stop


TWO_SCALES = ["--size", "48", "--start-size", "34", "--iterations", "2", "--iteration-growth", "1", "--start-share", "0",
              "--device", "cpu"]


@pytest.fixture
def ctrl_c(monkeypatch) -> threading.Event:
    """The flag ``main.py stylize``'s Ctrl-C handler sets (set it to press Ctrl-C)."""
    pressed = threading.Event()
    monkeypatch.setattr("cli.common.interrupt_flag", lambda: contextlib.nullcontext(pressed))
    return pressed


@pytest.mark.parametrize("phase", PHASES)
def test_cli_ctrl_c_in_each_phase_stops_at_once_and_writes_nothing(phase, files, ctrl_c, monkeypatch, capsys):
    content, style, out = files
    stopper = StopAt(monkeypatch, phase, ctrl_c.set)
    before = snapshot(content.parent)
    code = main.cli(["stylize", str(content), str(style), "-o", str(out / "r.png"), *TWO_SCALES])
    assert stopper.fired and stopper.after_stop == 0
    assert stopper.at_stop == (2 if phase == "scale boundary" else 0)
    assert code == 130 and error_line(capsys.readouterr().err) == "Interrupted: nothing was written."
    assert new_files(before, snapshot(content.parent)) == set()


def interrupt_saves(monkeypatch, signal_name: str = "KeyboardInterrupt", after_bytes: int = 200) -> list:
    """Every image save writes ``after_bytes`` of the real file, then is interrupted. Returns the
    temp files it was writing."""
    real_save = Image.Image.save
    written: list = []

    def save(image, target, *args, **kwargs):
        if isinstance(target, (str, os.PathLike)):
            return real_save(image, target, *args, **kwargs)
        buffer = io.BytesIO()
        real_save(image, buffer, *args, **kwargs)
        target.write(buffer.getvalue()[:after_bytes])
        target.flush()
        written.append(target.name)
        raise KeyboardInterrupt  # Ctrl-C once the run is over: Python's own handler is back

    monkeypatch.setattr(Image.Image, "save", save)
    return written


def test_cli_ctrl_c_while_saving_keeps_the_old_file_and_no_partial_one(files, monkeypatch, capsys):
    content, style, out = files
    out.mkdir()
    old = out / "r.png"
    content_image(20, 10).save(old)  # the result of an earlier run, being replaced
    before = snapshot(content.parent)
    written = interrupt_saves(monkeypatch)
    code = main.cli(["stylize", str(content), str(style), "-o", str(old), *TWO_SCALES])
    assert written and code == 130 and error_line(capsys.readouterr().err) == "Interrupted."
    assert new_files(before, snapshot(content.parent)) == set()  # old file intact, temp file removed


@pytest.fixture
def batch_folder(files):
    content, style, out = files
    folder = content.parent / "in"
    folder.mkdir()
    content_image(48, 36).save(folder / "a.png")
    content_image(36, 48).save(folder / "b.png")
    return folder


def batch_states(out) -> dict:
    return {Path(e["source"]).name: e["state"] for e in batch.read_manifest(out)["impasto_batch"]["items"]}


@pytest.mark.parametrize("phase", PHASES)
def test_batch_stop_in_each_phase_stops_at_once_and_writes_no_image(phase, files, batch_folder, monkeypatch):
    _, style, out = files
    stop = threading.Event()
    stopper = StopAt(monkeypatch, phase, stop.set)
    settings = tiny(styles=[str(style)], size=48, start_size=34)
    summary = batch.run_batch([batch_folder], settings, batch.BatchOptions(str(out)), should_stop=stop.is_set)
    assert stopper.fired and stopper.after_stop == 0
    assert summary.interrupted and summary.done == 0
    assert not list(out.glob("*.png")) and temp_files(out) == []
    assert batch_states(out) == {"a.png": "waiting", "b.png": "waiting"}
    summary = batch.run_batch([batch_folder], settings, batch.BatchOptions(str(out)))  # resumes
    assert summary.done == 2


def test_batch_stop_while_saving_finishes_that_file_and_starts_no_other(files, batch_folder, monkeypatch):
    _, style, out = files
    stop = threading.Event()
    real_save = images.save_image

    def save_while_stop_is_pressed(*args, **kwargs):
        stop.set()
        return real_save(*args, **kwargs)

    monkeypatch.setattr(images, "save_image", save_while_stop_is_pressed)
    evaluations = StopAt(monkeypatch, "weights", lambda: None)  # only counts iterations
    summary = batch.run_batch([batch_folder], tiny(styles=[str(style)]), batch.BatchOptions(str(out)),
                              should_stop=stop.is_set)
    assert summary.interrupted and (summary.done, summary.not_started) == (1, 1)
    assert evaluations.evaluations == 2  # only a.png's two iterations ran
    assert batch_states(out) == {"a.png": "done", "b.png": "waiting"}
    assert images.read_recipe(out / "a_style.png")["styles"] == [str(style)]  # complete, with its recipe
    assert temp_files(out) == []


# ---------------------------------------------------------------- killed in the middle of a save

ROOT = Path(__file__).resolve().parent.parent
# Runs main.py with every image save cut short: 200 bytes of the real file reach the disk, then
# the process is killed (SIGKILL: no handler, no clean-up, as a power cut or the OOM killer).
KILLED_WHILE_SAVING = """
import io, os, signal, sys
sys.path.insert(0, {root!r})
from PIL import Image

real_save = Image.Image.save

def save(image, target, *args, **kwargs):
    if isinstance(target, (str, os.PathLike)):
        return real_save(image, target, *args, **kwargs)
    buffer = io.BytesIO()
    real_save(image, buffer, *args, **kwargs)
    target.write(buffer.getvalue()[:200])
    target.flush()
    os.fsync(target.fileno())
    os.kill(os.getpid(), signal.SIGKILL)

Image.Image.save = save
import main
sys.exit(main.main(sys.argv[1:]))
"""


def run_killed_while_saving(tmp_path, *args: str) -> subprocess.CompletedProcess:
    driver = tmp_path / "killed_while_saving.py"
    driver.write_text(KILLED_WHILE_SAVING.format(root=str(ROOT)), encoding="utf-8")
    process = subprocess.run([sys.executable, str(driver), *args], cwd=tmp_path, capture_output=True, text=True,
                             timeout=300)
    assert process.returncode == -signal.SIGKILL, process.stderr
    return process


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_while_saving_over_an_old_result_leaves_it_whole(files, tmp_path):
    content, style, out = files
    out.mkdir()
    old = out / "r.png"
    content_image(20, 10).save(old)
    old_bytes = old.read_bytes()
    run_killed_while_saving(tmp_path, "stylize", str(content), str(style), "-o", str(old), *FAST)
    assert old.read_bytes() == old_bytes  # the earlier complete result, untouched
    leftovers = temp_files(out)
    assert len(leftovers) == 1 and leftovers[0].stat().st_size == 200  # at most one temp file

    folder = tmp_path / "in"
    folder.mkdir()
    content_image().save(folder / "a.png")
    batch.run_batch([folder], tiny(styles=[str(style)]), batch.BatchOptions(str(out)))  # the next batch there
    assert temp_files(out) == [] and old.read_bytes() == old_bytes


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_batch_killed_while_saving_leaves_no_half_file_and_the_rerun_cleans_up(files, batch_folder, tmp_path):
    _, style, out = files
    run_killed_while_saving(tmp_path, "batch", str(batch_folder), "--style", str(style), "-o", str(out), *FAST)
    assert [p.name for p in out.iterdir() if p.suffix == ".png"] == [temp_files(out)[0].name]  # only the temp
    assert batch_states(out) == {"a.png": "waiting", "b.png": "waiting"}

    summary = batch.run_batch([batch_folder], tiny(styles=[str(style)]), batch.BatchOptions(str(out)))
    assert summary.done == 2 and temp_files(out) == []
    outputs = sorted(p for p in out.iterdir() if p.suffix == ".png")
    assert [p.name for p in outputs] == ["a_style.png", "b_style.png"]
    assert all(images.read_recipe(p) for p in outputs)  # complete files

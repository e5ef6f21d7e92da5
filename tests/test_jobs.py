"""engine.jobs: the one path from inputs to a saved picture, and proof that the command line,
the window and the batch queue all take it (a rule changed there reaches all three)."""

from __future__ import annotations

import pytest
from PIL import Image

import main
from engine import batch, images, jobs
from engine.errors import ImageError
from engine.settings import TransferSettings
from engine.timing import eta
from gui.batch_panel import BatchPanel
from gui.main_window import MainWindow
from tests.helpers import content_image, style_image
from tests.qt_helpers import dialogs  # noqa: F401  (autouse fixture)

FAST = dict(size=32, start_size=32, iterations=2, device="cpu", precision="fp32")
WAIT_MS = 120_000


@pytest.fixture
def inputs(tmp_path):
    content, style, init = tmp_path / "photo.png", tmp_path / "style.png", tmp_path / "start.png"
    rgba = content_image().convert("RGBA")
    rgba.putalpha(Image.new("L", rgba.size, 200))
    rgba.save(content)
    style_image().save(style)
    content_image().save(init)
    return content, style, init


def digest(path) -> bytes:
    return path.read_bytes()


# ---------------------------------------------------------------- the layer itself


def test_style_round_trips_through_settings():
    settings = TransferSettings(styles=["a.png", "b.png"], style_blend=[1.0, 3.0])
    styles = jobs.styles_of(settings)
    assert styles == [jobs.Style("a.png", 1.0), jobs.Style("b.png", 3.0)]
    assert jobs.with_styles(TransferSettings(), styles).style_blend == [1.0, 3.0]
    # a blend list that does not match the styles counts as equal weights
    assert [s.blend for s in jobs.styles_of(settings.replace(style_blend=[2.0]))] == [1.0, 1.0]


def test_a_job_runs_and_saves_with_recipe_alpha_and_exif(inputs, tmp_path):
    content, style, _ = inputs
    out = tmp_path / "out" / "result.png"
    settings = TransferSettings(content=str(content), styles=[str(style)], **FAST)
    frames, shown = [], []
    outcome = jobs.Job(settings, out).run(on_step=frames.append, on_content=shown.append)
    assert not outcome.stopped and outcome.saved is None and frames and len(shown) == 1
    assert shown[0].alpha is not None  # the content's transparency is kept for saving
    saved = jobs.save(outcome, out)
    assert saved == out and outcome.saved == out
    assert images.read_recipe(out) == outcome.settings.recipe(run=outcome.result.run_record())
    assert images.read_recipe(out)["content"] == str(content)
    rgb, alpha = images.load_image_with_alpha(out)
    assert alpha is not None and rgb.size == outcome.image.size


def test_the_whole_job_checks_before_it_runs(inputs, tmp_path, monkeypatch):
    content, style, init = inputs
    settings = TransferSettings(content=str(content), styles=[str(style)], init="image", init_image=str(init), **FAST)
    ran = []
    monkeypatch.setattr(jobs.Job, "run", lambda self, *a, **kw: ran.append(1))
    for protected in (content, style, init):
        before = digest(protected)
        with pytest.raises(ImageError, match="Refusing to overwrite"):
            jobs.Job(settings, protected)()
        assert digest(protected) == before
    assert not ran  # refused before any work


def test_a_stopped_job_writes_nothing(inputs, tmp_path):
    content, style, _ = inputs
    out = tmp_path / "result.png"
    outcome = jobs.Job(TransferSettings(content=str(content), styles=[str(style)], **FAST), out)(should_stop=lambda: True)
    assert outcome.stopped and not out.exists()


def test_one_eta():
    assert eta(10.0, 0, 100) is None
    assert eta(10.0, 25, 75) == pytest.approx(30.0)
    assert eta(10.0, 25, -5) == 0.0


# ---------------------------------------------------------------- one rule, three front ends


@pytest.fixture
def spy(monkeypatch):
    """Counts calls of the one protected-paths rule (TransferSettings.input_paths), which still
    does its work."""
    calls = []
    real = TransferSettings.input_paths

    def input_paths(settings):
        calls.append(settings)
        return real(settings)

    monkeypatch.setattr(TransferSettings, "input_paths", input_paths)
    return calls


def test_cli_refuses_to_overwrite_the_init_image_through_the_job_layer(inputs, spy, capsys):
    content, style, init = inputs
    before = digest(init)
    code = main.cli(["stylize", str(content), str(style), "-o", str(init), "--init-image", str(init),
                     "--size", "32", "--iterations", "2", "--device", "cpu"])
    assert code == 2 and "Refusing to overwrite" in capsys.readouterr().err
    assert digest(init) == before and spy


def test_window_refuses_to_save_over_the_init_image_through_the_job_layer(inputs, spy, qtbot, dialogs):
    content, style, init = inputs
    win = MainWindow()
    qtbot.addWidget(win)
    try:
        win.apply_settings(TransferSettings(init="image", init_image=str(init), preview_interval_ms=0, **FAST))
        assert win.load_content(str(content)) and win.add_styles([str(style)]) == 1
        with qtbot.waitSignal(win.run_finished, timeout=WAIT_MS):
            assert win.start()
        spy.clear()
        before = digest(init)
        assert not win.save_to(str(init))
        assert "Refusing to overwrite" in dialogs.warnings[-1] and spy
        assert digest(init) == before
    finally:
        win.close()


def test_batch_never_writes_over_a_style_image_through_the_job_layer(inputs, spy, tmp_path):
    """An earlier output, now used as a style image: the batch names the new output otherwise."""
    content, style, _ = inputs
    out = tmp_path / "out"
    settings = TransferSettings(styles=[str(style)], **FAST)
    options = batch.BatchOptions(str(out), template="{stem}.png")
    first = batch.run_batch([content], settings, options)
    assert first.done == 1 and spy
    earlier = out / "photo.png"
    spy.clear()
    before = digest(earlier)
    summary = batch.run_batch([content], settings.replace(styles=[str(earlier)]), options)
    assert summary.done == 1 and spy
    assert digest(earlier) == before  # the style image is intact
    assert summary.items[0].output == str(out / "photo-2.png")


def test_batch_item_failure_keeps_the_typed_error(tmp_path):
    broken = tmp_path / "in" / "broken.png"
    broken.parent.mkdir()
    broken.write_bytes(b"not a png")
    style = tmp_path / "style.png"
    style_image().save(style)
    plan = batch.plan_batch([broken.parent], TransferSettings(styles=[str(style)], **FAST),
                            batch.BatchOptions(str(tmp_path / "out")))
    item = plan.items[0]
    assert item.state == "failed" and isinstance(item.error, ImageError) and str(item.error) == item.reason


def test_batch_tab_shares_the_runner_and_its_job_layer(inputs, spy, qtbot, tmp_path):
    content, style, _ = inputs
    panel = BatchPanel(lambda: TransferSettings(styles=[str(style)], **FAST))
    qtbot.addWidget(panel)
    panel.output_edit.setText(str(tmp_path / "panel-out"))
    try:
        assert panel.add_paths([content]) == 1
        with qtbot.waitSignal(panel.run_finished, timeout=WAIT_MS) as finished:
            assert panel.start()
        assert finished.args[0].done == 1 and spy
    finally:
        assert panel.shutdown()


def test_recipe_of_a_stopped_job_says_what_ran(tmp_path):
    """A recipe records iterations done and whether the run stopped (RUN_KEY), which settings
    ignore: re-running it must not pretend the 20 asked for were the picture's 20."""
    from engine.settings import RUN_KEY

    content = tmp_path / "c.png"
    style = tmp_path / "s.png"
    content_image().save(content)
    style_image().save(style)
    settings = TransferSettings(content=str(content), styles=[str(style)], size=32, start_size=32,
                                iterations=20, plateau=0.0, device="cpu", precision="fp32")
    steps = []
    outcome = jobs.Job(settings).run(on_step=steps.append, should_stop=lambda: sum(p.phase == "optimising" for p in steps) >= 4)
    path = jobs.save(outcome, tmp_path / "stopped.png")
    recipe = images.read_recipe(path)
    assert recipe[RUN_KEY] == {"iterations": 4, "planned": 20, "stopped": True}
    assert TransferSettings.from_dict(recipe).iterations == 20  # strict: the run record is no setting

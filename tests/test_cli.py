"""The command line: stylize end to end, exit codes, one-line errors, nothing written on failure."""

import hashlib
import subprocess
import sys
import time

import pytest

import main
from engine import images
from engine.settings import TransferSettings
from tests.conftest import ROOT
from tests.helpers import content_image, style_image

FAST = ["--size", "32", "--iterations", "3", "--device", "cpu"]


@pytest.fixture
def inputs(tmp_path):
    content, style = tmp_path / "photo.jpg", tmp_path / "paint ing é.png"
    content_image().save(content, quality=95)
    style_image().save(style)
    return content, style


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_stylize_writes_image_with_recipe(inputs, tmp_path, capsys):
    content, style = inputs
    out = tmp_path / "out" / "result.webp"
    assert main.cli(["stylize", str(content), str(style), "-o", str(out), *FAST, "--style-weight", "20"]) == 0
    assert "Wrote" in capsys.readouterr().err
    recipe = images.read_recipe(out)
    assert recipe["style_weight"] == 20.0 and recipe["content"] == str(content)
    assert max(images.load_image(out).size) == 32
    assert [p.name for p in out.parent.iterdir()] == ["result.webp"]  # no temp file left


def test_preset_and_flags_combine(inputs, tmp_path):
    content, style = inputs
    out = tmp_path / "r.png"
    assert main.cli(["stylize", str(content), str(style), "-o", str(out), *FAST, "--preset", "Fine texture",
                     "--style-layers", "relu1_1=2,relu2_1"]) == 0
    recipe = images.read_recipe(out)
    assert recipe["style_layers"] == {"relu1_1": 2.0, "relu2_1": 1.0}
    assert recipe["style_scale"] == 0.6  # from the preset


def test_schedule_flags_reach_the_run_and_its_recipe(inputs, tmp_path):
    content, style = inputs
    out = tmp_path / "r.png"
    assert main.cli(["stylize", str(content), str(style), "-o", str(out), "--size", "40", "--start-size", "20",
                     "--iterations", "4", "--iteration-growth", "0.5", "--iteration-side", "28", "--plateau", "0",
                     "--start-share", "1.5", "--no-coarse-content", "--device", "cpu"]) == 0
    recipe = images.read_recipe(out)
    assert (recipe["iteration_growth"], recipe["iteration_side"]) == (0.5, 28)
    assert (recipe["start_share"], recipe["coarse_content"]) == (1.5, False)
    assert recipe["impasto_run"]["iterations"] == sum(TransferSettings.from_dict(recipe).scale_iterations())
    assert TransferSettings.from_dict(recipe).scale_iterations() == [6, 4, 3]  # 4 x 1.5 at 20 px, 4 at 28 px, then 4 x 28 / 40


def test_a_small_style_image_is_used_at_its_own_size_and_said_once(inputs, tmp_path, capsys):
    content, _ = inputs
    small = tmp_path / "small.png"
    style_image(20).save(small)
    out = tmp_path / "r.png"
    assert main.cli(["stylize", str(content), str(small), "-o", str(out), *FAST, "--start-size", "16"]) == 0
    err = capsys.readouterr().err
    assert err.count("small.png is only 20 px") == 1, err  # two scales (16, 23 and 32 px), one note

    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        content_image().save(folder / name)
    assert main.cli(["batch", str(folder), "--style", str(small), "-o", str(tmp_path / "out"), *FAST]) == 0
    err = capsys.readouterr().err
    assert err.count("small.png is only 20 px") == 1, err  # once for the batch, not once per image


@pytest.mark.parametrize("make_args, message", [
    (lambda c, s, t: [str(t / "missing.jpg"), str(s), "-o", str(t / "o.png")], "not found"),
    (lambda c, s, t: [str(c), str(s), "-o", str(c)], "Refusing to overwrite the input"),
    (lambda c, s, t: [str(c), str(s), "-o", str(t / "o.gif")], "unknown file type"),
    (lambda c, s, t: [str(c), str(s), "-o", str(t / "o.png"), "--size", "4"], "size must be between"),
    (lambda c, s, t: [str(c), str(s), "-o", str(t / "o.png"), "--style-layers", "relu7_1=1"], "unknown VGG19 layer"),
    (lambda c, s, t: [str(c), str(s), "-o", str(t / "o.png"), "--style-weights", "1", "2"], "2 style weights"),
    (lambda c, s, t: [str(c), str(s), "-o", str(t / "o.png"), "--preset", "nope"], "No preset"),
    (lambda c, s, t: [str(c), str(s), "-o", str(t / "o.png"), "--device", "cuda:3"], "CUDA is not available"),
    (lambda c, s, t: [str(c), str(t / "fake.jpg"), "-o", str(t / "o.png")], "fake.jpg"),
    (lambda c, s, t: [str(c)], "required"),
    (lambda c, s, t: [str(c), str(s), "-o", str(t / "o.png"), "--iteration-growth", "0.1"], "iteration_growth must be"),
    (lambda c, s, t: [str(c), str(s), "-o", str(t / "o.png"), "--iteration-side", "8"], "iteration_side must be"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(inputs, tmp_path, capsys, make_args, message):
    content, style = inputs
    (tmp_path / "fake.jpg").write_text("this is not a JPEG")
    before = {p.name: digest(p) for p in tmp_path.iterdir() if p.is_file()}
    # The fast flags come first so that the case's own flags win.
    code = main.cli(["stylize", "--size", "32", "--iterations", "2", *make_args(content, style, tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    after = {p.name: digest(p) for p in tmp_path.iterdir() if p.is_file()}
    assert after == before  # inputs byte-identical, nothing new written


def test_stylize_never_writes_over_the_init_image(inputs, tmp_path, monkeypatch, capsys):
    content, style = inputs
    start = tmp_path / "start.png"
    content_image().save(start)
    before = digest(start)
    code = main.cli(["stylize", str(content), str(style), "-o", str(start), *FAST, "--init-image", str(start)])
    assert code == 2 and "Refusing to overwrite the input image start.png" in capsys.readouterr().err
    assert digest(start) == before

    protected = []  # what the save itself refuses to overwrite, not only the check before the run
    real_save = images.save_image
    monkeypatch.setattr(images, "save_image", lambda *a, **kw: protected.append(kw["inputs"]) or real_save(*a, **kw))
    assert main.cli(["stylize", str(content), str(style), "-o", str(tmp_path / "o.png"), *FAST,
                     "--init-image", str(start)]) == 0
    assert protected == [[str(content), str(style), str(start)]]


def test_real_process_exit_codes_and_selftest(inputs, tmp_path):
    content, style = inputs
    bad = subprocess.run([sys.executable, "main.py", "stylize", str(content), str(tmp_path / "nope.png"),
                          "-o", str(tmp_path / "o.png")], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    selftest = subprocess.run([sys.executable, "main.py", "--selftest"], cwd=ROOT, capture_output=True, text=True)
    assert selftest.returncode == 0, selftest.stderr
    assert "selftest ok" in selftest.stderr


# Runs main.py's entry point in a fresh interpreter, then lists the heavy modules it imported.
STARTUP = """
import sys, time
started = time.perf_counter()
sys.argv = ["main.py", *{argv!r}]
import main
try:
    code = main.main()
except SystemExit as exc:  # argparse's --help
    code = exc.code
heavy = [name for name in ("torch", "torchvision", "PySide6", "numpy", "PIL") if name in sys.modules]
print("STARTUP", code, round(time.perf_counter() - started, 3), *heavy, file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["--help"], ["stylize", "--help"], ["batch", "--help"], ["explore", "--help"],
                                  ["--version"]])
def test_help_and_version_do_not_import_torch(argv):
    """A cold start of torch takes seconds; help and the version must come back at once."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", STARTUP.format(argv=argv)], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    _, code, seconds, *heavy = done.stderr.strip().splitlines()[-1].split()
    print(f"main.py {' '.join(argv)}: {float(seconds) * 1000:.0f} ms in main.py, {wall * 1000:.0f} ms with the "
          f"interpreter; imported {heavy or 'nothing heavy'}")
    assert code in ("0", "None") and heavy == []
    assert ("Impasto 0.1.0" if argv == ["--version"] else "usage:") in done.stdout


def test_interrupt_writes_nothing_and_exits_130(inputs, tmp_path, monkeypatch):
    from cli import common

    content, style = inputs
    out = tmp_path / "o.png"

    class PressedCtrlC:
        def __enter__(self):
            import threading

            event = threading.Event()
            event.set()
            return event

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr("cli.common.interrupt_flag", PressedCtrlC)
    assert main.cli(["stylize", str(content), str(style), "-o", str(out), *FAST]) == common.EXIT_INTERRUPTED
    assert not out.exists()

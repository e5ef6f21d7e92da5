"""``main.py explore``: writes a labelled sheet, refuses bad input with exit 2 and one line."""

import hashlib

import pytest
from PIL import Image

import main
from engine import images
from tests.helpers import content_image, style_image

FAST = ["--size", "32", "--iterations", "3", "--device", "cpu"]


@pytest.fixture
def inputs(tmp_path):
    content, style = tmp_path / "photo.jpg", tmp_path / "painting.png"
    content_image().save(content, quality=95)
    style_image().save(style)
    return content, style


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_defaults_match_the_engine():
    from cli import explore as cli_explore
    from engine import explore

    names = ("WHATS", "DEFAULT_SIZE", "DEFAULT_ITERATIONS", "DEFAULT_FEATURE_LAYER")
    assert [getattr(cli_explore, name) for name in names] == [getattr(explore, name) for name in names]


def test_content_row_sheet(inputs, tmp_path, capsys):
    content, _ = inputs
    out = tmp_path / "sheets" / "content.png"
    assert main.cli(["explore", str(content), "--what", "content", "-o", str(out), *FAST]) == 0
    assert "Wrote" in capsys.readouterr().err
    recipe = images.read_recipe(out)
    assert recipe["impasto_explorer"] == {
        "what": "content", "layer": None, "channel": None, "size": 32, "iterations": 3, "stopped": False,
    }
    with Image.open(out) as sheet:
        assert sheet.width > 6 * 96  # the original and five reconstructions side by side
    assert [p.name for p in out.parent.iterdir()] == ["content.png"]  # no temp file left


def test_style_sheet_uses_the_image_as_style_when_no_style_is_given(inputs, tmp_path):
    _, style = inputs
    out = tmp_path / "style.jpg"
    assert main.cli(["explore", str(style), "--what", "style", "--layer", "conv2_1", "-o", str(out), *FAST]) == 0
    recipe = images.read_recipe(out)
    assert recipe["styles"] == [str(style)] and recipe["impasto_explorer"]["layer"] == "conv2_1"


def test_features_sheet_with_style_patches(inputs, tmp_path):
    content, style = inputs
    out = tmp_path / "features.png"
    args = ["explore", str(content), "--style", str(style), "--what", "features", "--layer", "conv2_1",
            "--channel", "7", "-o", str(out), "--size", "40", "--device", "cpu"]
    assert main.cli(args) == 0
    recipe = images.read_recipe(out)
    assert recipe["impasto_explorer"]["channel"] == 7 and recipe["styles"] == [str(style)]


@pytest.mark.parametrize("make_args, message", [
    (lambda c, s, t: [str(t / "missing.jpg"), "--what", "content", "-o", str(t / "o.png")], "not found"),
    (lambda c, s, t: [str(c), "--what", "content", "-o", str(c)], "Refusing to overwrite the input"),
    (lambda c, s, t: [str(c), "--style", str(s), "--what", "features", "-o", str(s)], "Refusing to overwrite"),
    (lambda c, s, t: [str(c), "--what", "content", "-o", str(t / "o.gif")], "unknown file type"),
    (lambda c, s, t: [str(c), "--what", "colour", "-o", str(t / "o.png")], "invalid choice"),
    (lambda c, s, t: [str(c), "-o", str(t / "o.png")], "required: --what"),
    (lambda c, s, t: [str(c), "--what", "content", "--layer", "conv6_1", "-o", str(t / "o.png")], "Unknown VGG19"),
    (lambda c, s, t: [str(c), "--what", "features", "--channel", "64", "--layer", "relu1_2", "-o", str(t / "o.png")],
     "channels 0 to 63"),
    (lambda c, s, t: [str(c), "--what", "content", "--size", "4", "-o", str(t / "o.png")], "Size must be"),
    (lambda c, s, t: [str(c), "--what", "content", "--iterations", "0", "-o", str(t / "o.png")], "Iterations"),
    (lambda c, s, t: [str(c), "--what", "content", "--device", "cuda:3", "-o", str(t / "o.png")], "CUDA"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(inputs, tmp_path, capsys, make_args, message):
    content, style = inputs
    before = {p.name: digest(p) for p in tmp_path.iterdir()}
    assert main.cli(["explore", *make_args(content, style, tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err
    assert {p.name: digest(p) for p in tmp_path.iterdir()} == before


def test_interrupt_writes_nothing(inputs, tmp_path, monkeypatch, capsys):
    import cli.common

    class SetAtOnce:
        def is_set(self):
            return True

    class Flag:
        def __enter__(self):
            return SetAtOnce()

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr("cli.common.interrupt_flag", lambda: Flag())
    out = tmp_path / "never.png"
    assert main.cli(["explore", str(inputs[0]), "--what", "content", "-o", str(out), *FAST]) == \
        cli.common.EXIT_INTERRUPTED
    assert not out.exists() and "nothing was written" in capsys.readouterr().err

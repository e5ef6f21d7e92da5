"""The hardening matrix through the command line: ``main.py stylize`` and ``main.py batch`` with
every bad or unusual input (tests/test_robustness_cases.py) and every broken destination.

Bad input: exit 2, one line naming the problem, nothing written. Unusual but valid input: the
engine gets the image the right way round in the right colours, and the output has the content's
size and keeps its transparency. The output's other pixels are not checked: they depend on the
numerics the device policy picks (bf16 or fp32). Inputs always stay byte-identical.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import main
from engine import batch
from tests.helpers import style_image
from tests.test_robustness_cases import (
    BAD, CASES, DESTINATION_FAULTS, GOOD, SMALL_GOOD, break_destination, check_engine_input, check_stylized_output,
    error_line, make_case, new_files, one_line, record_engine_inputs, snapshot, temp_files, two_tone,
)

FAST = ["--size", "32", "--iterations", "1", "--device", "cpu"]


@pytest.fixture
def folders(tmp_path):
    """(inputs folder with a plain photo and a style, output folder, whole tmp folder)."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    two_tone(40, 30).save(inputs / "plain.png")
    style_image().save(tmp_path / "style.png")
    return inputs, tmp_path / "out", tmp_path


def stylize(content: Path, style: Path, output: Path, *extra: str) -> int:
    return main.cli(["stylize", str(content), str(style), "-o", str(output), *FAST, *extra])


def run_batch_cli(inputs, style: Path, out: Path, *extra: str) -> int:
    return main.cli(["batch", *map(str, inputs), "--style", str(style), "-o", str(out), *FAST, *extra])


# ---------------------------------------------------------------- stylize


@pytest.mark.parametrize("role", ["content", "style"])
@pytest.mark.parametrize("name", BAD)
def test_stylize_refuses_bad_input_in_one_line(name, role, folders, capsys):
    inputs, out, root = folders
    bad = make_case(name, inputs)
    plain, style = inputs / "plain.png", root / "style.png"
    before = snapshot(root)
    code = stylize(bad, style, out / "result.png") if role == "content" else stylize(plain, bad, out / "result.png")
    err = one_line(capsys.readouterr().err)
    assert code == 2
    assert CASES[name].error in err and bad.name in err
    assert new_files(before, snapshot(root)) == set()  # no output, no temp file, inputs unchanged


@pytest.mark.parametrize("name", GOOD)
def test_stylize_takes_unusual_content_correctly(name, folders, monkeypatch, capsys):
    inputs, out, root = folders
    content = make_case(name, inputs)
    engine = record_engine_inputs(monkeypatch)
    before = snapshot(root)
    output = out / "résultat 1.png"  # a unicode, space-laden output name too
    assert stylize(content, root / "style.png", output) == 0, capsys.readouterr().err
    assert "Wrote" in capsys.readouterr().err
    assert new_files(before, snapshot(root)) == {"out/résultat 1.png"}
    check_engine_input(CASES[name], engine.contents[0])
    check_stylized_output(CASES[name], output)


@pytest.mark.parametrize("name", SMALL_GOOD)
def test_stylize_takes_unusual_style_images(name, folders, monkeypatch, capsys):
    inputs, out, root = folders
    style = make_case(name, inputs)
    engine = record_engine_inputs(monkeypatch)
    before = snapshot(root)
    assert stylize(inputs / "plain.png", style, out / "result.png", "--iterations", "2") == 0, capsys.readouterr().err
    assert new_files(before, snapshot(root)) == {"out/result.png"}
    [styles] = engine.styles
    assert len(styles) == 1
    check_engine_input(CASES[name], styles[0])  # the style targets come from the right picture
    plain = CASES["unicode and spaces in path"]  # the plain two-tone content
    check_engine_input(plain, engine.contents[0])
    check_stylized_output(plain, out / "result.png")


@pytest.mark.parametrize("fault", DESTINATION_FAULTS)
def test_stylize_to_a_broken_destination_writes_nothing(fault, folders, monkeypatch, capsys):
    inputs, out, root = folders
    out.mkdir()
    (out / "earlier.png").write_bytes((inputs / "plain.png").read_bytes())  # an older result being replaced
    message = break_destination(monkeypatch, fault)
    before = snapshot(root)
    assert stylize(inputs / "plain.png", root / "style.png", out / "earlier.png") == 2
    err = error_line(capsys.readouterr().err)
    assert message in err and "earlier.png" in err
    assert new_files(before, snapshot(root)) == set()  # the older result is intact, no temp file


# ---------------------------------------------------------------- batch


@pytest.mark.parametrize("name", BAD)
def test_batch_reports_a_bad_file_and_goes_on(name, folders, capsys):
    inputs, out, root = folders
    bad = make_case(name, inputs)
    before = snapshot(root)
    assert run_batch_cli([inputs], root / "style.png", out) == 2
    captured = capsys.readouterr()
    failed = [line for line in captured.err.splitlines() if line.startswith("failed") or "] failed" in line]
    assert len(failed) == 1 and bad.name in failed[0] and CASES[name].error in failed[0]
    assert "Batch: 1 done, 0 skipped, 1 failed" in captured.out
    written = new_files(before, snapshot(root))
    assert {name for name in written if not name.startswith("out/impasto-batch")} == {"out/plain_style.png"}
    states = {Path(e["source"]).name: e["state"] for e in batch.read_manifest(out)["impasto_batch"]["items"]}
    assert states == {"plain.png": "done", bad.name: "failed"}


@pytest.mark.parametrize("name", SMALL_GOOD)
def test_batch_takes_unusual_inputs_correctly(name, folders, monkeypatch, capsys):
    inputs, out, root = folders
    source = make_case(name, inputs)
    (inputs / "plain.png").unlink()
    engine = record_engine_inputs(monkeypatch)
    before = snapshot(root)
    assert run_batch_cli([source], root / "style.png", out) == 0, capsys.readouterr().err
    assert "Batch: 1 done, 0 skipped, 0 failed" in capsys.readouterr().out
    output = out / f"{source.stem}_style.png"
    assert output.is_file() and temp_files(out) == []
    check_engine_input(CASES[name], engine.contents[0])
    check_stylized_output(CASES[name], output)
    new_files(before, snapshot(root))


@pytest.mark.parametrize("name", BAD)
def test_batch_with_a_bad_style_stops_in_one_line_before_any_image(name, folders, capsys):
    inputs, out, root = folders
    bad_style = make_case(name, root / "styles")
    before = snapshot(root)
    assert run_batch_cli([inputs], bad_style, out) == 2
    last = error_line(capsys.readouterr().err)
    assert CASES[name].error in last and bad_style.name in last
    assert not [name for name in new_files(before, snapshot(root)) if name.endswith(".png")]


@pytest.mark.parametrize("fault", DESTINATION_FAULTS)
def test_batch_to_a_broken_destination_stops_and_resumes(fault, folders, capsys):
    inputs, out, root = folders
    two_tone(30, 40).save(inputs / "second.png")
    before = snapshot(root)
    with pytest.MonkeyPatch.context() as patch:
        message = break_destination(patch, fault)
        assert run_batch_cli([inputs], root / "style.png", out) == 2
    captured = capsys.readouterr()
    last = error_line(captured.err)
    assert "Batch stopped" in last and message in last
    assert "0 done" in captured.out
    written = new_files(before, snapshot(root))
    assert not [name for name in written if name.endswith(".png")] and temp_files(root) == []

    # the disk has room again / the folder is writable again: the same command resumes
    assert run_batch_cli([inputs], root / "style.png", out) == 0
    assert "Batch: 2 done, 0 skipped, 0 failed" in capsys.readouterr().out
    assert (out / "plain_style.png").is_file() and (out / "second_style.png").is_file()


@pytest.mark.parametrize("fmt", ["jpg", "png"])
@pytest.mark.parametrize("name", ["alpha", "palette+transparency"])
def test_transparent_input_shows_white_where_it_was_transparent_in_any_format(name, fmt, folders, capsys):
    """A JPEG has no alpha channel: what was transparent must come out white (as load_image shows
    the input), not as the colour hidden under the transparency (black, green...)."""
    inputs, out, root = folders
    source = make_case(name, inputs)
    case = CASES[name]
    assert stylize(source, root / "style.png", out / f"result.{fmt}") == 0, capsys.readouterr().err
    check_stylized_output(case, out / f"result.{fmt}", alpha_kept=fmt == "png")  # a JPEG cannot keep it
    assert run_batch_cli([source], root / "style.png", out / "batch", "--format", fmt) == 0
    check_stylized_output(case, out / "batch" / f"{source.stem}_style.{fmt}", alpha_kept=fmt == "png")


@pytest.mark.parametrize("fault", ["read-only folder", "read-only file system"])
def test_stylize_to_a_read_only_folder_fails_before_the_run(fault, folders, monkeypatch, capsys):
    """Minutes of work must not be spent on an image that cannot be written."""
    from engine import transfer

    inputs, out, root = folders
    out.mkdir()
    message = break_destination(monkeypatch, fault)
    evaluations = []
    real_closure = transfer._Run._closure
    monkeypatch.setattr(transfer._Run, "_closure", lambda *args: evaluations.append(1) or real_closure(*args))
    assert stylize(inputs / "plain.png", root / "style.png", out / "result.png") == 2
    assert message in error_line(capsys.readouterr().err)
    assert evaluations == []

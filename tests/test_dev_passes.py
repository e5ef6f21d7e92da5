"""tools/pytest_passes.py: `./dev.sh test` runs pytest twice on a bf16 CPU, and the second run's
closing line (what CI reads) must count both runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

DEMO = """
import os, pytest
FP32 = os.environ.get("IMPASTO_CPU_BF16") == "0"
def test_both(): pass
def test_fails_on_bf16(): assert FP32, "bf16 only"
def test_fails_on_fp32(): assert not FP32, "fp32 only"
def test_skipped(): pytest.skip("no images")
"""


def _pytest(folder: Path, *args: str, fp32: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IMPASTO_CPU_BF16": "0" if fp32 else "1"}
    env.pop("PYTEST_ADDOPTS", None)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # no Qt or hypothesis plugins: faster
    command = [sys.executable, "-m", "pytest", "-ra", "-p", "no:cacheprovider",
               "-p", "tools.pytest_passes", "--rootdir", str(folder), "-c", os.devnull, *args, "test_demo.py"]
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def test_second_run_closing_line_counts_both_runs(tmp_path):
    (tmp_path / "test_demo.py").write_text(DEMO, encoding="utf-8")
    saved = tmp_path / "first.json"
    first = _pytest(tmp_path, "--pass-name", "bf16 pass", "--pass-save", str(saved))
    assert first.returncode == 1 and saved.is_file(), first.stdout[-2000:]
    second = _pytest(tmp_path, "--pass-name", "fp32 pass", "--pass-carry", str(saved), fp32=True)
    assert second.returncode == 1, second.stdout[-2000:]
    lines = second.stdout.splitlines()
    assert "2 failed, 4 passed, 2 skipped" in lines[-1]
    assert "bf16 pass: 1 failed, 2 passed, 1 skipped" in second.stdout
    assert "fp32 pass: 1 failed, 2 passed, 1 skipped" in second.stdout
    assert any(line.startswith("FAILED test_demo.py::test_fails_on_bf16 - [bf16 pass]") for line in lines)
    assert any(line.startswith("FAILED test_demo.py::test_fails_on_fp32 - AssertionError") for line in lines)


def test_a_first_run_that_left_no_results_counts_as_an_error(tmp_path):
    (tmp_path / "test_demo.py").write_text(DEMO, encoding="utf-8")
    second = _pytest(tmp_path, "--pass-carry", str(tmp_path / "missing.json"), "--pass-carry-status", "134",
                     "-k", "both")
    assert second.returncode == 0  # this run's own exit code; dev.sh fails on the first run's
    assert "1 passed, 3 deselected, 1 error" in second.stdout.splitlines()[-1]
    assert "exited with code 134" in second.stdout

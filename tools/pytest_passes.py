"""pytest plugin for `./dev.sh test`, which runs pytest twice on a CPU with native bf16: the whole
suite (the engine's bf16 fast path), then the engine/CLI tests again with IMPASTO_CPU_BF16=0
(the fp32 path). CI reads the closing lines of the output, so the second run's closing summary
must count both runs:

    python -m pytest -p tools.pytest_passes --pass-name "bf16 pass" --pass-save FILE
    IMPASTO_CPU_BF16=0 python -m pytest -p tools.pytest_passes --pass-name "fp32 pass" \\
        --pass-carry FILE --pass-carry-status $? tests/test_engine.py ...

--pass-save writes this run's results to FILE (JSON). --pass-carry folds the results in FILE
into this run's terminal summary: a "passes" section with each run's own result, the earlier
run's failures, errors, skips and xfails in the short test summary (marked with its name), and
the earlier run's counts and time in the closing line. If FILE is missing (the earlier run
crashed), the closing line counts one error instead. Only pytest's output changes; each run's
exit code stays its own.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

# Not carried: setup/teardown passes (not counted by pytest either) and warnings, which pytest
# would show again as a "warnings summary (final)"; the "passes" section has their count.
_NOT_CARRIED = ("", "warnings")
# Imported with -p, before pytest starts its clock: this run's time, near enough.
_STARTED = time.perf_counter()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("passes", "several pytest runs reported as one (./dev.sh test)")
    group.addoption("--pass-name", default="this pass", help="how this run is named in the combined summary")
    group.addoption("--pass-save", metavar="FILE", help="write this run's results to FILE")
    group.addoption("--pass-carry", metavar="FILE", help="fold the results an earlier run saved in FILE into this run's summary")
    group.addoption("--pass-carry-status", type=int, default=0, metavar="N",
                    help="the exit status of that earlier run (reported if FILE is missing)")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_Passes(config), "impasto-passes")


def _message(report) -> str:
    longrepr = getattr(report, "longrepr", None)
    if isinstance(longrepr, str):
        return longrepr
    crash = getattr(longrepr, "reprcrash", None)
    return crash.message if crash is not None else str(longrepr or "")


def _summary_line(terminal, seconds: float) -> str:
    parts, _ = terminal.build_summary_stats_line()
    return f"{', '.join(text for text, _ in parts)} in {seconds:.2f}s"


class _Passes:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.name = config.getoption("pass_name")
        self.started = _STARTED

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        target = self.config.getoption("pass_save")
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if not target or terminal is None:
            return
        reports: dict[str, list[dict]] = {}
        counts: dict[str, int] = {}
        for key, found in terminal.stats.items():
            shown = [r for r in found if getattr(r, "count_towards_summary", True)]
            if key in _NOT_CARRIED or not shown:
                continue
            if key in ("passed", "deselected") or not hasattr(shown[0], "outcome"):
                counts[key] = len(shown)
                continue
            reports[key] = [{
                "nodeid": r.nodeid,
                "location": list(r.location) if getattr(r, "location", None) else [r.nodeid, None, ""],
                "when": getattr(r, "when", None) or "setup",
                "outcome": r.outcome,
                "longrepr": list(r.longrepr) if key == "skipped" and isinstance(r.longrepr, tuple) else _message(r),
                "skip_keywords": [k for k in ("skip", "pytestmark") if k in getattr(r, "keywords", {})],
                "wasxfail": getattr(r, "wasxfail", None),
            } for r in shown]
        seconds = time.perf_counter() - self.started
        result = {"name": self.name, "status": int(session.exitstatus), "seconds": seconds,
                  "summary": _summary_line(terminal, seconds), "counts": counts, "reports": reports}
        Path(target).write_text(json.dumps(result), encoding="utf-8")

    @pytest.hookimpl(tryfirst=True)
    def pytest_terminal_summary(self, terminalreporter) -> None:
        source = self.config.getoption("pass_carry")
        if not source:
            return
        tr = terminalreporter
        this_run = _summary_line(tr, time.perf_counter() - self.started)
        try:
            earlier = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            status = self.config.getoption("pass_carry_status")
            earlier = {"name": "earlier pass", "seconds": 0.0, "counts": {},
                       "summary": f"exited with code {status} and left no results in {source}",
                       "reports": {"error": [{
                           "nodeid": "earlier pass", "location": [source, None, ""], "when": "setup",
                           "outcome": "failed", "skip_keywords": [], "wasxfail": None,
                           "longrepr": f"exited with code {status} and left no results (its output is above)"}]}}
        tr.write_sep("=", "passes")
        tr.write_line(f"{earlier['name']}: {earlier['summary']}")
        tr.write_line(f"{self.name}: {this_run}")
        tag = f"[{earlier['name']}]"
        for key, count in earlier["counts"].items():
            tr.stats.setdefault(key, []).extend(SimpleNamespace() for _ in range(count))
        for key, entries in earlier["reports"].items():
            for entry in entries:
                longrepr = entry["longrepr"]
                if isinstance(longrepr, list):  # a skip: (path, line, reason)
                    prefix = "Skipped: " if longrepr[2].startswith("Skipped: ") else ""
                    longrepr = (longrepr[0], longrepr[1], f"{prefix}{tag} {longrepr[2][len(prefix):]}")
                else:
                    longrepr = f"{tag} {longrepr}".rstrip()
                extra = {"wasxfail": f"{tag} {entry['wasxfail']}".rstrip()} if entry["wasxfail"] is not None else {}
                report = pytest.TestReport(
                    entry["nodeid"], tuple(entry["location"]), dict.fromkeys(entry["skip_keywords"], 1),
                    entry["outcome"], longrepr, entry["when"], **extra)
                tr.stats.setdefault(key, []).append(report)
        self._add_time(tr, earlier["seconds"])

    @staticmethod
    def _add_time(tr, seconds: float) -> None:
        """Make the closing line's time cover the earlier run too. pytest has no public way to do
        this; if its private start instant changes shape, the line shows this run's time only."""
        start = getattr(tr, "_session_start", None)
        try:
            earlier = copy.copy(start)
            object.__setattr__(earlier, "perf_count", start.perf_count - seconds)
            object.__setattr__(earlier, "time", start.time - seconds)
        except (AttributeError, TypeError):
            return
        tr._session_start = earlier

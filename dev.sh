#!/bin/sh
# Impasto developer entry point. Sets everything up in .venv on first use, then:
#   ./dev.sh run [ARGS...]   start the app (no ARGS: the window), e.g. ./dev.sh run --selftest
#   ./dev.sh test            what CI runs: check the lock, run the whole test suite, and on a CPU
#                            with native bf16 run the engine/CLI tests again on the fp32 path
#   ./dev.sh test ARGS...    plain pytest with these ARGS
#   ./dev.sh bench           run the benchmarks in bench/
#   ./dev.sh build           build the standalone app into dist/Impasto
#   ./dev.sh lock [ARGS...]  re-resolve uv.lock from pyproject.toml (ARGS go to `uv lock`, e.g.
#                            --upgrade) and re-export requirements/*.txt from it
#   ./dev.sh lock --check    fail if uv.lock or requirements/*.txt disagree with pyproject.toml
set -eu
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
VENV=.venv
# uv only reads and writes the lock here; it never fetches a Python of its own.
UV_PYTHON_DOWNLOADS=never
export UV_PYTHON_DOWNLOADS
# The test files whose runs go through the engine's CPU precision policy (precision "auto": bf16
# autocast where the CPU has it, fp32 otherwise; engine/devices.py autocast_dtype). On a bf16 CPU
# `./dev.sh test` runs them a second time with IMPASTO_CPU_BF16=0, so the fp32 path is tested too.
# Found by logging each test that reaches that policy, subprocesses included. Not listed: files
# that name their precision (test_engine.py, test_gui.py, ...) or never run a transfer.
FP32_TESTS="tests/test_cli.py tests/test_robustness_cli.py tests/test_batch.py tests/test_robustness_faults.py
tests/test_security.py tests/test_gui_batch.py tests/test_robustness_gui_faults.py"

# requirements/SET.txt is exported from uv.lock: every package, direct or not, pinned with its
# hashes. Installed with pip (which also takes matching wheels from a local cache or find-links).
# A stamp per set holds the checksum of the file installed, so afterwards this is one cheap check.
setup() {
    req=requirements/$1.txt
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    want=$(cksum < "$req")
    if [ ! -f "$VENV/.impasto-$1" ] || [ "$(cat "$VENV/.impasto-$1")" != "$want" ]; then
        rm -f "$VENV/.impasto-$1"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$req"
        echo "$want" > "$VENV/.impasto-$1"
        # Sync: drop what no installed set lists any more (left over from an older lock).
        in_use=
        for set in run dev build; do
            if [ -f "$VENV/.impasto-$set" ]; then in_use="$in_use requirements/$set.txt"; fi
        done
        # shellcheck disable=SC2086
        "$VENV/bin/python" - $in_use <<'PY'
import re, subprocess, sys
from importlib import metadata

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

listed = {"pip"}
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as file:
        listed |= {norm(m[1]) for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", file.read(), re.M)}
extra = sorted({norm(d.metadata["Name"]) for d in metadata.distributions() if d.metadata["Name"]} - listed)
if extra:
    print("dev.sh: removing from .venv what uv.lock no longer lists:", " ".join(extra))
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "--quiet", "--yes", *extra], check=True)
PY
    fi
}

# The export of uv.lock for one use: run (the app), dev (tests, benchmarks, uv), build (PyInstaller).
export_requirements() {
    case $1 in
        run) "$VENV/bin/uv" export --frozen --format requirements-txt --no-emit-project ;;
        *)   "$VENV/bin/uv" export --frozen --format requirements-txt --no-emit-project --extra "$1" ;;
    esac
}

check_lock() {
    if ! "$VENV/bin/uv" lock --check --quiet; then
        echo "dev.sh: uv.lock does not match pyproject.toml; run ./dev.sh lock and commit uv.lock and requirements/" >&2
        return 1
    fi
    for set in run dev build; do
        if ! export_requirements "$set" | cmp -s - "requirements/$set.txt"; then
            echo "dev.sh: requirements/$set.txt is not the export of uv.lock; run ./dev.sh lock and commit requirements/" >&2
            return 1
        fi
    done
}

lock() {
    if [ "${1:-}" = --check ]; then
        check_lock && echo "dev.sh: uv.lock and requirements/*.txt match pyproject.toml"
        return
    fi
    "$VENV/bin/uv" lock "$@"
    for set in run dev build; do
        export_requirements "$set" > "requirements/$set.txt"
    done
    echo "dev.sh: wrote uv.lock and requirements/{run,dev,build}.txt; commit them with pyproject.toml"
}

# The whole suite; then, where the engine takes the bf16 fast path on this CPU, FP32_TESTS again
# with IMPASTO_CPU_BF16=0. The second pass folds the first one's results into its closing summary
# (tools/pytest_passes.py), so the last lines printed count both passes; the exit code is the
# first failing pass's.
test_all() {
    check_lock
    cpu_path=$("$VENV/bin/python" -c 'import torch; from engine import devices
print("bf16" if devices.autocast_dtype(torch.device("cpu")) == torch.bfloat16 else "fp32")')
    if [ "$cpu_path" = fp32 ]; then
        echo "dev.sh test: numerics: the fp32 path only (this CPU has no native bf16, or IMPASTO_CPU_BF16=0): one pass, the whole suite"
        exec "$VENV/bin/python" -m pytest
    fi
    # shellcheck disable=SC2086
    echo "dev.sh test: numerics: this CPU has native bf16, so both paths run: pass 1 = the whole suite" \
        "on the bf16 fast path; pass 2 =" $FP32_TESTS "again on the fp32 path (IMPASTO_CPU_BF16=0)"
    results=$VENV/.impasto-pass1.json
    rm -f "$results"
    first=0
    "$VENV/bin/python" -m pytest -p tools.pytest_passes --pass-name "bf16 pass" --pass-save "$results" || first=$?
    [ "$first" -eq 2 ] && exit 2  # interrupted: no second pass
    echo
    echo "dev.sh test: pass 2 of 2: the fp32 path (IMPASTO_CPU_BF16=0); its summary counts both passes"
    second=0
    # shellcheck disable=SC2086
    IMPASTO_CPU_BF16=0 "$VENV/bin/python" -m pytest -p tools.pytest_passes --pass-name "fp32 pass" \
        --pass-carry "$results" --pass-carry-status "$first" $FP32_TESTS || second=$?
    [ "$first" -ne 0 ] && exit "$first"
    exit "$second"
}

command=${1:-run}
[ $# -gt 0 ] && shift
case "$command" in
    run)   setup run;       exec "$VENV/bin/python" main.py "$@" ;;
    test)  setup dev;       [ $# -gt 0 ] && exec "$VENV/bin/python" -m pytest "$@"; test_all ;;
    bench) setup dev;       for b in bench/bench_*.py; do "$VENV/bin/python" "$b"; done ;;
    build) setup build;     exec "$VENV/bin/python" -m PyInstaller --noconfirm --clean build.spec "$@" ;;
    lock)  setup dev;       lock "$@" ;;
    *) echo "usage: ./dev.sh run|test|bench|build|lock [ARGS...]" >&2; exit 2 ;;
esac

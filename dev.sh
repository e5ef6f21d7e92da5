#!/bin/sh
# Impasto developer entry point. Sets everything up in .venv on first use, then:
#   ./dev.sh run [ARGS...]   start the app (no ARGS: the window), e.g. ./dev.sh run --selftest
#   ./dev.sh test [ARGS...]  run the test suite (ARGS go to pytest)
#   ./dev.sh bench           run the benchmarks in bench/
#   ./dev.sh build           build the standalone app into dist/Impasto
set -eu
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.impasto-deps

setup() {
    extras=$1
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    want="$extras $(cat pyproject.toml | cksum)"
    if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
        # The dependency list lives in pyproject.toml alone; read it with tomllib.
        "$VENV/bin/python" - "$extras" > "$VENV/requirements.txt" <<'PY'
import sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
deps = list(project["dependencies"])
for extra in filter(None, sys.argv[1].split(",")):
    deps += project["optional-dependencies"][extra]
print("\n".join(deps))
PY
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$VENV/requirements.txt"
        echo "$want" > "$STAMP"
    fi
}

command=${1:-run}
[ $# -gt 0 ] && shift
case "$command" in
    run)   setup "";        exec "$VENV/bin/python" main.py "$@" ;;
    test)  setup "dev";     exec "$VENV/bin/python" -m pytest "$@" ;;
    bench) setup "dev";     for b in bench/bench_*.py; do "$VENV/bin/python" "$b"; done ;;
    build) setup "build";   exec "$VENV/bin/python" -m PyInstaller --noconfirm --clean build.spec "$@" ;;
    *) echo "usage: ./dev.sh run|test|bench|build [ARGS...]" >&2; exit 2 ;;
esac

"""Print the dependency ranges of pyproject.toml, one per line, plus those of the extras named:
    python tools/requirements.py build
These are the unlocked ranges. To install, use the locked, hashed exports of uv.lock instead
(requirements/run.txt, dev.txt, build.txt), as dev.sh and the Windows build do.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def requirements(extras: list[str]) -> list[str]:
    with open(PYPROJECT, "rb") as file:
        project = tomllib.load(file)["project"]
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    return wanted


if __name__ == "__main__":
    print("\n".join(requirements(sys.argv[1:])))

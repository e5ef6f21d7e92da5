import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests use tiny images, where extra threads only add overhead (and on a loaded machine, a lot
# of it); subprocesses inherit the variable.
os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED_IMAGES = ROOT.parent / "shared" / "images"


def pytest_configure(config):
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


@pytest.fixture(autouse=True)
def _private_config(tmp_path_factory, monkeypatch):
    """User presets and Qt settings go to a temp folder, never the developer's real ones."""
    monkeypatch.setenv("IMPASTO_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))


@pytest.fixture(autouse=True)
def _empty_explorer_cache():
    """The explorer caches tiles per process; every test starts without them."""
    from engine import explore

    explore.clear_cache()
    yield
    explore.clear_cache()


@pytest.fixture
def shared_image():
    """Path to one of ../shared/images, or skip when that folder is absent."""

    def get(name: str) -> Path:
        path = SHARED_IMAGES / name
        if not path.is_file():
            pytest.skip(f"{path} not available")
        return path

    return get

"""engine.heap: the C heap keeps what an iteration frees and gives it back after a run."""

import subprocess
import sys
import textwrap

import pytest

from engine import heap, transfer
from tests.conftest import ROOT
from tests.helpers import content_image, style_image

glibc_only = pytest.mark.skipif(not heap.available(), reason="glibc's malloc (Linux) only")

# Page faults over iterations 13 to 15 of an iteration-like pattern (tensors of 8 to 40 MiB
# allocated, written, then freed in reverse, 140 MiB in all), in a fresh process that imports
# engine (or, the control, torch alone); with ``thread``, in a thread of its own, as the window's
# worker runs. With engine the heap grows over the first iterations while torch's small blocks
# settle between the large ones: in 20 runs in a thread, the last growth came in iteration 3 or 4
# in some and in iteration 7 in others (440 MiB in all), never later; so 12 iterations come first.
_STEADY_STATE_FAULTS = """
import resource, threading
if {engine}:
    import engine
import torch

def iteration():
    live = []
    for count in (10, 10, 5, 5, 2, 3):
        tensor = torch.empty(count * 2**20)
        tensor.fill_(1.0)
        live.append(tensor)
    while live:
        live.pop()

def faults():
    for _ in range(12):
        iteration()
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    for _ in range(3):
        iteration()
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before

if {thread}:
    seen = []
    worker = threading.Thread(target=lambda: seen.append(faults()))
    worker.start()
    worker.join()
    print(seen[0])
else:
    print(faults())
"""


THREE_ITERATIONS_PAGES = 3 * 35 * 2**20 * 4 // 4096


def _steady_state_faults(engine: bool, thread: bool = False) -> int:
    code = _STEADY_STATE_FAULTS.format(engine=engine, thread=thread)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip())


@glibc_only
@pytest.mark.parametrize("thread", [False, True], ids=["main thread", "worker thread"])
def test_freed_tensor_memory_is_reused_without_page_faults(thread):
    """Without engine, glibc maps every block over 32 MiB afresh and each iteration faults its
    pages in again (about 60 000 here, fewer where the kernel gives huge pages); with engine the
    iterations after the first few reuse the memory the ones before freed."""
    kept = _steady_state_faults(engine=True, thread=thread)
    assert kept < THREE_ITERATIONS_PAGES / 20
    fresh = _steady_state_faults(engine=False, thread=thread)
    if fresh >= 16 * 1024:  # 4 KiB pages (not huge pages on every mapping)
        assert fresh > 10 * kept


@glibc_only
def test_release_gives_the_kept_memory_back():
    code = textwrap.dedent("""
        import os
        import engine, torch
        from engine import heap

        def rss():
            with open("/proc/self/statm") as statm:
                return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

        block = torch.ones(128 * 2**20)  # 512 MiB
        del block
        kept = rss()
        heap.release()
        print(kept - rss())
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) > 400 * 2**20


def test_every_run_releases_its_memory_when_it_ends(monkeypatch):
    released = []
    monkeypatch.setattr(heap, "release", lambda: released.append(True))
    settings = transfer.TransferSettings(size=40, start_size=40, iterations=3, device="cpu", precision="fp32")
    transfer.run(settings, content=content_image(), styles=[style_image()])
    assert released == [True]
    stopping = transfer.Stylizer(settings, [style_image()])
    stopping.stylize(content_image(), should_stop=lambda: True)  # a stopped run too
    assert released == [True, True]

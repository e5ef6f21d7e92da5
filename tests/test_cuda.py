"""The CUDA path's graphs (engine/transfer.py _GraphedObjective): skipped without a CUDA GPU, run
on a lent GPU machine. Each scale's objective is captured once and replayed; these check that a
replay computes what an eager evaluation does, that steering captures again, and that Stop works."""

import pytest
import torch

from engine import transfer
from engine.settings import TransferSettings
from tests.helpers import content_image, style_image

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

CAPTURE = transfer._GraphedObjective.capture.__func__
SMALL = dict(size=96, start_size=68, iterations=12, iteration_growth=1.0, plateau=0.0, device="cuda",
             precision="fp32", preview_interval_ms=0)


def run(monkeypatch, graphs: bool, settings=None, **kw):
    monkeypatch.setenv("IMPASTO_CUDA_GRAPHS", "1" if graphs else "0")
    captures = []

    def counting(cls, evaluate, x):
        graph = CAPTURE(cls, evaluate, x)
        captures.append(graph is not None)
        return graph

    monkeypatch.setattr(transfer._GraphedObjective, "capture", classmethod(counting))
    steps = []
    settings = settings or TransferSettings(**SMALL)
    result = transfer.run(settings, on_step=steps.append, content=content_image(96, 72),
                          styles=[style_image(96)], **kw)
    return result, [s for s in steps if s.phase == "optimising"], captures


def test_a_replayed_graph_computes_what_an_eager_evaluation_does(monkeypatch):
    """Adam with a vanishing step keeps the picture where it is: every evaluation, the eager ones
    and the replays, is of the same pixels, so each must give the same figures."""
    still = TransferSettings(**{**SMALL, "optimizer": "adam", "learning_rate": 1e-9, "iterations": 6})
    result, steps, captures = run(monkeypatch, graphs=True, settings=still)
    assert captures == [True, True]  # one graph per scale, after 2 eager evaluations
    for scale in (steps[:6], steps[6:]):
        for step in scale[1:]:
            assert step.loss == pytest.approx(scale[0].loss, rel=1e-5), step.iteration
            assert step.style_loss == pytest.approx(scale[0].style_loss, rel=1e-5), step.iteration


def test_a_graphed_run_follows_the_eager_one(monkeypatch):
    eager, eager_steps, none = run(monkeypatch, graphs=False)
    graphed, graphed_steps, captures = run(monkeypatch, graphs=True)
    assert none == [] and captures == [True, True]
    assert len(graphed_steps) == len(eager_steps) == 24
    # the same steps at first; later L-BFGS without a line search amplifies differences in rounding
    # (on an H200 this tiny run ended at a loss of 4.61 graphed and 3.42 eager)
    for a, b in zip(eager_steps[:8], graphed_steps[:8]):
        assert b.loss == pytest.approx(a.loss, rel=1e-3), b.iteration
    # both converge, through the steps taken back (a loss of 6715 at iteration 5, eager and graphed)
    for run_steps in (eager_steps, graphed_steps):
        first_scale, second_scale = run_steps[:12], run_steps[12:]
        assert min(s.loss for s in first_scale) < 0.5 * first_scale[0].loss
        assert second_scale[-1].loss < 0.2 * second_scale[0].loss


def test_steering_captures_the_new_objective(monkeypatch):
    steering = transfer.Steering()
    settings = TransferSettings(**{**SMALL, "start_size": 96})

    def on_step(progress):
        if progress.phase == "optimising" and progress.iteration == 6:  # the graph was captured at 3
            steering.update(settings.replace(style_weight=0.0, tv_weight=0.0))

    monkeypatch.setenv("IMPASTO_CUDA_GRAPHS", "1")
    steps = []
    transfer.run(settings, on_step=lambda p: (steps.append(p), on_step(p)), steering=steering,
                 content=content_image(96, 72), styles=[style_image(96)])
    steps = [s for s in steps if s.phase == "optimising"]
    early, late = steps[4], steps[-1]
    assert early.style_loss > 0 and early.loss > settings.content_weight * early.content_loss
    assert late.loss == pytest.approx(settings.content_weight * late.content_loss, rel=1e-4)


def test_stop_ends_a_graphed_run_within_an_iteration(monkeypatch):
    monkeypatch.setenv("IMPASTO_CUDA_GRAPHS", "1")
    steps = []
    result = transfer.run(TransferSettings(**{**SMALL, "start_size": 96}), on_step=steps.append,
                          should_stop=lambda: sum(s.phase == "optimising" for s in steps) >= 7,
                          content=content_image(96, 72), styles=[style_image(96)])
    assert result.stopped and result.iterations == 7  # 3 eager, then 4 replays


def test_the_default_cuda_run_is_graphed_in_bf16(monkeypatch):
    settings = TransferSettings(**{**SMALL, "precision": "auto", "iterations": 8})
    result, steps, captures = run(monkeypatch, graphs=True, settings=settings)
    assert captures == [True, True] and result.iterations == 16
    assert steps[-1].loss < steps[0].loss


def test_a_failed_capture_falls_back_to_eager_evaluation(monkeypatch):
    def broken_graph(graph):
        raise RuntimeError("CUDA error: operation not permitted when stream is capturing")

    monkeypatch.setattr(torch.cuda, "graph", broken_graph)
    result, steps, captures = run(monkeypatch, graphs=True)
    assert captures == [False]  # tried once, then eager for the rest of the run
    assert result.iterations == 24 and steps[-1].loss < steps[12].loss

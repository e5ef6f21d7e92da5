"""engine/lbfgs.py: the compact L-BFGS takes torch.optim.LBFGS's steps, and takes back a step
that makes the loss blow up."""

import pytest
import torch

from engine.lbfgs import BACKTRACK, LBFGS


def smooth_problem(n: int = 40, seed: int = 0):
    """A badly conditioned quadratic with a quartic term: not a quadratic, so curvature pairs differ."""
    generator = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=generator, dtype=torch.float64))
    a = (q * torch.logspace(0, 2, n, dtype=torch.float64)) @ q.T
    b = torch.randn(n, generator=generator, dtype=torch.float64)

    def f(x):
        x = x.double().reshape(-1)
        return 0.5 * x @ a @ x - b @ x + 0.05 * (x**4).sum() + 10.0

    return f


def iterates(optimizer_for, f, x, steps: int):
    optimizer = optimizer_for(x)
    path = []

    def closure():
        optimizer.zero_grad()
        loss = f(x)
        loss.backward()
        return loss

    for _ in range(steps):
        optimizer.step(closure)
        path.append(x.detach().clone().reshape(-1))
    return path, optimizer


@pytest.mark.parametrize("history", [3, 10])
def test_the_steps_are_torchs_lbfgs_steps(history):
    f = smooth_problem()
    theirs, _ = iterates(lambda x: torch.optim.LBFGS([x], lr=1, max_iter=1, history_size=history), f,
                         torch.zeros(40, requires_grad=True), 40)
    ours, optimizer = iterates(lambda x: LBFGS(x, history), f, torch.zeros(40, requires_grad=True), 40)
    for step, (a, b) in enumerate(zip(theirs, ours)):
        assert (a - b).norm() <= 1e-4 * a.norm() + 1e-6, f"step {step + 1}"
    assert len(optimizer.order) == history  # the history filled and then evicted its oldest pairs
    assert optimizer.backtracks == 0
    assert float(f(ours[-1])) < float(f(ours[0])) - 1.0


def test_an_image_in_channels_last_takes_the_same_steps():
    f = smooth_problem(n=48)
    plain = torch.zeros(1, 3, 4, 4, requires_grad=True)
    channels_last = torch.zeros(1, 3, 4, 4).to(memory_format=torch.channels_last).requires_grad_(True)
    a, _ = iterates(lambda x: LBFGS(x, 5), f, plain, 15)
    b, _ = iterates(lambda x: LBFGS(x, 5), f, channels_last, 15)
    assert torch.allclose(a[-1], b[-1], atol=1e-6)
    assert channels_last.is_contiguous(memory_format=torch.channels_last)


def test_a_step_that_blows_the_loss_up_is_taken_back_to_a_quarter():
    f = smooth_problem()
    x = torch.zeros(40, requires_grad=True)
    optimizer = LBFGS(x, 5)
    evaluations = []

    def closure():
        optimizer.zero_grad()
        loss = f(x)
        loss.backward()
        evaluations.append(x.detach().clone())
        return loss * (1000 if len(evaluations) == 3 else 1)  # the third point "blows up"

    for _ in range(2):
        optimizer.step(closure)
    before, blown = evaluations[1], x.detach().clone()  # the second step went from `before` to `blown`
    optimizer.step(closure)
    assert optimizer.backtracks == 1
    assert torch.allclose(x.detach(), before + BACKTRACK * (blown - before), atol=1e-6)
    optimizer.step(closure)  # evaluates where it came back to, and goes on from there
    assert torch.allclose(evaluations[-1], before + BACKTRACK * (blown - before), atol=1e-6)
    for _ in range(20):
        optimizer.step(closure)
    assert float(f(x.detach())) < float(f(evaluations[1]))


def test_a_nan_loss_is_a_blow_up():
    x = torch.ones(8, requires_grad=True)
    optimizer = LBFGS(x, 3)
    calls = []

    def closure():
        optimizer.zero_grad()
        loss = (x**2).sum()
        loss.backward()
        calls.append(1)
        return loss if len(calls) != 2 else loss * float("nan")

    optimizer.step(closure)
    moved = x.detach().clone()
    optimizer.step(closure)
    assert optimizer.backtracks == 1
    assert torch.allclose(x.detach(), 1 + BACKTRACK * (moved - 1))


def test_the_history_takes_no_more_memory_than_it_can_use():
    x = torch.zeros(1, 3, 8, 8, requires_grad=True)
    optimizer = LBFGS(x, history=4)
    assert optimizer.S.shape == optimizer.Y.shape == (5, 3 * 8 * 8)  # 4 pairs and the step in flight


def test_an_lbfgs_run_never_imports_torchs_compiler_stack():
    """The window no longer warms torch.optim up at launch (a 160 ms stall): that holds only while
    an L-BFGS run imports no torch._dynamo (the first torch.optim optimiser pulls it in) and no
    sympy (nn.utils.skip_init did: a 110 ms stall at a run's start)."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (
        "import sys\n"
        "from engine import transfer\n"
        "from engine.settings import TransferSettings\n"
        "from tests.helpers import content_image, style_image\n"
        "transfer.run(TransferSettings(size=48, start_size=48, iterations=2), content=content_image(), "
        "styles=[style_image()])\n"
        "print('torch._dynamo' in sys.modules, 'sympy' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False False"

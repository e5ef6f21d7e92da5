"""Float32 on the CPU: the network's 3x3 convolutions through NNPACK's Winograd algorithm."""

import pytest
import torch
import torch.nn.functional as F

from engine import devices, transfer
from engine.settings import TransferSettings
from engine.errors import OutOfMemoryError
from engine.devices import WINOGRAD_WORKSPACE
from engine.vgg import VGGFeatures, WinogradConv2d, winograd_strips
from engine.weights import load_weights
from tests.helpers import content_image, style_image

needs_nnpack = pytest.mark.skipif(not torch.backends.nnpack.is_available(), reason="this torch has no NNPACK")


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.detach() - b.detach()).norm() / b.detach().norm())


def winograd_against_float64(shape, out_channels):
    """A WinogradConv2d with random weights on a random input of ``shape``: the layer, and the
    relative errors of its output and input gradient against float64 direct convolution."""
    channels = shape[1]
    conv = WinogradConv2d(channels, out_channels, 3, padding=1, device="meta")
    weight, bias = torch.randn(out_channels, channels, 3, 3) / (9 * channels) ** 0.5, torch.randn(out_channels)
    conv.set_frozen_weights(weight, bias)
    x = (torch.rand(shape) * 255).requires_grad_(True)
    grad_out = torch.randn(shape[0], out_channels, *shape[2:])
    y = conv(x)
    (grad_x,) = torch.autograd.grad(y, x, grad_out)
    x_exact = x.detach().double().requires_grad_(True)
    y_exact = F.conv2d(x_exact, weight.double(), bias.double(), padding=1)
    (grad_exact,) = torch.autograd.grad(y_exact, x_exact, grad_out.double())
    return conv, relative_error(y.double(), y_exact), relative_error(grad_x.double(), grad_exact)


@pytest.fixture
def nnpack_calls(monkeypatch):
    """Counts the convolutions that went through NNPACK."""
    calls = []
    nnpack = torch._nnpack_spatial_convolution

    def counted(*args):
        calls.append(args[0].shape)
        return nnpack(*args)

    monkeypatch.setattr(torch, "_nnpack_spatial_convolution", counted)
    return calls


@needs_nnpack
@pytest.mark.parametrize("shape, by_nnpack", [
    ((1, 3, 64, 64), 2), ((2, 16, 60, 60), 2),
    ((1, 128, 33, 40), 1),  # its input gradient, 32 channels at 1320 px, is convolved directly
    ((1, 64, 20, 13), 0), ((1, 128, 1, 1), 0),  # too small to pay for NNPACK: the direct convolution
])
def test_winograd_convolution_and_its_input_gradient_match_the_direct_ones(shape, by_nnpack, nnpack_calls):
    torch.manual_seed(0)
    conv, output_error, gradient_error = winograd_against_float64(shape, 32)
    assert output_error < 2e-5
    assert gradient_error < 2e-5
    assert len(nnpack_calls) == by_nnpack
    assert not conv.weight.requires_grad


@needs_nnpack
def test_the_network_gives_the_same_features_and_gradient_with_winograd(nnpack_calls):
    weights = load_weights()
    direct, winograd = VGGFeatures(weights, "relu5_1"), VGGFeatures(weights, "relu5_1", winograd=True)
    assert any(isinstance(layer, WinogradConv2d) for layer in winograd.layers)
    image = torch.rand(1, 3, 64, 96)
    layers = ("relu1_1", "relu3_1", "relu5_1")
    results = []
    for model in (direct, winograd):
        x = image.clone().requires_grad_(True)
        features = model(x, layers)
        loss = sum(f.square().mean() for f in features.values())
        results.append((features, torch.autograd.grad(loss, x)[0]))
    for name in layers:
        assert relative_error(results[1][0][name], results[0][0][name]) < 1e-4
    assert relative_error(results[1][1], results[0][1]) < 1e-3
    # 6144 px at block 1, 1536 at block 2: conv1_1, conv1_2 and conv2_2 (conv2_1 has only 64 channels
    # in), and the input gradients of all four (64 or 128 channels in); block 3 on is too small
    assert len(nnpack_calls) == 7


@needs_nnpack
@pytest.mark.parametrize("height", [33, 40])
def test_a_layer_too_big_for_the_workspace_is_convolved_in_strips(monkeypatch, nnpack_calls, height):
    """With the workspace limit shrunk, a 128-channel layer runs as bands of rows through NNPACK
    and still gives the direct convolution and its input gradient."""
    from engine import vgg

    torch.manual_seed(0)
    shape = (1, 128, height, 40)
    monkeypatch.setattr(vgg, "WINOGRAD_WORKSPACE", 7 * 256 * 40 * 14)  # 14 rows of 128 + 128 channels
    x = torch.empty(shape, device="meta")
    assert vgg.winograd_strips(x, 128) == (3 if height == 33 else 4)  # bands of 11 or 10 rows, 13 or 12 read
    assert vgg.winograd_strips(torch.empty(1, 64, height, 40, device="meta"), 64) == 0  # 64 channels: direct
    _, output_error, gradient_error = winograd_against_float64(shape, 128)
    assert output_error < 2e-5
    assert gradient_error < 2e-5
    assert len(nnpack_calls) == 2 * vgg.winograd_strips(torch.empty(shape, device="meta"), 128)  # every band, both ways
    assert all(band[2] <= 13 for band in nnpack_calls)


def test_winograd_needs_float32():
    with pytest.raises(ValueError):
        VGGFeatures(load_weights(), "relu2_1", compute_dtype=torch.bfloat16, winograd=True)


@needs_nnpack
def test_a_winograd_network_works_in_a_fresh_process():
    """NNPACK fails every convolution until torch.backends.nnpack.is_available() has initialised
    it; the network must not rely on someone else (this module's skip marker) having asked."""
    import subprocess
    import sys
    from pathlib import Path

    script = ("import engine, torch\n"
              "from engine.vgg import VGGFeatures\n"
              "from engine.weights import load_weights\n"
              "model = VGGFeatures(load_weights('auto'), 'relu1_2', winograd=True)\n"
              "print(tuple(model(torch.rand(1, 3, 64, 64), ['relu1_2'])['relu1_2'].shape))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "(1, 64, 64, 64)"


def test_nnpack_only_where_it_pays_and_its_workspace_stays_small():
    def pays(channels, height, width, out_channels):
        return winograd_strips(torch.empty(1, channels, height, width, device="meta"), out_channels) > 0

    assert pays(64, 384, 512, 64) and pays(64, 768, 1024, 64)  # conv1_2 at 512 and 1024 px: 176, 704 MiB
    assert not pays(64, 1086, 1448, 64)  # at 1448 px its workspace would be 1.4 GB
    assert pays(128, 768, 1024, 128)  # conv2_2 at 2048 px: 1.4 GB, in two strips
    assert pays(256, 384, 512, 256) and pays(512, 192, 256, 512)  # deeper, at 2048 px
    assert not pays(512, 20, 30, 512)  # too small to pay for the kernel transform
    assert not pays(64, 40, 60, 64) and pays(128, 40, 60, 128)  # 2400 px: level with 64 channels


def test_winograd_only_on_the_float32_cpu_path(monkeypatch):
    monkeypatch.delenv("IMPASTO_WINOGRAD", raising=False)
    monkeypatch.setattr(devices.sys, "platform", "linux")
    cpu = torch.device("cpu")
    assert devices.use_winograd(cpu, None) == torch.backends.nnpack.is_available()
    assert not devices.use_winograd(cpu, torch.bfloat16)
    assert not devices.use_winograd(torch.device("cuda"), None)
    assert not devices.use_winograd(torch.device("mps"), None)
    monkeypatch.setenv("IMPASTO_WINOGRAD", "0")
    assert not devices.use_winograd(cpu, None)


def test_winograd_elsewhere_than_linux_only_when_asked_for(monkeypatch):
    """Measured on Linux (libgomp); macOS's torch has another OpenMP runtime."""
    monkeypatch.setattr(devices.sys, "platform", "darwin")
    monkeypatch.delenv("IMPASTO_WINOGRAD", raising=False)
    assert not devices.use_winograd(torch.device("cpu"), None)
    monkeypatch.setenv("IMPASTO_WINOGRAD", "1")
    assert devices.use_winograd(torch.device("cpu"), None) == torch.backends.nnpack.is_available()


@needs_nnpack
def test_a_float32_cpu_run_uses_winograd_in_the_contiguous_layout(monkeypatch):
    monkeypatch.setenv("IMPASTO_WINOGRAD", "1")
    settings = TransferSettings(size=40, start_size=40, iterations=4, device="cpu", precision="fp32", preview_interval_ms=0)
    stylizer = transfer.Stylizer(settings, [style_image()])
    assert any(isinstance(layer, WinogradConv2d) for layer in stylizer.model.layers)
    assert not stylizer.channels_last  # NNPACK takes NCHW
    result = stylizer.stylize(content_image())
    assert result.iterations == 4 and result.losses["loss"] < float("inf")


def test_the_size_check_counts_nnpacks_workspace(monkeypatch):
    needed = devices.estimate_bytes(768, 1024)
    assert devices.estimate_bytes(768, 1024, winograd=True) == needed + 7 * 128 * 768 * 1024  # conv1_2's
    assert devices.estimate_bytes(1536, 2048, winograd=True) == devices.estimate_bytes(1536, 2048) + WINOGRAD_WORKSPACE
    monkeypatch.setattr(devices, "free_memory", lambda device: needed + 2**20)
    devices.check_fits(torch.device("cpu"), 768, 1024, 1024)  # fits without the workspace
    with pytest.raises(OutOfMemoryError) as refused:
        devices.check_fits(torch.device("cpu"), 768, 1024, 1024, winograd=True)
    assert refused.value.suggested_size == 704  # the next size down (1024 / sqrt 2, in 64s), not a tiny one

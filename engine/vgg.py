"""VGG19 as a feature extractor with named layers (conv1_1 ... pool5)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.devices import WINOGRAD_WORKSPACE, nnpack_workspace
from engine.layers import ALL_LAYERS, conv_shapes
from engine.weights import VGGWeights

CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
TORCH_MEAN, TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def winograd_strips(x: torch.Tensor, out_channels: int) -> int:
    """How many strips of rows NNPACK convolves ``x`` in, or 0 where the direct convolution is the
    better choice. NNPACK transforms the kernels on every call, which only a large enough picture
    pays for. Measured on 2 cores (float32, NCHW): at 768 px the two were level for 128-512
    channels, from 2176 px NNPACK took 0.3-0.7 the time; with 64 channels it lost at 2176 px and
    won from 3072 px. A layer whose workspace would pass WINOGRAD_WORKSPACE is split into strips
    that fit, if it has 128 channels or more on both sides: at 2048 px conv2_2 took 1.2-1.4 s
    directly and 0.6-0.7 s in 2-4 strips, while conv1_1 and conv1_2 (3 or 64 channels) in strips
    were level with the direct convolution (1.1-2.4 s against 1.2-1.5 s for conv1_2)."""
    in_channels, height, width = x.shape[1:]
    if height * width < (3072 if in_channels <= 64 else 1024):
        return 0
    workspace = nnpack_workspace(height * width, in_channels + out_channels)
    if workspace <= WINOGRAD_WORKSPACE:
        return 1
    if min(in_channels, out_channels) < 128:
        return 0
    strips = math.ceil(workspace / WINOGRAD_WORKSPACE)
    while strips < height and nnpack_workspace((math.ceil(height / strips) + 2) * width, in_channels + out_channels) > WINOGRAD_WORKSPACE:
        strips += 1  # each band is read with a row above and below it
    return strips if strips < height else 0


def _convolve(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    x = x.contiguous()
    strips = winograd_strips(x, weight.shape[0])
    if strips == 0:
        return F.conv2d(x, weight, bias, padding=1)
    if strips == 1:
        return torch._nnpack_spatial_convolution(x, weight, bias, [1, 1])
    return _convolve_in_strips(x, weight, bias, strips)


def _convolve_in_strips(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, strips: int) -> torch.Tensor:
    """NNPACK over bands of rows, each read with the row above and below it (zeros at the
    picture's edges), so that its workspace holds one band at a time."""
    height = x.shape[2]
    rows = math.ceil(height / strips)
    out = x.new_empty(x.shape[0], weight.shape[0], height, x.shape[3])
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        band = x[:, :, max(0, top - 1) : min(height, bottom + 1)]
        band = F.pad(band, (0, 0, int(top == 0), int(bottom == height))).contiguous()
        out[:, :, top:bottom] = torch._nnpack_spatial_convolution(band, weight, bias, [0, 1])  # pad columns only
    return out


class _WinogradConv3x3(torch.autograd.Function):
    """A frozen 3x3 convolution (stride 1, padding 1) through NNPACK, Winograd's F(6x6, 3x3). Its
    input gradient is the same convolution of the output gradient with the kernel flipped and
    its channels swapped, so the backward pass takes the fast kernels too (torch's own derivative
    of this op would fall back to the direct convolution)."""

    @staticmethod
    def forward(ctx, x, weight, bias, weight_flipped):
        ctx.save_for_backward(weight_flipped)
        return _convolve(x, weight, bias)

    @staticmethod
    def backward(ctx, grad):
        (weight_flipped,) = ctx.saved_tensors
        return _convolve(grad, weight_flipped, None), None, None, None


class WinogradConv2d(nn.Conv2d):
    """A frozen 3x3 convolution computed by Winograd's algorithm (NNPACK)."""

    def set_frozen_weights(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.bias = nn.Parameter(bias, requires_grad=False)
        self.register_buffer("weight_flipped", weight.flip(2, 3).transpose(0, 1).contiguous(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _WinogradConv3x3.apply(x, self.weight, self.bias, self.weight_flipped)


class VGGFeatures(nn.Module):
    """Takes RGB images in 0..1 and returns the activations of the layers asked for.

    The network is built up to ``last_layer`` and each forward pass stops at the deepest
    layer it is asked for, so unused depth costs nothing.
    """

    def __init__(self, weights: VGGWeights, last_layer: str = "pool5", pooling: str = "max",
                 compute_dtype: torch.dtype | None = None, winograd: bool = False):
        super().__init__()
        if winograd and compute_dtype is not None:
            raise ValueError("NNPACK's Winograd convolutions take float32 only")
        # is_available() also initialises NNPACK: until it has run, every NNPACK convolution fails
        if winograd and not torch.backends.nnpack.is_available():
            raise ValueError("this torch has no NNPACK for the Winograd convolutions")
        self.compute_dtype = compute_dtype  # convolutions run in this dtype (None: float32)
        self.input_space = weights.input_space
        self.names = ALL_LAYERS[: ALL_LAYERS.index(last_layer) + 1]
        shapes = conv_shapes()
        layers = []
        for name in self.names:
            if name.startswith("conv"):
                out_ch, in_ch = shapes[name]
                # built on the meta device: no random initialisation to overwrite. (nn.utils.skip_init
                # does the same but, through to_empty, imports sympy: a 110 ms stall of the window.)
                weight = weights.state[f"{name}.weight"].detach().float().clone()
                bias = weights.state[f"{name}.bias"].detach().float().clone()
                if winograd:
                    conv = WinogradConv2d(in_ch, out_ch, 3, padding=1, device="meta")
                    conv.set_frozen_weights(weight, bias)
                else:
                    conv = nn.Conv2d(in_ch, out_ch, 3, padding=1, device="meta")
                    conv.weight, conv.bias = nn.Parameter(weight), nn.Parameter(bias)
                layers.append(conv)
            elif name.startswith("relu"):
                layers.append(nn.ReLU(inplace=False))
            else:
                layers.append(nn.MaxPool2d(2, ceil_mode=True) if pooling == "max" else nn.AvgPool2d(2, ceil_mode=True))
        self.layers = nn.ModuleList(layers)
        if self.input_space == "caffe":
            self.register_buffer("mean", torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1))
            self.register_buffer("std", torch.ones(1, 3, 1, 1))
        else:
            self.register_buffer("mean", torch.tensor(TORCH_MEAN).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(TORCH_STD).view(1, 3, 1, 1))
        if compute_dtype is not None:
            self.layers.to(compute_dtype)  # once, where autocast would cast on every pass
        self.requires_grad_(False)
        self.eval()

    def normalise(self, rgb: torch.Tensor) -> torch.Tensor:
        if self.input_space == "caffe":
            rgb = rgb.flip(1) * 255.0
        return (rgb - self.mean.to(rgb.dtype)) / self.std.to(rgb.dtype)

    def forward(self, rgb: torch.Tensor, wanted) -> dict[str, torch.Tensor]:
        wanted = set(wanted)
        unknown = wanted - set(self.names)
        if unknown:
            raise KeyError(f"layers beyond this network: {sorted(unknown)}")
        out, x = {}, self.normalise(rgb)  # in the input's precision: 0..255 needs more than bf16
        if self.compute_dtype is not None:
            x = x.to(self.compute_dtype)
        for name, layer in zip(self.names, self.layers):
            x = layer(x)
            if name in wanted:
                out[name] = x
                if len(out) == len(wanted):
                    break
        return out


__all__ = ["VGGFeatures"]

"""Content, Gram-style and total-variation losses.

Both content and style losses are relative squared errors (divided by the target's squared
norm), so a layer's weight means the same thing at every layer and every image size.
Gram matrices and losses are always computed in float32, whatever the network ran in.
"""

from __future__ import annotations

import os

import torch

EPS = 1e-8
# IMPASTO_GRAM=autograd: the Gram matrix as Impasto 0.1 computed it, for benchmarks (bench_speed.py "old")
AUTOGRAD_GRAM = os.environ.get("IMPASTO_GRAM") == "autograd"


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, C), normalised by the number of positions."""
    if AUTOGRAD_GRAM:
        n, c, h, w = features.shape
        flat = features.float().reshape(n, c, h * w)
        return flat @ flat.transpose(1, 2) / (h * w)
    return _Gram.apply(features)


def _positions(features: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """The features as a matrix without a copy: (N, H*W, C) for channels_last ones (and True),
    (N, C, H*W) otherwise (and False)."""
    n, c, h, w = features.shape
    if c > 1 and features.is_contiguous(memory_format=torch.channels_last) and not features.is_contiguous():
        return features.permute(0, 2, 3, 1).reshape(n, h * w, c), True
    return features.reshape(n, c, h * w), False


class _Gram(torch.autograd.Function):
    """The Gram matrix in float32, with a backward pass that is one matrix product in the
    features' own precision (bf16 on the fast path): autograd's own would be two float32 products,
    their sum and a cast, which took half of a 512 px bf16 iteration (bench/bench_speed.py)."""

    @staticmethod
    def forward(ctx, features: torch.Tensor) -> torch.Tensor:
        h, w = features.shape[-2:]
        ctx.save_for_backward(features)
        matrix, positions_first = _positions(features.to(torch.promote_types(features.dtype, torch.float32)))
        gram = matrix.mT @ matrix if positions_first else matrix @ matrix.mT
        return gram / (h * w)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (features,) = ctx.saved_tensors
        n, c, h, w = features.shape
        matrix, positions_first = _positions(features)
        both = ((grad + grad.mT) / (h * w)).to(features.dtype)  # d(F F^T) = (dG + dG^T) F
        if positions_first:
            return (matrix @ both).reshape(n, h, w, c).permute(0, 3, 1, 2)
        return (both @ matrix).reshape(n, c, h, w)


def relative_error(value: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (value.float() - target).pow(2).sum() / (target.pow(2).sum() + EPS)


def content_loss(features: dict, targets: dict, layer_weights: dict) -> torch.Tensor:
    return sum(w * relative_error(features[name], targets[name]) for name, w in layer_weights.items())


def style_loss(features: dict, target_grams: dict, layer_weights: dict) -> torch.Tensor:
    return sum(
        w * relative_error(gram_matrix(features[name]), target_grams[name]) for name, w in layer_weights.items()
    )


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of neighbouring pixels (image in 0..1)."""
    dx = image[..., :, 1:] - image[..., :, :-1]
    dy = image[..., 1:, :] - image[..., :-1, :]
    return _mean_square(dx) + _mean_square(dy)


def out_of_box(image: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of the pixels from the displayable box 0..1 (0 inside it)."""
    return (image - image.detach().clamp(0, 1)).pow(2).sum() / max(1, image.numel())


def _mean_square(diff: torch.Tensor) -> torch.Tensor:
    # a one-pixel-wide (or tall) image has no neighbours that way: 0, where .mean() gives NaN
    return diff.pow(2).sum() / max(1, diff.numel())


def blend_grams(grams_per_style: list[dict], weights: list[float]) -> dict:
    """Weighted average of several styles' Gram matrices, layer by layer."""
    return {
        name: sum(w * grams[name] for grams, w in zip(grams_per_style, weights))
        for name in grams_per_style[0]
    }


def guided_gram(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The Gram matrix of the positions ``mask`` (1, 1, H, W, 0..1, on the features' grid) covers,
    each weighted by its mask value and normalised by the mask's mass: a soft region's own Gram."""
    n, c, h, w = features.shape
    flat = features.float().reshape(n, c, h * w)
    weights = mask.reshape(1, 1, h * w)
    return (flat * weights) @ flat.transpose(1, 2) / (weights.sum() + EPS)


def guided_style_loss(features: dict, regions: list, layer_weights: dict) -> torch.Tensor:
    """Each region's guided Grams against its own style's: ``regions`` holds (weight, masks by
    layer, target Grams by layer) for every style with a mask (and the uncovered region's blend)."""
    return sum(
        weight * w * relative_error(guided_gram(features[name], masks[name]), targets[name])
        for weight, masks, targets in regions
        for name, w in layer_weights.items()
    )

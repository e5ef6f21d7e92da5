"""Colour preservation: luminance-only transfer and colour matching (Gatys et al. 2016)."""

from __future__ import annotations

import torch

RGB_TO_YIQ = torch.tensor(
    [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], dtype=torch.float64
)
YIQ_TO_RGB = torch.linalg.inv(RGB_TO_YIQ)


def _mix(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", matrix.to(image), image)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    return _mix(RGB_TO_YIQ, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    return _mix(YIQ_TO_RGB, image)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB -> (N, 1, H, W) luma."""
    return rgb_to_yiq(image)[:, :1]


def match_luminance(style_y: torch.Tensor, content_y: torch.Tensor) -> torch.Tensor:
    """Shift and scale the style's luma to the content's mean and spread."""
    scaled = (style_y - style_y.mean()) / (style_y.std() + 1e-6) * content_y.std()
    return scaled + content_y.mean()


def with_chroma(luma: torch.Tensor, chroma_source: torch.Tensor) -> torch.Tensor:
    """An RGB image with ``luma`` as its brightness and the colours of ``chroma_source``."""
    yiq = rgb_to_yiq(chroma_source)
    return yiq_to_rgb(torch.cat([luma, yiq[:, 1:]], dim=1))


def _sqrt_and_inverse_sqrt(cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    values, vectors = torch.linalg.eigh(cov)
    values = values.clamp_min(1e-8)
    sqrt = vectors @ torch.diag(values.sqrt()) @ vectors.T
    inv_sqrt = vectors @ torch.diag(values.rsqrt()) @ vectors.T
    return sqrt, inv_sqrt


def match_colors(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Give ``style`` (N,3,H,W, 0..1) the mean and covariance of ``content``'s colours."""
    def stats(image):
        pixels = image[0].reshape(3, -1).double()
        mean = pixels.mean(1, keepdim=True)
        centred = pixels - mean
        return pixels, mean, centred @ centred.T / pixels.shape[1] + 1e-5 * torch.eye(3, dtype=pixels.dtype)

    style_pixels, style_mean, style_cov = stats(style)
    _, content_mean, content_cov = stats(content)
    content_sqrt, _ = _sqrt_and_inverse_sqrt(content_cov)
    _, style_inv_sqrt = _sqrt_and_inverse_sqrt(style_cov)
    matched = content_sqrt @ style_inv_sqrt @ (style_pixels - style_mean) + content_mean
    return matched.reshape(style.shape).to(style.dtype).clamp(0, 1)

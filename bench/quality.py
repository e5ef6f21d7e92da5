"""Quality figures for the benchmarks, computed the same way for every output they compare.

- content distance: VGG19 relu4_2 features of the output against the photo's, at a fixed
  analysis size, relative to the photo's own (|F(out) - F(photo)| / |F(photo)|). Benchmarks
  divide it by the same figure for the painting itself (an unrelated picture), so 1.0 means
  "as far from the photo as the painting is" and 0 means "the photo".
- style distance: relative Frobenius distance of Gram matrices over relu1_1 ... relu5_1, the
  output and the painting each at the analysis size (long side), averaged over the layers.
- objective: the full Gatys objective of an output at its own size with fixed settings
  (``objective``), evaluated outside the optimiser, so that two schedules can be compared.
"""

from __future__ import annotations

import engine  # noqa: F401  (first: it sets GOMP_SPINCOUNT before torch loads libgomp)
import torch
from PIL import Image

from engine import images, losses
from engine.settings import TransferSettings
from engine.vgg import VGGFeatures
from engine.weights import load_weights

ANALYSIS_SIZE = 384
CONTENT_LAYER = "relu4_2"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


class Judge:
    """A float32 VGG19 on one device that measures outputs; no autocast, no channels_last."""

    def __init__(self, device: str = "cpu", size: int = ANALYSIS_SIZE):
        self.device = torch.device(device)
        self.size = size
        self.model = VGGFeatures(load_weights("auto"), "relu5_1").to(self.device)

    @torch.no_grad()
    def features(self, image: Image.Image, layers, dims: tuple[int, int] | None = None) -> dict:
        dims = dims or images.fit_size(*image.size, self.size)
        tensor = images.pil_to_tensor(image.convert("RGB").resize(dims, Image.LANCZOS)).to(self.device)
        return {name: f.float() for name, f in self.model(tensor, layers).items()}

    def content_distance(self, output: Image.Image, photo: Image.Image) -> float:
        dims = images.fit_size(*photo.size, self.size)
        target = self.features(photo, [CONTENT_LAYER], dims)[CONTENT_LAYER]
        value = self.features(output, [CONTENT_LAYER], dims)[CONTENT_LAYER]
        return float((value - target).norm() / target.norm())

    def style_grams(self, image: Image.Image) -> dict:
        feats = self.features(image, STYLE_LAYERS)
        return {name: losses.gram_matrix(f) for name, f in feats.items()}

    def style_distance(self, output: Image.Image, painting: Image.Image | dict) -> float:
        target = painting if isinstance(painting, dict) else self.style_grams(painting)
        grams = self.style_grams(output)
        return sum(float((grams[n] - target[n]).norm() / target[n].norm()) for n in STYLE_LAYERS) / len(STYLE_LAYERS)


@torch.no_grad()
def objective(output: Image.Image, photo: Image.Image, paintings: list[Image.Image],
              settings: TransferSettings, device: str = "cpu") -> dict:
    """J(G) of ``output`` at its own size with ``settings``' weights and layers, in float32, the
    content and style targets made the way the engine makes them at its last scale."""
    from engine import transfer

    look = settings.replace(device=device, precision="fp32", content="", styles=[])
    stylizer = transfer.Stylizer(look, paintings)
    side = max(output.size)
    content = images.pil_to_tensor(photo.convert("RGB").resize(output.size, Image.LANCZOS)).to(stylizer.device)
    x = images.pil_to_tensor(output.convert("RGB")).to(stylizer.device)
    content_layers, style_layers = look.active_content_layers(), look.active_style_layers()
    content_targets = stylizer.features(content, content_layers)
    per_style = stylizer.style_grams(side, style_layers, content, {})
    style_targets = losses.blend_grams(per_style, look.blend_weights(len(paintings)))
    feats = stylizer.features(x, set(content_layers) | set(style_layers))
    content_loss = float(losses.content_loss(feats, content_targets, content_layers))
    style_loss = float(losses.style_loss(feats, style_targets, style_layers))
    tv = float(losses.total_variation(x))
    total = look.content_weight * content_loss + look.style_weight * style_loss + look.tv_weight * tv
    return {"objective": total, "content": content_loss, "style": style_loss, "tv": tv}


def contact_sheet(tiles: list[tuple[str, Image.Image]], columns: int, tile: int = 256) -> Image.Image:
    """Labelled thumbnails in a grid (label drawn above each image)."""
    from PIL import ImageDraw

    rows = (len(tiles) + columns - 1) // columns
    label_h = 14
    sheet = Image.new("RGB", (columns * tile, rows * (tile + label_h)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (label, image) in enumerate(tiles):
        x, y = (i % columns) * tile, (i // columns) * (tile + label_h)
        thumb = image.convert("RGB").copy()
        thumb.thumbnail((tile, tile), Image.LANCZOS)
        sheet.paste(thumb, (x + (tile - thumb.width) // 2, y + label_h + (tile - thumb.height) // 2))
        draw.text((x + 2, y + 1), label[:42], fill="black")
    return sheet

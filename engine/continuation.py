"""Continue a saved result, or refine it to a larger size, from the recipe it carries.

A continued run starts from the parent's own pixels (``init="image"`` with the parent as the
init image), so its first iteration starts from the parent, not from the photo. At the parent's
size it simply adds iterations; at a larger size it goes on up the coarse-to-fine schedule from
the first step above the parent's size to the new one, as if the run had never stopped.

The continued result's recipe records its lineage under ``PARENT_KEY``: the parent's path, the
SHA-256 of its file and its whole recipe (which holds its own parent's, and so on), so a print
can always be traced back to how it was made. ``TransferSettings.from_dict`` ignores the key.
No Qt here.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

from engine import images
from engine.errors import ImpastoError, SettingsError
from engine.settings import PARENT_KEY, WEIGHT_SOURCES, TransferSettings


class ContinueError(ImpastoError):
    """A result that cannot be continued: no recipe, or inputs that are gone."""


@dataclass
class Parent:
    """A saved result and what it says about how it was made."""

    path: Path
    recipe: dict
    settings: TransferSettings  # as it ran (the weights in force at its end)
    size: tuple[int, int]  # its own pixels

    @property
    def long_side(self) -> int:
        return max(self.size)

    def lineage(self) -> dict:
        """What a continued result records under PARENT_KEY."""
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        return {"path": str(self.path.resolve()), "sha256": digest, "recipe": self.recipe}


def read_parent(path) -> Parent:
    """The result at ``path`` with its recipe; ContinueError (one line) when it has none,
    ImageError when it cannot be read."""
    path = Path(path)
    recipe = images.read_recipe(path)
    if recipe is None:
        raise ContinueError(f"{path.name} holds no Impasto recipe, so it cannot be continued "
                            "(only images saved by Impasto carry one).")
    try:
        settings = TransferSettings.from_dict(recipe, strict=False).validate(need_images=False)
    except (SettingsError, TypeError, ValueError) as exc:
        raise ContinueError(f"The recipe in {path.name} is not usable: {exc}") from None
    beside = path.absolute().parent
    located = settings.replace(content=_locate(settings.content, beside),
                               styles=[_locate(style, beside) for style in settings.styles])
    return Parent(path, recipe, located, images.image_size(path))


def _locate(recorded: str, beside: Path) -> str:
    """A relative path of a recipe, as it stands when it exists from here, else beside the result
    when it is there (a recipe written by ``stylize photo.jpg ...`` run in the result's folder)."""
    if not recorded or Path(recorded).is_absolute() or Path(recorded).exists():
        return recorded
    candidate = beside / recorded
    return str(candidate) if candidate.exists() else recorded


def missing_inputs(settings: TransferSettings) -> list[str]:
    """The files a run with ``settings`` reads that are not there, named by their role."""
    named = [("content", settings.content), *(("style", style) for style in settings.styles)]
    if settings.weights not in WEIGHT_SOURCES:
        named.append(("weights", settings.weights))
    return [f"{role} {path or '(none given)'}" for role, path in named if not path or not Path(path).is_file()]


def check_inputs(parent: Parent, settings: TransferSettings) -> None:
    missing = missing_inputs(settings)
    if missing:
        raise ContinueError(f"Cannot continue {parent.path.name}: its recipe names inputs that are gone: "
                            + "; ".join(missing) + ".")


def refine_start_size(parent_side: int, size: int, iteration_side: int = 512) -> int:
    """The ``start_size`` whose schedule up to ``size`` holds exactly the coarse-to-fine steps
    above ``parent_side`` (``size`` alone when the parent is as large or larger)."""
    if size <= parent_side:
        return size
    doubled = TransferSettings(size=size, iteration_side=iteration_side).doubling_sizes()
    if doubled:
        if parent_side >= iteration_side:
            return next(side for side in doubled if side > parent_side)
        size = iteration_side  # root-two steps up to it, then every doubled scale
    steps_above = math.ceil(math.log(size / parent_side, math.sqrt(2)) - 1e-9) - 1
    # round up: a start a hair below size / sqrt(2)**k would add a step at the parent's size
    return math.ceil(size / math.sqrt(2) ** steps_above)


def continued(parent: Parent, settings: TransferSettings, size: int | None = None) -> TransferSettings:
    """``settings`` (the parent's, with any overrides) made to start from the parent's pixels and
    run from the first schedule step above its size up to ``size`` (default: its own size)."""
    size = size or parent.long_side
    return settings.replace(
        size=size, start_size=refine_start_size(parent.long_side, size, settings.iteration_side), init="image",
        init_image=str(parent.path.absolute()),
    )


def default_output(parent_path, size: int) -> Path:
    """``<stem>_<size>px<ext>`` beside the parent: a new name, never the parent itself."""
    parent_path = Path(parent_path)
    name = f"{parent_path.stem}_{size}px{parent_path.suffix}"
    candidate, number = parent_path.with_name(name), 2
    while candidate.exists():
        candidate = parent_path.with_name(f"{parent_path.stem}_{size}px_{number}{parent_path.suffix}")
        number += 1
    return candidate


__all__ = ["ContinueError", "PARENT_KEY", "Parent", "check_inputs", "continued", "default_output",
           "missing_inputs", "read_parent", "refine_start_size"]

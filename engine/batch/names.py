"""Output names: the options of a batch and the name templates ({stem}_{style}.{ext})."""

from __future__ import annotations

import dataclasses
import re
import string
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from engine import images
from engine.batch.items import BatchError
from engine.settings import TransferSettings

DEFAULT_TEMPLATE = "{stem}_{style}.{ext}"
TEMPLATE_FIELDS = ("stem", "style", "ext", "index", "date")
EXTENSIONS = ("png", "jpg", "tif", "webp", "same")
DEFAULT_EXTENSION = "png"
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass
class BatchOptions:
    output_dir: str
    template: str = DEFAULT_TEMPLATE
    extension: str = DEFAULT_EXTENSION  # png jpg tif webp, or "same" as the input where possible
    recursive: bool = False  # include subfolders, mirrored under output_dir
    quality: int = 95  # JPEG/WebP

    def validate(self) -> "BatchOptions":
        if not str(self.output_dir).strip():
            raise BatchError("Choose an output folder for the batch.")
        if self.extension not in EXTENSIONS:
            raise BatchError(f"Output format must be one of {', '.join(EXTENSIONS)} (got {self.extension!r}).")
        if not 1 <= int(self.quality) <= 100:
            raise BatchError(f"Quality must be 1..100 (got {self.quality}).")
        check_template(self.template, self.extension)
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)



def check_template(template: str, extension: str = DEFAULT_EXTENSION) -> None:
    """Raise BatchError unless ``template`` names an image file inside the output folder."""
    sample_ext = DEFAULT_EXTENSION if extension == "same" else extension
    render_name(template, stem="photo", style="style", ext=sample_ext, index=1, date="2000-01-01")


def render_name(template: str, **fields) -> str:
    """The output path (relative, "/"-separated) ``template`` gives for these fields."""
    for _, name, _, _ in _parse_template(template):
        if name is not None and name not in TEMPLATE_FIELDS:
            allowed = " ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
            raise BatchError(f"Name template {template!r}: unknown field {{{name}}} (use {allowed}).")
    try:
        name = template.format(**fields)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise BatchError(f"Name template {template!r} cannot be used: {exc}.") from None
    return _inside_output(name, template)


def _parse_template(template: str) -> list:
    try:
        return list(string.Formatter().parse(template))
    except ValueError as exc:
        raise BatchError(f"Name template {template!r} is not valid: {exc} (write braces as {{{{ }}}}).") from None


def _inside_output(name: str, template: str) -> str:
    """``name`` as a clean relative path, refusing anything that could leave the output folder."""
    text = name.strip()
    parts = [part for part in re.split(r"[\\/]", text) if part not in ("", ".")]
    if text.startswith(("/", "\\")) or _DRIVE.match(text) or ".." in parts or "\0" in text:
        raise BatchError(
            f"Name template {template!r} would write outside the output folder "
            f"(no '..', absolute paths or drive letters; e.g. {DEFAULT_TEMPLATE})."
        )
    if not parts:
        raise BatchError(f"Name template {template!r} gives an empty file name.")
    if PurePosixPath(parts[-1]).suffix.lower() not in images.SUPPORTED_SUFFIXES:
        raise BatchError(
            f"Name template {template!r} gives {parts[-1]!r}, not an image file name: "
            f"end it with .{{ext}} or one of {' '.join(images.SUPPORTED_SUFFIXES)}."
        )
    return "/".join(parts)


def output_extension(source, extension: str) -> str:
    """The {ext} of ``source``'s output: ``extension``, or for "same" the input's own suffix when
    Impasto can write that format (else png)."""
    if extension != "same":
        return extension
    suffix = Path(source).suffix.lower()
    return suffix[1:] if suffix in images.SUPPORTED_SUFFIXES else DEFAULT_EXTENSION


def style_label(settings: TransferSettings) -> str:
    """{style}: the style image's stem, or the stems joined with '+' for a blend."""
    return "+".join(Path(style).stem for style in settings.styles) or "nostyle"


def numbered(base: str, number: int) -> str:
    path = PurePosixPath(base)
    return str(path.with_name(f"{path.stem}-{number}{path.suffix}"))


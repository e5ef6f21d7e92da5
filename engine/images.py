"""Image input/output: load any common photo as sRGB RGB, save atomically with the recipe.

Every failure a user can cause (bad file, full disk, read-only folder...) is raised as
``ImageError`` with one line naming the file. No Qt here.
"""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import struct
import tempfile
import warnings
import zlib
from contextlib import contextmanager, suppress
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from engine import files
from engine.errors import DestinationError, ImageError

_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}
SUPPORTED_SUFFIXES = tuple(_FORMATS)
IMAGE_SUFFIXES = SUPPORTED_SUFFIXES + (".bmp", ".gif", ".jfif")

DEFAULT_MAX_PIXELS = 2 * 89_478_485  # Pillow's own DecompressionBombError threshold
MAX_SIDE = 200_000  # wider than any real panorama; larger means a broken or hostile header
RECIPE_KEY = "impasto"
RECIPE_MARKER = "impasto_version"

_ORIENTATION = 0x0112
_IMAGE_DESCRIPTION = 0x010E
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_ALPHA_FORMATS = ("PNG", "TIFF", "WEBP")


# ---------------------------------------------------------------- loading


def load_image(path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """The image at ``path`` as an 8-bit sRGB "RGB" image, alpha composited over white."""
    return over_white(*load_image_with_alpha(path, max_pixels))


def over_white(rgb: Image.Image, alpha: Image.Image | None) -> Image.Image:
    """``rgb`` composited over white by ``alpha`` (resized to fit), as a transparent image is
    shown; ``rgb`` itself when there is no alpha."""
    if alpha is None:
        return rgb
    white = Image.new("RGB", rgb.size, (255, 255, 255))
    white.paste(rgb.convert("RGB"), mask=_alpha_mask(alpha, rgb.size))
    return white


def load_image_with_alpha(
    path, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[Image.Image, Image.Image | None]:
    """(sRGB "RGB" image, "L" alpha or None when the image is fully opaque)."""
    name = _check_file(path)
    try:
        with _bomb_warnings_as_errors(), Image.open(path) as img:
            _check_size(img.size, name, max_pixels)
            img.load()  # decode everything now so a truncated file fails here
            icc = img.info.get("icc_profile")
            colour, alpha = _split_alpha(_orient(img))
            rgb = _to_srgb(colour, icc)
    except ImageError:
        raise
    except Exception as exc:
        raise _load_error(exc, name) from exc
    if alpha is not None and alpha.getextrema() == (255, 255):
        alpha = None
    return rgb, alpha


def image_size(path) -> tuple[int, int]:
    """(width, height) as displayed, i.e. after EXIF orientation, without decoding pixels."""
    name = _check_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                width, height = img.size
                orientation = _exif_of(img).get(_ORIENTATION, 1)
    except Exception as exc:
        raise _load_error(exc, name) from exc
    if width < 1 or height < 1:
        raise ImageError(f"{name} has an invalid size ({width}x{height})")
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _check_file(path) -> str:
    """Fail early with a clear message for the common not-an-image-file cases."""
    name = Path(path).name or str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ImageError(f"Image not found: {name}") from None
    except PermissionError:
        raise ImageError(f"Permission denied reading {name}") from None
    except (OSError, ValueError) as exc:
        raise ImageError(f"Cannot read {name}: {_reason(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageError(f"{name} is a folder, not an image")
    if info.st_size == 0:
        raise ImageError(f"{name} is empty (0 bytes)")
    return name


@contextmanager
def _bomb_warnings_as_errors():
    """Silence Pillow's chatter (corrupt EXIF...) but make DecompressionBombWarning an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def _check_size(size: tuple[int, int], name: str, max_pixels: int) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageError(f"{name} has an invalid size ({width}x{height})")
    if width * height > max_pixels or max(width, height) > MAX_SIDE:
        raise ImageError(
            f"{name} is too large to open safely: {width}x{height} pixels "
            f"(limit {max_pixels / 1e6:.0f} megapixels)"
        )


def _load_error(exc: Exception, name: str) -> ImageError:
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):
        return ImageError(f"{name} is too large to open safely: {_reason(exc)}")
    if isinstance(exc, UnidentifiedImageError):
        return ImageError(f"{name} is not an image file Impasto can read")
    if isinstance(exc, PermissionError):
        return ImageError(f"Permission denied reading {name}")
    if isinstance(exc, MemoryError):
        return ImageError(f"Not enough memory to open {name}")
    return ImageError(f"Cannot decode {name} (damaged or truncated?): {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__


def _orient(img: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(img)
    except Exception:
        return img  # a broken EXIF block must not make readable pixels unreadable


def _split_alpha(img: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """(image in L/RGB/CMYK/LAB with 8 bits per channel, alpha or None)."""
    if img.mode in _SIXTEEN_BIT_MODES:
        return _sixteen_to_eight(img), None
    if img.mode == "F":
        return _float_to_eight(img), None
    if img.mode in ("P", "PA"):
        img = img.convert("RGBA")  # honours both tRNS transparency and RGBA palettes
    elif img.mode in ("RGBa", "La"):
        img = img.convert(img.mode[:-1] + "A")
    elif img.mode == "1":
        img = img.convert("L")
    elif img.mode not in ("L", "LA", "RGB", "RGBA", "CMYK", "LAB"):
        img = img.convert("RGB")
    if img.mode in ("RGBA", "LA"):
        return img.convert(img.mode[:-1]), img.getchannel("A")
    return img, None


def _sixteen_to_eight(img: Image.Image) -> Image.Image:
    values = np.clip(np.asarray(img).astype(np.int64), 0, 65535)
    # round(v * 255 / 65535): full scale maps to full scale, unlike clipping or a >> 8
    return Image.fromarray(((values * 255 + 32767) // 65535).astype(np.uint8))


def _float_to_eight(img: Image.Image) -> Image.Image:
    values = np.nan_to_num(np.asarray(img, dtype=np.float64))
    scale = 1.0 if values.size and values.max() <= 1.0 else 255.0
    return Image.fromarray(_quantize(values / scale, 255, np.uint8))


def _to_srgb(img: Image.Image, icc: bytes | None) -> Image.Image:
    if icc and icc != srgb_profile_bytes() and img.mode in ("RGB", "L", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(
                img,
                source,
                _srgb_profile(),
                renderingIntent=ImageCms.Intent.PERCEPTUAL,
                outputMode="RGB",
            )
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # broken profile, or one for another colour space: plain conversion instead
    if img.mode == "LAB":
        return ImageCms.profileToProfile(
            img, ImageCms.createProfile("LAB"), _srgb_profile(), outputMode="RGB"
        )
    return img.convert("RGB")


@lru_cache(maxsize=1)
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@lru_cache(maxsize=1)
def srgb_profile_bytes() -> bytes:
    """The ICC profile Impasto tags its outputs with."""
    return _srgb_profile().tobytes()


def _exif_of(img: Image.Image) -> Image.Exif:
    """The EXIF of an opened image, without decoding its pixels."""
    exif = Image.Exif()
    try:
        if img.format != "PNG":
            return img.getexif()
        # PNG's getexif() decodes the pixels to look for an eXIf chunk after the image data
        if img.info.get("exif"):
            exif.load(img.info["exif"])
    except Exception:
        pass  # unreadable EXIF counts as none
    return exif


# ---------------------------------------------------------------- metadata


def read_recipe(path) -> dict | None:
    """The recipe ``save_image`` stored in ``path``, or None when it has none."""
    name = _check_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                texts = (img.info.get(RECIPE_KEY), _exif_of(img).get(_IMAGE_DESCRIPTION))
    except Exception as exc:
        raise _load_error(exc, name) from exc
    for text in texts:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        try:
            recipe = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            continue
        if isinstance(recipe, dict) and RECIPE_MARKER in recipe:
            return recipe
    return None


def read_metadata(path) -> tuple[bytes | None, bytes | None]:
    """(EXIF to carry into an output, ICC profile to tag it with) for the image at ``path``.

    The EXIF has its orientation reset to 1, because ``load_image`` already applied it. The
    profile is sRGB when the file had one (``load_image`` converted its pixels to sRGB, so the
    original profile would no longer describe them) and None otherwise.
    """
    name = _check_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                exif = _exif_of(img)
                had_profile = bool(img.info.get("icc_profile"))
    except Exception as exc:
        raise _load_error(exc, name) from exc
    if _ORIENTATION in exif:
        exif[_ORIENTATION] = 1
    try:
        exif_bytes = exif.tobytes() if len(exif) else None
    except Exception:
        exif_bytes = None  # EXIF Pillow can read but not write back is dropped
    return exif_bytes, (srgb_profile_bytes() if had_profile else None)


# ---------------------------------------------------------------- saving


def save_image(
    image,
    path,
    recipe: dict | None = None,
    quality: int = 95,
    inputs=(),
    alpha=None,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    bits: int = 8,
) -> Path:
    """Write ``image`` to ``path`` atomically; the format comes from the suffix.

    ``image``: a PIL image, an HxWx3 float array in 0..1, or a float tensor (1,3,H,W)/(3,H,W)
    in 0..1. ``bits=16`` is supported for PNG only. Refuses to overwrite any of ``inputs``.
    ``alpha`` is kept by PNG, TIFF and WebP; a JPEG gets the image composited over white instead.
    """
    target = check_output_path(path, inputs, quality, bits)
    fmt = _FORMATS[target.suffix.lower()]
    if alpha is None and isinstance(image, Image.Image) and image.mode in ("RGBA", "LA"):
        alpha = image.getchannel("A")
    pixels = _pixels(image, bits)
    height, width = pixels.shape[:2]
    alpha = _alpha_mask(alpha, (width, height))
    if alpha is not None and fmt not in _ALPHA_FORMATS:
        pixels, alpha = _over_white(pixels, alpha), None
    try:
        text = json.dumps(recipe, sort_keys=True) if recipe is not None else None
    except (TypeError, ValueError) as exc:
        raise ImageError(f"Cannot save {target.name}: recipe is not JSON ({_reason(exc)})") from exc
    icc = icc_profile if icc_profile is not None else srgb_profile_bytes()

    if bits == 16:
        def write(file):
            _write_png16(file, pixels, alpha, icc, text, exif)
    else:
        picture = Image.fromarray(pixels)
        if alpha is not None:
            picture.putalpha(alpha)
        params = _save_params(fmt, quality, text, icc, exif)

        def write(file):
            picture.save(file, format=fmt, **params)

    _atomic_write(target, write)
    return target


def check_output_path(path, inputs=(), quality: int = 95, bits: int = 8) -> Path:
    """Everything ``save_image`` would refuse, checked before any work is spent on the image."""
    target = Path(path).expanduser()
    if target.suffix.lower() not in _FORMATS:
        supported = " ".join(SUPPORTED_SUFFIXES)
        raise ImageError(f"Cannot save {target.name}: unknown file type (use one of {supported})")
    if bits not in (8, 16):
        raise ImageError(f"Cannot save {target.name}: bits must be 8 or 16, not {bits}")
    if bits == 16 and _FORMATS[target.suffix.lower()] != "PNG":
        raise ImageError(f"Cannot save {target.name}: 16-bit output needs a .png file")
    if not 1 <= quality <= 100:
        raise ImageError(f"Cannot save {target.name}: quality must be 1..100, not {quality}")
    if target.is_dir():
        raise ImageError(f"Cannot save {target.name}: it is a folder")
    _refuse_inputs(target, inputs)
    return target


def check_writable(path) -> None:
    """Raise ImageError now, before a long run, when the folder of ``path`` exists but cannot take
    a new file (read-only folder or file system). A folder that does not exist yet is left to
    ``save_image``, which creates it."""
    target = Path(path).expanduser()
    if not target.parent.is_dir():
        return
    try:
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=files.TEMP_PREFIX, suffix=target.suffix):
            pass
    except OSError as exc:
        raise _save_error(exc, target) from None


def _refuse_inputs(target: Path, inputs) -> None:
    if isinstance(inputs, (str, os.PathLike)):
        inputs = (inputs,)
    for source in inputs:
        if source and _same_file(target, Path(source)):
            raise ImageError(
                f"Refusing to overwrite the input image {target.name}; choose another output name"
            )


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return a.resolve() == b.resolve()


def _pixels(image, bits: int) -> np.ndarray:
    """HxWx3 uint8 (bits=8) or uint16 (bits=16) array of ``image``."""
    if isinstance(image, Image.Image):
        values = np.asarray(image.convert("RGB"))
        return values if bits == 8 else values.astype(np.uint16) * 257
    if isinstance(image, torch.Tensor):
        image = _chw(image).permute(1, 2, 0).numpy()
    values = np.asarray(image)
    if values.ndim != 3 or values.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {values.shape}")
    if values.dtype == np.uint8:
        return values if bits == 8 else values.astype(np.uint16) * 257
    if bits == 8:
        return _quantize(values, 255, np.uint8)
    return _quantize(values, 65535, np.uint16)


def _quantize(values: np.ndarray, top: int, dtype) -> np.ndarray:
    values = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), 0.0, 1.0)
    return np.ascontiguousarray(np.rint(values * top).astype(dtype))


def _over_white(pixels: np.ndarray, alpha: Image.Image) -> np.ndarray:
    """``pixels`` composited over white, as ``load_image`` shows a transparent input: for a format
    without alpha, where dropping it would reveal whatever colour hid under the transparency."""
    coverage = np.asarray(alpha, dtype=np.float64)[..., None] / 255.0
    top = 65535 if pixels.dtype == np.uint16 else 255
    blended = pixels * coverage + top * (1.0 - coverage)
    return np.rint(blended).astype(pixels.dtype)


def _alpha_mask(alpha, size: tuple[int, int]) -> Image.Image | None:
    if alpha is None:
        return None
    if not isinstance(alpha, Image.Image):
        if isinstance(alpha, torch.Tensor):
            alpha = alpha.detach().cpu().numpy()
        values = np.asarray(alpha).squeeze()
        if values.dtype != np.uint8:
            values = _quantize(values, 255, np.uint8)
        alpha = Image.fromarray(values)
    alpha = alpha.convert("L")
    # the stylised image is often smaller than the content photo the alpha came from
    return alpha if alpha.size == size else alpha.resize(size, Image.Resampling.LANCZOS)


def _save_params(fmt: str, quality: int, text: str | None, icc: bytes, exif: bytes | None) -> dict:
    params: dict = {"icc_profile": icc}
    if fmt == "PNG":
        info = PngInfo()
        if text is not None:
            info.add_text(RECIPE_KEY, text)
        params.update(pnginfo=info, optimize=False, compress_level=6)
        exif_bytes = _exif_bytes(exif, None)
    else:
        exif_bytes = _exif_bytes(exif, text)
    if exif_bytes:
        params["exif"] = exif_bytes
    if fmt == "JPEG":
        params.update(quality=quality, optimize=True)
        if quality >= 90:
            params["subsampling"] = 0  # 4:4:4: keep the fine colour detail of brush strokes
    elif fmt == "WEBP":
        params.update(quality=quality, lossless=quality == 100)
    elif fmt == "TIFF":
        params["compression"] = "tiff_adobe_deflate"
    return params


def _exif_bytes(exif: bytes | None, text: str | None) -> bytes | None:
    """``exif`` with orientation 1 and ``text`` as ImageDescription; None when empty."""
    data = Image.Exif()
    if exif:
        with suppress(Exception):  # unreadable EXIF from a content photo is dropped, not fatal
            data.load(exif)
    if _ORIENTATION in data:
        data[_ORIENTATION] = 1  # our pixels are already upright
    if text is not None:
        data[_IMAGE_DESCRIPTION] = text
    return data.tobytes() if len(data) else None


def _write_png16(file, rgb: np.ndarray, alpha, icc: bytes, text: str | None, exif) -> None:
    """A 16-bit-per-channel PNG; Pillow cannot write 48/64-bit RGB(A)."""
    height, width = rgb.shape[:2]
    if alpha is not None:
        rgb = np.dstack([rgb, np.asarray(alpha, dtype=np.uint16) * 257])
    rows = rgb.astype(">u2").reshape(height, -1).view(np.uint8)
    raw = np.hstack([np.zeros((height, 1), np.uint8), rows])  # filter type 0 on every row
    colour_type = 6 if alpha is not None else 2
    file.write(b"\x89PNG\r\n\x1a\n")
    _png_chunk(file, b"IHDR", struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0))
    _png_chunk(file, b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc))
    if text is not None:
        _png_chunk(file, b"tEXt", RECIPE_KEY.encode("latin-1") + b"\x00" + text.encode("latin-1"))
    exif_bytes = _exif_bytes(exif, None)
    if exif_bytes:
        _png_chunk(file, b"eXIf", exif_bytes.removeprefix(b"Exif\x00\x00"))
    _png_chunk(file, b"IDAT", zlib.compress(raw.tobytes(), 6))
    _png_chunk(file, b"IEND", b"")


def _png_chunk(file, kind: bytes, data: bytes) -> None:
    crc = zlib.crc32(kind + data)
    file.write(struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc))


def _atomic_write(target: Path, write) -> None:
    """Run ``write(file)`` on a temp file next to ``target``, then rename it over ``target``."""
    try:
        files.write_atomic(target, write)
    except Exception as exc:
        raise _save_error(exc, target) from exc


def _save_error(exc: Exception, target: Path) -> ImageError:
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return DestinationError(f"No space left on device while saving {target.name}")
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return DestinationError(f"Cannot write to folder {target.parent} (saving {target.name})")
    return ImageError(f"Cannot save {target.name}: {_reason(exc)}")


# ---------------------------------------------------------------- tensors and sizes


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """float32 tensor (1, 3, H, W) in 0..1."""
    values = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(values).permute(2, 0, 1).unsqueeze(0).contiguous()


def tensor_to_pil(t: torch.Tensor) -> Image.Image:
    """RGB image of a (1, 3, H, W) or (3, H, W) tensor in 0..1 (clamped, rounded)."""
    return Image.fromarray(_quantize(_chw(t).permute(1, 2, 0).numpy(), 255, np.uint8))


def _chw(t: torch.Tensor) -> torch.Tensor:
    t = t.detach().to("cpu", torch.float32)
    if t.dim() == 4 and t.shape[0] == 1:
        t = t[0]
    if t.dim() != 3 or t.shape[0] != 3:
        raise ValueError(f"expected a (1, 3, H, W) or (3, H, W) tensor, got {tuple(t.shape)}")
    return t


def fit_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(w, h) scaled so the longer side is ``long_side``, aspect kept, no side below 1."""
    if width < 1 or height < 1 or long_side < 1:
        raise ValueError(f"sizes must be positive: {width}x{height} -> {long_side}")
    scale = long_side / max(width, height)
    return max(1, int(width * scale + 0.5)), max(1, int(height * scale + 0.5))


def resize_long_side(img: Image.Image, long_side: int) -> Image.Image:
    """``img`` resized (LANCZOS) so its longer side is ``long_side``; a copy if already so."""
    size = fit_size(img.width, img.height, long_side)
    if size == img.size:
        return img.copy()
    return img.resize(size, Image.Resampling.LANCZOS)

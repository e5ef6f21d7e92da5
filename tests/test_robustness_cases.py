"""The hardening matrix's inputs: one factory that writes every bad or unusual image into a folder.

The other test_robustness* files run each case through the CLI, the GUI panes and the batch
queue. This file also checks each case once at the loader (engine.images), and fuzzes the
header-only readers the panes and the batch planner use, which tests/test_images.py's property
test (load_image only) does not reach.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import io
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from engine import images
from engine.errors import ImageError

RED, BLUE, WHITE = (220, 30, 30), (30, 40, 220), (255, 255, 255)
OUTPUT_SIDE = 32  # every run in the matrix makes a 32 px output
TOLERANCE = 40  # JPEG, resampling, one pinned fp32 iteration (GUI tests); a wrong decode is far off


# ---------------------------------------------------------------- writers


def two_tone(width: int, height: int, first=RED, second=BLUE, across: bool = False) -> Image.Image:
    """``first`` on the top half (left half when ``across``), ``second`` on the other."""
    image = Image.new("RGB", (width, height), first)
    box = (width // 2, 0, width, height) if across else (0, height // 2, width, height)
    image.paste(second, box)
    return image


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_bomb(path: Path) -> None:
    """A real decompression bomb: 196 megapixels of 1-bit zeros in a 24 KB PNG."""
    side = 14000
    pixels = zlib.compress(bytes(side // 8 + 1) * side, 9)
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", pixels) + _png_chunk(b"IEND", b"")
    )


def write_corrupt(path: Path) -> None:
    """A PNG whose header is fine but whose compressed pixels are garbage."""
    two_tone(40, 30).save(path)
    data = bytearray(path.read_bytes())
    start = data.index(b"IDAT") + 8
    data[start : start + 20] = bytes(range(200, 220))
    path.write_bytes(bytes(data))


def write_truncated(path: Path) -> None:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def write_empty(path: Path) -> None:
    path.write_bytes(b"")


def write_text(path: Path) -> None:
    path.write_text("these are my holiday notes, not a photo\n" * 20, encoding="utf-8")


def write_huge(path: Path) -> None:
    """50 megapixels (8000x6250), two flat colours so it encodes in a fraction of a second."""
    two_tone(80, 64).resize((8000, 6250), Image.Resampling.NEAREST).save(path, quality=85)


def write_tall_line(path: Path) -> None:
    two_tone(1, 300).save(path)


def write_wide_line(path: Path) -> None:
    two_tone(300, 1, across=True).save(path)


def write_cmyk(path: Path) -> None:
    image = Image.new("CMYK", (40, 30), (0, 255, 255, 0))  # red
    image.paste((255, 255, 0, 0), (0, 15, 40, 30))  # blue
    image.save(path, quality=95)


def write_grey16(path: Path) -> None:
    values = np.full((30, 40), 60000, np.uint16)  # 233 in 8 bits
    values[15:] = 8000  # 31
    Image.fromarray(values).save(path)
    assert Image.open(path).mode == "I;16"


def write_rgb48_tiff(path: Path) -> None:
    """16 bits per channel RGB, written by hand (Pillow cannot write it)."""
    from tests.test_images import tiff48

    values = np.zeros((30, 40, 3), np.uint16)
    values[:15] = [v * 257 for v in RED]
    values[15:] = [v * 257 for v in BLUE]
    path.write_bytes(tiff48(values))


def write_palette_transparency(path: Path) -> None:
    image = Image.new("P", (40, 30), 0)
    image.putpalette([*RED, *BLUE, 0, 255, 0])
    image.paste(2, (0, 15, 40, 30))  # index 2 is transparent: comes out white, not green
    image.save(path, transparency=2)


def write_alpha(path: Path) -> None:
    image = Image.new("RGBA", (40, 30), (*RED, 255))
    image.paste((0, 0, 0, 0), (0, 15, 40, 30))  # transparent black over white is white
    image.save(path)


def write_animation(path: Path) -> None:
    frames = [two_tone(40, 30), Image.new("RGB", (40, 30), (0, 255, 0)), Image.new("RGB", (40, 30), (0, 0, 0))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=80, loop=0, lossless=True)
    assert Image.open(path).n_frames == 3


def write_exif_rotated(path: Path) -> None:
    """Stored 30 wide x 40 tall, red on the left; orientation 6 shows it 40x30 with red on top."""
    stored = Image.new("RGB", (30, 40), BLUE)
    stored.paste(RED, (0, 0, 15, 40))
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(path, quality=95, exif=exif.tobytes())


def write_grey(path: Path) -> None:
    image = Image.new("L", (40, 30), 200)
    image.paste(40, (0, 15, 40, 30))
    image.save(path)


def write_plain(path: Path) -> None:
    two_tone(40, 30).save(path)


# ---------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case:
    name: str
    filename: str  # relative to the folder the factory writes into (may hold a subfolder)
    write: Callable[[Path], None]
    error: str = ""  # bad input: a part of the one-line message the user must see
    size: tuple[int, int] = (0, 0)  # valid input: the output size at OUTPUT_SIDE
    probes: tuple = ()  # ((fx, fy), rgb) the loaded image shows at those relative positions
    transparent_bottom: bool = False  # the input is transparent there, and an output keeps that

    @property
    def bad(self) -> bool:
        return bool(self.error)


TOP_RED_BOTTOM_BLUE = (((0.5, 0.2), RED), ((0.5, 0.8), BLUE))
CASES = {
    case.name: case
    for case in (
        Case("corrupt", "corrupt.png", write_corrupt, error="damaged"),
        Case("truncated", "truncated.jpg", write_truncated, error="truncated"),
        Case("empty", "empty.png", write_empty, error="empty (0 bytes)"),
        Case("text named .jpg", "notes.jpg", write_text, error="not an image file"),
        Case("decompression bomb", "bomb.png", write_bomb, error="too large to open safely"),
        Case("huge 50 MP", "huge.jpg", write_huge, size=(32, 25), probes=TOP_RED_BOTTOM_BLUE),
        Case("1xN", "tall line.png", write_tall_line, size=(1, 32), probes=TOP_RED_BOTTOM_BLUE),
        Case("Nx1", "wide line.png", write_wide_line, size=(32, 1),
             probes=(((0.2, 0.5), RED), ((0.8, 0.5), BLUE))),
        Case("CMYK", "cmyk.jpg", write_cmyk, size=(32, 24), probes=(((0.5, 0.2), (255, 0, 0)), ((0.5, 0.8), (0, 0, 255)))),
        Case("16-bit", "grey16.png", write_grey16, size=(32, 24),
             probes=(((0.5, 0.2), (233,) * 3), ((0.5, 0.8), (31,) * 3))),
        Case("16-bit RGB TIFF", "deep.tif", write_rgb48_tiff, size=(32, 24), probes=TOP_RED_BOTTOM_BLUE),
        Case("palette+transparency", "palette.png", write_palette_transparency, size=(32, 24),
             probes=(((0.5, 0.2), RED), ((0.5, 0.8), WHITE)), transparent_bottom=True),
        Case("alpha", "alpha.png", write_alpha, size=(32, 24), probes=(((0.5, 0.2), RED), ((0.5, 0.8), WHITE)),
             transparent_bottom=True),
        Case("animated GIF", "animated.gif", write_animation, size=(32, 24), probes=TOP_RED_BOTTOM_BLUE),
        Case("animated WebP", "animated.webp", write_animation, size=(32, 24), probes=TOP_RED_BOTTOM_BLUE),
        Case("EXIF-rotated", "sideways.jpg", write_exif_rotated, size=(32, 24), probes=TOP_RED_BOTTOM_BLUE),
        Case("grey", "grey.png", write_grey, size=(32, 24), probes=(((0.5, 0.2), (200,) * 3), ((0.5, 0.8), (40,) * 3))),
        Case("unicode and spaces in path", "ünï cødé 画/my phötö 1.png", write_plain, size=(32, 24),
             probes=TOP_RED_BOTTOM_BLUE),
    )
}
BAD = [name for name, case in CASES.items() if case.bad]
GOOD = [name for name, case in CASES.items() if not case.bad]
SMALL_GOOD = [name for name in GOOD if name != "huge 50 MP"]  # the 50 MP case runs only where the brief asks


def make_case(name: str, folder: Path) -> Path:
    """Write case ``name`` into ``folder`` and return its path."""
    case = CASES[name]
    path = folder / case.filename
    path.parent.mkdir(parents=True, exist_ok=True)
    case.write(path)
    return path


@pytest.fixture
def case_file(tmp_path):
    """``case_file(name, folder=tmp_path / "in")`` -> the written file."""

    def make(name: str, folder: Path | None = None) -> Path:
        return make_case(name, folder or tmp_path / "in")

    return make


# ---------------------------------------------------------------- checks shared by the matrix


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` -> its SHA-256 (to prove inputs stay byte-identical)."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def new_files(before: dict[str, str], after: dict[str, str]) -> set[str]:
    """Files that appeared; asserts that none of those present before changed."""
    changed = [name for name in before if after.get(name) != before[name]]
    assert not changed, f"inputs changed or vanished: {changed}"
    return set(after) - set(before)


def close(colour, expected, tolerance: int = TOLERANCE) -> bool:
    return all(abs(int(a) - int(b)) <= tolerance for a, b in zip(colour, expected))


def check_output_image(case: Case, image: Image.Image) -> None:
    """``image`` (RGB, as load_image gives it) is ``case``'s content, decoded the right way round."""
    assert image.size == case.size
    for (fx, fy), expected in case.probes:
        x = min(image.width - 1, int(fx * image.width))
        y = min(image.height - 1, int(fy * image.height))
        assert close(image.getpixel((x, y)), expected), (case.name, (x, y), image.getpixel((x, y)), expected)


def check_saved_output(case: Case, path: Path) -> None:
    """The full check, for runs short enough and with precision pinned (fp32, one iteration) that
    the output still shows the content's colours."""
    check_output_image(case, images.load_image(path))
    if case.transparent_bottom:
        _check_alpha(path)


def _check_alpha(path: Path) -> None:
    _, alpha = images.load_image_with_alpha(path)
    assert alpha is not None, "the input's transparency was lost"
    assert alpha.getpixel((alpha.width // 2, alpha.height - 1)) < 30
    assert alpha.getpixel((alpha.width // 2, 0)) > 225


def _transparent_probes(case: Case) -> list:
    """The probes of ``case`` that lie in its transparent bottom half (none when it has none)."""
    return [probe for probe in case.probes if case.transparent_bottom and probe[0][1] >= 0.5]


def check_stylized_output(case: Case, path: Path, alpha_kept: bool = True) -> None:
    """What a stylised output of ``case``'s content shows whatever numerics the run had (bf16 or
    fp32, whichever CPU): it decodes, at the content's size (orientation applied), and where the
    input was transparent it shows white (put back from the alpha, not optimised) and, when
    ``alpha_kept`` (PNG, TIFF, WebP), is still transparent. Its other colours are the optimiser's
    business; ``check_engine_input`` shows the content reached the engine right."""
    image = images.load_image(path)
    assert image.size == case.size
    for (fx, fy), expected in _transparent_probes(case):
        x, y = min(image.width - 1, int(fx * image.width)), min(image.height - 1, int(fy * image.height))
        assert close(image.getpixel((x, y)), expected), (case.name, (x, y), image.getpixel((x, y)), expected)
    if case.transparent_bottom and alpha_kept:
        _check_alpha(path)


def check_engine_input(case: Case, image: Image.Image) -> None:
    """``image``, an image the optimisation started from (see ``record_engine_inputs``), is
    ``case``'s picture decoded the right way round and in the right colours, before any
    optimisation moved a pixel. Transparent parts are left out: the engine gets the colours under
    them, and the output gets its alpha back (``check_stylized_output``)."""
    small = images.resize_long_side(image, OUTPUT_SIDE)
    assert small.size == case.size
    hidden = _transparent_probes(case)
    check_output_image(dataclasses.replace(case, probes=tuple(p for p in case.probes if p not in hidden)), small)


@dataclass
class EngineInputs:
    contents: list  # the content image of every Stylizer.stylize call, in order
    styles: list  # the style images of the stylizer at each of those calls


def record_engine_inputs(monkeypatch) -> EngineInputs:
    """Record the images every front end (CLI, batch, GUI) hands to the engine's optimisation."""
    from engine import transfer

    seen = EngineInputs([], [])
    real = transfer.Stylizer.stylize

    def stylize(self, content, *args, **kwargs):
        seen.contents.append(content)
        seen.styles.append(list(self.style_images))
        return real(self, content, *args, **kwargs)

    monkeypatch.setattr(transfer.Stylizer, "stylize", stylize)
    return seen


def one_line(message: str) -> str:
    message = message.strip()
    assert message and "\n" not in message and "Traceback" not in message, message
    return message


def error_line(stderr: str) -> str:
    """The last line of a command's stderr (progress lines may come before it), no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert lines, "nothing on stderr"
    return one_line(lines[-1])


# ---------------------------------------------------------------- the loader, once per case


@pytest.mark.parametrize("name", BAD)
def test_bad_case_is_one_line_image_error_at_load_and_header(name, case_file):
    path = case_file(name)
    before = path.read_bytes()
    with pytest.raises(ImageError) as info:
        images.load_image(path)
    assert CASES[name].error in one_line(str(info.value)) and path.name in str(info.value)
    assert path.read_bytes() == before


@pytest.mark.parametrize("name", GOOD)
def test_good_case_loads_upright_in_srgb(name, case_file):
    path = case_file(name)
    before = path.read_bytes()
    image = images.load_image(path)
    case = CASES[name]
    assert image.mode == "RGB"
    assert images.image_size(path) == image.size
    assert images.fit_size(*image.size, OUTPUT_SIDE) == case.size
    check_output_image(case, images.resize_long_side(image, OUTPUT_SIDE))
    assert path.read_bytes() == before


# ---------------------------------------------------------------- header readers under fuzzing


def _sample(fmt: str, **kw) -> bytes:
    import io

    buffer = io.BytesIO()
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (9, 12, 3), dtype=np.uint8)).save(buffer, fmt, **kw)
    return buffer.getvalue()


def _recipe_chunk():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(images.RECIPE_KEY, '{"impasto_version": "0.1", "size": 32}')
    return info


EXIF = Image.Exif()
EXIF[0x0112] = 6
SAMPLES = [
    _sample("PNG"), _sample("JPEG", quality=80, exif=EXIF.tobytes()), _sample("GIF"), _sample("WEBP"),
    _sample("TIFF"), _sample("BMP"), _sample("PNG", pnginfo=_recipe_chunk()),
]


@st.composite
def damaged_image_bytes(draw):
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(1, len(data)))])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(damaged_image_bytes(), st.binary(max_size=200)))
def test_header_readers_give_a_size_or_one_line_error(tmp_path, data):
    """What the drop panes (image_size), the batch planner and Save (read_recipe, read_metadata)
    call on whatever file the user points at: a sane answer or an ImageError, never a crash."""
    path = tmp_path / "fuzz.jpg"
    path.write_bytes(data)
    for reader in (images.image_size, images.read_recipe, images.read_metadata):
        try:
            answer = reader(path)
        except ImageError as exc:
            one_line(str(exc))
            continue
        if reader is images.image_size:
            assert all(isinstance(side, int) and side >= 1 for side in answer)
    assert path.read_bytes() == data


# ---------------------------------------------------------------- broken destinations

DESTINATION_FAULTS = {
    # kind: the message the user must see
    "read-only folder": "Cannot write to folder",
    "read-only file system": "Cannot write to folder",
    "disk full": "No space left on device",
    "rename refused": "Cannot write to folder",
}


class _FillingFile:
    """A temp file on a disk that fills up after ``room`` bytes: the bytes before are really
    written, so a missed clean-up would leave a partial file behind."""

    def __init__(self, real, room: int):
        self._real = real
        self._room = room

    def write(self, data) -> int:
        data = bytes(data)
        if len(data) > self._room:
            self._real.write(data[: self._room])
            self._real.flush()
            self._room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return self._real.write(data)

    def fileno(self):
        raise io.UnsupportedOperation("fileno")  # so Pillow's encoder writes through write()

    def __getattr__(self, name):
        return getattr(self._real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._real.close()
        return False


def break_destination(monkeypatch, kind: str) -> str:
    """Make every image save fail the way ``kind`` does (running as root, chmod cannot be used);
    the batch manifest (the same atomic write, to a .json file) still writes. Returns the message
    the user must see."""
    real_temp_file, real_replace = tempfile.NamedTemporaryFile, os.replace

    def for_images(broken):
        def temp_file(*args, **kwargs):
            if str(kwargs.get("suffix", "")).lower() in images.SUPPORTED_SUFFIXES:
                return broken(*args, **kwargs)
            return real_temp_file(*args, **kwargs)

        return temp_file

    if kind in ("read-only folder", "read-only file system"):
        code = errno.EACCES if kind == "read-only folder" else errno.EROFS

        def refuse(*args, **kwargs):
            raise OSError(code, os.strerror(code))  # PermissionError for EACCES

        monkeypatch.setattr(tempfile, "NamedTemporaryFile", for_images(refuse))
    elif kind == "disk full":
        monkeypatch.setattr(
            tempfile, "NamedTemporaryFile",
            for_images(lambda *a, **kw: _FillingFile(real_temp_file(*a, **kw), 100)),
        )
    elif kind == "rename refused":

        def replace(source, target, *args, **kwargs):
            if Path(target).suffix.lower() in images.SUPPORTED_SUFFIXES:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(target))
            return real_replace(source, target, *args, **kwargs)

        monkeypatch.setattr(os, "replace", replace)
    else:
        raise ValueError(kind)
    return DESTINATION_FAULTS[kind]


def temp_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob(".impasto-*"))

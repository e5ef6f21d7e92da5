"""engine.images: loading every kind of input photo, atomic saving, recipes, tensors."""

from __future__ import annotations

import errno
import io
import os
import struct
import zlib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from engine import images
from engine.errors import ImageError
from engine.images import (
    load_image,
    load_image_with_alpha,
    image_size,
    read_metadata,
    read_recipe,
    save_image,
)

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
SRGB = images.srgb_profile_bytes()  # the very bytes Impasto tags outputs with


def pixels(img) -> np.ndarray:
    return np.asarray(img).astype(int)


def close(colour, expected, tol=8) -> bool:
    return all(abs(int(a) - int(b)) <= tol for a, b in zip(colour, expected))


def noise(w=32, h=24, seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def smooth(w=32, h=24) -> Image.Image:
    """A gradient: lossy codecs keep it close, unlike noise."""
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 255 // (w + h - 2)], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8))


def expect_error(path, match=None, **kw) -> str:
    with pytest.raises(ImageError) as info:
        load_image(path, **kw)
    message = str(info.value)
    assert "\n" not in message
    if match:
        assert match in message
    return message


def swapped_primaries_profile() -> bytes:
    """sRGB's profile with the red and blue primaries exchanged: a real non-sRGB RGB profile."""
    data = bytearray(SRGB)
    count = struct.unpack_from(">I", data, 128)[0]
    table = {}
    for i in range(count):
        sig, offset, size = struct.unpack_from(">4sII", data, 132 + 12 * i)
        table[sig] = (i, offset, size)
    (ir, offr, sr), (ib, offb, sb) = table[b"rXYZ"], table[b"bXYZ"]
    struct.pack_into(">4sII", data, 132 + 12 * ir, b"rXYZ", offb, sb)
    struct.pack_into(">4sII", data, 132 + 12 * ib, b"bXYZ", offr, sr)
    return bytes(data)


def png_chunks(path) -> dict[bytes, list[bytes]]:
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks: dict[bytes, list[bytes]] = {}
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack_from(">I", data, pos + 8 + length)
        assert crc == zlib.crc32(kind + body)
        chunks.setdefault(kind, []).append(body)
        pos += 12 + length
    return chunks


def decode_png16(path) -> np.ndarray:
    """Independent decoder for the unfiltered 16-bit PNGs save_image writes."""
    chunks = png_chunks(path)
    w, h, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][0][:10])
    assert depth == 16
    channels = {2: 3, 6: 4}[colour_type]
    raw = np.frombuffer(zlib.decompress(b"".join(chunks[b"IDAT"])), np.uint8).reshape(h, -1)
    assert (raw[:, 0] == 0).all()
    return raw[:, 1:].copy().view(">u2").reshape(h, w, channels).astype(np.uint16)


# ---------------------------------------------------------------- loading


def test_exif_rotated_jpeg_comes_back_upright(tmp_path):
    img = Image.new("RGB", (40, 20), RED)
    img.paste(BLUE, (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    path = tmp_path / "sideways.jpg"
    img.save(path, quality=95, exif=exif.tobytes())
    out = load_image(path)
    assert out.mode == "RGB" and out.size == (20, 40)
    assert close(out.getpixel((10, 5)), RED, 20)
    assert close(out.getpixel((10, 35)), BLUE, 20)
    assert image_size(path) == (20, 40)


def test_icc_profile_is_converted_to_srgb(tmp_path):
    path = tmp_path / "swapped.png"
    Image.new("RGB", (8, 8), RED).save(path, icc_profile=swapped_primaries_profile())
    assert close(load_image(path).getpixel((0, 0)), BLUE, 2)


def test_srgb_tagged_image_loads_unchanged(tmp_path):
    src = noise()
    path = tmp_path / "srgb.png"
    src.save(path, icc_profile=SRGB)
    assert (pixels(load_image(path)) == pixels(src)).all()


@pytest.mark.parametrize("blob", [b"garbage" * 30, SRGB[:200]])
def test_broken_icc_profile_is_ignored(tmp_path, blob):
    src = noise()
    path = tmp_path / "broken-icc.png"
    src.save(path, icc_profile=blob)
    assert (pixels(load_image(path)) == pixels(src)).all()


def test_rgb_profile_on_grey_image_falls_back(tmp_path):
    path = tmp_path / "grey-with-rgb-profile.png"
    Image.new("L", (4, 4), 90).save(path, icc_profile=SRGB)
    assert load_image(path).getpixel((0, 0)) == (90, 90, 90)


def test_rgba_is_composited_over_white_and_alpha_kept(tmp_path):
    img = Image.new("RGBA", (3, 1))
    img.putpixel((0, 0), (255, 0, 0, 0))
    img.putpixel((1, 0), (0, 0, 0, 128))
    img.putpixel((2, 0), (0, 255, 0, 255))
    path = tmp_path / "rgba.png"
    img.save(path)
    out = load_image(path)
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == WHITE
    assert close(out.getpixel((1, 0)), (127, 127, 127), 1)
    assert out.getpixel((2, 0)) == GREEN
    rgb, alpha = load_image_with_alpha(path)
    assert rgb.mode == "RGB" and alpha.mode == "L"
    assert [alpha.getpixel((x, 0)) for x in range(3)] == [0, 128, 255]
    assert rgb.getpixel((2, 0)) == GREEN


def test_opaque_alpha_is_reported_as_none(tmp_path):
    path = tmp_path / "opaque.png"
    Image.new("RGBA", (4, 4), (1, 2, 3, 255)).save(path)
    rgb, alpha = load_image_with_alpha(path)
    assert alpha is None and rgb.getpixel((0, 0)) == (1, 2, 3)


def test_grey_alpha(tmp_path):
    path = tmp_path / "la.png"
    Image.new("LA", (2, 2), (0, 0)).save(path)
    assert load_image(path).getpixel((0, 0)) == WHITE


def test_16_bit_grey_is_scaled_not_clipped(tmp_path):
    values = np.array([[65535, 32768, 257, 0]], np.uint16)
    path = tmp_path / "grey16.png"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode == "I;16"
    out = load_image(path)
    assert [out.getpixel((x, 0)) for x in range(4)] == [(v, v, v) for v in (255, 128, 1, 0)]


def test_32_bit_int_grey_uses_16_bit_range(tmp_path):
    path = tmp_path / "grey32.tif"
    Image.fromarray(np.array([[65535, 0]], np.int32)).save(path)
    out = load_image(path)
    assert out.getpixel((0, 0)) == WHITE and out.getpixel((1, 0)) == (0, 0, 0)


def tiff48(values: np.ndarray) -> bytes:
    """A minimal uncompressed 16-bit-per-channel RGB TIFF (Pillow cannot write one)."""
    h, w, _ = values.shape
    pixel_data = values.astype("<u2").tobytes()
    tags = [(256, w), (257, h), (258, None), (259, 1), (262, 2), (273, None), (277, 3), (278, h), (279, len(pixel_data))]
    bits_offset = 8 + 2 + 12 * len(tags) + 4
    data_offset = bits_offset + 6
    ifd = struct.pack("<H", len(tags))
    for tag, value in tags:
        if tag == 258:
            ifd += struct.pack("<HHII", tag, 3, 3, bits_offset)
        elif tag in (273, 279):
            ifd += struct.pack("<HHII", tag, 4, 1, data_offset if tag == 273 else value)
        else:
            ifd += struct.pack("<HHIHH", tag, 3, 1, value, 0)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + struct.pack("<3H", 16, 16, 16) + pixel_data


def test_48_bit_tiff(tmp_path):
    values = np.array([[[65535, 32768, 0], [257, 40000, 12345]]], np.uint16)
    path = tmp_path / "deep.tif"
    path.write_bytes(tiff48(values))
    assert np.abs(pixels(load_image(path)) - values / 257.0).max() <= 1


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path, quality=95)
    out = load_image(path)
    assert out.mode == "RGB" and close(out.getpixel((8, 8)), RED, 10)


def test_palette_with_transparency(tmp_path):
    img = Image.new("P", (2, 1))
    img.putpalette([255, 0, 0, 0, 0, 255])
    img.putpixel((0, 0), 0)
    img.putpixel((1, 0), 1)
    path = tmp_path / "palette.png"
    img.save(path, transparency=1)
    out = load_image(path)
    assert out.getpixel((0, 0)) == RED and out.getpixel((1, 0)) == WHITE


def test_palette_without_transparency(tmp_path):
    path = tmp_path / "palette.gif"
    Image.new("RGB", (4, 4), BLUE).convert("P").save(path)
    assert load_image(path).getpixel((1, 1)) == BLUE


@pytest.mark.parametrize("mode,value", [("L", 77), ("1", 255)])
def test_grey_becomes_rgb(tmp_path, mode, value):
    path = tmp_path / f"grey-{mode}.png"
    Image.new(mode, (5, 3), value).save(path)
    out = load_image(path)
    assert out.mode == "RGB" and out.getpixel((2, 1)) == (value,) * 3


@pytest.mark.parametrize("suffix", [".gif", ".webp"])
def test_animation_gives_first_frame(tmp_path, suffix):
    frames = [Image.new("RGB", (8, 8), c) for c in (RED, GREEN, BLUE)]
    path = tmp_path / f"anim{suffix}"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, lossless=True)
    assert Image.open(path).n_frames == 3
    assert close(load_image(path).getpixel((4, 4)), RED, 4)


def test_one_pixel_wide(tmp_path):
    path = tmp_path / "line.png"
    Image.new("RGB", (1, 300), GREEN).save(path)
    assert load_image(path).size == (1, 300)
    assert images.resize_long_side(load_image(path), 100).size == (1, 100)


def test_fifty_megapixel_photo_loads(tmp_path):
    path = tmp_path / "big.png"
    Image.new("1", (8660, 5774), 1).save(path, compress_level=1)  # 50 MP, tiny and quick
    assert load_image(path).size == (8660, 5774)


def test_truncated_jpeg(tmp_path):
    good = tmp_path / "good.jpg"
    noise(64, 64).save(good, quality=90)
    data = good.read_bytes()
    path = tmp_path / "half.jpg"
    path.write_bytes(data[: len(data) // 2])
    expect_error(path, "half.jpg")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    expect_error(path, "empty.png")


def test_text_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a photo\n" * 10)
    assert "not an image" in expect_error(path, "notes.jpg")


def test_directory(tmp_path):
    (tmp_path / "folder.png").mkdir()
    assert "folder" in expect_error(tmp_path / "folder.png", "folder.png")


def test_missing_file(tmp_path):
    assert "not found" in expect_error(tmp_path / "nope.jpg", "nope.jpg")
    with pytest.raises(ImageError):
        image_size(tmp_path / "nope.jpg")


def test_own_pixel_limit(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("RGB", (20, 20)).save(path)
    assert "too large" in expect_error(path, "bomb.png", max_pixels=100)


@pytest.mark.parametrize("side", [40, 100])  # 40: Pillow's warning, 100: Pillow's error
def test_pillow_decompression_bomb_limit(tmp_path, monkeypatch, side):
    path = tmp_path / "bomb.png"
    Image.new("RGB", (side, side)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert "too large" in expect_error(path, "bomb.png")


def test_zero_size_header(tmp_path):
    good = tmp_path / "good.png"
    Image.new("RGB", (4, 4)).save(good)
    data = bytearray(good.read_bytes())
    struct.pack_into(">I", data, 16, 0)  # IHDR width
    path = tmp_path / "zero.png"
    path.write_bytes(bytes(data))
    expect_error(path, "zero.png")


def test_absurd_size_header(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    struct.pack_into(">I", data, 16, 2**31 - 1)
    path.write_bytes(bytes(data))
    expect_error(path, "wide.png")


def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.png"
    Image.new("RGB", (2, 2)).save(path)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: chmod does not stop reading")
        assert "ermission" in expect_error(path, "secret.png")
    finally:
        path.chmod(0o644)


def test_permission_errors_are_one_line(tmp_path, monkeypatch):
    # the chmod tests are skipped as root; this covers the mapping everywhere
    path = tmp_path / "photo.png"
    Image.new("RGB", (2, 2)).save(path)

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(images.tempfile, "NamedTemporaryFile", denied)
    with pytest.raises(ImageError) as info:
        save_image(noise(), tmp_path / "out" / "x.png")
    assert "Cannot write to folder" in str(info.value) and "\n" not in str(info.value)
    monkeypatch.setattr(images.Image, "open", denied)
    assert "ermission" in expect_error(path, "photo.png")


def test_broken_exif_still_loads(tmp_path):
    path = tmp_path / "badexif.jpg"
    noise().save(path, exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")
    assert load_image(path).size == (32, 24)


# ---------------------------------------------------------------- saving


RECIPE = {"impasto_version": "0.1.0", "style": ["starry night.jpg"], "weights": {"style": 1e6}, "name": "Ölmalerei ✓"}


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".JPEG", ".tif", ".tiff", ".webp"])
def test_save_each_format_with_recipe(tmp_path, suffix):
    src = smooth()
    path = save_image(src, tmp_path / f"out{suffix}", recipe=RECIPE)
    assert path.exists() and path.suffix == suffix
    assert read_recipe(path) == RECIPE
    out = load_image(path)
    assert out.size == src.size
    assert np.abs(pixels(out) - pixels(src)).mean() < 4
    assert Image.open(path).info.get("icc_profile") == SRGB
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".impasto-")]


@pytest.mark.parametrize("suffix", [".png", ".tif", ".webp"])
def test_lossless_formats_keep_pixels(tmp_path, suffix):
    src = noise()
    quality = 100 if suffix == ".webp" else 95
    assert (pixels(load_image(save_image(src, tmp_path / f"x{suffix}", quality=quality))) == pixels(src)).all()


def test_recipe_absent_or_foreign(tmp_path):
    plain = tmp_path / "plain.png"
    noise().save(plain)
    assert read_recipe(plain) is None
    assert read_recipe(save_image(noise(), tmp_path / "norecipe.jpg")) is None
    assert read_recipe(save_image(noise(), tmp_path / "foreign.png", recipe={"other": 1})) is None
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("impasto", "{not json")
    bad = tmp_path / "bad.png"
    noise().save(bad, pnginfo=info)
    assert read_recipe(bad) is None


def test_unknown_suffix_lists_supported(tmp_path):
    with pytest.raises(ImageError) as info:
        save_image(noise(), tmp_path / "out.bmp")
    assert ".png" in str(info.value) and ".webp" in str(info.value)
    assert not (tmp_path / "out.bmp").exists()


def test_save_refuses_an_input(tmp_path):
    content = tmp_path / "content.png"
    noise().save(content)
    before = content.read_bytes()
    for target in (content, tmp_path / "sub" / ".." / "content.png"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(ImageError) as info:
            save_image(noise(seed=1), target, inputs=[tmp_path / "style.jpg", str(content)])
        assert "input" in str(info.value)
    with pytest.raises(ImageError):
        save_image(noise(seed=1), content, inputs=str(content))
    assert content.read_bytes() == before


def test_failed_save_leaves_nothing_behind(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"previous result")

    def full_disk(self, fp, *args, **kwargs):
        fp.write(b"half an image")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    with pytest.raises(ImageError) as info:
        save_image(noise(), target, recipe=RECIPE)
    message = str(info.value)
    assert "space" in message and "out.png" in message and "\n" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]
    assert target.read_bytes() == b"previous result"


def test_read_only_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root: chmod does not stop writing")
        with pytest.raises(ImageError) as info:
            save_image(noise(), folder / "out.png")
        assert "Cannot write to folder" in str(info.value)
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o755)


def test_save_creates_folders_and_uses_normal_permissions(tmp_path):
    path = save_image(noise(), tmp_path / "a" / "b" / "out.jpg")
    assert path.is_file()
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_alpha(tmp_path):
    alpha = Image.new("L", (32, 24), 255)
    alpha.paste(0, (0, 0, 16, 24))
    png = save_image(noise(), tmp_path / "a.png", alpha=alpha)
    rgb, back = load_image_with_alpha(png)
    assert back is not None and (pixels(back) == pixels(alpha)).all()
    # an alpha of another size (the content photo's) is resized to the output
    tif = save_image(noise(), tmp_path / "a.tif", alpha=alpha.resize((64, 48)))
    assert load_image_with_alpha(tif)[1].size == (32, 24)
    jpg = save_image(noise(), tmp_path / "a.jpg", alpha=alpha)
    assert Image.open(jpg).mode == "RGB"


def test_exif_is_carried_with_orientation_reset(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "CameraMaker"
    photo = tmp_path / "photo.jpg"
    noise().save(photo, exif=exif.tobytes(), icc_profile=swapped_primaries_profile())
    exif_bytes, icc = read_metadata(photo)
    assert icc == SRGB  # load_image converted the pixels to sRGB
    for suffix in (".jpg", ".png", ".tif", ".webp"):
        out = save_image(load_image(photo), tmp_path / f"out{suffix}", recipe=RECIPE, exif=exif_bytes, icc_profile=icc)
        saved = Image.open(out).getexif()
        assert saved[0x010F] == "CameraMaker" and saved[0x0112] == 1
        assert read_recipe(out) == RECIPE
        assert image_size(out) == (24, 32)
    plain = tmp_path / "plain.png"
    noise().save(plain)
    assert read_metadata(plain) == (None, None)


def test_save_from_array_and_tensor(tmp_path):
    array = np.random.default_rng(2).random((6, 5, 3))
    expected = np.rint(array * 255)
    for image in (array, torch.from_numpy(array).permute(2, 0, 1).float(), torch.from_numpy(array).permute(2, 0, 1)[None]):
        out = load_image(save_image(image, tmp_path / "t.png"))
        assert np.abs(pixels(out) - expected).max() <= 1


def test_16_bit_png_round_trip(tmp_path):
    values = np.array([[[0, 1, 257], [32768, 40000, 65535]], [[12345, 54321, 999], [65534, 2, 30000]]], np.uint16)
    path = save_image(values / 65535.0, tmp_path / "deep.png", recipe=RECIPE, bits=16)
    assert (decode_png16(path) == values).all()
    img = Image.open(path)
    img.load()  # Pillow can read it (and checks the chunk CRCs)
    assert read_recipe(path) == RECIPE
    assert img.info["icc_profile"] == SRGB
    out = load_image(path)
    assert np.abs(pixels(out) - values / 257.0).max() <= 1
    assert out.getpixel((1, 0))[2] == 255


def test_16_bit_png_with_alpha_and_tensor(tmp_path):
    t = torch.rand(1, 3, 4, 3)
    alpha = Image.new("L", (3, 4), 128)
    path = save_image(t, tmp_path / "deep-alpha.png", alpha=alpha, bits=16)
    decoded = decode_png16(path)
    assert decoded.shape == (4, 3, 4)
    assert (decoded[..., 3] == 128 * 257).all()
    expected = np.rint(t[0].permute(1, 2, 0).numpy().astype(np.float64) * 65535)
    assert np.abs(decoded[..., :3] - expected).max() <= 1
    assert load_image_with_alpha(path)[1].getpixel((0, 0)) == 128


@pytest.mark.parametrize("suffix", [".jpg", ".tif", ".webp"])
def test_16_bit_unsupported_formats_refused(tmp_path, suffix):
    with pytest.raises(ImageError):
        save_image(np.zeros((2, 2, 3)), tmp_path / f"deep{suffix}", bits=16)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- tensors and sizes


def test_tensor_round_trip():
    img = noise(7, 5)
    t = images.pil_to_tensor(img)
    assert t.shape == (1, 3, 5, 7) and t.dtype == torch.float32
    assert 0.0 <= t.min() and t.max() <= 1.0
    assert (pixels(images.tensor_to_pil(t)) == pixels(img)).all()
    assert (pixels(images.tensor_to_pil(t[0])) == pixels(img)).all()


def test_tensor_to_pil_clamps_and_rounds():
    t = torch.tensor([-0.5, 0.5, 1.7, float("nan")]).view(1, 1, 4).expand(3, 1, 4)
    out = images.tensor_to_pil(t)
    assert [out.getpixel((x, 0))[0] for x in range(4)] == [0, 128, 255, 0]


@pytest.mark.parametrize(
    "size,long_side,expected",
    [((4000, 3000), 512, (512, 384)), ((3000, 4000), 512, (384, 512)), ((1, 5000), 100, (1, 100)), ((10, 10), 20, (20, 20))],
)
def test_fit_size(size, long_side, expected):
    assert images.fit_size(*size, long_side) == expected


def test_resize_long_side():
    img = noise(40, 20)
    assert images.resize_long_side(img, 10).size == (10, 5)
    same = images.resize_long_side(img, 40)
    assert same is not img and same.size == img.size


# ---------------------------------------------------------------- property test


def _sample(fmt: str, **kw) -> bytes:
    buffer = io.BytesIO()
    noise(12, 9).save(buffer, fmt, **kw)
    return buffer.getvalue()


SAMPLES = [_sample("PNG"), _sample("JPEG", quality=80), _sample("GIF"), _sample("WEBP"), _sample("TIFF")]


@st.composite
def hostile_bytes(draw):
    if draw(st.booleans()):
        return draw(st.binary(max_size=300))
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(1, len(data)))])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=hostile_bytes())
def test_any_bytes_load_or_raise_image_error(tmp_path, data):
    path = tmp_path / "fuzz.png"
    path.write_bytes(data)
    try:
        out = load_image(path, max_pixels=4_000_000)
    except ImageError as exc:
        assert "\n" not in str(exc)
    else:
        assert out.mode == "RGB" and out.width >= 1 and out.height >= 1

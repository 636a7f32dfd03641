"""Image I/O: every format and mode round-trips with what it holds (alpha, 16 bit, grey, ICC,
EXIF), damaged files fail with one line, and writes never leave partial files.

Expected values come from independent readers and writers (Pillow, OpenCV, tifffile) or from
arithmetic written out here, never from the module under test."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage
from PIL import ImageCms, ImageOps

from sr_desktop.core import imageio
from sr_desktop.core.imageio import (
    IMAGE_SUFFIXES,
    WRITE_FORMATS,
    Image,
    ImageReadError,
    ImageWriteError,
    alpha_is_constant,
    format_for_suffix,
    from_float,
    is_image_path,
    read_header_size,
    read_image,
    suffix_for_format,
    to_float,
    write_image,
)

SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
UNICODE_STEM = "bild_ä_日本"


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def values16(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """uint16 with values 8 bit cannot hold (1000, 257k+1, ...) plus both extremes."""
    array = rng(seed).integers(0, 65536, shape, dtype=np.uint16)
    flat = array.reshape(-1)
    flat[:4] = [0, 1000, 65535, 257 * 3 + 1]
    return array


def make_exif(orientation: int) -> bytes:
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestMake"
    return exif.tobytes()


def png_with_chunk(png: bytes, kind: bytes, payload: bytes) -> bytes:
    """Insert a chunk right after IHDR (signature 8 bytes + IHDR 25 bytes)."""
    crc = zlib.crc32(kind + payload)
    chunk = struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)
    return png[:33] + chunk + png[33:]


def cv2_png16(array: np.ndarray) -> bytes:
    """A 16-bit PNG written by OpenCV from an RGB(A) / grey array."""
    if array.ndim == 3 and array.shape[2] >= 3:
        array = array[:, :, [2, 1, 0, 3][: array.shape[2]]]
    ok, buf = cv2.imencode(".png", array)
    assert ok
    return buf.tobytes()


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ----------------------------------------------------------------------------- names, values


def test_suffixes_and_formats():
    assert IMAGE_SUFFIXES == {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}
    assert WRITE_FORMATS == ("png", "jpg", "webp", "tiff")
    assert format_for_suffix(".JPEG") == "jpg"
    assert format_for_suffix(".tif") == "tiff"
    assert format_for_suffix(".bmp") == "bmp"
    assert format_for_suffix(".gif") is None
    assert [suffix_for_format(f) for f in WRITE_FORMATS] == [".png", ".jpg", ".webp", ".tiff"]
    with pytest.raises(ValueError):
        suffix_for_format("gif")


def test_is_image_path_filters_hidden_and_system_files(tmp_path):
    assert is_image_path("photo.JPG")
    assert is_image_path(tmp_path / "scan.tiff")
    assert is_image_path(f"{UNICODE_STEM}.png")
    for name in ["notes.txt", ".hidden.png", "._photo.jpg", ".DS_Store", "Thumbs.db", "desktop.ini"]:
        assert not is_image_path(name), name
    assert not is_image_path(".photo.png.123.abcd.tmp")


def test_to_float_and_from_float_round_half_up():
    assert to_float(np.array([0, 255], np.uint8)).tolist() == [0.0, 1.0]
    assert to_float(np.array([65535], np.uint16)).dtype == np.float32
    assert to_float(np.array([0, 65535], np.uint16)).tolist() == [0.0, 1.0]
    got8 = from_float(np.array([0.0, 0.5, 1.0, 1.5, -0.2, 0.2 / 255, 0.7 / 255, np.nan]), 8)
    assert got8.dtype == np.uint8
    assert got8.tolist() == [0, 128, 255, 255, 0, 0, 1, 0]
    got16 = from_float(np.array([0.5, 1.0, 1000 / 65535]), 16)
    assert got16.dtype == np.uint16 and got16.tolist() == [32768, 65535, 1000]
    original = values16((50,))
    assert np.array_equal(from_float(to_float(original), 16), original)
    with pytest.raises(ValueError):
        from_float(np.zeros(2), 12)


def test_alpha_is_constant():
    assert alpha_is_constant(np.full((3, 4), 255, np.uint8))
    assert alpha_is_constant(np.full((3, 4), 7, np.uint16))
    varied = np.full((3, 4), 255, np.uint8)
    varied[1, 2] = 254
    assert not alpha_is_constant(varied)


def test_image_validates_and_reports_shape():
    image = Image(np.zeros((4, 5), np.uint16), None)
    assert image.pixels.shape == (4, 5, 1)
    assert (image.height, image.width, image.channels, image.bit_depth) == (4, 5, 1, 16)
    assert image.is_grey
    with pytest.raises(ValueError):
        Image(np.zeros((4, 5, 3), np.float32), None)
    with pytest.raises(ValueError):
        Image(np.zeros((4, 5, 3), np.uint8), np.zeros((4, 5), np.uint16))


# ----------------------------------------------------------------------------- round trips


def colour_and_alpha(channels: int, with_alpha: bool, depth: int, seed: int = 0):
    shape = (6, 7, channels)
    if depth == 16:
        return values16(shape, seed), values16(shape[:2], seed + 1) if with_alpha else None
    gen = rng(seed)
    pixels = gen.integers(0, 256, shape, dtype=np.uint8)
    return pixels, gen.integers(0, 256, shape[:2], dtype=np.uint8) if with_alpha else None


MODES = [(1, False), (1, True), (3, False), (3, True)]  # L, LA, RGB, RGBA


@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("fmt", ["png", "tiff"])
@pytest.mark.parametrize(("channels", "with_alpha"), MODES)
def test_lossless_round_trip_is_exact(tmp_path, fmt, depth, channels, with_alpha):
    pixels, alpha = colour_and_alpha(channels, with_alpha, depth)
    path = tmp_path / f"{UNICODE_STEM}.{fmt}"
    write_image(Image(pixels, alpha), path, fmt)
    got = read_image(path)
    assert got.format == fmt
    assert got.pixels.dtype == pixels.dtype and got.bit_depth == depth
    assert got.pixels.flags["C_CONTIGUOUS"] and got.pixels.flags["WRITEABLE"]
    assert got.alpha is None or (got.alpha.flags["C_CONTIGUOUS"] and got.alpha.flags["WRITEABLE"])
    assert got.pixels.shape == pixels.shape
    assert np.array_equal(got.pixels, pixels)
    if with_alpha:
        assert got.alpha is not None and np.array_equal(got.alpha, alpha)
    else:
        assert got.alpha is None


@pytest.mark.parametrize(("channels", "with_alpha"), MODES)
def test_written_16bit_files_hold_exact_values_for_other_readers(tmp_path, channels, with_alpha):
    pixels, alpha = colour_and_alpha(channels, with_alpha, 16)
    stacked = pixels if alpha is None else np.concatenate([pixels, alpha[:, :, None]], axis=2)
    write_image(Image(pixels, alpha), tmp_path / "a.png", "png")
    write_image(Image(pixels, alpha), tmp_path / "a.tiff", "tiff")

    from_tiff = tifffile.imread(tmp_path / "a.tiff")
    assert np.array_equal(from_tiff.reshape(stacked.shape), stacked)

    from_cv2 = cv2.imdecode(np.fromfile(tmp_path / "a.png", np.uint8), cv2.IMREAD_UNCHANGED)
    assert from_cv2.dtype == np.uint16
    if channels == 3:
        assert np.array_equal(from_cv2[:, :, [2, 1, 0, 3][: stacked.shape[2]]], stacked)
    elif with_alpha:  # OpenCV expands grey+alpha to BGRA
        assert np.array_equal(from_cv2[:, :, 0], pixels[:, :, 0])
        assert np.array_equal(from_cv2[:, :, 3], alpha)
    else:
        assert np.array_equal(from_cv2, pixels[:, :, 0])
        with PILImage.open(tmp_path / "a.png") as im:
            assert im.mode.startswith("I")
            assert np.array_equal(np.asarray(im), pixels[:, :, 0])


@pytest.mark.parametrize(("channels", "with_alpha"), [(1, False), (3, False), (3, True)])
def test_reads_16bit_png_written_by_opencv(tmp_path, channels, with_alpha):
    pixels, alpha = colour_and_alpha(channels, with_alpha, 16, seed=3)
    stacked = pixels if alpha is None else np.concatenate([pixels, alpha[:, :, None]], axis=2)
    path = tmp_path / f"{UNICODE_STEM}.png"
    path.write_bytes(cv2_png16(stacked if channels == 3 else stacked[:, :, 0]))
    got = read_image(path)
    assert got.bit_depth == 16
    assert np.array_equal(got.pixels, pixels)
    assert got.alpha is None if alpha is None else np.array_equal(got.alpha, alpha)
    assert (
        got.source_mode
        == {(1, False): "I;16", (3, False): "RGB;16", (3, True): "RGBA;16"}[(channels, with_alpha)]
    )


def test_reads_16bit_tiff_written_by_tifffile(tmp_path):
    rgb = values16((5, 6, 3), seed=4)
    tifffile.imwrite(tmp_path / f"{UNICODE_STEM}.tif", rgb, photometric="rgb")
    got = read_image(tmp_path / f"{UNICODE_STEM}.tif")
    assert got.source_mode == "RGB;16" and np.array_equal(got.pixels, rgb)


def test_reads_lzw_16bit_tiff_through_opencv(tmp_path):
    bgr = values16((5, 6, 3), seed=5)
    ok, buf = cv2.imencode(".tiff", bgr)  # OpenCV writes LZW, which tifffile needs imagecodecs for
    assert ok
    path = tmp_path / f"{UNICODE_STEM}.tif"
    path.write_bytes(buf.tobytes())
    got = read_image(path)
    assert got.bit_depth == 16
    assert np.array_equal(got.pixels, bgr[:, :, ::-1])


def test_reads_lzw_8bit_tiff_written_by_pillow(tmp_path):
    rgba = rng(6).integers(0, 256, (5, 6, 4), dtype=np.uint8)
    path = tmp_path / f"{UNICODE_STEM}.tif"
    PILImage.fromarray(rgba).save(path, compression="tiff_lzw")
    got = read_image(path)
    assert np.array_equal(got.pixels, rgba[:, :, :3]) and np.array_equal(got.alpha, rgba[:, :, 3])


def test_tiff_associated_alpha_becomes_straight(tmp_path):
    straight = np.full((2, 2, 3), 200, np.uint8)
    alpha = np.array([[255, 128], [0, 51]], np.uint8)
    premultiplied = np.round(straight * (alpha[:, :, None] / 255)).astype(np.uint8)
    data = np.concatenate([premultiplied, alpha[:, :, None]], axis=2)
    tifffile.imwrite(tmp_path / "a.tif", data, photometric="rgb", extrasamples=["assocalpha"])
    got = read_image(tmp_path / "a.tif")
    assert np.array_equal(got.alpha, alpha)
    assert np.abs(got.pixels[alpha > 0].astype(int) - 200).max() <= 2


def test_float_tiff_in_unit_range_becomes_16bit(tmp_path):
    values = np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)
    tifffile.imwrite(tmp_path / "f.tif", values)
    got = read_image(tmp_path / "f.tif")
    assert got.pixels[:, :, 0].tolist() == [[0, 16384], [32768, 65535]]
    tifffile.imwrite(tmp_path / "big.tif", values * 1000)
    with pytest.raises(ImageReadError, match="0..1"):
        read_image(tmp_path / "big.tif")


@pytest.mark.parametrize(("channels", "with_alpha"), MODES)
def test_webp_lossless_at_quality_100(tmp_path, channels, with_alpha):
    pixels, alpha = colour_and_alpha(channels, with_alpha, 8, seed=7)
    path = tmp_path / f"{UNICODE_STEM}.webp"
    write_image(Image(pixels, alpha), path, "webp", quality=100)
    got = read_image(path)
    assert got.format == "webp" and got.channels == 3  # WebP has no grey
    assert np.array_equal(got.pixels, np.repeat(pixels, 3 // channels, axis=2))
    assert got.alpha is None if alpha is None else np.array_equal(got.alpha, alpha)


@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_round_trip_keeps_grey_and_is_close(tmp_path, channels):
    smooth = np.linspace(0, 255, 16 * 16 * channels).reshape(16, 16, channels).astype(np.uint8)
    path = tmp_path / f"{UNICODE_STEM}.jpg"
    write_image(Image(smooth, None), path, "jpg", quality=95)
    got = read_image(path)
    assert got.format == "jpg" and got.channels == channels and got.alpha is None
    assert np.abs(got.pixels.astype(int) - smooth).max() <= 12


def test_reads_bmp_and_files_named_with_the_wrong_suffix(tmp_path):
    rgb = rng(8).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    PILImage.fromarray(rgb).save(tmp_path / f"{UNICODE_STEM}.bmp")
    got = read_image(tmp_path / f"{UNICODE_STEM}.bmp")
    assert got.format == "bmp" and np.array_equal(got.pixels, rgb)
    PILImage.fromarray(rgb).save(tmp_path / "really_png.jpg", format="PNG")
    got = read_image(tmp_path / "really_png.jpg")
    assert got.format == "png" and np.array_equal(got.pixels, rgb)


def test_16bit_to_8bit_formats_rounds_correctly(tmp_path):
    k = np.arange(0, 250, 10, dtype=np.uint32)
    values = np.concatenate([257 * k + 128, 257 * k + 129, [0, 65535]]).astype(np.uint16)
    expected = np.concatenate([k, k + 1, [0, 255]]).astype(np.uint8)
    image = Image(np.repeat(values[None, :, None], 3, axis=2), None)
    write_image(image, tmp_path / "a.webp", "webp", quality=100)
    with PILImage.open(tmp_path / "a.webp") as im:
        assert np.array_equal(np.asarray(im.convert("RGB"))[0, :, 0], expected)


def test_jpeg_flattens_alpha_onto_white(tmp_path):
    pixels = np.zeros((16, 16, 3), np.uint16)  # black, 16 bit
    alpha = np.zeros((16, 16), np.uint16)
    alpha[:, :8] = 65535  # left half opaque, right half transparent
    write_image(Image(pixels, alpha), tmp_path / "a.jpg", "jpg")
    with PILImage.open(tmp_path / "a.jpg") as im:
        assert im.mode == "RGB"
        got = np.asarray(im).astype(int)
    assert got[:, :6].max() <= 8 and got[:, 10:].min() >= 247


# ----------------------------------------------------------------------------- ICC, EXIF, dpi


@pytest.mark.parametrize(
    ("fmt", "depth"), [("png", 8), ("png", 16), ("jpg", 8), ("webp", 8), ("tiff", 8), ("tiff", 16)]
)
def test_icc_profile_is_kept(tmp_path, fmt, depth):
    pixels, _ = colour_and_alpha(3, False, depth)
    path = tmp_path / f"a.{fmt}"
    write_image(Image(pixels, None, icc=SRGB_ICC), path, fmt)
    if fmt == "tiff":
        with tifffile.TiffFile(path) as tif:
            assert bytes(tif.pages.first.tags[34675].value) == SRGB_ICC
    else:
        with PILImage.open(path) as im:
            assert im.info.get("icc_profile") == SRGB_ICC
    assert read_image(path).icc == SRGB_ICC


@pytest.mark.parametrize(("orientation", "turns"), [(3, 2), (6, -1), (8, 1)])
def test_exif_orientation_is_applied_and_reset(tmp_path, orientation, turns):
    rgb = rng(9).integers(0, 256, (4, 6, 3), dtype=np.uint8)
    path = tmp_path / "o.png"
    PILImage.fromarray(rgb).save(path, exif=make_exif(orientation))
    got = read_image(path)
    assert np.array_equal(got.pixels, np.rot90(rgb, turns))
    assert read_header_size(path) == (got.width, got.height)

    write_image(got, tmp_path / "out.jpg", "jpg")
    with PILImage.open(tmp_path / "out.jpg") as im:
        exif = im.getexif()
        assert exif[0x0112] == 1 and exif[0x010F] == "TestMake"
        assert im.size == (got.width, got.height)
    write_image(got, tmp_path / "out.png", "png")
    with PILImage.open(tmp_path / "out.png") as im:
        assert im.getexif()[0x0112] == 1
        assert np.array_equal(np.asarray(im), np.rot90(rgb, turns))


def test_jpeg_orientation_matches_pillows_exif_transpose(tmp_path):
    rgb = rng(10).integers(0, 256, (8, 16, 3), dtype=np.uint8)
    path = tmp_path / "o.jpg"
    PILImage.fromarray(rgb).save(path, exif=make_exif(6), quality=90)
    with PILImage.open(path) as im:
        expected = np.asarray(ImageOps.exif_transpose(im))
    got = read_image(path)
    assert got.pixels.shape == (16, 8, 3)
    assert np.array_equal(got.pixels, expected)
    assert read_header_size(path) == (8, 16)
    written = tmp_path / "again.webp"
    write_image(got, written, "webp")
    with PILImage.open(written) as im:
        assert im.getexif()[0x0112] == 1 and im.getexif()[0x010F] == "TestMake"


def test_16bit_png_orientation_and_exif(tmp_path):
    rgb = values16((3, 5, 3), seed=11)
    exif = make_exif(6)
    path = tmp_path / f"{UNICODE_STEM}.png"
    path.write_bytes(png_with_chunk(cv2_png16(rgb), b"eXIf", exif[6:]))
    got = read_image(path)
    assert np.array_equal(got.pixels, np.rot90(rgb, -1))
    write_image(got, tmp_path / "out.png", "png")
    with PILImage.open(tmp_path / "out.png") as im:
        assert im.getexif()[0x0112] == 1 and im.getexif()[0x010F] == "TestMake"
    assert np.array_equal(read_image(tmp_path / "out.png").pixels, np.rot90(rgb, -1))


def test_tiff_orientation_tag_is_applied(tmp_path):
    grey = values16((3, 5), seed=12)
    tifffile.imwrite(tmp_path / "o.tif", grey, extratags=[(274, "H", 1, 8, True)])
    got = read_image(tmp_path / "o.tif")
    assert np.array_equal(got.pixels[:, :, 0], np.rot90(grey, 1))
    assert read_header_size(tmp_path / "o.tif") == (3, 5)


@pytest.mark.parametrize(("fmt", "depth"), [("png", 8), ("png", 16), ("jpg", 8), ("tiff", 16)])
def test_dpi_is_kept(tmp_path, fmt, depth):
    pixels, _ = colour_and_alpha(1, False, depth)
    write_image(Image(pixels, None, dpi=(300.0, 150.0)), tmp_path / f"d.{fmt}", fmt)
    dpi = read_image(tmp_path / f"d.{fmt}").dpi
    assert dpi is not None and dpi == pytest.approx((300, 150), abs=0.1)


# ----------------------------------------------------------------------------- Pillow modes


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    cmyk = np.zeros((16, 16, 4), np.uint8)
    cmyk[:, :8, 0] = 255  # left: pure cyan; right: no ink (white)
    path = tmp_path / "c.jpg"
    PILImage.fromarray(cmyk, mode="CMYK").save(path, quality=95)
    got = read_image(path)
    assert got.source_mode == "CMYK" and got.channels == 3 and got.alpha is None
    assert got.icc is None
    assert np.abs(got.pixels[4, 2].astype(int) - [0, 255, 255]).max() <= 10
    assert np.abs(got.pixels[4, 13].astype(int) - [255, 255, 255]).max() <= 10


def test_cmyk_jpeg_with_unusable_profile_still_reads(tmp_path):
    cmyk = np.zeros((8, 8, 4), np.uint8)
    path = tmp_path / "c.jpg"
    PILImage.fromarray(cmyk, mode="CMYK").save(path, icc_profile=SRGB_ICC)  # an RGB profile
    got = read_image(path)
    assert got.channels == 3 and got.pixels.min() >= 245


def test_palette_with_transparency_becomes_rgba(tmp_path):
    indices = np.array([[0, 1, 2], [2, 1, 0]], np.uint8)
    im = PILImage.fromarray(indices, mode="L").convert("P")
    im.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (253 * 3))
    im.save(tmp_path / "p.png", transparency=1)
    got = read_image(tmp_path / "p.png")
    assert got.source_mode == "P" and got.channels == 3
    assert got.alpha is not None and (got.alpha == np.where(indices == 1, 0, 255)).all()
    assert got.pixels[0, 0].tolist() == [255, 0, 0] and got.pixels[0, 2].tolist() == [0, 0, 255]

    im.save(tmp_path / "opaque.png")
    got = read_image(tmp_path / "opaque.png")
    assert got.alpha is None and got.pixels[1, 1].tolist() == [0, 255, 0]


def test_one_bit_becomes_grey(tmp_path):
    bits = np.array([[True, False], [False, True]])
    PILImage.fromarray(bits).save(tmp_path / "b.png")
    got = read_image(tmp_path / "b.png")
    assert got.is_grey and got.bit_depth == 8
    assert got.pixels[:, :, 0].tolist() == [[255, 0], [0, 255]]


# ----------------------------------------------------------------------------- errors


def assert_one_line(error: Exception, *parts: str) -> None:
    message = str(error)
    assert "\n" not in message
    for part in parts:
        assert part in message, (part, message)


def test_unreadable_files_raise_one_line_errors(tmp_path):
    empty = tmp_path / f"{UNICODE_STEM}.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("just some text\nover two lines\n")
    cases = [(empty, "empty"), (text, "not a supported image"), (tmp_path / "missing.png", "no such")]
    cases.append((tmp_path, "folder"))
    for path, reason in cases:
        with pytest.raises(ImageReadError) as caught:
            read_image(path)
        assert_one_line(caught.value, str(path), reason)
        assert caught.value.path == str(path)


@pytest.mark.parametrize("depth", [8, 16])
def test_truncated_png_is_an_error(tmp_path, depth):
    pixels, _ = colour_and_alpha(3, False, depth)
    pixels = np.repeat(np.repeat(pixels, 8, axis=0), 8, axis=1)  # enough data to cut
    full = tmp_path / "full.png"
    write_image(Image(pixels, None), full, "png")
    data = full.read_bytes()
    for cut in (len(data) // 2, len(data) - 12):  # inside the pixel data; just IEND missing
        path = tmp_path / f"cut{cut}.png"
        path.write_bytes(data[:cut])
        if depth == 8 and cut == len(data) - 12:
            continue  # all 8-bit pixels are there; Pillow need not refuse it
        with pytest.raises(ImageReadError) as caught:
            read_image(path)
        assert_one_line(caught.value, str(path), "truncated")


def test_truncated_jpeg_is_an_error(tmp_path):
    noisy = rng(13).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    PILImage.fromarray(noisy).save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError) as caught:
        read_image(tmp_path / "cut.jpg")
    assert_one_line(caught.value, "cut.jpg")


@pytest.mark.parametrize("kind", ["png8", "png16", "tiff", "jpg"])
def test_pixel_limit_is_checked_before_decoding(tmp_path, kind):
    path = tmp_path / "big.img"
    if kind == "png16":
        path.write_bytes(cv2_png16(values16((5, 4, 3))))
    elif kind == "tiff":
        tifffile.imwrite(path, np.zeros((5, 4), np.uint8))
    else:
        PILImage.new("RGB", (4, 5)).save(path, format="PNG" if kind == "png8" else "JPEG")
    with pytest.raises(ImageReadError) as caught:
        read_image(path, max_pixels=19)
    assert_one_line(caught.value, str(path), "--max-pixels", "4x5")
    assert read_image(path, max_pixels=20).width == 4
    assert read_image(path, max_pixels=None).height == 5
    assert read_image(path, max_pixels=0).height == 5
    assert PILImage.MAX_IMAGE_PIXELS == imageio.DEFAULT_MAX_PIXELS


def test_read_header_size(tmp_path):
    PILImage.new("RGB", (7, 3)).save(tmp_path / f"{UNICODE_STEM}.png")
    tifffile.imwrite(tmp_path / "a.tif", np.zeros((3, 7, 3), np.uint16), photometric="rgb")
    (tmp_path / "junk.png").write_bytes(b"nope")
    assert read_header_size(tmp_path / f"{UNICODE_STEM}.png") == (7, 3)
    assert read_header_size(tmp_path / "a.tif") == (7, 3)
    assert read_header_size(tmp_path / "junk.png") is None
    assert read_header_size(tmp_path / "missing.png") is None


# ----------------------------------------------------------------------------- atomic writes


@pytest.mark.parametrize("fmt", WRITE_FORMATS)
def test_write_leaves_only_the_target(tmp_path, fmt):
    pixels, alpha = colour_and_alpha(3, True, 16)
    target = tmp_path / f"{UNICODE_STEM}{suffix_for_format(fmt)}"
    target.write_bytes(b"old")  # overwritten in one step
    write_image(Image(pixels, alpha), target, fmt)
    assert files_in(tmp_path) == [target.name]
    assert read_image(target).width == 7


def test_failed_rename_removes_temp_and_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"old contents")

    def refuse(src, dst):
        assert Path(src).name.startswith(".out.png.") and src.endswith(".tmp")
        assert Path(src).exists()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(imageio.os, "replace", refuse)
    with pytest.raises(ImageWriteError) as caught:
        write_image(Image(np.zeros((2, 2, 3), np.uint8), None), target, "png")
    assert_one_line(caught.value, str(target), "No space left")
    assert files_in(tmp_path) == ["out.png"]
    assert target.read_bytes() == b"old contents"


def test_write_errors_are_one_line_and_leave_nothing(tmp_path):
    image = Image(np.zeros((2, 2, 3), np.uint8), None)
    (tmp_path / "taken.png").mkdir()
    cases = [
        (tmp_path / "taken.png", "png", 95, "folder"),
        (tmp_path / "no_dir" / "x.png", "png", 95, "No such file"),
        (tmp_path / "x.gif", "gif", 95, "gif"),
        (tmp_path / "x.jpg", "jpg", 0, "quality"),
    ]
    for path, fmt, quality, reason in cases:
        with pytest.raises(ImageWriteError) as caught:
            write_image(image, path, fmt, quality=quality)
        assert_one_line(caught.value, str(path), reason)
    assert files_in(tmp_path) == ["taken.png"]
    assert files_in(tmp_path / "taken.png") == []


def test_grey_alpha_16bit_survives_every_format(tmp_path):
    pixels, alpha = colour_and_alpha(1, True, 16, seed=14)
    for fmt in WRITE_FORMATS:
        path = tmp_path / f"{UNICODE_STEM}{suffix_for_format(fmt)}"
        write_image(Image(pixels, alpha, icc=SRGB_ICC), path, fmt, quality=100)
        got = read_image(path)
        assert got.icc == SRGB_ICC, fmt
        if fmt in ("png", "tiff"):
            assert got.is_grey and np.array_equal(got.pixels, pixels), fmt
            assert np.array_equal(got.alpha, alpha), fmt
        elif fmt == "webp":
            assert np.array_equal(got.alpha, (alpha.astype(np.uint32) + 128) // 257)
        else:
            assert got.is_grey and got.alpha is None
    assert sorted(os.listdir(tmp_path)) == sorted(
        f"{UNICODE_STEM}{suffix_for_format(f)}" for f in WRITE_FORMATS
    )

"""Reading and writing images without losing what they hold: alpha, 16-bit depth, grey-scale,
ICC profile, EXIF (orientation applied on read), resolution.

Which library does what, and why:

- Pillow decodes 8-bit PNG, JPEG, WebP, BMP and the TIFF variants tifffile cannot (palette,
  CMYK, 1-bit, LZW/JPEG compression without imagecodecs), and encodes 8-bit PNG, JPEG, WebP.
- 16-bit PNG: OpenCV decodes and encodes the pixels (Pillow drops 16-bit RGB to 8 bit); we add
  the iCCP/eXIf/pHYs chunks ourselves, and write grey+alpha (which OpenCV cannot) with our own
  small encoder.
- TIFF: tifffile reads the header, metadata and (when its codecs suffice) the pixels, and
  writes all TIFFs (deflate + predictor); 16-bit TIFFs whose compression tifffile cannot
  decode without imagecodecs are decoded by OpenCV.

Files are read into memory once, so every decoder sees bytes (non-ASCII paths just work), and
the pixel limit is checked from the header before anything is decoded. Writes encode into
memory, then go to a hidden temporary file in the target folder that is renamed over the
target, so a failure never leaves a partial image.
"""

from __future__ import annotations

import io
import os
import secrets
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import (
    BmpImagePlugin,
    ImageCms,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
)
from PIL import Image as PILImage

IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"})
WRITE_FORMATS = ("png", "jpg", "webp", "tiff")
# Pillow's own default, read once: the global itself is never changed (other threads read it).
DEFAULT_MAX_PIXELS: int | None = PILImage.MAX_IMAGE_PIXELS

_FORMAT_BY_SUFFIX = {
    ".png": "png",
    ".jpg": "jpg",
    ".jpeg": "jpg",
    ".webp": "webp",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".bmp": "bmp",
}
_SUFFIX_BY_FORMAT = {"png": ".png", "jpg": ".jpg", "webp": ".webp", "tiff": ".tiff", "bmp": ".bmp"}
_FORMAT_ALIASES = {"jpeg": "jpg", "tif": "tiff"}
_SYSTEM_FILES = frozenset({"thumbs.db", "ehthumbs.db", "desktop.ini", ".ds_store"})

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_EXIF_PREFIX = b"Exif\x00\x00"
_TAG_ORIENTATION = 0x0112
_TAG_ICC = 34675
_WEBP_MAX_SIDE = 16383
_JPEG_MAX_SIDE = 65535


class ImageReadError(Exception):
    """A file could not be read as an image. ``str(error)`` is one line, ``"PATH: reason"``."""

    def __init__(self, message: str, *, path: str | None = None, reason: str | None = None):
        super().__init__(message)
        self.path = path
        self.reason = reason if reason is not None else message


class ImageWriteError(Exception):
    """An image could not be written. ``str(error)`` is one line, ``"PATH: reason"``."""

    def __init__(self, message: str, *, path: str | None = None, reason: str | None = None):
        super().__init__(message)
        self.path = path
        self.reason = reason if reason is not None else message


class _Problem(Exception):
    """Internal: why a file cannot be read or written; the public functions add the path."""


@dataclass
class Image:
    """Decoded pixels with what travels with them. Colour and alpha are separate so the caller
    can upscale them separately; ``pixels`` is H x W x 1 (grey) or H x W x 3 (RGB)."""

    pixels: np.ndarray
    alpha: np.ndarray | None
    icc: bytes | None = None
    exif: bytes | None = None  # Pillow's form (starts with b"Exif\0\0"), orientation reset to 1
    format: str = "png"
    source_mode: str = ""
    dpi: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.pixels.ndim == 2:
            self.pixels = self.pixels[:, :, None]
        if self.pixels.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"pixels must be uint8 or uint16, not {self.pixels.dtype}")
        if self.pixels.ndim != 3 or self.pixels.shape[2] not in (1, 3):
            raise ValueError(f"pixels must be H x W x 1 or H x W x 3, not {self.pixels.shape}")
        if self.pixels.shape[0] == 0 or self.pixels.shape[1] == 0:
            raise ValueError("image has no pixels")
        if self.alpha is not None:
            if self.alpha.ndim == 3 and self.alpha.shape[2] == 1:
                self.alpha = self.alpha[:, :, 0]
            if self.alpha.shape != self.pixels.shape[:2] or self.alpha.dtype != self.pixels.dtype:
                raise ValueError(
                    f"alpha must be {self.pixels.shape[:2]} {self.pixels.dtype}, "
                    f"not {self.alpha.shape} {self.alpha.dtype}"
                )

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def channels(self) -> int:
        """Colour channels (1 or 3), alpha not counted."""
        return int(self.pixels.shape[2])

    @property
    def is_grey(self) -> bool:
        return self.channels == 1


# --------------------------------------------------------------------------------------------
# names and values


def format_for_suffix(suffix: str) -> str | None:
    """``".JPEG"`` -> ``"jpg"``, ``".tif"`` -> ``"tiff"``; None for anything else."""
    suffix = suffix.lower()
    if not suffix.startswith("."):
        suffix = "." + suffix
    return _FORMAT_BY_SUFFIX.get(suffix)


def suffix_for_format(fmt: str) -> str:
    """``"jpg"`` -> ``".jpg"``, ``"tiff"`` -> ``".tiff"``."""
    key = _FORMAT_ALIASES.get(fmt.lower(), fmt.lower())
    if key not in _SUFFIX_BY_FORMAT:
        raise ValueError(f"unknown image format {fmt!r}")
    return _SUFFIX_BY_FORMAT[key]


def is_image_path(path: str | os.PathLike) -> bool:
    """True for names we read (by suffix); false for hidden and system files such as
    ``.DS_Store``, AppleDouble ``._x.jpg``, ``Thumbs.db`` and our own ``.x.tmp`` files."""
    name = Path(path).name
    if not name or name.startswith(".") or name.lower() in _SYSTEM_FILES:
        return False
    return Path(name).suffix.lower() in IMAGE_SUFFIXES


def alpha_is_constant(alpha: np.ndarray) -> bool:
    """True when every alpha value is the same (e.g. fully opaque), so it need not be upscaled."""
    if alpha.size == 0:
        return True
    return bool(alpha.min() == alpha.max())


def to_float(array: np.ndarray) -> np.ndarray:
    """uint8 / uint16 -> float32 in [0, 1]."""
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255)
    if array.dtype == np.uint16:
        return array.astype(np.float32) / np.float32(65535)
    raise TypeError(f"expected uint8 or uint16, not {array.dtype}")


def from_float(array: np.ndarray, bit_depth: int) -> np.ndarray:
    """float in [0, 1] -> uint8 / uint16: clipped, rounded half up, NaN to 0."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, not {bit_depth}")
    top = 255.0 if bit_depth == 8 else 65535.0
    scaled = np.nan_to_num(np.asarray(array, dtype=np.float32), nan=0.0) * np.float32(top)
    np.clip(scaled, 0.0, top, out=scaled)
    np.floor(scaled + np.float32(0.5), out=scaled)
    return scaled.astype(np.uint8 if bit_depth == 8 else np.uint16)


def _to_8bit(array: np.ndarray) -> np.ndarray:
    """uint16 -> uint8 as round(v * 255 / 65535) (v / 257 is never exactly half-way)."""
    if array.dtype == np.uint8:
        return array
    return ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# reading


def read_image(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image:
    """Decode PNG, JPEG, WebP, TIFF or BMP (by content, not by suffix) to an upright Image.

    ``max_pixels``: refuse images with more pixels (checked from the header, before
    decoding); None or 0 means no limit. Raises ImageReadError with a one-line message."""
    limit = max_pixels if max_pixels and max_pixels > 0 else None
    try:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except IsADirectoryError:
            raise _Problem("is a folder, not an image file") from None
        except FileNotFoundError:
            raise _Problem("no such file") from None
        except PermissionError:
            raise _Problem("permission denied") from None
        except OSError as exc:
            raise _Problem(exc.strerror or _one_line(exc)) from None
        if not data:
            raise _Problem("file is empty (0 bytes)")
        fmt = _sniff(data)
        if fmt is None:
            raise _Problem("not a supported image file (PNG, JPEG, WebP, TIFF or BMP)")
        if fmt == "png" and _png_ihdr(data)[2] == 16:
            return _read_png16(data, limit)
        if fmt == "tiff":
            return _read_tiff(data, limit)
        return _read_pillow(data, fmt, limit)
    except _Problem as exc:
        reason = str(exc)
    except MemoryError:
        reason = "not enough memory to decode it"
    except PILImage.DecompressionBombError:
        reason = "too large for Pillow's decoder"
    except Exception as exc:  # decoders raise all sorts on damaged files; one line for each
        reason = _decoder_reason(exc)
    raise ImageReadError(f"{os.fspath(path)}: {reason}", path=os.fspath(path), reason=reason)


def read_header_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) of the image as read_image would return it (EXIF rotation applied),
    from the header only; None if the file is not an image we can read."""
    try:
        with open(path, "rb") as fh:
            fmt = _sniff(fh.read(32))
            fh.seek(0)
            if fmt == "tiff":
                import tifffile

                with tifffile.TiffFile(fh) as tif:
                    page = tif.pages.first
                    width, height = int(page.imagewidth), int(page.imagelength)
                    orientation = _tiff_tag_value(page, 274) or 1
            elif fmt in _PILLOW_CLASSES:
                im = _PILLOW_CLASSES[fmt](fh)
                width, height = im.size
                orientation = _exif_orientation(im.info.get("exif"))
            else:
                return None
    except Exception:
        return None
    return (height, width) if int(orientation) in (5, 6, 7, 8) else (width, height)


def _sniff(head: bytes) -> str | None:
    if head.startswith(_PNG_SIGNATURE):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head.startswith(b"BM"):
        return "bmp"
    return None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _decoder_reason(exc: Exception) -> str:
    text = _one_line(exc)
    if "truncated" in text.lower():
        return "file is truncated or damaged (image file is truncated)"
    if "imagecodecs" in text:
        return f"compression not supported without the imagecodecs package ({text})"
    return f"damaged or unsupported image ({type(exc).__name__}: {text})"


def _check_limit(width: int, height: int, limit: int | None) -> None:
    if limit is not None and width * height > limit:
        raise _Problem(
            f"image is {width}x{height} = {width * height:,} pixels, over the limit of "
            f"{limit:,} that guards against decompression bombs; raise it with "
            f"--max-pixels N (0 = no limit)"
        )


def _finish(
    pixels: np.ndarray,
    alpha: np.ndarray | None,
    *,
    orientation: int,
    icc: bytes | None,
    exif: bytes | None,
    fmt: str,
    source_mode: str,
    dpi: tuple[float, float] | None,
) -> Image:
    """Make the result upright, C-contiguous and writeable."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    pixels = _orient(pixels, orientation)
    alpha = None if alpha is None else _orient(alpha, orientation)
    if dpi is not None and orientation in (5, 6, 7, 8):
        dpi = (dpi[1], dpi[0])
    return Image(
        pixels=_own_array(pixels),
        alpha=None if alpha is None else _own_array(alpha),
        icc=icc or None,
        exif=exif or None,
        format=fmt,
        source_mode=source_mode,
        dpi=dpi,
    )


def _own_array(array: np.ndarray) -> np.ndarray:
    """C-contiguous and writeable (Pillow's arrays are read-only views of its buffer)."""
    if array.flags.c_contiguous and array.flags.writeable:
        return array
    return np.array(array, order="C", copy=True)


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) so the stored pixels become the upright picture."""
    if orientation == 2:
        return array[:, ::-1]
    if orientation == 3:
        return array[::-1, ::-1]
    if orientation == 4:
        return array[::-1]
    if orientation == 5:
        return array.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(array, -1)
    if orientation == 7:
        return array.swapaxes(0, 1)[::-1, ::-1]
    if orientation == 8:
        return np.rot90(array, 1)
    return array


def _clean_dpi(value) -> tuple[float, float] | None:
    try:
        x, y = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return (x, y) if x > 0 and y > 0 else None


# ---- EXIF: orientation is read and reset by patching IFD0 in place, so maker notes, GPS and
# every other byte stay exactly as the camera wrote them (re-serialising can break them).


def _exif_body(exif: bytes) -> bytes:
    return exif[len(_EXIF_PREFIX) :] if exif.startswith(_EXIF_PREFIX) else exif


def _find_orientation(body: bytes) -> tuple[str, int] | None:
    """(byte order, offset of the value) of the orientation entry in IFD0, or None."""
    if len(body) < 8 or body[:2] not in (b"II", b"MM"):
        return None
    order = "<" if body[:2] == b"II" else ">"
    magic, ifd = struct.unpack_from(order + "HI", body, 2)
    if magic != 42:
        return None
    (count,) = struct.unpack_from(order + "H", body, ifd)
    for index in range(count):
        entry = ifd + 2 + 12 * index
        tag, kind, n = struct.unpack_from(order + "HHI", body, entry)
        if tag == _TAG_ORIENTATION and kind == 3 and n >= 1:
            return order, entry + 8
    return None


def _exif_orientation(exif: bytes | None) -> int:
    if not exif:
        return 1
    try:
        body = _exif_body(exif)
        found = _find_orientation(body)
        if found is None:
            return 1
        (value,) = struct.unpack_from(found[0] + "H", body, found[1])
    except struct.error:
        return 1
    return value if 1 <= value <= 8 else 1


def _exif_reset_orientation(exif: bytes | None) -> bytes | None:
    """The same EXIF (in Pillow's b"Exif\\0\\0" form) with orientation set to 1."""
    if not exif:
        return None
    body = bytearray(_exif_body(exif))
    try:
        found = _find_orientation(bytes(body))
        if found is not None:
            struct.pack_into(found[0] + "H", body, found[1], 1)
    except struct.error:
        pass
    return _EXIF_PREFIX + bytes(body)


# ---- Pillow

_PILLOW_CLASSES = {
    "png": PngImagePlugin.PngImageFile,
    "jpg": JpegImagePlugin.JpegImageFile,
    "bmp": BmpImagePlugin.BmpImageFile,
    "tiff": TiffImagePlugin.TiffImageFile,
}
try:  # Pillow without libwebp still reads everything else
    from PIL import WebPImagePlugin

    _PILLOW_CLASSES["webp"] = WebPImagePlugin.WebPImageFile
except ImportError:  # pragma: no cover - depends on the Pillow build
    pass


def _read_pillow(data: bytes, fmt: str, limit: int | None) -> Image:
    # The plugin class is opened directly: PIL.Image.open would apply (and warn or fail on)
    # the global MAX_IMAGE_PIXELS, and we apply the caller's limit instead.
    if fmt not in _PILLOW_CLASSES:
        raise _Problem(f"this Pillow build cannot read {fmt.upper()} files")
    im = _PILLOW_CLASSES[fmt](io.BytesIO(data))
    _check_limit(im.width, im.height, limit)
    im.load()  # decodes everything now; a truncated file fails here rather than half-decoding
    source_mode = im.mode
    icc = im.info.get("icc_profile") or None
    if fmt == "tiff":
        # A TIFF's "EXIF" in Pillow is its own IFD (strip offsets...), not camera EXIF.
        exif = None
        orientation = int(im.getexif().get(_TAG_ORIENTATION, 1) or 1)
    else:
        exif = im.info.get("exif") or None
        orientation = _exif_orientation(exif)
    pixels, alpha, icc = _pillow_arrays(im, icc)
    return _finish(
        pixels,
        alpha,
        orientation=orientation if 1 <= orientation <= 8 else 1,
        icc=icc,
        exif=_exif_reset_orientation(exif),
        fmt=fmt,
        source_mode=source_mode,
        dpi=_clean_dpi(im.info.get("dpi")),
    )


def _pillow_arrays(
    im: PILImage.Image, icc: bytes | None
) -> tuple[np.ndarray, np.ndarray | None, bytes | None]:
    """(pixels, alpha, icc) from any Pillow mode: palette to RGB(A), 1-bit to L, CMYK to RGB."""
    mode = im.mode
    has_key = "transparency" in im.info
    if mode == "CMYK":
        im, icc = _cmyk_to_rgb(im, icc)
        mode = "RGB"
    elif mode in ("P", "PA"):
        im = im.convert("RGBA" if mode == "PA" or has_key else "RGB")
    elif mode == "1":
        im = im.convert("L")
    elif mode == "L" and has_key:
        im = im.convert("LA")
    elif mode == "RGB" and has_key:
        im = im.convert("RGBA")
    elif mode in ("La", "RGBa"):
        im = im.convert(mode.upper())
    elif mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16), None, icc
    elif mode in ("I", "F"):
        return _narrow(np.asarray(im)), None, icc
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        try:
            im = im.convert("RGB")
        except ValueError:
            raise _Problem(f"unsupported colour mode {mode}") from None
    array = np.asarray(im)
    if array.ndim == 2:
        return array, None, icc
    if array.shape[2] in (2, 4):
        return array[:, :, :-1], array[:, :, -1], icc
    return array, None, icc


def _cmyk_to_rgb(im: PILImage.Image, icc: bytes | None) -> tuple[PILImage.Image, bytes | None]:
    """Through the embedded CMYK profile to sRGB when there is one that works, else Pillow's
    plain formula (then the result is untagged, i.e. assumed sRGB)."""
    if icc:
        try:
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            converted = ImageCms.profileToProfile(
                im,
                ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                srgb,
                renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                outputMode="RGB",
                flags=ImageCms.Flags.BLACKPOINTCOMPENSATION,
            )
            if converted is not None:
                return converted, srgb.tobytes()
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass
    return im.convert("RGB"), None


def _narrow(array: np.ndarray) -> np.ndarray:
    """32-bit integer or float samples -> uint16 when that loses nothing sensible."""
    if array.dtype in (np.uint8, np.uint16):
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * np.uint8(255)
    if np.issubdtype(array.dtype, np.integer):
        if array.size and (array.min() < 0 or array.max() > 65535):
            raise _Problem("32-bit integer samples outside 0..65535 are not supported")
        return array.astype(np.uint16)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or (array.size and (array.min() < 0 or array.max() > 1)):
            raise _Problem("floating-point samples are only supported in the range 0..1")
        return from_float(array, 16)
    raise _Problem(f"unsupported sample type {array.dtype}")


# ---- 16-bit PNG


def _png_ihdr(data: bytes) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from a PNG's IHDR."""
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise _Problem("file is truncated or damaged (no PNG header)")
    width, height, depth, colour = struct.unpack_from(">IIBB", data, 16)
    return width, height, depth, colour


def _png_chunks(data: bytes):
    """Yield (type, payload) up to IEND; a file that ends before IEND is truncated."""
    pos = len(_PNG_SIGNATURE)
    view = memoryview(data)
    while True:
        if pos + 8 > len(data):
            raise _Problem("file is truncated (PNG ends before its IEND chunk)")
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            raise _Problem("file is truncated (PNG chunk cut short)")
        yield kind, view[pos + 8 : pos + 8 + length]
        if kind == b"IEND":
            return
        pos = end


def _read_png16(data: bytes, limit: int | None) -> Image:
    import cv2

    width, height, _, colour = _png_ihdr(data)
    _check_limit(width, height, limit)
    icc = exif = dpi = None
    for kind, payload in _png_chunks(data):
        if kind == b"iCCP":
            name_end = bytes(payload[:80]).find(b"\x00")
            try:
                icc = zlib.decompress(payload[name_end + 2 :]) if name_end > 0 else None
            except zlib.error:
                icc = None
        elif kind == b"eXIf":
            exif = _EXIF_PREFIX + bytes(payload)
        elif kind == b"pHYs" and len(payload) == 9:
            ppm_x, ppm_y, unit = struct.unpack(">IIB", payload)
            if unit == 1 and ppm_x and ppm_y:
                dpi = (ppm_x * 0.0254, ppm_y * 0.0254)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.dtype != np.uint16:
        raise _Problem("file is damaged (16-bit PNG could not be decoded)")
    pixels, alpha = _split_cv2(decoded, grey=colour in (0, 4))
    return _finish(
        pixels,
        alpha,
        orientation=_exif_orientation(exif),
        icc=icc,
        exif=_exif_reset_orientation(exif),
        fmt="png",
        source_mode={0: "I;16", 2: "RGB;16", 4: "LA;16", 6: "RGBA;16"}.get(colour, "RGB;16"),
        dpi=dpi,
    )


def _split_cv2(decoded: np.ndarray, grey: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """OpenCV's BGR(A) / grey result -> (RGB or grey pixels, alpha)."""
    if decoded.ndim == 2:
        return decoded, None
    channels = decoded.shape[2]
    if channels == 1:
        return decoded[:, :, 0], None
    if channels == 2:
        return decoded[:, :, :1], decoded[:, :, 1]
    alpha = decoded[:, :, 3] if channels == 4 else None
    if grey:  # OpenCV expands grey+alpha to BGRA with equal colour channels
        return decoded[:, :, :1], alpha
    return decoded[:, :, 2::-1], alpha


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(payload, zlib.crc32(kind))
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _paeth_rows(raw: np.ndarray, previous: np.ndarray, bpp: int) -> np.ndarray:
    """PNG filter type 4 for a block of rows (bytes), given the row above the block."""
    x = raw.astype(np.int16)
    up = np.empty_like(x)
    up[0] = previous
    up[1:] = x[:-1]
    left = np.zeros_like(x)
    left[:, bpp:] = x[:, :-bpp]
    up_left = np.zeros_like(x)
    up_left[:, bpp:] = up[:, :-bpp]
    pa = np.abs(up - up_left)
    pb = np.abs(left - up_left)
    pc = np.abs(left + up - 2 * up_left)
    predictor = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, up_left))
    return ((x - predictor) & 0xFF).astype(np.uint8)


def _png16_metadata_chunks(image: Image) -> bytes:
    out = b""
    if image.icc:
        out += _png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(image.icc))
    if image.exif:
        out += _png_chunk(b"eXIf", _exif_body(image.exif))
    if image.dpi:
        ppm = [max(1, round(v / 0.0254)) for v in image.dpi]
        out += _png_chunk(b"pHYs", struct.pack(">IIB", ppm[0], ppm[1], 1))
    return out


def _encode_png16(image: Image) -> bytes:
    """OpenCV (libpng) encodes grey, RGB and RGBA; our metadata chunks go in after its IHDR.
    Grey+alpha, which OpenCV cannot write, goes through our own encoder."""
    if image.is_grey and image.alpha is not None:
        return _encode_png16_grey_alpha(image)
    import cv2

    array = image.pixels[:, :, ::-1] if image.channels == 3 else image.pixels
    if image.alpha is not None:
        array = np.concatenate([array, image.alpha[:, :, None]], axis=2)
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(array))
    data = encoded.tobytes() if ok else b""
    if data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise _Problem("OpenCV could not encode the 16-bit PNG")
    ihdr_end = 8 + 12 + 13
    return data[:ihdr_end] + _png16_metadata_chunks(image) + data[ihdr_end:]


def _encode_png16_grey_alpha(image: Image) -> bytes:
    """A plain PNG encoder (colour type 4, Paeth filter on every row)."""
    height, width = image.height, image.width
    assert image.alpha is not None
    out = bytearray(_PNG_SIGNATURE)
    out += _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 4, 0, 0, 0))
    out += _png16_metadata_chunks(image)
    bpp = 4  # two 16-bit samples
    row_bytes = width * bpp
    block_rows = max(1, (1 << 21) // row_bytes)  # bounded memory for any image size
    compressor = zlib.compressobj(6)
    stream = bytearray()
    previous = np.zeros(row_bytes, np.int16)
    for top in range(0, height, block_rows):
        block = image.pixels[top : top + block_rows]
        block = np.concatenate([block, image.alpha[top : top + block_rows, :, None]], axis=2)
        raw = np.ascontiguousarray(block, dtype=">u2").view(np.uint8).reshape(len(block), row_bytes)
        lines = np.empty((len(block), row_bytes + 1), np.uint8)
        lines[:, 0] = 4
        lines[:, 1:] = _paeth_rows(raw, previous, bpp)
        previous = raw[-1].astype(np.int16)
        stream += compressor.compress(lines.tobytes())
    stream += compressor.flush()
    for start in range(0, len(stream), 1 << 20):
        out += _png_chunk(b"IDAT", bytes(stream[start : start + (1 << 20)]))
    out += _png_chunk(b"IEND", b"")
    return bytes(out)


# ---- TIFF


def _tiff_tag_value(page, code: int):
    tag = page.tags.get(code)
    return None if tag is None else tag.value


def _tiff_dpi(page) -> tuple[float, float] | None:
    x, y = _tiff_tag_value(page, 282), _tiff_tag_value(page, 283)
    unit = int(_tiff_tag_value(page, 296) or 2)
    if x is None or y is None or unit not in (2, 3):
        return None
    try:
        values = [v[0] / v[1] if isinstance(v, tuple) else float(v) for v in (x, y)]
    except (ZeroDivisionError, TypeError, IndexError):
        return None
    if unit == 3:
        values = [v * 2.54 for v in values]
    return _clean_dpi(values)


def _read_tiff(data: bytes, limit: int | None) -> Image:
    import tifffile

    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        page = tif.pages.first
        width, height = int(page.imagewidth), int(page.imagelength)
        _check_limit(width, height, limit)
        photometric = int(page.photometric)
        samples = int(page.samplesperpixel)
        extras = [int(v) for v in (page.extrasamples or ())]
        depth = int(page.bitspersample)
        if photometric not in (1, 2) or depth < 8:  # not grey/RGB, or 1/2/4-bit: Pillow
            return _read_pillow(data, "tiff", limit)
        colour = 1 if photometric == 1 else 3
        if samples < colour:
            raise _Problem(f"TIFF has {samples} samples for {colour} colour channels")
        alpha_kind = extras[0] if samples > colour and extras else 0
        icc = _tiff_tag_value(page, _TAG_ICC)
        orientation = int(_tiff_tag_value(page, 274) or 1)
        dpi = _tiff_dpi(page)
        try:
            array = page.asarray()
            axes = page.axes
        except (ValueError, KeyError) as exc:
            if "imagecodecs" not in str(exc):
                raise
            if depth == 8:
                return _read_pillow(data, "tiff", limit)
            array, axes = _tiff_with_opencv(data, colour, samples, alpha_kind), "YXS"
    if "S" in axes and axes.index("S") != len(axes) - 1:
        array = np.moveaxis(array, axes.index("S"), -1)
        axes = axes.replace("S", "") + "S"
    while array.ndim > (3 if axes.endswith("S") else 2):
        array = array[0]  # first plane of a stack
    if array.ndim == 2:
        array = array[:, :, None]
    array = _narrow(array)
    pixels = array[:, :, :colour]
    alpha = array[:, :, colour] if alpha_kind in (1, 2) and array.shape[2] > colour else None
    if alpha is not None and alpha_kind == 1:
        pixels = _unpremultiply(pixels, alpha)
    mode = ("L" if colour == 1 else "RGB") + ("A" if alpha is not None else "")
    if array.dtype == np.uint16:
        mode = "I;16" if mode == "L" else mode + ";16"
    return _finish(
        pixels,
        alpha,
        orientation=orientation if 1 <= orientation <= 8 else 1,
        icc=bytes(icc) if icc else None,
        exif=None,
        fmt="tiff",
        source_mode=mode,
        dpi=dpi,
    )


def _tiff_with_opencv(data: bytes, colour: int, samples: int, alpha_kind: int) -> np.ndarray:
    """16-bit TIFF in a compression tifffile cannot decode without imagecodecs (LZW...)."""
    import cv2

    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    wanted = colour + (1 if alpha_kind in (1, 2) else 0)
    got = 1 if decoded is None or decoded.ndim == 2 else decoded.shape[2]
    if decoded is None or decoded.dtype != np.uint16 or got != wanted or samples != wanted:
        raise _Problem("this TIFF compression needs the imagecodecs package (pip install imagecodecs)")
    pixels, alpha = _split_cv2(decoded, grey=colour == 1)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return pixels if alpha is None else np.concatenate([pixels, alpha[:, :, None]], axis=2)


def _unpremultiply(pixels: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Associated (premultiplied) alpha -> straight colour, which is what we carry."""
    top = np.iinfo(pixels.dtype).max
    a = alpha.astype(np.float64)[:, :, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        straight = np.where(a > 0, pixels * (top / np.maximum(a, 1)), 0)
    return np.clip(np.floor(straight + 0.5), 0, top).astype(pixels.dtype)


def _encode_tiff(image: Image) -> bytes:
    import tifffile

    data = image.pixels
    if image.alpha is not None:
        data = np.concatenate([data, image.alpha[:, :, None]], axis=2)
    elif image.is_grey:
        data = data[:, :, 0]
    options: dict = {}
    if image.icc:
        options["iccprofile"] = image.icc
    if image.dpi:
        options["resolution"] = image.dpi
        options["resolutionunit"] = "INCH"
    buffer = io.BytesIO()
    tifffile.imwrite(
        buffer,
        np.ascontiguousarray(data),
        photometric="minisblack" if image.is_grey else "rgb",
        planarconfig="contig",
        extrasamples=["unassalpha"] if image.alpha is not None else None,
        compression="zlib",
        predictor=True,
        software="sr-desktop",
        metadata=None,
        **options,
    )
    return buffer.getvalue()


# --------------------------------------------------------------------------------------------
# writing


def write_image(image: Image, path: str | os.PathLike, fmt: str, quality: int = 95) -> None:
    """Encode ``image`` as ``fmt`` (png, jpg, webp, tiff) and put it at ``path`` atomically.

    ``quality`` (1-100) is used by JPEG and WebP; WebP at 100 is lossless. 16-bit goes to
    8 bit for JPEG/WebP; JPEG has no alpha, so the image is flattened onto white; WebP has
    no grey, so grey is written as RGB. Raises ImageWriteError with a one-line message."""
    target = os.fspath(path)
    key = _FORMAT_ALIASES.get(str(fmt).lower(), str(fmt).lower())
    try:
        if key not in WRITE_FORMATS:
            raise _Problem(f"cannot write {fmt!r} files (choose one of {', '.join(WRITE_FORMATS)})")
        if not 1 <= int(quality) <= 100:
            raise _Problem(f"quality must be between 1 and 100, not {quality}")
        if os.path.isdir(target):
            raise _Problem("is a folder")
        data = _encode(image, key, int(quality))
        _atomic_write(target, data)
        return
    except _Problem as exc:
        reason = str(exc)
    except MemoryError:
        reason = "not enough memory to encode it"
    except OSError as exc:
        reason = exc.strerror or _one_line(exc)
    except Exception as exc:  # encoders raise all sorts; the user gets one line
        reason = f"cannot encode as {key.upper()} ({type(exc).__name__}: {_one_line(exc)})"
    raise ImageWriteError(f"{target}: {reason}", path=target, reason=reason)


def _encode(image: Image, fmt: str, quality: int) -> bytes:
    if fmt == "tiff":
        return _encode_tiff(image)
    if fmt == "png" and image.bit_depth == 16:
        return _encode_png16(image)

    pixels, alpha = image.pixels, image.alpha
    if fmt == "jpg":
        if max(image.width, image.height) > _JPEG_MAX_SIDE:
            raise _Problem(f"JPEG cannot hold images over {_JPEG_MAX_SIDE} pixels a side")
        if alpha is not None:
            pixels, alpha = _flatten_on_white(pixels, alpha), None
    if fmt == "webp":
        if max(image.width, image.height) > _WEBP_MAX_SIDE:
            raise _Problem(f"WebP cannot hold images over {_WEBP_MAX_SIDE} pixels a side; choose PNG or TIFF")
        if pixels.shape[2] == 1:
            pixels = np.repeat(pixels, 3, axis=2)
    pixels = _to_8bit(pixels)
    array = pixels if alpha is None else np.concatenate([pixels, _to_8bit(alpha)[:, :, None]], axis=2)
    if array.shape[2] == 1:
        array = array[:, :, 0]
    im = PILImage.fromarray(np.ascontiguousarray(array))
    options: dict = {}
    if image.icc:
        options["icc_profile"] = image.icc
    if image.exif:
        exif = _EXIF_PREFIX + _exif_body(image.exif)
        options["exif"] = _exif_body(exif) if fmt == "webp" else exif  # WebP: bare TIFF data
    if image.dpi and fmt in ("png", "jpg"):
        options["dpi"] = tuple(image.dpi)
    buffer = io.BytesIO()
    if fmt == "png":
        im.save(buffer, format="PNG", compress_level=6, **options)
    elif fmt == "jpg":
        # 4:4:4 chroma at high quality: upscaled detail should not lose half its colour.
        subsampling = 0 if quality >= 90 else 2
        im.save(buffer, format="JPEG", quality=quality, subsampling=subsampling, **options)
    else:
        im.save(buffer, format="WEBP", quality=quality, lossless=quality >= 100, method=4, **options)
    return buffer.getvalue()


def _flatten_on_white(pixels: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    colour = to_float(pixels)
    weight = to_float(alpha)[:, :, None]
    return from_float(colour * weight + (1.0 - weight), 8)


def _temp_path(target: str) -> str:
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name[:50]}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _atomic_write(target: str, data: bytes) -> None:
    """Write to a hidden temporary file beside the target, then rename it over the target."""
    temp = _temp_path(target)
    try:
        with open(temp, "xb") as fh:
            fh.write(data)
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise

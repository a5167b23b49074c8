"""Reading the images people upload: validate, limit, decode, orient and convert to RGB.

    image = effnet.load_image(data, name="cat.jpg")   # bytes, a path, or a binary file object

Accepted: JPEG, PNG, WebP, GIF (first frame), BMP and TIFF (first page), up to MAX_BYTES bytes and
MAX_PIXELS pixels, in any pixel mode (greyscale, 16-bit, float, palette, CMYK, with or without
transparency). Every refusal raises `ImageError`, a ValueError with a one-line message naming the
file and saying what is accepted.

Why each step:
* The byte limit is checked before anything is parsed, and the pixel limit right after
  `Image.open`, which reads only the header: a 100 kB PNG can claim 50000 x 50000 pixels and would
  take 7.5 GB to decode (a decompression bomb). Pillow's own `Image.MAX_IMAGE_PIXELS` is a
  process-wide setting that other code may change; this module does not touch it and checks
  `image.size` itself.
* Bytes stay in memory (io.BytesIO): an upload is never written to disk under a user-given name.
* EXIF orientation is applied (phone photos are stored sideways with an 'orientation 6' tag).
* Transparency is composited over white, the way a browser shows the file; 16-bit and float
  greyscale are scaled to 0..255 rather than clipped (clipping turns most 16-bit images white).
* The network sees a centred square crop, so extremely thin images are refused (the crop would be
  a sliver of the picture) and tiny ones are enlarged so a heatmap drawn over them can be seen.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 20 * 10**6  # 20 MB: a large phone photo is 3-12 MB
MAX_PIXELS = 40 * 10**6  # 40 megapixels: decoded as RGB, 120 MB
MAX_ASPECT_RATIO = 20.0  # longer side / shorter side
MIN_SIDE = 32  # smaller images are enlarged to this shorter side

# Pillow's format names (its JPEG reader also opens MPO, the multi-picture JPEG of many cameras).
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
FORMAT_NAMES = "JPEG, PNG, WebP, GIF, BMP or TIFF"  # ACCEPTED_FORMATS as people write them
# The file name endings of ACCEPTED_FORMATS, for upload boxes (the decoder itself goes by content).
EXTENSIONS = ("jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff")
ACCEPTED = f"accepted: {FORMAT_NAMES} files up to {MAX_BYTES // 10**6} MB and {MAX_PIXELS // 10**6} megapixels"
ORIGINAL_SIZE = "original_size"  # the key in a loaded image's `info`: (width, height) before enlarging


class ImageError(ValueError):
    """An upload that is not an image this project can read; the message names the file."""


def load_image(data: bytes | str | Path | BinaryIO, name: str | None = None) -> Image.Image:
    """Decode `data` (the file's bytes, a path, or a binary file object) into an RGB PIL image.

    `name` is what messages call the file (default: the path or the file object's name).
    Raises ImageError for anything that is not an accepted image (see the module docstring).

    The image's `info` keeps what the decoding changed: `info[ORIGINAL_SIZE]` is the picture's
    (width, height) as oriented, before a tiny image is enlarged, and `info["format"]` Pillow's
    name for the file's format; `original_size(image)` reads the first. Pillow carries `info`
    through copy(), convert(), resize() and pickling (a cache's copy keeps it).
    """
    raw, label = _read_bytes(data, name)
    if not raw:
        raise ImageError(f"{label}: the file is empty; {ACCEPTED}")
    if len(raw) > MAX_BYTES:
        raise ImageError(f"{label}: the file is {len(raw) / 10**6:.1f} MB, too large; {ACCEPTED}")
    try:
        image = Image.open(io.BytesIO(raw), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError:
        raise ImageError(f"{label}: the image has too many pixels (refused before decoding); {ACCEPTED}") from None
    except UnidentifiedImageError:
        kind = _describe_non_image(raw)
        if kind:
            raise ImageError(f"{label}: this is {kind}, not a raster image; {ACCEPTED}") from None
        raise ImageError(f"{label}: not a recognised image file (corrupt, or a format not accepted); {ACCEPTED}") from None
    except Exception as error:  # Pillow's plugins raise many types on malformed headers
        raise ImageError(f"{label}: the file is corrupt ({_reason(error)}); {ACCEPTED}") from None

    file_format = image.format  # before exif_transpose, whose copy has none
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError(f"{label}: the image has no pixels ({width}x{height}); {ACCEPTED}")
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{label}: the image is {width}x{height} ({width * height / 10**6:.0f} megapixels), "
            f"refused before decoding; {ACCEPTED}"
        )
    if max(width, height) / min(width, height) > MAX_ASPECT_RATIO:
        raise ImageError(
            f"{label}: the image is {width}x{height}, too thin for a centred square crop; accepted: "
            f"aspect ratios up to {MAX_ASPECT_RATIO:g}:1"
        )

    try:
        image.seek(0)  # the first frame of an animation or the first page of a TIFF
        image.load()
    except Exception as error:  # truncated data, broken compression streams, bad palettes...
        raise ImageError(f"{label}: the image data is truncated or corrupt ({_reason(error)}); {ACCEPTED}") from None

    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a malformed EXIF block: show the pixels as stored rather than refuse
        pass
    try:
        rgb = _to_rgb(image)
    except Exception as error:
        raise ImageError(f"{label}: pixel mode {image.mode} could not be converted ({_reason(error)}); {ACCEPTED}") from None
    oriented_size = rgb.size
    loaded = _enlarge_tiny(rgb)
    loaded.info[ORIGINAL_SIZE] = oriented_size
    loaded.info["format"] = file_format
    return loaded


def original_size(image: Image.Image) -> tuple[int, int]:
    """(width, height) of the picture as the file holds it, oriented, before load_image enlarged a tiny
    one (an image that did not come from load_image: its own size)."""
    size = image.info.get(ORIGINAL_SIZE)
    return (int(size[0]), int(size[1])) if size else image.size


def _read_bytes(data: bytes | str | Path | BinaryIO, name: str | None) -> tuple[bytes, str]:
    """The file's bytes (at most MAX_BYTES + 1 of them) and the name to use in messages."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data), name or "the uploaded image"
    if isinstance(data, (str, Path)):
        path = Path(data)
        label = name or str(path)
        try:
            with path.open("rb") as file:
                return file.read(MAX_BYTES + 1), label
        except FileNotFoundError:
            raise ImageError(f"{label}: no such file; {ACCEPTED}") from None
        except IsADirectoryError:
            raise ImageError(f"{label}: is a folder, not an image file; {ACCEPTED}") from None
        except OSError as error:
            raise ImageError(f"{label}: could not be read ({error.strerror or type(error).__name__})") from None
    if hasattr(data, "read"):
        label = name or str(getattr(data, "name", "") or "the uploaded image")
        raw = data.read(MAX_BYTES + 1)
        if not isinstance(raw, (bytes, bytearray)):
            raise ImageError(f"{label}: the file object must be opened in binary mode ('rb')")
        return bytes(raw), label
    raise TypeError(f"load_image() takes bytes, a path or a binary file object, got {type(data).__name__}")


def _describe_non_image(raw: bytes) -> str:
    """A plain-words description of common non-image uploads (SVG, HTML, text), or ''."""
    head = raw[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<"):
        if b"<svg" in head:
            return "an SVG drawing (vector graphics; export it as PNG)"
        if b"<html" in head or b"<!doctype html" in head:
            return "an HTML page"
        return "an XML or HTML document"
    if head.startswith(b"%pdf"):
        return "a PDF document"
    chunk = raw[:4096]
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(chunk) - 3:  # not just a character cut in two at the chunk's end
            return ""
    return "a text file" if b"\x00" not in chunk else ""


def _reason(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"[:120] if text else type(error).__name__


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB: transparency over white, high bit depths scaled, not clipped."""
    mode = image.mode
    if mode == "RGB":
        return image
    if (mode == "P" and "transparency" in image.info) or mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode.startswith("I") or mode == "F":
        return Image.fromarray(_scale_to_bytes(np.asarray(image), mode), mode="L").convert("RGB")
    return image.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV


def _scale_to_bytes(values: np.ndarray, mode: str) -> np.ndarray:
    """16-bit, 32-bit and float greyscale -> uint8, keeping what 'black' and 'white' mean."""
    values = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if mode.startswith("I;16"):
        scaled = values / 257.0  # the 16-bit range onto 0..255
    elif mode == "F" and low >= 0.0 and high <= 1.0:
        scaled = values * 255.0  # float images in 0..1
    elif low >= 0.0 and high <= 255.0:
        scaled = values
    elif low >= 0.0 and high <= 65535.0:
        scaled = values / 257.0  # the 16-bit range onto 0..255
    else:
        scaled = (values - low) * (255.0 / (high - low))  # anything else: stretch min..max
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _enlarge_tiny(image: Image.Image) -> Image.Image:
    width, height = image.size
    shorter = min(width, height)
    if shorter >= MIN_SIDE:
        return image
    factor = MIN_SIDE / shorter
    size = (max(MIN_SIDE, round(width * factor)), max(MIN_SIDE, round(height * factor)))
    return image.resize(size, resample=Image.Resampling.NEAREST)

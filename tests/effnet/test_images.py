"""effnet.load_image: every accepted and refused kind of upload, each file made here in the test."""

from __future__ import annotations

import builtins
import io
import pickle
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from effnet.images import (ACCEPTED, ACCEPTED_FORMATS, EXTENSIONS, MAX_BYTES, MAX_PIXELS, MIN_SIDE, ImageError, load_image,
                           original_size)


def encode(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def pixel(image: Image.Image, xy=(0, 0)) -> tuple[int, int, int]:
    return image.getpixel(xy)


# A 64x48 picture with four coloured quadrants: lossless formats must give the colours back exactly.
def quadrants() -> Image.Image:
    array = np.zeros((48, 64, 3), dtype=np.uint8)
    array[:24, :32] = (255, 0, 0)
    array[:24, 32:] = (0, 255, 0)
    array[24:, :32] = (0, 0, 255)
    array[24:, 32:] = (255, 255, 0)
    return Image.fromarray(array)


@pytest.mark.parametrize("format", ["PNG", "BMP", "TIFF", "WEBP", "GIF"])
def test_lossless_formats_give_the_pixels_back(format):
    options = {"lossless": True} if format == "WEBP" else {}
    image = load_image(encode(quadrants(), format, **options), name=f"q.{format.lower()}")
    assert image.mode == "RGB" and image.size == (64, 48)
    assert pixel(image, (5, 5)) == (255, 0, 0)
    assert pixel(image, (60, 5)) == (0, 255, 0)
    assert pixel(image, (5, 40)) == (0, 0, 255)
    assert pixel(image, (60, 40)) == (255, 255, 0)


def test_jpeg_is_read_close_to_the_original():
    image = load_image(encode(quadrants(), "JPEG", quality=95))
    assert image.mode == "RGB" and image.size == (64, 48)
    assert np.abs(np.asarray(image, dtype=int)[8, 8] - (255, 0, 0)).max() < 12


def test_gif_animation_and_tiff_pages_give_the_first_frame():
    red, blue = Image.new("RGB", (40, 40), (255, 0, 0)), Image.new("RGB", (40, 40), (0, 0, 255))
    gif = encode(red, "GIF", save_all=True, append_images=[blue], duration=100, loop=0)
    assert Image.open(io.BytesIO(gif)).n_frames == 2
    assert pixel(load_image(gif)) == (255, 0, 0)
    tiff = encode(blue, "TIFF", save_all=True, append_images=[red])
    assert pixel(load_image(tiff)) == (0, 0, 255)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: Image.new("L", (40, 40), 100), (100, 100, 100)),
        (lambda: Image.new("LA", (40, 40), (100, 0)), (255, 255, 255)),  # fully transparent -> white
        (lambda: Image.new("LA", (40, 40), (100, 255)), (100, 100, 100)),
        (lambda: Image.new("RGBA", (40, 40), (255, 0, 0, 0)), (255, 255, 255)),
        (lambda: Image.new("RGBA", (40, 40), (255, 0, 0, 255)), (255, 0, 0)),
        (lambda: Image.new("RGBA", (40, 40), (0, 0, 0, 128)), (127, 127, 127)),  # half black over white
        (lambda: Image.new("CMYK", (40, 40), (255, 0, 0, 0)), (0, 255, 255)),  # pure cyan
        (lambda: Image.new("1", (40, 40), 1), (255, 255, 255)),
    ],
    ids=["L", "LA-transparent", "LA-opaque", "RGBA-transparent", "RGBA-opaque", "RGBA-half", "CMYK", "1-bit"],
)
def test_modes_become_rgb(make, expected):
    # TIFF stores every one of these modes as they are.
    image = load_image(encode(make(), "TIFF"))
    assert image.mode == "RGB"
    assert np.abs(np.subtract(pixel(image, (20, 20)), expected)).max() <= 1


def test_sixteen_bit_greyscale_is_scaled_not_clipped():
    values = np.array([[0, 32896, 65535, 65535]] * 40, dtype=np.uint16).repeat(10, axis=1)
    source = Image.fromarray(values)
    assert source.mode == "I;16"
    data = encode(source, "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    image = load_image(data)
    assert [pixel(image, (x, 0))[0] for x in (5, 15, 25)] == [0, 128, 255]


def test_float_images_in_zero_to_one_are_scaled():
    source = Image.fromarray(np.full((40, 40), 0.5, dtype=np.float32))
    assert source.mode == "F"
    assert pixel(load_image(encode(source, "TIFF"))) == (128, 128, 128)


def test_palette_transparency_composites_over_white():
    source = Image.new("P", (40, 40), 0)
    source.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    source.paste(1, (0, 0, 20, 40))  # left half index 1 = red, right half index 0 = transparent
    data = encode(source, "PNG", transparency=0)
    image = load_image(data)
    assert pixel(image, (5, 5)) == (255, 0, 0)
    assert pixel(image, (35, 5)) == (255, 255, 255)


def test_exif_orientation_six_rotates_clockwise():
    source = Image.new("RGB", (80, 40), (255, 0, 0))
    source.paste((0, 0, 255), (40, 0, 80, 40))  # left red, right blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    image = load_image(encode(source, "JPEG", exif=exif.tobytes(), quality=95))
    assert image.size == (40, 80) and original_size(image) == (40, 80)  # as shown, not as stored
    top, bottom = np.asarray(image, dtype=int)[10, 20], np.asarray(image, dtype=int)[70, 20]
    assert top[0] > 200 and top[2] < 60  # the left (red) edge is now on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_tiny_images_are_enlarged_keeping_their_colours():
    source = Image.fromarray(np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [255, 255, 255]]], dtype=np.uint8))
    image = load_image(encode(source, "PNG"))
    assert image.size == (MIN_SIDE, MIN_SIDE)
    assert original_size(image) == (2, 2) and image.info["format"] == "PNG"  # what the file held
    assert original_size(pickle.loads(pickle.dumps(image.copy()))) == (2, 2)  # kept through a cache's copy
    assert pixel(image, (0, 0)) == (255, 0, 0) and pixel(image, (MIN_SIDE - 1, MIN_SIDE - 1)) == (255, 255, 255)


def test_thin_images_are_enlarged_up_to_a_ratio_and_refused_beyond():
    image = load_image(encode(Image.new("RGB", (1, 10), (9, 9, 9)), "PNG"))
    assert image.size == (MIN_SIDE, 10 * MIN_SIDE) and original_size(image) == (1, 10)
    with pytest.raises(ImageError, match=r"line\.png: .*1x500.*too thin"):
        load_image(encode(Image.new("RGB", (1, 500)), "PNG"), name="line.png")


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height pixels, followed by a tiny image stream."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")


def jpeg_bytes() -> bytes:
    rng = np.random.default_rng(0)
    return encode(Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)), "JPEG")


@pytest.mark.parametrize(
    "data, pattern",
    [
        (b"", "empty"),
        (b"just some notes\nsecond line\n", "text file"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "HTML page"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "SVG"),
        (jpeg_bytes()[:3000], "truncated or corrupt"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "corrupt"),
        (bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8)), "not a recognised image"),
        (png_header_only(50_000, 50_000), "too many pixels|megapixels"),
        (png_header_only(7000, 6000), "42 megapixels"),  # under Pillow's own limit, over ours
        (encode(Image.new("RGB", (8, 8)), "PPM"), "not a recognised image"),  # a format we do not accept
    ],
    ids=["empty", "text", "html", "svg", "truncated-jpeg", "corrupt-png", "random-bytes", "bomb-50000", "bomb-42mp", "ppm"],
)
def test_refusals_are_one_line_naming_the_file_and_what_is_accepted(data, pattern):
    with pytest.raises(ImageError, match=pattern) as caught:
        load_image(data, name="upload-7.bin")
    message = str(caught.value)
    assert message.startswith("upload-7.bin: ")
    assert "accepted" in message and "\n" not in message


def test_bomb_headers_are_refused_before_any_pixel_is_decoded(monkeypatch):
    def no_decoding(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    for width, height in [(50_000, 50_000), (7000, 6000)]:
        with pytest.raises(ImageError):
            load_image(png_header_only(width, height))
    assert 7000 * 6000 > MAX_PIXELS


def test_files_over_the_byte_limit_are_refused():
    with pytest.raises(ImageError, match=r"big\.jpg: the file is 20\.0 MB, too large"):
        load_image(b"\xff\xd8\xff" + b"\0" * MAX_BYTES, name="big.jpg")


def test_paths_and_file_objects_and_their_names(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(encode(quadrants(), "PNG"))
    assert load_image(path).size == (64, 48)
    assert load_image(str(path)).size == (64, 48)
    with path.open("rb") as file:
        assert load_image(file).size == (64, 48)
    (tmp_path / "notes.png").write_text("not really a png")
    with pytest.raises(ImageError, match=r"notes\.png: this is a text file"):
        load_image(tmp_path / "notes.png")
    with pytest.raises(ImageError, match=r"missing\.jpg: no such file"):
        load_image(tmp_path / "missing.jpg")


def test_bytes_are_decoded_without_opening_any_file(monkeypatch):
    data = encode(quadrants(), "PNG")

    def refuse(*args, **kwargs):
        raise AssertionError("a file was opened")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(io, "open", refuse)
    assert load_image(data).size == (64, 48)


def test_the_upload_boxes_endings_are_pillows_names_for_the_accepted_formats():
    registered = Image.registered_extensions()  # Pillow's own table: ".jpg" -> "JPEG"
    assert {registered[f".{ending}"] for ending in EXTENSIONS} == set(ACCEPTED_FORMATS)
    assert all(ending in ACCEPTED.lower() or ending in ("jpg", "tif") for ending in EXTENSIONS)


def test_an_image_not_from_load_image_reports_its_own_size():
    assert original_size(Image.new("RGB", (7, 5))) == (7, 5)
    assert original_size(load_image(encode(quadrants(), "PNG"))) == (64, 48)

"""Case photos: type judged by content, size limits, location metadata stripped, re-encoded."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from layers.errors import InvalidInput
from layers.field.photos import MAX_PHOTO_BYTES, clean, sniff

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def jpeg_with_gps(width: int = 40, height: int = 20, orientation: int = 1) -> bytes:
    """A JPEG carrying EXIF with a GPS position (Hefei) and an orientation tag."""
    picture = Image.new("RGB", (width, height), (200, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (31.0, 48.0, 0.0), 3: "E", 4: (117.0, 18.0, 0.0)})
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def encoded(fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (0, 120, 200)).save(out, fmt, **options)
    return out.getvalue()


def test_exif_and_gps_are_stripped_from_a_jpeg() -> None:
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the fixture does carry a position
    photo = clean(original)
    assert photo.content_type == "image/jpeg" and (photo.width, photo.height) == (40, 20)
    again = Image.open(io.BytesIO(photo.data))
    assert again.format == "JPEG"
    assert dict(again.getexif()) == {} and not again.getexif().get_ifd(GPS_IFD)
    assert b"Exif" not in photo.data and b"PhoneMaker" not in photo.data


def test_a_rotated_jpeg_is_turned_upright_before_its_exif_goes() -> None:
    # orientation 6: the camera was turned a quarter; the viewer must rotate 90° to show it upright
    photo = clean(jpeg_with_gps(40, 20, orientation=6))
    assert (photo.width, photo.height) == (20, 40)


def test_png_text_chunks_and_webp_exif_are_dropped() -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("GPS", "31.80,117.30")
    png = clean(encoded("PNG", pnginfo=info))
    assert png.content_type == "image/png" and b"31.80,117.30" not in png.data
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    webp = clean(encoded("WEBP", exif=exif.tobytes()))
    assert webp.content_type == "image/webp" and b"PhoneMaker" not in webp.data
    assert Image.open(io.BytesIO(webp.data)).format == "WEBP"


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"GIF89a" + b"\0" * 100, "not a JPEG, PNG or WebP"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not a JPEG, PNG or WebP"),
    (b"%PDF-1.4 pretending", "not a JPEG, PNG or WebP"),
    (b"\xff\xd8\xff\xe0" + b"garbage" * 20, "not a readable JPEG"),
])
def test_anything_but_a_whole_picture_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        clean(data)


def test_a_truncated_png_and_a_bmp_named_jpeg_are_refused() -> None:
    with pytest.raises(InvalidInput, match="not a readable PNG"):
        clean(encoded("PNG")[:40])
    with pytest.raises(InvalidInput, match="not a JPEG, PNG or WebP"):
        clean(encoded("BMP"), "photo.jpg")


def test_size_limit_is_five_megabytes() -> None:
    jpeg = jpeg_with_gps()
    with pytest.raises(InvalidInput, match="at most 5242880"):
        clean(jpeg + b"\0" * (MAX_PHOTO_BYTES + 1 - len(jpeg)))
    # at the limit exactly the picture is judged by its content (trailing bytes after EOI are ignored)
    assert clean(jpeg + b"\0" * (MAX_PHOTO_BYTES - len(jpeg))).content_type == "image/jpeg"


def test_sniff_reads_signatures_only() -> None:
    assert sniff(encoded("JPEG"))[0] == "image/jpeg"
    assert sniff(encoded("PNG"))[0] == "image/png"
    assert sniff(encoded("WEBP"))[0] == "image/webp"
    assert sniff(b"RIFF\0\0\0\0WAVE") is None

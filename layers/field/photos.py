"""Case photos: checked by content, re-encoded without metadata, kept under the data folder.

A phone's photo carries EXIF, often with the GPS position of the worker's
home or of the reporter: everything but the pixels is dropped by decoding
the picture and encoding it afresh (JPEG turned upright first, since its
orientation lives in the EXIF being dropped). What a client calls the file
is never trusted: the first bytes say the type, and Pillow must decode the
whole picture. Files are named by their row id, never by the client.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError
from psycopg import AsyncConnection

from layers.actors import Actor
from layers.errors import InvalidInput, NotFound, StoreError
from layers.rows import all_rows, one_row

MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_PHOTOS = 3
# a 5 MB file may still unpack into gigabytes; 40 megapixels is above any phone camera's default
MAX_PIXELS = 40_000_000
STAGES = ("report", "handle", "feedback", "verify")

# type by signature: (content type, Pillow format, file suffix)
_JPEG = ("image/jpeg", "JPEG", "jpg")
_PNG = ("image/png", "PNG", "png")
_WEBP = ("image/webp", "WEBP", "webp")


def sniff(data: bytes) -> tuple[str, str, str] | None:
    """The type the first bytes announce (JPEG, PNG or WebP), None for anything else."""
    if data[:3] == b"\xff\xd8\xff":
        return _JPEG
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _WEBP
    return None


@dataclass(frozen=True)
class CleanPhoto:
    """A photo re-encoded without metadata, ready to store."""

    data: bytes
    content_type: str
    suffix: str
    width: int
    height: int


def clean(data: bytes, name: str = "photo") -> CleanPhoto:
    """Check ``data`` is a JPEG, PNG or WebP of at most 5 MB and re-encode it without metadata.

    Raises :class:`InvalidInput` naming the photo for anything else: empty,
    too large, another type, a file whose bytes do not decode.
    """
    if not data:
        raise InvalidInput(f"{name} is empty")
    if len(data) > MAX_PHOTO_BYTES:
        raise InvalidInput(f"{name} is {len(data)} bytes; a photo may have at most {MAX_PHOTO_BYTES} (5 MB)")
    kind = sniff(data)
    if kind is None:
        raise InvalidInput(f"{name} is not a JPEG, PNG or WebP picture (judged by its content)")
    content_type, fmt, suffix = kind
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as probe:
                if probe.width * probe.height > MAX_PIXELS:
                    raise InvalidInput(f"{name} has {probe.width}x{probe.height} pixels; at most {MAX_PIXELS}")
                probe.load()
                picture = ImageOps.exif_transpose(probe) if fmt == "JPEG" else probe.copy()
    except InvalidInput:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise InvalidInput(f"{name} is not a readable {fmt} picture") from None
    out = io.BytesIO()
    if fmt == "JPEG":
        picture.convert("RGB").save(out, "JPEG", quality=85, optimize=True)
    elif fmt == "PNG":
        picture.save(out, "PNG", optimize=True)
    else:
        picture.save(out, "WEBP", quality=85)
    return CleanPhoto(out.getvalue(), content_type, suffix, picture.width, picture.height)


_INSERT = """
    INSERT INTO case_photos (incident_id, district_code, stage, actor, content_type, bytes, width, height,
                             sha256, path)
    VALUES (%(incident)s, %(district)s, %(stage)s, %(actor)s, %(type)s, %(bytes)s, %(width)s, %(height)s,
            %(sha)s, 'pending-' || gen_random_uuid())
    RETURNING id
"""


async def store(conn: AsyncConnection, root: Path, case: dict[str, Any], stage: str, actor: Actor,
                photos: list[CleanPhoto]) -> list[int]:
    """Write the photos of one step of ``case`` under ``root`` and record them; return their ids.

    The rows and files go together: a file is written before its row
    commits, so a row never points at nothing; a crash in between leaves at
    most an unreferenced file.
    """
    if stage not in STAGES:
        raise InvalidInput(f"unknown photo stage {stage!r}")
    ids: list[int] = []
    async with conn.transaction():
        for photo in photos:
            row = await one_row(conn, _INSERT, {
                "incident": case["id"], "district": case["district_code"], "stage": stage, "actor": actor.name,
                "type": photo.content_type, "bytes": len(photo.data), "width": photo.width,
                "height": photo.height, "sha": hashlib.sha256(photo.data).hexdigest()})
            if row is None:  # RETURNING of an INSERT yields its row; anything else is the store failing
                raise StoreError("the photo could not be recorded")
            relative = Path(case["district_code"]) / str(case["id"]) / f"{row['id']}.{photo.suffix}"
            target = root / relative
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(photo.data)
            except OSError as exc:  # a full or read-only disk: the rows roll back with the transaction
                raise StoreError("the photo store cannot be written") from exc
            await conn.execute("UPDATE case_photos SET path = %s WHERE id = %s", (str(relative), row["id"]))
            ids.append(int(row["id"]))
    return ids


async def list_photos(conn: AsyncConnection, incident_id: int) -> list[dict[str, Any]]:
    """The photos of a case, oldest first (no file paths)."""
    return await all_rows(conn, """
        SELECT id, stage, actor, content_type, bytes, width, height, taken_at
        FROM case_photos WHERE incident_id = %s ORDER BY id""", (incident_id,))


async def read_photo(conn: AsyncConnection, root: Path, photo_id: int, actor: Actor) -> tuple[bytes, str]:
    """The photo's bytes and type; 404 when unknown, 403 when the actor's area does not cover its case.

    Photos are as personal as a case's exact point (``layers.visibility``):
    only a reader whose area covers the case sees them.
    """
    row = await one_row(conn, """
        SELECT p.path, p.content_type, i.grid_code, i.community_code
        FROM case_photos AS p JOIN incidents AS i ON i.id = p.incident_id WHERE p.id = %s""", (photo_id,))
    if row is None:
        raise NotFound(f"no photo {photo_id}")
    actor.require_area(row["grid_code"] or row["community_code"])
    try:
        return (root / row["path"]).read_bytes(), row["content_type"]
    except OSError:
        raise NotFound(f"the file of photo {photo_id} is missing from the store") from None

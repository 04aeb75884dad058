"""JSON responses written with orjson: several times faster than generic encoding on hot paths.

orjson writes datetimes as RFC 3339 and refuses NaN (as RFC 7946 asks of
GeoJSON): a NaN that reached a response would be a bug, not a client error.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Response

JSON = "application/json"


def json_response(data: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response of ``data`` (dicts, lists, numbers, strings, datetimes, dataclasses)."""
    return Response(orjson.dumps(data), status_code=status_code, headers=headers, media_type=JSON)

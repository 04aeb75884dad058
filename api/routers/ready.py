"""Readiness: the database answers and has been migrated."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ConnDep
from layers.rows import one_row

router = APIRouter(tags=["service"])


@router.get("/ready", summary="Can the service answer queries")
async def ready(conn: ConnDep) -> dict[str, str]:
    """Check the database round trip and the migration level."""
    row = await one_row(conn, "SELECT version_num FROM alembic_version")
    return {"status": "ok", "schema": row["version_num"] if row else "none"}

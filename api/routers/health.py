"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["service"])


@router.get("/health", summary="Is the service up")
async def health() -> dict[str, str]:
    """Answer without touching the database: the bare baseline of the benchmarks."""
    return {"status": "ok"}

"""OGC SensorThings API v1.1 (a subset): Things, Datastreams and Observations mapped onto sensors."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["sensorthings"])

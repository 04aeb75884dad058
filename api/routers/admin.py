"""Admin writes over the API: teams, cameras, waterlogging points, stall zones and buildings as GeoJSON.

The checks and the write are the import's (``wangge import``); the work
runs in a worker thread on a connection of its own (one transaction), so
the event loop keeps serving while a large collection is checked.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from api import admin_writes
from api.auth import CurrentPrincipal, Principal
from api.deps import SettingsDep
from api.params import CrsQuery
from geo.crs import Crs, parse_crs

router = APIRouter(tags=["admin"])

LayerName = Annotated[str, Path(pattern=r"^[A-Za-z_-]{1,40}$",
                                description=f"one of {', '.join(admin_writes.ADMIN_LAYERS)}")]
FeatureCode = Annotated[str, Path(pattern=r"^[^\x00-\x1f\x7f/]{1,64}$", description="the feature's code")]
DryRun = Annotated[bool, Query(description="check only: answer the report, write nothing")]
_CAMERA = {"type": "Feature", "properties": {"code": "CAM90001", "name": "宁国路监控", "kind": "dome", "online": True},
           "geometry": {"type": "Point", "coordinates": [117.30, 31.80]}}
EXAMPLES = {"camera": {"summary": "one camera, WGS84", "value": {"type": "FeatureCollection", "features": [_CAMERA]}}}
FEATURE_EXAMPLES = {"camera": {"summary": "one camera, WGS84", "value": _CAMERA}}
COLLECTION_HELP = ("a GeoJSON FeatureCollection; each feature's properties are the layer's fields "
                   "(as in `wangge import LAYER --template`), `code` first")


def admin_of(principal: Principal) -> Principal:
    """Refuse (403) anyone but an admin; the area is checked against the features themselves."""
    principal.require_role("admin")
    return principal


def _answer(response: Response, report: dict[str, Any]) -> dict[str, Any]:
    counts = report.get("counts") or {}
    response.status_code = 201 if counts.get("inserted") else 200
    return report


def _system(body: Any, crs: str) -> Crs:
    # a top-level "crs" string in the collection wins over the query, as for planning proposals
    named = body.get("crs") if isinstance(body, dict) and isinstance(body.get("crs"), str) else crs
    return parse_crs(named)


REPORT = "the import report: counts (inserted, updated, unchanged), problems (warnings), import_id"
UPSERTED: dict[int | str, dict[str, Any]] = {
    200: {"description": f"nothing created (updated or unchanged, or a dry run): {REPORT}"},
    201: {"description": f"created: {REPORT}"}}


@router.get("/admin/layers", summary="The layers admins may write and the fields each takes")
async def writable_layers() -> dict[str, Any]:
    """Each layer's geometry (point or polygon) and fields: type, required, default, choices, minimum."""
    return {"layers": admin_writes.describe_layers()}


@router.post("/admin/layers/{layer}", status_code=201, summary="Create or update features of a layer (upsert by code)",
             responses=UPSERTED)
async def upsert_features(
    layer: LayerName, principal: CurrentPrincipal, settings: SettingsDep, response: Response,
    body: Annotated[Any, Body(description=COLLECTION_HELP, openapi_examples=EXAMPLES)],
    crs: CrsQuery = "wgs84", dry_run: DryRun = False,
) -> dict[str, Any]:
    """Check the collection as an import does and upsert it by code, all or nothing.

    201 when a feature was created, 200 when only updated or unchanged, with
    the import report (``counts``: inserted, updated, unchanged). 422 with
    every problem in ``errors`` (rows are feature numbers from 1) and 403 for
    a feature outside the token's area; then nothing is written.
    """
    admin_of(principal)
    spec = admin_writes.admin_layer(layer)
    result = await run_in_threadpool(admin_writes.write_features, settings.database_url or "", spec, body,
                                     _system(body, crs), principal, settings.snap_tolerance_m, dry_run)
    return _answer(response, result.report())


@router.put("/admin/layers/{layer}/{code}", summary="Create or replace one feature",
            responses=UPSERTED)
async def put_feature(
    layer: LayerName, code: FeatureCode, principal: CurrentPrincipal, settings: SettingsDep, response: Response,
    body: Annotated[Any, Body(description="one GeoJSON Feature; properties.code, when given, must be the path's",
                              openapi_examples=FEATURE_EXAMPLES)],
    crs: CrsQuery = "wgs84", dry_run: DryRun = False,
) -> dict[str, Any]:
    """Upsert one feature under the path's code; fields left out take their defaults, as in an import."""
    admin_of(principal)
    spec = admin_writes.admin_layer(layer)
    collection = admin_writes.one_feature(body, code)
    result = await run_in_threadpool(admin_writes.write_features, settings.database_url or "", spec, collection,
                                     _system(body, crs), principal, settings.snap_tolerance_m, dry_run)
    return _answer(response, result.report())


@router.delete("/admin/layers/{layer}/{code}", summary="Retire a team, or delete a feature of another layer",
               responses={409: {"description": "the team has an open case, or other records refer to the row"}})
async def retire_feature(layer: LayerName, code: FeatureCode, principal: CurrentPrincipal,
                         settings: SettingsDep) -> dict[str, Any]:
    """Teams get status ``retired`` (their cases keep them; dispatch never picks them again); others are deleted.

    409 for a team with an open case (close, reject or reassign it first).
    """
    admin_of(principal)
    spec = admin_writes.admin_layer(layer)
    return await run_in_threadpool(admin_writes.retire, settings.database_url or "", spec, code, principal,
                                   settings.snap_tolerance_m)

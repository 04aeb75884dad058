"""Grids out as GeoJSON and back as a proposal: unchanged, edited in an external tool, or really broken.

Every source wangge serves grids from rounds them to 7 decimals. Posted
back as they are they must report ``ok`` and publish as "nothing changed";
edited with shapely (a split along a line, a shared vertex moved in both
grids) they must report ``ok`` and publish a tiling that shapely, on the
stored rows, finds exact; a 1 m gap, a 0.5 m overlap and a part 2 m outside
must still be found.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import psycopg
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import LineString, mapping, shape
from shapely.geometry.base import BaseGeometry

from api.auth import issue_token
from geo.crs import parse_crs
from geo.planning.coverage import DEFAULT_SNAP_M, check_coverage
from geo.planning.metric import MetricFrame
from layers.io.export import SUFFIX, Format, export
from layers.io.spec import LAYERS
from tests.conftest import make_client
from tests.planning_cases import tiles_exactly

COMMUNITY = "340111003002"  # the community of the issue: 29 grids, several on its outline


def auth(client: TestClient, area: str = COMMUNITY) -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_token(client.app.state.token_secret, "planner", area)}  # type: ignore[attr-defined]


def served(client: TestClient) -> dict[str, Any]:
    answer = client.get(f"/communities/{COMMUNITY}/grids")
    assert answer.status_code == 200
    return dict(answer.json())


def served_items(client: TestClient, url: str) -> dict[str, Any]:
    """The community's grids as /collections/grids/items pages them (bbox of the community, then filtered)."""
    with psycopg.connect(url) as conn:
        bounds = conn.execute("SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
                              "FROM communities WHERE code = %s", (COMMUNITY,)).fetchone()
    assert bounds is not None
    features: list[dict[str, Any]] = []
    link: str | None = "/collections/grids/items"
    params: dict[str, Any] | None = {"bbox": ",".join(map(str, bounds)), "limit": 10}
    while link:
        page = client.get(link, params=params).json()
        features += page["features"]
        link = next((x["href"] for x in page["links"] if x["rel"] == "next"), None)
        params = None
    mine = [f for f in features if f["properties"]["community_code"] == COMMUNITY]
    return {"type": "FeatureCollection", "features": mine}


def rounded(fc: dict[str, Any], decimals: int) -> dict[str, Any]:
    out = copy.deepcopy(fc)
    for f in out["features"]:
        f["geometry"] = mapping(shapely.transform(shape(f["geometry"]), lambda xy: np.round(xy, decimals)))
    return dict(_jsonable(out))


def _jsonable(value: Any) -> Any:
    """Tuples from shapely's mapping as JSON lists."""
    return json.loads(json.dumps(value))


def propose(client: TestClient, fc: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(f"/planning/communities/{COMMUNITY}/proposals", json=_jsonable(fc), headers=auth(client))
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def problems(report: dict[str, Any]) -> dict[str, int]:
    cov = report["coverage"]
    counts = {k: len(cov[k]["features"]) for k in ("invalid_edges", "gaps", "overlaps", "outside")}
    return {"invalid": len(report["validity"]["issues"]), **counts}


def publish(client: TestClient, proposal: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(f"/planning/proposals/{proposal['id']}/publish", headers=auth(client))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def stored(url: str) -> tuple[BaseGeometry, dict[str, BaseGeometry], int, int]:
    """The community outline, its current grids by code, its grids version and its count of grid rows."""
    with psycopg.connect(url) as conn:
        outline, version = conn.execute("SELECT ST_AsBinary(geom), grids_version FROM communities WHERE code = %s",
                                        (COMMUNITY,)).fetchone()  # type: ignore[misc]
        grids = {c: shapely.from_wkb(w) for c, w in conn.execute(
            "SELECT code, ST_AsBinary(geom) FROM grids WHERE community_code = %s AND valid_to IS NULL", (COMMUNITY,))}
        rows = conn.execute("SELECT count(*) FROM grids WHERE community_code = %s", (COMMUNITY,)).fetchone()
    assert rows is not None
    return shapely.from_wkb(outline), grids, version, rows[0]


def assert_tiles_exactly(url: str) -> None:
    """Independent truth on the stored rows: union = outline within 1 mm, no overlap, shared vertices."""
    outline, grids, _, _ = stored(url)
    assert tiles_exactly(outline, list(grids.values()))


@pytest.mark.parametrize("decimals", [7, 6])
def test_grids_as_served_come_back_ok_and_publish_as_nothing_changed(client_rw: TestClient, demo_rw: str,
                                                                      decimals: int) -> None:
    before = stored(demo_rw)
    proposal = propose(client_rw, rounded(served(client_rw), decimals))
    assert proposal["report"]["ok"] is True, problems(proposal["report"])
    assert problems(proposal["report"]) == {"invalid": 0, "invalid_edges": 0, "gaps": 0, "overlaps": 0, "outside": 0}
    assert proposal["report"]["impact"] == {"buildings": [], "cameras": [], "stall_zones": [], "open_cases": []}
    # what was stored is the grids as they are in force, vertex for vertex
    kept = {f["properties"]["code"]: shape(f["geometry"]) for f in proposal["features"]["features"]}
    assert all(shapely.equals_exact(shapely.normalize(kept[c]), shapely.normalize(g), 0) for c, g in before[1].items())
    result = publish(client_rw, proposal)
    assert result["changed"] is False and "nothing changed" in result["message"]
    assert result["created"] == [] and result["retired"] == [] and result["kept"] == sorted(before[1])
    after = stored(demo_rw)
    assert after[2] == before[2] and after[3] == before[3]  # same version, no new row
    again = client_rw.post(f"/planning/proposals/{proposal['id']}/publish", headers=auth(client_rw))
    assert again.status_code == 409


def test_grids_from_the_collection_come_back_ok(client_rw: TestClient, demo_rw: str) -> None:
    fc = served_items(client_rw, demo_rw)
    assert len(fc["features"]) == len(stored(demo_rw)[1])
    proposal = propose(client_rw, fc)
    assert proposal["report"]["ok"] is True, problems(proposal["report"])
    assert publish(client_rw, proposal)["changed"] is False


@pytest.mark.parametrize(("fmt", "crs"), [("geojson", "wgs84"), ("geojson", "gcj02"), ("gpkg", "EPSG:4548"),
                                          ("shp", "cgcs2000")])
@pytest.mark.filterwarnings("ignore:'crs' was not provided")  # GCJ-02 has no EPSG code to write
def test_grids_from_wangge_export_come_back_ok(client_rw: TestClient, demo_rw: str, tmp_path: Path,
                                              fmt: Format, crs: str) -> None:
    out = tmp_path / f"grids{SUFFIX[fmt]}"
    assert export(demo_rw, [LAYERS["grids"]], out, fmt, parse_crs(crs))["grids"] > 0
    frame = gpd.read_file(out)
    frame = frame[frame["code"].str.startswith(COMMUNITY)]
    fc = json.loads(frame.to_json(drop_id=True))
    fc["crs"] = crs  # wangge's own member naming the proposal's system (GCJ-02 has no EPSG code)
    assert len(fc["features"]) == len(stored(demo_rw)[1])
    proposal = propose(client_rw, fc)
    assert proposal["report"]["ok"] is True, problems(proposal["report"])
    assert publish(client_rw, proposal)["changed"] is False


def test_the_tolerance_is_the_setting(demo_rw: str) -> None:
    # with WANGGE_SNAP_TOLERANCE_M=0 the report and publish compare as drawn: the issue's refusal comes back
    with make_client(demo_rw, snap_tolerance_m=0.0) as exact, make_client(demo_rw) as default:
        fc = served(default)
        refused = propose(exact, fc)["report"]
        assert refused["ok"] is False and refused["snap_tolerance_m"] == 0.0
        assert problems(refused)["invalid_edges"] > 0 and problems(refused)["outside"] > 0
        accepted = propose(default, fc)["report"]
        assert accepted["ok"] is True and accepted["snap_tolerance_m"] == DEFAULT_SNAP_M == 0.1


def test_a_raw_rounded_proposal_was_refused_before_snapping(client_rw: TestClient, demo_rw: str) -> None:
    # the issue's symptom, to show the tolerance is what makes the difference
    outline = stored(demo_rw)[0]
    fc = served(client_rw)
    geoms = np.asarray([shape(f["geometry"]) for f in fc["features"]], dtype=object)
    keys = [f["properties"]["code"] for f in fc["features"]]
    frame = MetricFrame.around(outline)
    assert not check_coverage(keys, geoms, outline, frame, snap_m=0.0).tiles
    assert check_coverage(keys, geoms, outline, frame).tiles


def _split_feature(fc: dict[str, Any], outline: BaseGeometry) -> tuple[dict[str, Any], str]:
    """fc with its grid that has the most neighbours split along a line through it, as an external tool would."""
    geoms = {f["properties"]["code"]: shape(f["geometry"]) for f in fc["features"]}
    neighbours = {c: sum(g.touches(o) for o in geoms.values()) for c, g in geoms.items()}
    code = max(sorted(geoms), key=lambda c: neighbours[c])
    target = geoms[code]
    centre = target.centroid
    minx, miny, maxx, maxy = target.bounds
    line = LineString([(centre.x - (maxx - minx), miny - 0.01), (centre.x + (maxx - minx) * 0.3, maxy + 0.01)])
    pieces = [p for p in shapely.ops.split(target, line).geoms if p.area > 0]
    assert len(pieces) == 2
    out = copy.deepcopy(fc)
    out["features"] = [f for f in out["features"] if f["properties"]["code"] != code]
    for n, piece in enumerate(pieces, start=1):
        written = shapely.transform(piece, lambda xy: np.round(xy, 7))  # the tool writes 7 decimals again
        out["features"].append({"type": "Feature", "geometry": mapping(written),
                                "properties": {"code": None, "name": f"split {n}"}})
    return _jsonable(out), code


def test_a_grid_split_in_an_external_tool_is_accepted_and_publishes_an_exact_tiling(
        client_rw: TestClient, demo_rw: str) -> None:
    outline, before, version, _ = stored(demo_rw)
    fc, code = _split_feature(served(client_rw), outline)
    proposal = propose(client_rw, fc)
    assert proposal["report"]["ok"] is True, problems(proposal["report"])
    result = publish(client_rw, proposal)
    assert result["changed"] is True and result["grids_version"] == version + 1
    assert code in result["retired"] and len(result["created"]) >= 2
    _, after, _, _ = stored(demo_rw)
    assert len(after) >= len(before) + 1
    # neighbours that only gained the cut's vertex are new versions carrying it; the rest kept their rows
    untouched = set(before) - set(result["retired"])
    assert untouched and all(shapely.equals_exact(after[c], before[c], 0) for c in untouched)
    assert_tiles_exactly(demo_rw)


def _shared_inner_vertex(fc: dict[str, Any], outline: BaseGeometry) -> tuple[float, float]:
    counts: dict[tuple[float, float], int] = {}
    for f in fc["features"]:
        for xy in {tuple(p) for p in shapely.get_coordinates(shape(f["geometry"])).tolist()}:
            counts[xy] = counts.get(xy, 0) + 1
    border = shapely.boundary(outline)
    # the demo's grids meet three at a time, so a vertex inside the community is shared by three
    inner = [xy for xy, n in sorted(counts.items()) if n >= 2 and border.distance(shapely.Point(xy)) > 1e-4]
    assert inner
    return min(inner, key=lambda xy: counts[xy])


def test_a_shared_vertex_moved_in_every_grid_is_accepted(client_rw: TestClient, demo_rw: str) -> None:
    outline, _, _, _ = stored(demo_rw)
    fc = served(client_rw)
    x, y = _shared_inner_vertex(fc, outline)
    moved = (round(x + 2e-5, 7), round(y - 1.5e-5, 7))  # about 2.5 m
    changed = []
    for f in fc["features"]:
        geom = shape(f["geometry"])
        if (x, y) in {tuple(p) for p in shapely.get_coordinates(geom).tolist()}:
            f["geometry"] = mapping(shapely.transform(
                geom, lambda xy: np.where((xy == (x, y)).all(axis=1)[:, None], moved, xy)))
            changed.append(f["properties"]["code"])
    assert len(changed) >= 2
    proposal = propose(client_rw, fc)
    assert proposal["report"]["ok"] is True, problems(proposal["report"])
    result = publish(client_rw, proposal)
    assert sorted(result["retired"]) == sorted(changed) and sorted(result["created"]) == sorted(changed)
    _, after, _, _ = stored(demo_rw)
    assert all(moved in {tuple(p) for p in shapely.get_coordinates(after[c]).tolist()} for c in changed)
    assert_tiles_exactly(demo_rw)


def _edited(fc: dict[str, Any], outline: BaseGeometry, edit: str, metres: float) -> tuple[dict[str, Any], float]:
    """fc with one grid shrunk, grown or pushed out by ``metres``; returns it and the expected problem area."""
    frame = MetricFrame.around(outline)
    area = frame.to_metric(outline)
    geoms = {f["properties"]["code"]: frame.to_metric(shape(f["geometry"])) for f in fc["features"]}
    rim = area.boundary.buffer(0.05)  # the rounded edges lie within millimetres of the outline
    on_border = [c for c, g in sorted(geoms.items()) if g.boundary.intersection(rim).length > 50]
    inner = [c for c, g in sorted(geoms.items()) if c not in on_border]
    code = (on_border if edit == "outside" else inner or on_border)[0]
    grid = geoms[code]
    if edit == "gap":
        new = grid.buffer(-metres, join_style="mitre")
        expected = grid.area - new.area
    elif edit == "overlap":
        new = grid.buffer(metres, join_style="mitre").intersection(area)
        expected = new.area - grid.area
    else:
        new = _vertex_pushed_out(grid, area, metres, [g for c, g in geoms.items() if c != code])
        expected = new.difference(area).area
    new = shapely.transform(frame.to_wgs84(new), lambda xy: np.round(xy, 7))
    out = copy.deepcopy(fc)
    for f in out["features"]:
        if f["properties"]["code"] == code:
            f["geometry"] = mapping(new)
    return _jsonable(out), expected


def _vertex_pushed_out(grid: BaseGeometry, area: BaseGeometry, metres: float,
                       others: list[BaseGeometry]) -> BaseGeometry:
    """``grid`` (metric) with a vertex on the outline, and on no other grid, moved ``metres`` outwards."""
    rim, centre = area.boundary.buffer(0.05), grid.centroid
    for x, y in shapely.get_coordinates(grid).tolist():
        if not rim.contains(shapely.Point(x, y)) or any(o.distance(shapely.Point(x, y)) < 0.05 for o in others):
            continue
        dx, dy = x - centre.x, y - centre.y
        far = (x + metres * dx / np.hypot(dx, dy), y + metres * dy / np.hypot(dx, dy))
        if area.contains(shapely.Point(far)):
            continue
        new = shapely.transform(grid, lambda xy, x=x, y=y, far=far: np.where(
            ((xy[:, 0] == x) & (xy[:, 1] == y))[:, None], far, xy))
        if new.is_valid:
            return new
    raise AssertionError("no vertex of the grid can be pushed out")


@pytest.mark.parametrize(("edit", "metres", "part"), [("gap", 1.0, "gaps"), ("overlap", 0.5, "overlaps"),
                                                      ("outside", 2.0, "outside")])
def test_real_errors_are_still_found(client_rw: TestClient, demo_rw: str, edit: str, metres: float,
                                     part: str) -> None:
    outline, _, _, _ = stored(demo_rw)
    fc, expected = _edited(served(client_rw), outline, edit, metres)
    proposal = propose(client_rw, fc)
    report = proposal["report"]
    assert report["ok"] is False
    found = sum(f["properties"]["area_m2"] for f in report["coverage"][part]["features"])
    assert found == pytest.approx(expected, rel=0.05)
    refused = client_rw.post(f"/planning/proposals/{proposal['id']}/publish", headers=auth(client_rw))
    assert refused.status_code == 409

"""The map wall's page, rendered once per area and filled with the current figures on every load.

The filled page must be the page a full render gives (the figures are the
only thing a load changes), a case change must show on the next load from
the same shell, a change of the areas (a planning publish, a rename) must
render the page again, and a token must never see another area's page.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser

from api.mapviews import AREA_TABLES, KeptPage, WallPages, command_page, wall_pages
from api.settings import Settings
from layers.areas import ChildOutline
from layers.indicators import ChildIndicators, OverdueCase
from maps import style
from maps.command import CommandShell, CommandView, render_command_page, render_command_shell
from tests.browser_pages import ARTIFACTS, PageLog, token
from tests.conftest import auth, eventually
from tests.planning_cases import COMMUNITY, grid_code, insert_community
from tests.test_maps import sample_view

SPLIT_A = [[450_100.0, 3_429_990.0], [450_100.0, 3_430_210.0]]
_FOLIUM_NAME = re.compile(r"_[0-9a-f]{32}")
_STYLER = re.compile(r"function (geo_json_[0-9a-f]{32})_styler\(feature\) \{.*?\n        \}\n", re.S)


def children_of(html: str) -> dict[str, dict[str, Any]]:
    """Each child's properties, as the page hands them to Leaflet (the GeoJSON holding a "code" property)."""
    for match in re.finditer(r"geo_json_[0-9a-f]{32}_add\(", html):
        data, _ = json.JSONDecoder().raw_decode(html, match.end())
        features = data["features"]
        if features and "code" in features[0]["properties"]:
            return {f["properties"]["code"]: f["properties"] for f in features}
    return {}


def styles_of(html: str) -> dict[str, dict[str, Any]]:
    """Each child's style as the page's styler answers it (Folium groups equal styles, the commonest is the default).

    The children's layer is the page's first GeoJSON, so its styler is the first.
    """
    match = _STYLER.search(html)
    assert match is not None
    found: dict[str, dict[str, Any]] = {}
    codes: list[str] = []
    for line in match.group(0).splitlines():
        codes += re.findall(r'case "([^"]+)":', line)
        answer = re.search(r"return (\{.*\});", line)
        if answer:
            for code in codes or ["default"]:
                found[code] = json.loads(answer.group(1))
            codes = []
    return {code: found.get(code, found["default"]) for code in children_of(html)}


def same_page(a: str, b: str) -> None:
    """Two renders show the same: same children, same styles, and the same text elsewhere."""
    assert children_of(a) == children_of(b)
    assert styles_of(a) == styles_of(b)

    def rest(html: str) -> str:
        return _FOLIUM_NAME.sub("_X", _STYLER.sub("", html))

    assert rest(a) == rest(b)


def with_figures(view: CommandView, values: list[tuple[int, int, int, int]]) -> CommandView:
    indicators = [ChildIndicators(c.code, c.name, *v) for c, v in zip(view.children, values, strict=True)]
    return replace(view, indicators=indicators)


def tricky_view() -> CommandView:
    """Names and addresses that must stay escaped in HTML, in JSON and in a script."""
    square = {"type": "Polygon", "coordinates": [[[117.2, 31.8], [117.25, 31.8], [117.25, 31.85], [117.2, 31.8]]]}
    children = [ChildOutline(f"34011100{i}", name, square)
                for i, name in enumerate(['"</script><b>', "O'Neil & 子", "三", "四"], start=1)]
    overdue = [OverdueCase(9, "占道<经营>", "handling", datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
                           'a "quoted" </script> address', "340111001")]
    base = sample_view(children=children, overdue=overdue)
    return with_figures(base, [(5, 1, 4, 3), (5, 1, 0, 0), (0, 0, 2, 2), (9, 9, 3, 0)])


@pytest.mark.parametrize("indicator", ["open_cases", "overdue_cases", "on_time_rate"])
@pytest.mark.parametrize("kiosk", [False, True])
def test_a_filled_shell_is_the_page_a_full_render_gives(indicator: str, kiosk: bool) -> None:
    view = replace(tricky_view(), indicator=indicator, kiosk=kiosk)
    full = render_command_page(view)
    filled = render_command_shell(view).page(view.indicators, view.overdue)
    same_page(full, filled)
    # equal values share a fill; a child without closures has no on-time rate
    fills = {code: s["fillColor"] for code, s in styles_of(filled).items()}
    assert children_of(filled)["340111001"]["fill"] == fills["340111001"]
    if indicator == "on_time_rate":
        assert fills["340111002"] == style.NO_DATA and children_of(filled)["340111002"]["value"] == "–"
    assert "&lt;/script&gt;" in filled and '"</script><b>' not in filled


def test_one_shell_shows_whatever_figures_it_is_given() -> None:
    view = tricky_view()
    shell = render_command_shell(view)
    for values in ([(1, 0, 0, 0), (2, 0, 0, 0), (3, 1, 1, 1), (40, 2, 5, 5)],
                   [(0, 0, 0, 0)] * 4,
                   [(7, 7, 7, 0), (0, 0, 0, 0), (1, 1, 1, 1), (2, 2, 2, 2)]):
        changed = with_figures(view, values)
        filled = shell.page(changed.indicators, ())
        same_page(render_command_page(replace(changed, overdue=())), filled)
        assert f'id="kpi-open" data-testid="kpi-open">{sum(v[0] for v in values)}<' in filled


def test_text_that_looks_like_a_slot_stays_text() -> None:
    fake = "__wg0123456789abcdef_panel__"
    view = with_figures(sample_view(children=[ChildOutline("340111001", fake, sample_view().children[0].geometry),
                                               sample_view().children[1]]), [(1, 0, 0, 0), (2, 0, 0, 0)])
    shell = render_command_shell(view)
    filled = shell.page(view.indicators, view.overdue)
    assert sum(1 for p in shell.parts if not isinstance(p, str)) == 2 + 2 * 2 + 2  # panel, legend, fills, values
    assert fake in filled and filled.count('<div id="wg-panel-body">') == 1
    same_page(render_command_page(view), filled)


def _kept(size: int) -> KeptPage:
    view = sample_view()
    return KeptPage((1, 1, 1, 1), CommandShell(view, ("x" * size,)))


def test_the_page_cache_is_bounded_and_forgets_the_least_recently_used() -> None:
    pages = WallPages(max_entries=2, max_chars=1000)
    pages.put(("a",), _kept(10))
    pages.put(("b",), _kept(10))
    assert pages.get(("a",), (1, 1, 1, 1)) is not None  # a is now the most recently used
    pages.put(("c",), _kept(10))
    assert pages.get(("b",), (1, 1, 1, 1)) is None and pages.get(("a",), (1, 1, 1, 1)) is not None
    assert pages.get(("a",), (1, 1, 2, 1)) is None  # another layer version: not this page
    pages.put(("d",), _kept(995))
    assert pages.get(("a",), (1, 1, 1, 1)) is None and pages.get(("c",), (1, 1, 1, 1)) is None
    assert pages.get(("d",), (1, 1, 1, 1)) is not None


def kpi(html: str, key: str = "kpi-open") -> int:
    match = re.search(rf'id="{key}" data-testid="{key}">([0-9]+)<', html)
    assert match is not None
    return int(match.group(1))


def open_cases(url: str, column: str, code: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM incidents WHERE {column} = %s "
                           "AND status NOT IN ('closed', 'rejected', 'duplicate')", (code,)).fetchone()
    assert row is not None
    return int(row[0])


def page(client: TestClient, path: str, area: str = "340111") -> str:
    answer = client.get(path, headers=auth(client, "operator", area))
    assert answer.status_code == 200, answer.text
    return answer.text


def test_a_new_case_shows_on_the_next_load_from_the_same_shell(client_rw: TestClient, demo_rw: str) -> None:
    pages = wall_pages(client_rw.app.state)  # type: ignore[attr-defined]
    first = page(client_rw, "/maps/district/340111")
    assert kpi(first) == open_cases(demo_rw, "district_code", "340111")
    rendered = pages.misses
    case = client_rw.post("/incidents", headers=auth(client_rw, "operator"), json={
        "category": "01.03", "channel": "hotline", "location": {"lon": 117.30, "lat": 31.80}})
    assert case.status_code == 201, case.text
    street = case.json()["grid_code"][:9]
    second = page(client_rw, "/maps/district/340111")
    assert kpi(second) == kpi(first) + 1 == open_cases(demo_rw, "district_code", "340111")
    assert pages.misses == rendered and pages.hits >= 1  # a case is not an area: the same shell
    row = re.search(rf'<tr data-code="{street}">.*?</tr>', second)
    assert row is not None and f"<td>{open_cases(demo_rw, 'street_code', street)}</td>" in row.group(0)
    # the children's shading is the panel poll's, on the same load
    poll = client_rw.get("/maps/district/340111/panel", headers=auth(client_rw, "operator")).json()
    assert {c: p["fill"] for c, p in children_of(second).items()} == poll["fills"]
    assert {c: p["value"] for c, p in children_of(second).items()} == poll["values"]


def test_a_planning_publish_changes_the_grids_of_the_next_load(client_rw: TestClient, demo_rw: str) -> None:
    insert_community(demo_rw)
    path = f"/maps/community/{COMMUNITY}"
    before = eventually(lambda: page(client_rw, path), lambda html: len(children_of(html)) == 2)
    assert set(children_of(before)) == {grid_code(1), grid_code(2)}
    assert page(client_rw, path) and wall_pages(client_rw.app.state).hits >= 1  # type: ignore[attr-defined]
    planner = auth(client_rw, "planner", COMMUNITY)
    proposal = client_rw.post(f"/planning/communities/{COMMUNITY}/proposals", params={"crs": "EPSG:4548"},
                              json={"operations": [{"op": "split", "grid": grid_code(1), "line": SPLIT_A}]},
                              headers=planner)
    assert proposal.status_code == 201, proposal.text
    published = client_rw.post(f"/planning/proposals/{proposal.json()['id']}/publish", headers=planner)
    assert published.status_code == 200, published.text
    after = eventually(lambda: page(client_rw, path), lambda html: grid_code(1) not in children_of(html))
    assert set(children_of(after)) == {grid_code(2), grid_code(3), grid_code(4)}


def test_a_renamed_street_shows_on_the_next_load(client_rw: TestClient, demo_rw: str) -> None:
    before = page(client_rw, "/maps/district/340111")
    assert "新名字街道" not in before
    with psycopg.connect(demo_rw) as conn:
        conn.execute("UPDATE streets SET name = '新名字街道' WHERE code = '340111001'")
    after = eventually(lambda: page(client_rw, "/maps/district/340111"),
                       lambda html: children_of(html)["340111001"]["name"] == "新名字街道")
    assert children_of(after)["340111001"]["name"] == "新名字街道"
    street = page(client_rw, "/maps/street/340111001", "340111001")
    assert '<span class="wg-title">新名字街道</span>' in street


def test_a_token_never_gets_another_areas_page(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    streets = [r[0].strip() for r in sync_ro.execute("SELECT code FROM streets ORDER BY code LIMIT 2")]
    mine, theirs = streets
    # the district's page and the other street's page are in the cache first
    page(client_ro, "/maps/district/340111")
    other = page(client_ro, f"/maps/street/{theirs}")
    for path in ("/maps/district/340111", f"/maps/street/{theirs}",
                 f"/maps/street/{theirs}?indicator=open_cases&kiosk=false"):
        refused = client_ro.get(path, headers=auth(client_ro, "operator", mine))
        assert refused.status_code == 403, path
        assert "wangge-config" not in refused.text and refused.headers["content-type"].startswith("application/json")
    client_ro.cookies.clear()
    own = page(client_ro, f"/maps/street/{mine}", mine)
    assert own != other and children_of(own) and all(c.startswith(mine) for c in children_of(own))
    assert all(c.startswith(theirs) for c in children_of(other))
    assert f'<span class="wg-code">{mine}</span>' in own


def test_the_panel_poll_reads_an_area_once_and_still_refuses_an_unknown_one(client_ro: TestClient) -> None:
    headers = auth(client_ro, "operator")
    missing = client_ro.get("/maps/street/340111999/panel", headers=headers)
    assert missing.status_code == 404 and set(missing.json()) == {"detail", "code"}
    assert client_ro.get("/maps/street/340111001/panel", headers=headers).status_code == 200
    layers = client_ro.app.state.layers  # type: ignore[attr-defined]
    versions = tuple(int(layers.version(t)) for t in AREA_TABLES)
    kept = wall_pages(client_ro.app.state).area("street", "340111001", versions)  # type: ignore[attr-defined]
    assert kept is not None and kept.code == "340111001" and kept.level == "street"
    assert wall_pages(client_ro.app.state).area("street", "340111001", (0, 0, 0, 0)) is None  # type: ignore[attr-defined]
    again = client_ro.get("/maps/street/340111999/panel", headers=headers)
    assert again.status_code == 404  # an unknown area is never kept


class Versions:
    """Area layer versions as a watcher would know them (None: not listening)."""

    def __init__(self, version: int | None) -> None:
        self.known = version

    def version(self, table: str) -> int | None:
        return self.known


def test_the_shell_is_kept_only_while_the_watcher_knows_the_versions(demo_ro: str) -> None:
    async def loads() -> list[str]:
        pages = WallPages()
        settings = Settings(database_url=demo_ro)  # type: ignore[call-arg]
        async with await psycopg.AsyncConnection.connect(demo_ro) as conn:
            answers = []
            for versions in (None, None, 7, 7, 8):
                answers.append(await command_page(conn, settings, "street", "340111001", "overdue_cases", False,
                                                  "", pages, Versions(versions)))
                assert (pages.hits, pages.misses) == {None: (0, 0), 7: (len(answers) - 3, 1), 8: (1, 2)}[versions]
        return answers

    answers = asyncio.run(loads())
    for answer in answers[1:]:
        same_page(answers[0], answer)


def test_first_paint_shows_the_figures_without_a_poll(page_server: tuple[str, str, Settings],
                                                     browser: Browser) -> None:
    """The page alone (its panel poll refused) shows the KPIs and shading the poll would answer."""
    base, _, _ = page_server
    operator = token("operator")
    poll = httpx.get(f"{base}/maps/district/340111/panel", headers={"Authorization": f"Bearer {operator}"}).json()
    for width, height in ((1920, 1080), (3840, 2160)):
        page_ = browser.new_page(viewport={"width": width, "height": height})
        log = PageLog(page_)
        page_.route("**/panel*", lambda route: route.abort())
        page_.goto(f"{base}/maps/district/340111?token={operator}")
        page_.wait_for_function("window.wangge && window.wangge.map !== undefined")
        assert int(page_.inner_text("#kpi-open")) == poll["open_cases"]
        shown = page_.evaluate("""() => { const out = {};
            window.wangge.map.eachLayer(l => { if (l.feature && l.feature.properties.code && l.options.fillColor)
                out[l.feature.properties.code] = l.options.fillColor; });
            return out; }""")
        assert {code: shown.get(code) for code in poll["fills"]} == poll["fills"]
        assert page_.evaluate("document.body.dataset.panelAt") is None  # no poll was answered
        # a hover's end restores the fill a poll set last (drawPanel keeps it in the feature), not the load's
        code = sorted(poll["fills"])[0]
        restored = page_.evaluate("""code => { let child = null;
            window.wangge.map.eachLayer(l => { if (l.feature && l.feature.properties.code === code
                                                  && l.options.fillColor) child = l; });
            child.fire("mouseover");
            const hovered = child.options.fillOpacity;
            child.feature.properties.fill = "#123456";
            child.fire("mouseout");
            return [hovered, child.options.fillOpacity, child.options.fillColor]; }""", code)
        assert restored == [0.65, 0.55, "#123456"]
        ARTIFACTS.mkdir(exist_ok=True)
        page_.screenshot(path=str(ARTIFACTS / f"wall-page-cache-district-{width}x{height}.png"))
        assert [e for e in log.errors if "panel" not in e] == []
        page_.close()


def test_a_community_before_its_grids_has_a_wall(page_server: tuple[str, str, Settings],
                                                browser: Browser) -> None:
    """A new community whose grids are not imported yet: its wall opens (it used to fail rendering)."""
    base, url, _ = page_server
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO communities (code, street_code, name, geom) "
                     "SELECT '340111001950', '340111001', '新社区', ST_Multi(ST_Buffer(ST_Centroid(geom), 0.002)) "
                     "FROM streets WHERE code = '340111001'")
    page_ = browser.new_page(viewport={"width": 1920, "height": 1080})
    log = PageLog(page_)
    page_.goto(f"{base}/maps/community/340111001950?token={token('operator')}")
    page_.wait_for_function("document.body.dataset.panelAt !== undefined")
    assert page_.inner_text(".wg-title") == "新社区" and page_.inner_text("#kpi-open") == "0"
    assert page_.locator(".wg-table tbody tr").count() == 0
    assert log.errors == []
    page_.close()

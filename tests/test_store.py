"""Finding the store: DATABASE_URL or the embedded cluster; clear messages when parts are missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.auth import verify_token
from api.cli import _print_tour
from api.settings import Settings
from api.store import open_store
from layers.cluster import EmbeddedCluster, StoreUnavailable, check_postgis, find_pg_bindir


def test_missing_postgresql_names_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANGGE_PG_BINDIR", str(tmp_path))
    with pytest.raises(StoreUnavailable, match="apt-get install -y postgresql-15-postgis-3"):
        find_pg_bindir()


def test_missing_postgis_names_the_install_command(tmp_path: Path) -> None:
    bindir = tmp_path / "99" / "bin"
    bindir.mkdir(parents=True)
    with pytest.raises(StoreUnavailable, match="apt-get install -y postgresql-99-postgis-3"):
        check_postgis(bindir)


def test_database_url_is_used_and_no_cluster_is_started(demo_ro: str, tmp_path: Path) -> None:
    settings = Settings(database_url=demo_ro, data_dir=tmp_path)  # type: ignore[call-arg]
    store = open_store(settings)
    assert store.url == demo_ro and store.cluster is None
    assert not (tmp_path / "pg").exists()


def test_a_second_start_adopts_the_running_cluster(pg_cluster: EmbeddedCluster) -> None:
    # same folder, another port: the running server is found and reused, not started twice
    again = EmbeddedCluster(pg_cluster.datadir, pg_cluster.port + 1)
    again.start()
    assert again.port == pg_cluster.port and again.started_here is False


def test_demo_tour_prints_working_map_wall_urls(demo_ro: str, capsys: pytest.CaptureFixture[str]) -> None:
    secret = "x" * 40
    _print_tour("http://127.0.0.1:8000", "340111", secret, demo_ro)
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8000/docs" in out
    wall = next(line.split()[-1] for line in out.splitlines() if "district map wall" in line)
    assert wall.startswith("http://127.0.0.1:8000/maps/district/340111?token=")
    assert verify_token(secret, wall.split("token=")[1]).role == "operator"
    assert "/maps/planner/340111" in out

"""Finding the store: DATABASE_URL or the embedded cluster; its password; backup and restore; clear messages."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
import pytest

from api.auth import verify_token
from api.cli import _print_tour, build_parser
from api.settings import Settings
from api.store import open_store
from layers.cluster import DB_SUPERUSER, EmbeddedCluster, StoreUnavailable, check_postgis, find_pg_bindir, free_port


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


def _wangge_db(settings: Settings, *argv: str) -> None:
    """Run ``wangge db ...`` with these settings (the parser and the command the console script uses)."""
    args = build_parser().parse_args(["db", *argv])
    args.func(args, settings)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"{parts.username}@{parts.hostname}:{parts.port}").geturl()


def test_the_cluster_keeps_its_password_in_a_file_only_its_owner_reads(pg_cluster: EmbeddedCluster) -> None:
    info = pg_cluster.password_file.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == os.geteuid()
    assert pg_cluster.password_file.parent == pg_cluster.datadir.parent  # outside the postgres-owned folder
    password = pg_cluster.password()
    assert password and len(password) >= 24
    assert unquote(urlsplit(pg_cluster.url()).password or "") == password
    url = pg_cluster.url("postgres")
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (DB_SUPERUSER,)
    # loopback is no excuse: no password, or a wrong one, is refused
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(_without_password(url), connect_timeout=5)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(url.replace(f":{urlsplit(url).password}@", ":wrong@"), connect_timeout=5)
    hba = [line.split() for line in (pg_cluster.datadir / "pg_hba.conf").read_text().splitlines()
           if line.strip() and not line.lstrip().startswith("#")]
    assert hba and all(fields[-1] == "scram-sha-256" for fields in hba)


def test_db_url_prints_the_embedded_url_or_database_url(pg_cluster: EmbeddedCluster, demo_ro: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    embedded = Settings(database_url=None, data_dir=pg_cluster.datadir.parent, pg_port=1025)  # type: ignore[call-arg]
    _wangge_db(embedded, "url")
    printed = capsys.readouterr().out.strip()
    assert printed == pg_cluster.url("wangge")  # the running port, not the configured one
    with psycopg.connect(printed.rsplit("/", 1)[0] + "/postgres") as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    _wangge_db(Settings(database_url=demo_ro), "url")  # type: ignore[call-arg]
    assert capsys.readouterr().out.strip() == demo_ro


def _fingerprint(url: str) -> dict[str, object]:
    """Row counts and content digests of the tables a restore must bring back."""
    with psycopg.connect(url) as conn:
        return {table: conn.execute(
            f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t"
        ).fetchone() for table in ("grids", "buildings", "incidents", "incident_events", "teams", "wangge_meta")}


def test_backup_then_restore_brings_back_the_same_rows(demo_rw: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(database_url=demo_rw)  # type: ignore[call-arg]
    before = _fingerprint(demo_rw)
    dump = tmp_path / "wangge.dump"
    _wangge_db(settings, "backup", str(dump))
    assert dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600  # it holds the token secret too
    with psycopg.connect(demo_rw) as conn:
        conn.execute("DELETE FROM buildings WHERE id % 2 = 0")
        conn.execute("UPDATE teams SET status = 'off_duty'")
    assert _fingerprint(demo_rw) != before
    _wangge_db(settings, "restore", str(dump))
    assert _fingerprint(demo_rw) == before
    assert "restored from" in capsys.readouterr().out
    with psycopg.connect(demo_rw) as conn:  # spatial types and indexes came back too
        located = conn.execute("SELECT count(*) FROM grids WHERE valid_to IS NULL AND "
                               "ST_Covers(geom, ST_SetSRID(ST_MakePoint(117.30, 31.80), 4326))").fetchone()
        leftovers = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                 (conn.info.dbname + "\\_\\_%",)).fetchall()
    assert located == (1,) and leftovers == []


@pytest.mark.parametrize("damage", ["not a dump", "truncated"])
def test_a_failed_restore_says_so_and_changes_nothing(demo_rw: str, tmp_path: Path, damage: str) -> None:
    settings = Settings(database_url=demo_rw)  # type: ignore[call-arg]
    dump = tmp_path / "wangge.dump"
    if damage == "not a dump":
        dump.write_text("id,name\n1,not a backup\n")
    else:
        _wangge_db(settings, "backup", str(dump))
        data = dump.read_bytes()
        dump.write_bytes(data[: len(data) * 2 // 3])  # the table of contents survives, the data does not
    with psycopg.connect(demo_rw) as conn:
        conn.execute("DELETE FROM buildings WHERE id % 3 = 0")
    before = _fingerprint(demo_rw)
    with pytest.raises(SystemExit) as failed:
        _wangge_db(settings, "restore", str(dump))
    message = str(failed.value.code)
    assert message.startswith("wangge: ") and "the database was not changed" in message
    assert "Traceback" not in message
    assert _fingerprint(demo_rw) == before
    with psycopg.connect(demo_rw) as conn:
        leftovers = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                 (conn.info.dbname + "\\_\\_%",)).fetchall()
    assert leftovers == []


@pytest.fixture
def trust_cluster() -> Iterator[EmbeddedCluster]:
    """A cluster as an older wangge made it: trust authentication, no password file."""
    parent = Path(tempfile.mkdtemp(prefix="wangge-trust-"))
    parent.chmod(0o755)
    cluster = EmbeddedCluster(parent / "pg", free_port(), durable=False)
    cluster.datadir.mkdir()
    runner: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(cluster.datadir, owner.pw_uid, owner.pw_gid)
        runner = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*runner, str(find_pg_bindir() / "initdb"), "-D", str(cluster.datadir), "-U", DB_SUPERUSER,
                    "--auth=trust", "--no-sync"], check=True, capture_output=True, cwd="/")
    yield cluster
    cluster.started_here = True  # stop whatever the test left running
    cluster.remove()
    shutil.rmtree(parent, ignore_errors=True)


def test_an_older_trust_cluster_is_upgraded_to_a_password(trust_cluster: EmbeddedCluster) -> None:
    assert trust_cluster.password() is None
    trust_cluster.start()
    password = trust_cluster.password()
    assert password and stat.S_IMODE(trust_cluster.password_file.stat().st_mode) == 0o600
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(_without_password(trust_cluster.url("postgres")), connect_timeout=5)
    with psycopg.connect(trust_cluster.url("postgres")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    # and it stays so across a restart, with the same password
    trust_cluster.stop()
    trust_cluster.start()
    assert trust_cluster.password() == password
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(_without_password(trust_cluster.url("postgres")), connect_timeout=5)


def test_a_cluster_whose_password_file_is_lost_says_how_to_recover(trust_cluster: EmbeddedCluster) -> None:
    trust_cluster.start()
    trust_cluster.stop()
    trust_cluster.password_file.unlink()
    with pytest.raises(StoreUnavailable, match=r"requires a password but .*pg-password is missing"):
        trust_cluster.start()

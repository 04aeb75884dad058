"""The embedded PostGIS cluster: wangge's store when no ``DATABASE_URL`` is set.

The cluster lives in a project-local folder and listens on loopback only, like
pytest-postgresql runs its throwaway servers. ``initdb`` and ``postgres``
refuse to run as root, so when this process is root the cluster is owned by,
and run as, the ``postgres`` OS user; otherwise it runs as the current user.

The test suite uses this same class with a temporary folder and a free port,
so tests and service start the store in one way.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

INSTALL_HINT = "apt-get update && apt-get install -y postgresql-15-postgis-3"
DB_SUPERUSER = "wangge"


class StoreUnavailable(RuntimeError):
    """PostgreSQL or PostGIS is missing or the cluster would not start."""


def find_pg_bindir() -> Path:
    """Return the newest ``/usr/lib/postgresql/<v>/bin`` holding ``initdb``.

    ``WANGGE_PG_BINDIR`` overrides the search (for a non-Debian layout).
    """
    override = os.environ.get("WANGGE_PG_BINDIR")
    candidates = [Path(override)] if override else sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise StoreUnavailable(
        f"PostgreSQL server binaries (initdb, pg_ctl) were not found; install them with: {INSTALL_HINT}"
    )


def check_postgis(bindir: Path) -> None:
    """Raise :class:`StoreUnavailable` when the PostGIS extension is not installed."""
    version = bindir.parent.name
    control = Path(f"/usr/share/postgresql/{version}/extension/postgis.control")
    if not control.exists():
        raise StoreUnavailable(
            f"PostGIS is not installed for PostgreSQL {version}; install it with: "
            f"apt-get update && apt-get install -y postgresql-{version}-postgis-3"
        )


def free_port() -> int:
    """Return a loopback TCP port that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedCluster:
    """A PostgreSQL cluster in ``datadir`` listening on ``127.0.0.1:port``.

    Authentication is ``trust`` for the loopback interface only: the server
    accepts no connection from another host, and the data folder is private
    to its owner.
    """

    datadir: Path
    port: int
    started_here: bool = False

    @property
    def _run_as(self) -> str | None:
        # initdb/postgres refuse root; run them as the postgres OS user then.
        return "postgres" if os.geteuid() == 0 else None

    def _cmd(self, *args: str) -> list[str]:
        user = self._run_as
        return ["runuser", "-u", user, "--", *args] if user else list(args)

    def url(self, dbname: str = "wangge") -> str:
        """Return the SQLAlchemy/psycopg URL of ``dbname`` in this cluster."""
        return f"postgresql://{DB_SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def _initdb(self, bindir: Path) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        user = self._run_as
        if user:
            entry = pwd.getpwnam(user)
            os.chown(self.datadir, entry.pw_uid, entry.pw_gid)
        self.datadir.chmod(0o700)
        subprocess.run(
            self._cmd(
                str(bindir / "initdb"), "-D", str(self.datadir), "-U", DB_SUPERUSER,
                "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
            ),
            check=True, capture_output=True, cwd="/",
        )

    def running_port(self) -> int | None:
        """The port of a live server on this data folder, from its ``postmaster.pid``."""
        try:
            lines = (self.datadir / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return None
        return port

    def is_running(self) -> bool:
        """Tell whether a server answers on this cluster's port."""
        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def start(self) -> None:
        """Create the cluster when new, start it when stopped; wait until it answers."""
        bindir = find_pg_bindir()
        check_postgis(bindir)
        if not (self.datadir / "PG_VERSION").exists():
            self._initdb(bindir)
        running_port = self.running_port()
        if running_port is not None:
            # already up (an earlier run that was killed): adopt it, on its port
            self.port = running_port
            if self.is_running():
                return
        if self.is_running():
            raise StoreUnavailable(
                f"port {self.port} is taken by another server; set WANGGE_PG_PORT to a free port")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200 -c shared_buffers=256MB -c jit=off"
        )
        log = self.datadir / "server.log"
        result = subprocess.run(
            self._cmd(str(bindir / "pg_ctl"), "-D", str(self.datadir), "-o", options,
                      "-l", str(log), "-w", "-t", "60", "start"),
            capture_output=True, text=True, cwd="/",
        )
        if result.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else result.stderr
            raise StoreUnavailable(f"the local PostgreSQL cluster did not start:\n{tail}")
        self.started_here = True
        deadline = time.monotonic() + 30
        while not self.is_running():
            if time.monotonic() > deadline:
                raise StoreUnavailable("the local PostgreSQL cluster started but does not answer")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop the server if this object started it (fast shutdown, no lost commits)."""
        if not self.started_here:
            return
        bindir = find_pg_bindir()
        subprocess.run(
            self._cmd(str(bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"),
            capture_output=True, cwd="/",
        )
        self.started_here = False

    def remove(self) -> None:
        """Stop and delete the cluster folder (for throwaway test clusters)."""
        self.stop()
        shutil.rmtree(self.datadir, ignore_errors=True)

    def create_database(self, dbname: str, template: str | None = None) -> str:
        """Create ``dbname`` (optionally as a copy of ``template``) and return its URL."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
            if not exists:
                stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname))
                if template:
                    stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(dbname), sql.Identifier(template)
                    )
                conn.execute(stmt)
        return self.url(dbname)

    def drop_database(self, dbname: str) -> None:
        """Drop ``dbname`` in this cluster (never touches another server)."""
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn, contextlib.suppress(
            psycopg.errors.InvalidCatalogName
        ):
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(dbname)
                )
            )

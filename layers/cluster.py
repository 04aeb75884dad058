"""The embedded PostGIS cluster: wangge's store when no ``DATABASE_URL`` is set.

The cluster lives in a project-local folder and listens on loopback only, like
pytest-postgresql runs its throwaway servers. ``initdb`` and ``postgres``
refuse to run as root, so when this process is root the cluster is owned by,
and run as, the ``postgres`` OS user; otherwise it runs as the current user.

It keeps what it answered: PostgreSQL's durable defaults (``fsync``,
``synchronous_commit``, ``full_page_writes`` on), and it asks for a password
(scram-sha-256) even on loopback. The test suite uses this same class with a
temporary folder, a free port and ``durable=False``, so tests and service
start the store in one way and only throwaway clusters trade safety for speed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

INSTALL_HINT = "apt-get update && apt-get install -y postgresql-15-postgis-3"
CLIENT_INSTALL_HINT = "apt-get update && apt-get install -y postgresql-client-15"
SERVER_TOOLS = ("initdb", "pg_ctl")
CLIENT_TOOLS = ("pg_dump", "pg_restore")
DB_SUPERUSER = "wangge"
AUTH_METHOD = "scram-sha-256"
# what every start passes to postgres; the throwaway test clusters add RELAXED.
# A bulk import of a million cases writes about a gigabyte of WAL: with the
# default 1 GB max_wal_size it forces checkpoints mid-load, each followed by
# full-page images of every page touched again. 4 GB and lz4-compressed
# page images keep that off the load; durability is the same, crash
# recovery replays at most that much WAL.
SERVER_OPTIONS = ("-c max_connections=200 -c shared_buffers=256MB -c jit=off "
                  "-c max_wal_size=4GB -c wal_compression=lz4")
# durability off: a crash of the server (not only of the machine) may lose
# answered commits, measured 3 of 35,500 cases; only for test clusters
RELAXED_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"

log = logging.getLogger(__name__)


class StoreUnavailable(RuntimeError):
    """PostgreSQL or PostGIS is missing or the cluster would not start."""


def find_pg_bindir(tools: tuple[str, ...] = SERVER_TOOLS) -> Path:
    """Return the newest ``/usr/lib/postgresql/<v>/bin`` holding ``tools`` (the server's, by default).

    ``WANGGE_PG_BINDIR`` overrides the search (for a non-Debian layout).
    Backups need only the client tools (``CLIENT_TOOLS``), which Debian's
    ``postgresql-client-<v>`` installs in the same place.
    """
    override = os.environ.get("WANGGE_PG_BINDIR")
    candidates = [Path(override)] if override else sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in candidates:
        if all((bindir / tool).exists() for tool in tools):
            return bindir
    hint = INSTALL_HINT if tools == SERVER_TOOLS else CLIENT_INSTALL_HINT
    raise StoreUnavailable(
        f"PostgreSQL binaries ({', '.join(tools)}) were not found; install them with: {hint}"
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

    The server accepts connections from the loopback interface only, and
    only with the password of its superuser (scram-sha-256 for local and
    host lines of ``pg_hba.conf``). initdb generates that password; it is
    kept in ``password_file`` (default: ``<datadir>-password``, e.g.
    ``.wangge/pg-password`` beside ``.wangge/pg``), mode 0600 and owned by
    the user running wangge: it sits outside the data folder because that
    folder belongs to the ``postgres`` OS user when wangge runs as root.

    A cluster made by an older wangge (``trust`` authentication, no password
    file) is upgraded on its next start: a password is generated and stored,
    set on the superuser, ``pg_hba.conf`` is switched to scram-sha-256 and
    the server reloads its configuration. Each step can be repeated, so an
    upgrade interrupted half-way finishes on the following start. A cluster
    that asks for a password while the file is gone cannot be opened: the
    error says so (restore the file, or delete the cluster).

    ``durable=False`` turns off ``fsync``, ``synchronous_commit`` and
    ``full_page_writes`` (and initdb's sync) for throwaway test clusters;
    the default keeps PostgreSQL's durable settings.
    """

    datadir: Path
    port: int
    started_here: bool = False
    durable: bool = True
    password_path: Path | None = None

    @property
    def password_file(self) -> Path:
        """Where the superuser's password is kept (``password_path``, or beside the data folder)."""
        return self.password_path or self.datadir.with_name(self.datadir.name + "-password")

    @property
    def _run_as(self) -> str | None:
        # initdb/postgres refuse root; run them as the postgres OS user then.
        return "postgres" if os.geteuid() == 0 else None

    def _cmd(self, *args: str) -> list[str]:
        user = self._run_as
        return ["runuser", "-u", user, "--", *args] if user else list(args)

    def pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``pg_ctl -D <datadir> <args>`` as the cluster's owner (output captured)."""
        bindir = find_pg_bindir()
        return subprocess.run(self._cmd(str(bindir / "pg_ctl"), "-D", str(self.datadir), *args),
                              capture_output=True, text=True, cwd="/")

    def password(self) -> str | None:
        """The superuser's password from its file; None when there is no file."""
        try:
            return self.password_file.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None
        except PermissionError:
            raise StoreUnavailable(f"{self.password_file} belongs to another user; run wangge as the user "
                                   "who created the cluster") from None

    def url(self, dbname: str = "wangge") -> str:
        """Return the SQLAlchemy/psycopg URL of ``dbname`` in this cluster, password included."""
        password = self.password()
        secret = f":{quote(password, safe='')}" if password else ""
        return f"postgresql://{DB_SUPERUSER}{secret}@127.0.0.1:{self.port}/{dbname}"

    def _write_password(self, password: str) -> None:
        # written beside, then renamed: the file is never seen half-written or world-readable
        self.password_file.parent.mkdir(parents=True, exist_ok=True)
        part = self.password_file.with_name(self.password_file.name + ".part")
        part.unlink(missing_ok=True)
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(password + "\n")
        os.replace(part, self.password_file)

    def _initdb(self, bindir: Path) -> None:
        self.datadir.mkdir(parents=True, exist_ok=True)
        user = self._run_as
        owner = pwd.getpwnam(user) if user else None
        if owner:
            os.chown(self.datadir, owner.pw_uid, owner.pw_gid)
        self.datadir.chmod(0o700)
        password = secrets.token_urlsafe(24)
        self._write_password(password)  # first: a cluster whose password was never kept would be locked
        # initdb reads the password from a file the cluster's owner can read; it lives a moment only
        fd, pwfile = tempfile.mkstemp(prefix="wangge-pw-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(password + "\n")
            if owner:
                os.chown(pwfile, owner.pw_uid, owner.pw_gid)
            args = [str(bindir / "initdb"), "-D", str(self.datadir), "-U", DB_SUPERUSER,
                    f"--auth={AUTH_METHOD}", f"--pwfile={pwfile}", "--encoding=UTF8", "--locale=C.UTF-8"]
            if not self.durable:
                args.append("--no-sync")
            result = subprocess.run(self._cmd(*args), capture_output=True, text=True, cwd="/")
        finally:
            os.unlink(pwfile)
        if result.returncode != 0:
            raise StoreUnavailable(f"initdb failed:\n{result.stderr[-2000:]}")

    def _hba(self) -> Path:
        return self.datadir / "pg_hba.conf"

    def _trusts(self) -> bool:
        """Whether ``pg_hba.conf`` lets anyone in without a password (an older wangge's cluster)."""
        try:
            lines = self._hba().read_text(encoding="utf-8").splitlines()
        except PermissionError:  # another user's cluster: it cannot be changed from here anyway
            return False
        return any(re.search(r"\btrust\b", line.split("#", 1)[0]) for line in lines)

    def _require_password(self) -> None:
        """Upgrade a trust cluster (running) to a password: set it, keep it, switch pg_hba, reload."""
        password = self.password()
        if password is None:
            password = secrets.token_urlsafe(24)
            self._write_password(password)
        # trust accepts any password, so this URL works before and after the switch
        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(DB_SUPERUSER), sql.Literal(password)))
            hba = self._hba()
            lines = hba.read_text(encoding="utf-8").splitlines()
            hba.write_text("\n".join(
                line if line.lstrip().startswith("#") else re.sub(r"\btrust\b", AUTH_METHOD, line)
                for line in lines) + "\n", encoding="utf-8")
            conn.execute("SELECT pg_reload_conf()")
        log.warning("the embedded cluster now requires a password, kept in %s", self.password_file)

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
        """Tell whether this cluster's server answers (and lets wangge in) on its port."""
        try:
            with psycopg.connect(self.url("postgres"), connect_timeout=2):
                return True
        except psycopg.OperationalError as exc:
            if "password authentication failed" in str(exc) and self.running_port() == self.port:
                raise StoreUnavailable(
                    f"the cluster in {self.datadir} refuses the password in {self.password_file}; "
                    "put the right file back, or delete the cluster (wangge db delete)") from None
            return False

    def _port_taken(self) -> bool:
        with socket.socket() as sock:
            sock.settimeout(1)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def start(self) -> None:
        """Create the cluster when new, start it when stopped; wait until it answers."""
        bindir = find_pg_bindir()
        check_postgis(bindir)
        if not (self.datadir / "PG_VERSION").exists():
            self._initdb(bindir)
        elif self.password() is None and not self._trusts():
            raise StoreUnavailable(
                f"the cluster in {self.datadir} requires a password but {self.password_file} is missing; "
                "put the file back, or delete the cluster (wangge db delete) to start afresh")
        running_port = self.running_port()
        if running_port is not None:
            # already up (an earlier run that was killed): adopt it, on its port
            self.port = running_port
            if self.is_running():
                self._after_start()
                return
        if self._port_taken():
            raise StoreUnavailable(
                f"port {self.port} is taken by another server; set WANGGE_PG_PORT to a free port")
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' {SERVER_OPTIONS}"
        if not self.durable:
            options += f" {RELAXED_OPTIONS}"
        log_file = self.datadir / "server.log"
        result = self.pg_ctl("-o", options, "-l", str(log_file), "-w", "-t", "60", "start")
        if result.returncode != 0:
            tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else result.stderr
            raise StoreUnavailable(f"the local PostgreSQL cluster did not start:\n{tail}")
        self.started_here = True
        deadline = time.monotonic() + 30
        while not self.is_running():
            if time.monotonic() > deadline:
                raise StoreUnavailable("the local PostgreSQL cluster started but does not answer")
            time.sleep(0.1)
        self._after_start()

    def _after_start(self) -> None:
        if self._trusts():
            self._require_password()
        if self.durable and not self.is_durable():
            log.warning("the running embedded cluster was started without durability (fsync off); "
                        "restart it to make it durable: wangge db stop")

    def is_durable(self) -> bool:
        """Whether the running server has ``fsync``, ``synchronous_commit`` and ``full_page_writes`` on."""
        with psycopg.connect(self.url("postgres"), connect_timeout=5) as conn:
            values = [conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
                      for name in ("fsync", "synchronous_commit", "full_page_writes")]
        return all(v is not None and v[0] == "on" for v in values)

    def stop(self) -> None:
        """Stop the server if this object started it (fast shutdown, no lost commits)."""
        if not self.started_here:
            return
        self.pg_ctl("-m", "fast", "-w", "stop")
        self.started_here = False

    def crash(self) -> None:
        """Stop the server as a crash would: ``pg_ctl stop -m immediate``, no shutdown checkpoint.

        The next :meth:`start` runs crash recovery from the WAL, which is all
        a committed transaction was promised (the durability test uses it).
        """
        result = self.pg_ctl("-m", "immediate", "-w", "-t", "60", "stop")
        if result.returncode != 0:
            raise StoreUnavailable(f"the local PostgreSQL cluster did not stop:\n{result.stderr[-2000:]}")
        self.started_here = False

    def remove(self) -> None:
        """Stop and delete the cluster folder and its password file (for throwaway test clusters)."""
        self.stop()
        shutil.rmtree(self.datadir, ignore_errors=True)
        self.password_file.unlink(missing_ok=True)

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

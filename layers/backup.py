"""Backup and restore of a wangge database with pg_dump/pg_restore (custom format).

Both work on any PostgreSQL server the URL names (the embedded cluster or
``DATABASE_URL``), with the machine's own client binaries
(:func:`layers.cluster.find_pg_bindir`; the Docker image installs
``postgresql-client-15``), which must be as new as the server. The password travels in
``PGPASSWORD``, never on a command line other users can read.

A restore never leaves a half-restored database behind: the dump is
restored into a new database beside the live one, migrated to this
version's schema, and only then swapped in by two renames in one
transaction; the replaced database is dropped afterwards. Anything that
fails before the swap drops the new database and leaves the live one as it
was. The connecting role must be allowed to create databases and own the
live one (the embedded cluster's superuser and the compose file's user are).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from layers.cluster import CLIENT_TOOLS, find_pg_bindir

MAINTENANCE_DB = "postgres"


class BackupError(RuntimeError):
    """A backup or restore that did not happen; the message says why, the database is unchanged."""


def libpq_url(url: str) -> str:
    """``url`` without a SQLAlchemy driver suffix (``postgresql+psycopg://`` → ``postgresql://``)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme=parts.scheme.split("+", 1)[0]))


def _tool_args(url: str, dbname: str | None = None) -> tuple[str, dict[str, str]]:
    """A conninfo string without the password, and the environment that carries it."""
    params = conninfo_to_dict(libpq_url(url))
    password = params.pop("password", None)
    if dbname is not None:
        params["dbname"] = dbname
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**{k: str(v) for k, v in params.items()}), env


def _tool(name: str) -> str:
    return str(find_pg_bindir(CLIENT_TOOLS) / name)


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(args, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        raise BackupError(f"{what} failed: " + ("\n".join(lines[-8:]) or f"exit status {result.returncode}"))


def backup(url: str, path: Path) -> None:
    """Write the database at ``url`` to ``path`` (pg_dump custom format, compressed), readable by its owner only.

    A backup holds everything, the token-signing secret too, so it is
    created with mode 0600 (pg_dump keeps the mode of the file it is given).
    """
    conninfo, env = _tool_args(url)
    part = path.with_name(path.name + ".part")
    part.unlink(missing_ok=True)
    try:
        os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        _run([_tool("pg_dump"), "--format=custom", "--file", str(part), "--dbname", conninfo],
             env, "pg_dump")
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def check_dump(path: Path) -> None:
    """Raise :class:`BackupError` unless ``path`` is a readable pg_dump custom-format file."""
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    _run([_tool("pg_restore"), "--list", str(path)], dict(os.environ),
         f"reading {path} as a pg_dump backup")


def _maintenance(url: str) -> psycopg.Connection:
    """A connection to the server's maintenance database, from which databases are created and renamed."""
    return psycopg.connect(libpq_url(with_dbname(url, MAINTENANCE_DB)), autocommit=True)


def restore(url: str, path: Path, prepare: Callable[[str], None] | None = None) -> None:
    """Replace the database at ``url`` with the backup in ``path``.

    ``prepare(url_of_new_database)`` runs before the swap (the CLI migrates
    there, so an older backup comes back on this version's schema).
    """
    check_dump(path)
    target = str(conninfo_to_dict(libpq_url(url))["dbname"])
    fresh, old = f"{target}__restoring", f"{target}__replaced"
    with _maintenance(url) as conn:
        for name in (fresh, old):  # leftovers of an interrupted earlier run
            _drop(conn, name)
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(fresh)))
        try:
            conninfo, env = _tool_args(url, fresh)
            _run([_tool("pg_restore"), "--exit-on-error", "--no-owner", "--no-acl",
                  "--dbname", conninfo, str(path)], env, "pg_restore")
            if prepare is not None:
                try:
                    prepare(with_dbname(url, fresh))
                except Exception as exc:  # e.g. a backup from a newer wangge, whose schema this one lacks
                    raise BackupError(f"the restored database could not be prepared: {exc}") from exc
            _swap(conn, target, fresh, old)
        except BaseException:
            _drop(conn, fresh)
            raise
        _drop(conn, old)


def _swap(conn: psycopg.Connection, target: str, fresh: str, old: str, wait_s: float = 15.0) -> None:
    """Rename ``target`` to ``old`` and ``fresh`` to ``target`` at once, once no one is connected to it."""
    allow = sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}")
    # no new sessions (a service's pool would reconnect at once), then end the open ones
    conn.execute(allow.format(sql.Identifier(target), sql.SQL("false")))
    try:
        deadline = time.monotonic() + wait_s
        while conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname = %s AND pid <> pg_backend_pid()", (target,)).fetchone() != (0,):
            if time.monotonic() > deadline:
                raise BackupError(f"sessions on {target} did not end within {wait_s:g} s; nothing was replaced")
            time.sleep(0.1)
        with conn.transaction():
            rename = sql.SQL("ALTER DATABASE {} RENAME TO {}")
            conn.execute(rename.format(sql.Identifier(target), sql.Identifier(old)))
            conn.execute(rename.format(sql.Identifier(fresh), sql.Identifier(target)))
    except BaseException:
        conn.execute(allow.format(sql.Identifier(target), sql.SQL("true")))
        raise


def _drop(conn: psycopg.Connection, dbname: str) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))


def with_dbname(url: str, dbname: str) -> str:
    """``url`` naming another database on the same server (credentials and options kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(dbname, safe="")))

"""The token-signing secret, kept in the database so every process of a deployment shares it."""

from __future__ import annotations

import secrets

import psycopg
from psycopg.types.json import Jsonb

_KEY = "token_secret"


def token_secret(url: str) -> str:
    """Return the deployment's signing secret, creating a random one on first use."""
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO wangge_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
            (_KEY, Jsonb(secrets.token_urlsafe(48))),
        )
        row = conn.execute("SELECT value FROM wangge_meta WHERE key = %s", (_KEY,)).fetchone()
    if row is None:  # the insert above makes this unreachable; keeps the type exact
        raise RuntimeError("token secret missing")
    return str(row[0])

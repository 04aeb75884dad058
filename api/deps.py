"""Typed dependencies shared by the routers: the settings and a pooled connection."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from psycopg import AsyncConnection

from api.settings import Settings
from layers.db import translated_errors


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was built with (not re-read from the environment)."""
    settings: Settings = request.app.state.settings
    return settings


async def get_conn(request: Request) -> AsyncIterator[AsyncConnection]:
    """A connection from the app's pool for the length of the request; driver errors translated."""
    async with translated_errors(), request.app.state.pool.connection() as conn:
        yield conn


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
ConnDep = Annotated[AsyncConnection, Depends(get_conn)]

"""The standard catalogue a new district starts with: the "4+X" team types and Baohe's categories.

With it, the default camera event types (``layers.sensing.camera_events``) that map onto it.

Loaded once, into a database that has no catalogue yet (the first district
created by ``wangge init`` or a districts import, or the demo); a district
extends or replaces it later with its own.
"""

from __future__ import annotations

import psycopg

from layers.demo import catalogue
from layers.load import copy_rows
from layers.sensing.camera_events import seed_event_types


def seed_catalogue(conn: psycopg.Connection) -> bool:
    """Load the standard team types and catalogue when the database has none; True when loaded."""
    if conn.execute("SELECT 1 FROM catalogue LIMIT 1").fetchone():
        return False
    if not conn.execute("SELECT 1 FROM team_types LIMIT 1").fetchone():
        copy_rows(conn, "team_types", ("code", "name", "name_en", "core"), catalogue.TEAM_TYPES)
    copy_rows(conn, "catalogue", ("code", "major_code", "major_name", "minor_name", "team_type",
                                  "time_limit_hours", "handling_steps", "closing_standard", "level",
                                  "duplicate_radius_m", "duplicate_window_hours"),
              [(c.code, c.code[:2], catalogue.MAJOR_CATEGORIES[c.code[:2]], c.minor_name, c.team_type,
                c.hours, catalogue.HANDLING_STEPS, c.closing_standard, c.level,
                c.duplicate_radius_m, c.duplicate_window_hours) for c in catalogue.CATEGORIES])
    seed_event_types(conn)
    return True

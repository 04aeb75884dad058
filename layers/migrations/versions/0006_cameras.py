"""Camera view sectors, status, streams and camera events (issue 10).

- ``cameras``: ``heading_deg`` (where the lens points, degrees clockwise
  from true north, 0-360), ``fov_deg`` (horizontal field of view),
  ``range_m`` (how far it usefully sees), ``heartbeat_at`` (last heartbeat;
  null: the camera is not monitored and ``online`` is whatever was set),
  ``stream_url`` and ``snapshot_url`` (kept as given: rtsp, hls, flv, http).
  ``online`` stays the one status flag: a heartbeat sets it, the sweep
  clears it for cameras silent longer than the configured timeout.
- ``camera_event_types``: a video platform's event type → catalogue code,
  with an optional per-type confidence threshold (else the setting).
- ``camera_events``: every event received, with what became of it (a new
  case, an update of an open one, or ignored); ``(camera, type, time)`` is
  unique, so a platform re-sending an event changes nothing.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        ALTER TABLE cameras
            ADD COLUMN heading_deg real NOT NULL DEFAULT 0 CHECK (heading_deg >= 0 AND heading_deg <= 360),
            ADD COLUMN fov_deg real NOT NULL DEFAULT 60 CHECK (fov_deg > 0 AND fov_deg <= 360),
            ADD COLUMN range_m real NOT NULL DEFAULT 80 CHECK (range_m > 0 AND range_m <= 2000),
            ADD COLUMN heartbeat_at timestamptz,
            ADD COLUMN stream_url text,
            ADD COLUMN snapshot_url text""")
    op.execute("CREATE INDEX cameras_heartbeat ON cameras (heartbeat_at) WHERE online AND heartbeat_at IS NOT NULL")
    op.execute("""
        CREATE TABLE camera_event_types (
            type text PRIMARY KEY CHECK (type ~ '^[A-Za-z0-9_.:-]{1,64}$'),
            category_code text NOT NULL REFERENCES catalogue (code) ON UPDATE CASCADE,
            name text NOT NULL DEFAULT '',
            min_confidence real CHECK (min_confidence >= 0 AND min_confidence <= 1)
        )""")
    op.execute("""
        CREATE TABLE camera_events (
            id bigserial PRIMARY KEY,
            camera_id integer NOT NULL REFERENCES cameras (id) ON DELETE CASCADE,
            type text NOT NULL,
            confidence real NOT NULL CHECK (confidence >= 0 AND confidence <= 1),
            at timestamptz NOT NULL,
            snapshot_url text,
            geom geometry(Point, 4326) NOT NULL,
            outcome text NOT NULL CHECK (outcome IN ('created', 'updated', 'ignored')),
            incident_id bigint REFERENCES incidents (id),
            received_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (camera_id, type, at),
            CHECK ((outcome = 'ignored') = (incident_id IS NULL))
        )""")
    op.execute("CREATE INDEX camera_events_incident ON camera_events (incident_id) WHERE incident_id IS NOT NULL")
    op.execute("CREATE INDEX camera_events_geom_gist ON camera_events USING gist (geom)")


def downgrade() -> None:
    op.execute("DROP TABLE camera_events")
    op.execute("DROP TABLE camera_event_types")
    op.execute("DROP INDEX cameras_heartbeat")
    op.execute("""
        ALTER TABLE cameras DROP COLUMN heading_deg, DROP COLUMN fov_deg, DROP COLUMN range_m,
            DROP COLUMN heartbeat_at, DROP COLUMN stream_url, DROP COLUMN snapshot_url""")

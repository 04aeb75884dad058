"""Grid workers and case photos (issue 11).

Photos taken by grid workers (at a report, while handling, at feedback, at an
on-site verification) are files under the data folder; this table holds
what is known of each: its case, the step, who took it, the type and size
after re-encoding (location metadata stripped) and where the file lies.
A grid worker's team is the ``team`` claim of its token, so no table is
needed for workers.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE case_photos (
            id bigserial PRIMARY KEY,
            incident_id bigint NOT NULL REFERENCES incidents (id),
            district_code varchar(6) NOT NULL,
            stage text NOT NULL CHECK (stage IN ('report', 'handle', 'feedback', 'verify')),
            actor text NOT NULL,
            content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
            bytes integer NOT NULL CHECK (bytes > 0),
            width integer NOT NULL CHECK (width > 0),
            height integer NOT NULL CHECK (height > 0),
            sha256 char(64) NOT NULL,
            path text NOT NULL UNIQUE,
            taken_at timestamptz NOT NULL DEFAULT now()
        )""")
    op.execute("CREATE INDEX case_photos_incident ON case_photos (incident_id, id)")


def downgrade() -> None:
    op.execute("DROP TABLE case_photos")

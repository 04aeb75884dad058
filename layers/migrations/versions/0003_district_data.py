"""A district's own data: building codes, imported case references, retired teams, an import log.

- ``buildings.code``: imports and admin writes upsert by code, as on every
  other layer; existing rows get ``B`` + their id.
- ``incidents.external_ref``: the case's id in the system being replaced, so
  re-importing history is an upsert (unique per district).
- teams may be ``retired`` (admin writes): they keep their cases' history
  but are never chosen again.
- ``data_imports``: one row per import or admin write, with its counts and
  report, so a district can see what came in when and from where.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE buildings ADD COLUMN code text")
    op.execute("UPDATE buildings SET code = 'B' || lpad(id::text, 8, '0')")
    op.execute("ALTER TABLE buildings ALTER COLUMN code SET NOT NULL")
    op.execute("ALTER TABLE buildings ADD CONSTRAINT buildings_code_key UNIQUE (code)")
    # a district's building file often has only a full address: road and door are then unknown
    op.execute("ALTER TABLE buildings ALTER COLUMN door_number DROP NOT NULL")
    op.execute("ALTER TABLE buildings ALTER COLUMN road SET DEFAULT ''")
    op.execute("ALTER TABLE incidents ADD COLUMN external_ref text")
    op.execute("CREATE UNIQUE INDEX incidents_external_ref ON incidents (district_code, external_ref) "
               "WHERE external_ref IS NOT NULL")
    op.execute("ALTER TABLE teams DROP CONSTRAINT teams_status_check")
    op.execute("ALTER TABLE teams ADD CONSTRAINT teams_status_check "
               "CHECK (status IN ('free', 'busy', 'off_duty', 'retired'))")
    op.execute("""
        CREATE TABLE data_imports (
            id bigserial PRIMARY KEY,
            layer text NOT NULL,
            source text NOT NULL,
            actor text NOT NULL,
            at timestamptz NOT NULL DEFAULT now(),
            inserted integer NOT NULL DEFAULT 0,
            updated integer NOT NULL DEFAULT 0,
            unchanged integer NOT NULL DEFAULT 0,
            retired integer NOT NULL DEFAULT 0,
            report jsonb NOT NULL DEFAULT '{}'::jsonb
        )""")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS data_imports")
    op.execute("UPDATE teams SET status = 'off_duty' WHERE status = 'retired'")
    op.execute("ALTER TABLE teams DROP CONSTRAINT teams_status_check")
    op.execute("ALTER TABLE teams ADD CONSTRAINT teams_status_check "
               "CHECK (status IN ('free', 'busy', 'off_duty'))")
    op.execute("DROP INDEX IF EXISTS incidents_external_ref")
    op.execute("ALTER TABLE incidents DROP COLUMN external_ref")
    op.execute("ALTER TABLE buildings DROP COLUMN code")
    op.execute("ALTER TABLE buildings ALTER COLUMN road DROP DEFAULT")
    op.execute("DELETE FROM buildings WHERE door_number IS NULL")
    op.execute("ALTER TABLE buildings ALTER COLUMN door_number SET NOT NULL")

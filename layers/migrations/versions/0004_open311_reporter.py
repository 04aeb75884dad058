"""Who reported a case and what else they sent: Open311's reporter fields, attributes and media.

- ``incidents.reporter``: ``first_name``, ``last_name``, ``email``, ``phone``,
  ``device_id``, ``account_id`` as sent (only the keys given), null when none;
  personal, shown only to operators and dispatchers whose area covers the case.
- ``incidents.attributes``: the service definition's ``attribute[code]``
  answers (a value, or a list for a multi-value list).
- ``incidents.media_url``: the URL(s) of a photo or other media, one per line.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE incidents ADD COLUMN reporter jsonb")
    op.execute("ALTER TABLE incidents ADD COLUMN attributes jsonb")
    op.execute("ALTER TABLE incidents ADD COLUMN media_url text")
    op.execute("ALTER TABLE incidents ADD CONSTRAINT incidents_reporter_object "
               "CHECK (jsonb_typeof(reporter) = 'object')")
    op.execute("ALTER TABLE incidents ADD CONSTRAINT incidents_attributes_object "
               "CHECK (jsonb_typeof(attributes) = 'object')")


def downgrade() -> None:
    op.execute("ALTER TABLE incidents DROP COLUMN media_url")
    op.execute("ALTER TABLE incidents DROP COLUMN attributes")
    op.execute("ALTER TABLE incidents DROP COLUMN reporter")

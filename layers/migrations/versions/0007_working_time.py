"""Working-time calendars, stage deadlines, extension/suspension, rework, joint dispatch (issue 13).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from alembic import op  # noqa: F401

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

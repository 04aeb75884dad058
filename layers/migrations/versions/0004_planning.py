"""Schema changes for issue 5 (planning); empty until that work needs one.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

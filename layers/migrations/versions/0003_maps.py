"""Schema changes for issue 4 (map wall, tiles); empty until that work needs one.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

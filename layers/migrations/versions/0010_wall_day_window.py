"""Day counters for the walls' window only (issue 8: a history import's speed).

``wall_case_days`` held every China day ever reported or closed in: three
years of a million past cases are 1.3 million (area, day) rows, and
counting them again after a bulk import cost a third of the import. The
walls read the last 30 days only, and a day before the window never comes
back into it, so the triggers and the rebuild now count the last
``DAYS_KEPT`` days (``layers.walls.counter_sql``) and the older rows go.
The rebuild also reads the cases once per counter, each time only the rows
that counter needs (all for the per-status counts, the recent for the days,
the open for the cells), instead of materialising every case once for all
three.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from alembic import op

from layers.walls.counter_sql import DAYS_KEPT, prune_statement, rebuild_function, trigger_function

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(trigger_function(DAYS_KEPT))
    op.execute(rebuild_function(DAYS_KEPT))
    op.execute(prune_statement(DAYS_KEPT))


def downgrade() -> None:
    op.execute(trigger_function(days_kept=None))
    op.execute(rebuild_function(days_kept=None))
    op.execute("SELECT wangge_rebuild_wall_aggregates()")

"""Day counters for the walls' window, and indexes fit for a grown city (issues 8 and 12).

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

Two indexes of every case by area and status go: written for the
indicators before the counters, they now only cost (every intake updates
them, every bulk import rebuilds them over the whole history). Open cases
by area are served by the partial ``incidents_open_due_*`` indexes, cases
by area and month (evaluation) by ``incidents_reported`` and
``incidents_grid``.

Cameras get an index on their *reach box* (each camera's point expanded by
its own range, ``layers.sensing.cameras.REACH_INDEX``): the cameras a case
answer lists are the ones whose reach holds its point, found through it
instead of testing every camera within the largest range (700 of a city
of 7,000 cameras, per intake).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from alembic import op

from layers.sensing.cameras import REACH_INDEX
from layers.walls.counter_sql import DAYS_KEPT, prune_statement, rebuild_function, trigger_function

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(trigger_function(DAYS_KEPT))
    op.execute(rebuild_function(DAYS_KEPT))
    op.execute(prune_statement(DAYS_KEPT))
    op.execute("DROP INDEX IF EXISTS incidents_community_status")
    op.execute("DROP INDEX IF EXISTS incidents_street_status")
    op.execute(REACH_INDEX)


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS cameras_reach_gist")
    op.execute("CREATE INDEX IF NOT EXISTS incidents_community_status ON incidents (community_code, status)")
    op.execute("CREATE INDEX IF NOT EXISTS incidents_street_status ON incidents (street_code, status)")
    op.execute(trigger_function(days_kept=None))
    op.execute(rebuild_function(days_kept=None))
    op.execute("SELECT wangge_rebuild_wall_aggregates()")

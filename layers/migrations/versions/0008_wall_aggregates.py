"""Aggregates the map walls read, kept current as cases change (issue 12).

A wall polls indicators, case counts and clusters every few seconds; read
from the cases table they cost a scan of every case ever filed. Here three
small tables hold them, maintained by statement triggers on ``incidents``
(transition tables: one grouped upsert per statement, whatever its size),
so every writer (intake, the closed loop, escalation, planning re-keying,
imports, sensors) keeps them current in its own transaction:

- ``wall_case_counts``: cases per area (district, street, community and
  grid code) and status.
- ``wall_case_days``: per area and China day, cases reported, closed, and
  closed by their deadline.
- ``wall_case_cells``: open cases per community and ~200 m cell
  (0.002°), with the sums of their coordinates (a cluster sits at the mean).

Counters of busy areas (a district's) would make concurrent intakes queue
on one row until each commits; each connection writes its own ``slot``
(its backend pid modulo 8) and readers add the slots up.

A bulk load with ``session_replication_role = replica`` fires no trigger:
it calls ``wangge_rebuild_wall_aggregates()`` afterwards
(``layers.walls.aggregates.rebuild_aggregates``).

``incidents.changed_xid``: the transaction that last wrote the case (a
BEFORE trigger, and the default for COPY). Live feeds answer "what changed
since" with it: any transaction older than a snapshot's xmin has finished,
so rows with ``changed_xid >= xmin`` are all a client can have missed (a
sequence would not do: numbers are drawn in one order and committed in
another).

Overdue depends on the clock, so it is not a counter: open cases not yet
due are few (recent ones), and ``incidents_open_due`` serves them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from alembic import op

from layers.walls.counter_sql import ENDED, rebuild_function, trigger_function

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE wall_case_counts (
            area_code text COLLATE "C" NOT NULL,
            status text NOT NULL,
            slot integer NOT NULL,
            cases integer NOT NULL,
            PRIMARY KEY (area_code, status, slot))""")
    op.execute("""
        CREATE TABLE wall_case_days (
            area_code text COLLATE "C" NOT NULL,
            day date NOT NULL,
            slot integer NOT NULL,
            reported integer NOT NULL,
            closed integer NOT NULL,
            closed_on_time integer NOT NULL,
            PRIMARY KEY (area_code, day, slot))""")
    op.execute("""
        CREATE TABLE wall_case_cells (
            area_code text COLLATE "C" NOT NULL,
            cx integer NOT NULL,
            cy integer NOT NULL,
            cases integer NOT NULL,
            sum_lon double precision NOT NULL,
            sum_lat double precision NOT NULL,
            PRIMARY KEY (area_code, cx, cy))""")
    op.execute("CREATE INDEX wall_case_cells_xy ON wall_case_cells (cx, cy)")
    # every day kept here; migration 0010 keeps the recent window only
    op.execute(trigger_function(days_kept=None))
    op.execute(rebuild_function(days_kept=None))
    op.execute("""
        CREATE TRIGGER incidents_wall_insert AFTER INSERT ON incidents
            REFERENCING NEW TABLE AS wall_new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION wangge_wall_aggregates()""")
    op.execute("""
        CREATE TRIGGER incidents_wall_update AFTER UPDATE ON incidents
            REFERENCING OLD TABLE AS wall_old_rows NEW TABLE AS wall_new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION wangge_wall_aggregates()""")
    op.execute("""
        CREATE TRIGGER incidents_wall_delete AFTER DELETE ON incidents
            REFERENCING OLD TABLE AS wall_old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION wangge_wall_aggregates()""")
    op.execute("""
        CREATE TRIGGER incidents_wall_truncate AFTER TRUNCATE ON incidents
            FOR EACH STATEMENT EXECUTE FUNCTION wangge_wall_aggregates()""")

    # the writing transaction of each case, for "what changed since" (no table rewrite: old rows stay NULL)
    op.execute("ALTER TABLE incidents ADD COLUMN changed_xid bigint")
    op.execute("ALTER TABLE incidents ALTER COLUMN changed_xid SET DEFAULT (pg_current_xact_id()::text::bigint)")
    op.execute("""
        CREATE FUNCTION wangge_case_changed() RETURNS trigger LANGUAGE plpgsql AS $f$
        BEGIN
            NEW.changed_xid := pg_current_xact_id()::text::bigint;
            RETURN NEW;
        END $f$""")
    op.execute("""
        CREATE TRIGGER incidents_changed_xid BEFORE UPDATE ON incidents
            FOR EACH ROW EXECUTE FUNCTION wangge_case_changed()""")
    op.execute("CREATE INDEX incidents_changed ON incidents (district_code, changed_xid) WHERE changed_xid IS NOT NULL")
    # open cases by deadline: "not yet due" per child (overdue = open - not yet due), overdue lists per level
    op.execute(f"""CREATE INDEX incidents_open_due ON incidents (district_code, deadline)
                   INCLUDE (street_code, community_code, grid_code) WHERE status NOT IN {ENDED}""")
    op.execute(f"CREATE INDEX incidents_open_due_street ON incidents (street_code, deadline) "
               f"WHERE status NOT IN {ENDED}")
    op.execute(f"CREATE INDEX incidents_open_due_community ON incidents (community_code, deadline) "
               f"WHERE status NOT IN {ENDED}")
    # the recent window (heat): cases by report time, without reading the years before, and
    # with their point and area codes, so the heat reads the index alone (no visit to the rows)
    op.execute("CREATE INDEX incidents_reported ON incidents (district_code, reported_at) "
               "INCLUDE (street_code, community_code, geom)")
    op.execute("SELECT wangge_rebuild_wall_aggregates()")


def downgrade() -> None:
    for index in ("incidents_changed", "incidents_open_due", "incidents_open_due_street",
                  "incidents_open_due_community", "incidents_reported"):
        op.execute(f"DROP INDEX IF EXISTS {index}")
    for trigger in ("incidents_changed_xid", "incidents_wall_insert", "incidents_wall_update",
                    "incidents_wall_delete", "incidents_wall_truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON incidents")
    op.execute("ALTER TABLE incidents DROP COLUMN IF EXISTS changed_xid")
    op.execute("DROP FUNCTION IF EXISTS wangge_case_changed()")
    op.execute("DROP FUNCTION IF EXISTS wangge_rebuild_wall_aggregates()")
    op.execute("DROP FUNCTION IF EXISTS wangge_wall_aggregates()")
    op.execute("DROP TABLE IF EXISTS wall_case_counts, wall_case_days, wall_case_cells")

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

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ENDED = "('closed', 'rejected', 'duplicate')"
# China days: the window of "closed in the last 30 days" as a command centre counts it
DAY_ZONE = "Asia/Shanghai"
# the cluster cell: about 200 m
CELL_DEG = 0.002

_COLUMNS = "district_code, street_code, community_code, grid_code, status, reported_at, closed_at, deadline, geom"
_AREAS = """LATERAL unnest(ARRAY[r.district_code::text, r.street_code::text,
                               r.community_code::text, r.grid_code::text]) AS a(code)"""


def apply_sql(rows: str) -> str:
    """The statement adding the contributions of ``rows`` (a query with a ``sign`` column, +1 or -1).

    Static text, so PL/pgSQL plans it once per session; one statement for the
    three tables, each upsert in key order (concurrent writers lock rows in
    the same order and never deadlock).
    """
    return f"""
        WITH r AS ({rows}),
        counts AS (
            SELECT a.code AS area_code, r.status, sum(r.sign)::integer AS n
            FROM r, {_AREAS}
            WHERE a.code IS NOT NULL GROUP BY 1, 2),
        up_counts AS (
            INSERT INTO wall_case_counts AS w (area_code, status, slot, cases)
            SELECT area_code, status, pg_backend_pid() % 8, n FROM counts WHERE n <> 0
            ORDER BY area_code, status
            ON CONFLICT (area_code, status, slot) DO UPDATE SET cases = w.cases + EXCLUDED.cases),
        days AS (
            SELECT a.code AS area_code, d.day, sum(d.reported)::integer AS reported,
                   sum(d.closed)::integer AS closed, sum(d.on_time)::integer AS on_time
            FROM r, {_AREAS},
                 LATERAL (SELECT (r.reported_at AT TIME ZONE '{DAY_ZONE}')::date, r.sign, 0, 0
                          UNION ALL
                          SELECT (r.closed_at AT TIME ZONE '{DAY_ZONE}')::date, 0, r.sign,
                                 CASE WHEN r.closed_at <= r.deadline THEN r.sign ELSE 0 END
                          WHERE r.status = 'closed' AND r.closed_at IS NOT NULL)
                         AS d(day, reported, closed, on_time)
            WHERE a.code IS NOT NULL GROUP BY 1, 2),
        up_days AS (
            INSERT INTO wall_case_days AS w (area_code, day, slot, reported, closed, closed_on_time)
            SELECT area_code, day, pg_backend_pid() % 8, reported, closed, on_time FROM days
            WHERE reported <> 0 OR closed <> 0 OR on_time <> 0
            ORDER BY area_code, day
            ON CONFLICT (area_code, day, slot) DO UPDATE
            SET reported = w.reported + EXCLUDED.reported, closed = w.closed + EXCLUDED.closed,
                closed_on_time = w.closed_on_time + EXCLUDED.closed_on_time),
        cells AS (
            SELECT coalesce(r.community_code::text, r.street_code::text, r.district_code::text) AS area_code,
                   floor(ST_X(r.geom) / {CELL_DEG})::integer AS cx, floor(ST_Y(r.geom) / {CELL_DEG})::integer AS cy,
                   sum(r.sign)::integer AS n, sum(r.sign * ST_X(r.geom)) AS sx, sum(r.sign * ST_Y(r.geom)) AS sy
            FROM r WHERE r.status NOT IN {ENDED} GROUP BY 1, 2, 3)
        INSERT INTO wall_case_cells AS w (area_code, cx, cy, cases, sum_lon, sum_lat)
        SELECT area_code, cx, cy, n, sx, sy FROM cells WHERE n <> 0 ORDER BY area_code, cx, cy
        ON CONFLICT (area_code, cx, cy) DO UPDATE
        SET cases = w.cases + EXCLUDED.cases, sum_lon = w.sum_lon + EXCLUDED.sum_lon,
            sum_lat = w.sum_lat + EXCLUDED.sum_lat"""


_NEW = f"SELECT 1 AS sign, {_COLUMNS} FROM wall_new_rows"
_OLD = f"SELECT -1 AS sign, {_COLUMNS} FROM wall_old_rows"
# transition tables are visible to the trigger function's own statements only, hence one body per event
_TRIGGER_FUNCTION = f"""
    CREATE FUNCTION wangge_wall_aggregates() RETURNS trigger LANGUAGE plpgsql AS $f$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {apply_sql(_NEW)};
        ELSIF TG_OP = 'UPDATE' THEN
            {apply_sql(_OLD + " UNION ALL " + _NEW)};
        ELSIF TG_OP = 'DELETE' THEN
            {apply_sql(_OLD)};
        ELSE
            TRUNCATE wall_case_counts, wall_case_days, wall_case_cells;
        END IF;
        RETURN NULL;
    END $f$"""

_REBUILD = f"""
    CREATE FUNCTION wangge_rebuild_wall_aggregates() RETURNS void LANGUAGE plpgsql AS $f$
    BEGIN
        TRUNCATE wall_case_counts, wall_case_days, wall_case_cells;
        {apply_sql(f"SELECT 1 AS sign, {_COLUMNS} FROM incidents")};
    END $f$"""


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
    op.execute(_TRIGGER_FUNCTION)
    op.execute(_REBUILD)
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

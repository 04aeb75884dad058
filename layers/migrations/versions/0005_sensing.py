"""Sensors, readings (partitioned by month) and alarm rule state (issue 10).

- ``sensors``: a layer like the others (code, name, point). ``kind`` is
  ``water_level`` or ``numeric``; ``watches`` is the code of the waterlogging
  point a water-level sensor stands in. Thresholds left null come from that
  point (warn and alarm from its levels, clear from its warn level), so a
  point's levels edited by the district are what its sensor obeys.
  ``district_code`` and ``community_code`` are where the point lies, kept by a
  trigger, so area checks need no spatial query per reading.
- ``sensor_readings``: ``PARTITION BY RANGE (time)``, one partition a month,
  made on demand by ``wangge_reading_partitions(from, to)`` before a batch is
  written (no default partition: a reading for a month not prepared is an
  error, never a silent catch-all that would have to be split later);
  ``wangge_drop_reading_partitions(keep_months)`` drops whole months past
  the retention. The primary key (sensor_id, time) makes the same reading
  sent twice one row (``ON CONFLICT DO NOTHING``). No foreign key to
  sensors: it would cost a lookup per row on the hottest write; a sensor's
  readings go with it through a trigger instead.
- ``sensor_states``: the alarm rule's memory (``layers/sensing/rules.py``),
  one row per sensor, locked ``FOR UPDATE`` while a batch is evaluated.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _run(statement: str) -> None:
    # plpgsql bodies with format() patterns go to the driver untouched by bind parsing (as in 0001)
    driver_connection = op.get_bind().connection.dbapi_connection
    if driver_connection is None:
        raise RuntimeError("migration needs an open database connection")
    driver_connection.cursor().execute(statement)


def upgrade() -> None:
    op.execute("""
        CREATE TABLE sensors (
            id serial PRIMARY KEY,
            code text NOT NULL UNIQUE,
            name text NOT NULL,
            kind text NOT NULL DEFAULT 'water_level' CHECK (kind IN ('water_level', 'numeric')),
            unit text NOT NULL DEFAULT 'cm',
            watches text,
            warn_level real,
            alarm_level real,
            clear_level real,
            min_duration_s integer NOT NULL DEFAULT 60 CHECK (min_duration_s >= 0),
            offline_after_s integer NOT NULL DEFAULT 900 CHECK (offline_after_s > 0),
            cooldown_s integer NOT NULL DEFAULT 1800 CHECK (cooldown_s >= 0),
            district_code char(6),
            community_code char(12),
            geom geometry(Point, 4326) NOT NULL,
            CHECK (warn_level IS NULL OR alarm_level IS NULL OR warn_level <= alarm_level),
            CHECK (clear_level IS NULL OR alarm_level IS NULL OR clear_level < alarm_level)
        )""")
    op.execute("CREATE INDEX sensors_geom_gist ON sensors USING gist (geom)")
    op.execute("CREATE INDEX sensors_watches ON sensors (watches)")
    _run("""
        CREATE FUNCTION wangge_sensor_place() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            SELECT c.code, s.district_code INTO NEW.community_code, NEW.district_code
            FROM communities AS c JOIN streets AS s ON s.code = c.street_code
            WHERE ST_Covers(c.geom, NEW.geom) ORDER BY c.code LIMIT 1;
            IF NEW.district_code IS NULL THEN
                SELECT code INTO NEW.district_code FROM districts WHERE ST_Covers(geom, NEW.geom)
                ORDER BY code LIMIT 1;
            END IF;
            RETURN NEW;
        END $$""")
    op.execute("CREATE TRIGGER sensors_place BEFORE INSERT OR UPDATE OF geom ON sensors "
               "FOR EACH ROW EXECUTE FUNCTION wangge_sensor_place()")
    op.execute("CREATE SEQUENCE layer_version_sensors")
    op.execute("CREATE TRIGGER sensors_layer_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sensors "
               "FOR EACH STATEMENT EXECUTE FUNCTION wangge_bump_layer_version('layer_version_sensors')")

    op.execute("""
        CREATE TABLE sensor_readings (
            sensor_id integer NOT NULL,
            time timestamptz NOT NULL,
            value double precision NOT NULL,
            PRIMARY KEY (sensor_id, time)
        ) PARTITION BY RANGE (time)""")
    _run("""
        CREATE FUNCTION wangge_reading_partitions(first timestamptz, last timestamptz) RETURNS integer
        LANGUAGE plpgsql AS $$
        DECLARE
            month timestamptz := date_trunc('month', first AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
            made integer := 0;
            name text;
        BEGIN
            -- two writers preparing the same month must not both create it
            PERFORM pg_advisory_xact_lock(hashtext('wangge_reading_partitions'));
            WHILE month <= last LOOP
                name := 'sensor_readings_' || to_char(month AT TIME ZONE 'UTC', 'YYYYMM');
                IF to_regclass(name) IS NULL THEN
                    EXECUTE format('CREATE TABLE %I PARTITION OF sensor_readings FOR VALUES FROM (%L) TO (%L)',
                                   name, month, (month AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC');
                    made := made + 1;
                END IF;
                month := (month AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC';
            END LOOP;
            RETURN made;
        END $$""")
    _run("""
        CREATE FUNCTION wangge_drop_reading_partitions(keep_months integer) RETURNS integer
        LANGUAGE plpgsql AS $$
        DECLARE
            horizon timestamptz := (date_trunc('month', now() AT TIME ZONE 'UTC')
                                    - make_interval(months => keep_months)) AT TIME ZONE 'UTC';
            part record;
            dropped integer := 0;
        BEGIN
            FOR part IN
                SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'sensor_readings'::regclass AND c.relname ~ '^sensor_readings_[0-9]{6}$'
            LOOP
                -- a month is dropped once its end lies before the horizon
                IF (to_timestamp(right(part.relname, 6), 'YYYYMM')::timestamp AT TIME ZONE 'UTC'
                    + interval '1 month') <= horizon THEN
                    EXECUTE format('DROP TABLE %I', part.relname);
                    dropped := dropped + 1;
                END IF;
            END LOOP;
            RETURN dropped;
        END $$""")

    op.execute("""
        CREATE TABLE sensor_states (
            sensor_id integer PRIMARY KEY REFERENCES sensors (id) ON DELETE CASCADE,
            level text NOT NULL DEFAULT 'normal' CHECK (level IN ('normal', 'warn', 'alarm')),
            since timestamptz,
            pending_since timestamptz,
            peak double precision,
            last_value double precision,
            last_time timestamptz,
            time_above_s double precision NOT NULL DEFAULT 0,
            offline boolean NOT NULL DEFAULT false,
            case_id bigint REFERENCES incidents (id),
            cleared_at timestamptz,
            updated_at timestamptz NOT NULL DEFAULT now()
        )""")
    op.execute("CREATE INDEX sensor_states_last_time ON sensor_states (last_time) WHERE NOT offline")
    _run("""
        CREATE FUNCTION wangge_sensor_forget() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM sensor_readings WHERE sensor_id = OLD.id;
            RETURN OLD;
        END $$""")
    op.execute("CREATE TRIGGER sensors_forget AFTER DELETE ON sensors "
               "FOR EACH ROW EXECUTE FUNCTION wangge_sensor_forget()")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS sensor_states")
    op.execute("DROP TABLE IF EXISTS sensor_readings CASCADE")
    op.execute("DROP TABLE IF EXISTS sensors CASCADE")
    op.execute("DROP SEQUENCE IF EXISTS layer_version_sensors")
    op.execute("DROP FUNCTION IF EXISTS wangge_reading_partitions, wangge_drop_reading_partitions, "
               "wangge_sensor_place, wangge_sensor_forget")

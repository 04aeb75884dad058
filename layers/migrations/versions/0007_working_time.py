"""Working-time calendars, stage deadlines, extension/suspension, rework, joint dispatch (issue 13).

* ``calendars``: the national calendar ``CN`` and any district's own
  (working periods, weekdays); ``calendar_years`` the years a calendar
  imported from a file (they replace the package's official schedule for
  that year), ``calendar_days`` their holidays and adjusted workdays.
* ``stage_limits`` and ``delay_limits``: per category, overriding the
  defaults of ``layers/time/deadlines.py``.
* incidents: ``stage`` (generated from the status), ``stage_due_at``, ``paused_at`` /
  ``paused_until`` (an approved pause), ``rework_count``.
* ``time_requests``: extension and suspension requests and their decisions.
* ``case_assignments``: the teams on a case (one lead, any supporters);
  a team has at most one active assignment anywhere (no team claimed twice).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE calendars (
            code text PRIMARY KEY CHECK (code = 'CN' OR code ~ '^[0-9]{6}$'),
            name text NOT NULL,
            -- working periods of a working day, 'HH:MM-HH:MM,...' (layers.time.calendar.parse_periods)
            periods text NOT NULL DEFAULT '08:30-12:00,13:30-18:00',
            -- the ISO weekdays that are working days, as digits (1 = Monday): '12345'
            weekdays text NOT NULL DEFAULT '12345' CHECK (weekdays ~ '^[1-7]{1,7}$'),
            updated_at timestamptz NOT NULL DEFAULT now()
        )""")
    op.execute("INSERT INTO calendars (code, name) VALUES ('CN', '中国大陆法定节假日')")
    op.execute("""
        CREATE TABLE calendar_years (
            calendar_code text NOT NULL REFERENCES calendars (code) ON DELETE CASCADE,
            year integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
            source text NOT NULL DEFAULT '',
            imported_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (calendar_code, year)
        )""")
    op.execute("""
        CREATE TABLE calendar_days (
            calendar_code text NOT NULL,
            day date NOT NULL,
            kind text NOT NULL CHECK (kind IN ('holiday', 'workday')),
            name text NOT NULL DEFAULT '',
            PRIMARY KEY (calendar_code, day),
            FOREIGN KEY (calendar_code, year) REFERENCES calendar_years (calendar_code, year) ON DELETE CASCADE,
            year integer GENERATED ALWAYS AS (extract(year FROM day)::integer) STORED
        )""")
    op.execute("""
        CREATE TABLE stage_limits (
            category_code text NOT NULL REFERENCES catalogue (code) ON DELETE CASCADE,
            stage text NOT NULL CHECK (stage IN ('dispatch', 'handle', 'verify', 'feedback')),
            minutes integer NOT NULL CHECK (minutes > 0),
            -- working minutes of the district's calendar, else wall-clock minutes
            working boolean NOT NULL,
            PRIMARY KEY (category_code, stage)
        )""")
    op.execute("""
        CREATE TABLE delay_limits (
            category_code text NOT NULL REFERENCES catalogue (code) ON DELETE CASCADE,
            kind text NOT NULL CHECK (kind IN ('extension', 'suspension')),
            -- approvals per handling (a rework starts a new count)
            max_count integer NOT NULL CHECK (max_count >= 0),
            -- working minutes, in one request and in all of a handling's approvals together
            max_minutes integer NOT NULL CHECK (max_minutes > 0),
            PRIMARY KEY (category_code, kind)
        )""")
    op.execute("""
        ALTER TABLE incidents
            ADD COLUMN stage text GENERATED ALWAYS AS (CASE status
                WHEN 'accepted' THEN 'dispatch' WHEN 'dispatched' THEN 'handle' WHEN 'handling' THEN 'handle'
                WHEN 'feedback' THEN 'verify' WHEN 'verified' THEN 'feedback' END) STORED,
            -- the current stage's due time (the handle stage's is the case's deadline)
            ADD COLUMN stage_due_at timestamptz,
            -- the handling clock: counted from (the report, the last return or escalation),
            -- and its working minutes (the limit plus approved extensions)
            ADD COLUMN handle_from timestamptz,
            ADD COLUMN handle_minutes integer CHECK (handle_minutes > 0),
            ADD COLUMN paused_at timestamptz,
            ADD COLUMN paused_until timestamptz,
            ADD COLUMN rework_count integer NOT NULL DEFAULT 0 CHECK (rework_count >= 0),
            ADD CONSTRAINT incidents_pause CHECK ((paused_at IS NULL) = (paused_until IS NULL)
                                                 AND (paused_until IS NULL OR paused_until > paused_at))""")
    op.execute("""
        CREATE TABLE time_requests (
            id bigserial PRIMARY KEY,
            incident_id bigint NOT NULL REFERENCES incidents (id),
            district_code char(6) NOT NULL,
            kind text NOT NULL CHECK (kind IN ('extension', 'suspension')),
            minutes integer NOT NULL CHECK (minutes > 0),
            reason text NOT NULL,
            -- lapsed: the case left the handling stage before a decision
            status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'refused', 'lapsed')),
            team_id integer REFERENCES teams (id),
            rework integer NOT NULL DEFAULT 0,
            requested_by text NOT NULL,
            requested_role text NOT NULL,
            requested_at timestamptz NOT NULL DEFAULT now(),
            decided_by text,
            decided_role text,
            decided_at timestamptz,
            decision_reason text NOT NULL DEFAULT '',
            -- an approved suspension: the pause, planned until, or until the resume
            paused_from timestamptz,
            paused_until timestamptz
        )""")
    op.execute("CREATE INDEX time_requests_incident ON time_requests (incident_id, id)")
    # one open question at a time per case
    op.execute("CREATE UNIQUE INDEX time_requests_one_pending ON time_requests (incident_id) "
               "WHERE status = 'pending'")
    op.execute("""
        CREATE TABLE case_assignments (
            id bigserial PRIMARY KEY,
            incident_id bigint NOT NULL REFERENCES incidents (id),
            district_code char(6) NOT NULL,
            team_id integer NOT NULL REFERENCES teams (id),
            role text NOT NULL CHECK (role IN ('lead', 'support')),
            status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'reported', 'released')),
            assigned_at timestamptz NOT NULL DEFAULT now(),
            due_at timestamptz NOT NULL,
            limit_minutes integer NOT NULL CHECK (limit_minutes > 0),
            working boolean NOT NULL,
            ended_at timestamptz,
            feedback text NOT NULL DEFAULT '',
            CHECK ((status = 'active') = (ended_at IS NULL))
        )""")
    op.execute("CREATE INDEX case_assignments_incident ON case_assignments (incident_id, id)")
    # no team claimed twice: one active assignment per team, whatever its role and case
    op.execute("CREATE UNIQUE INDEX case_assignments_one_active_per_team ON case_assignments (team_id) "
               "WHERE status = 'active'")
    op.execute("CREATE UNIQUE INDEX case_assignments_one_active_lead ON case_assignments (incident_id) "
               "WHERE status = 'active' AND role = 'lead'")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS case_assignments")
    op.execute("DROP TABLE IF EXISTS time_requests")
    op.execute("""
        ALTER TABLE incidents DROP CONSTRAINT IF EXISTS incidents_pause,
            DROP COLUMN IF EXISTS stage, DROP COLUMN IF EXISTS stage_due_at, DROP COLUMN IF EXISTS handle_from,
            DROP COLUMN IF EXISTS handle_minutes, DROP COLUMN IF EXISTS paused_at,
            DROP COLUMN IF EXISTS paused_until, DROP COLUMN IF EXISTS rework_count""")
    op.execute("DROP TABLE IF EXISTS delay_limits")
    op.execute("DROP TABLE IF EXISTS stage_limits")
    op.execute("DROP TABLE IF EXISTS calendar_days")
    op.execute("DROP TABLE IF EXISTS calendar_years")
    op.execute("DROP TABLE IF EXISTS calendars")

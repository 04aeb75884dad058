"""The evaluation's one aggregate: every figure of every group from one pass over the cohort's event logs.

The cohort is the cases reported in the period inside the area (bounded by
``district_code`` and the ``reported_at`` range, so a sharded table stays on
one district). Each case's stage-boundary events (the contract of
:mod:`layers.time`) are folded once into what the definitions need (first
dispatch and whether it was on time, the last feedback and whether it was,
returns, the time of every ended stage), then grouped three ways in one
statement with ``GROUPING SETS``: by child area, by team, and the whole area.

Counts are integers and stage times sums of whole microseconds, so the
figures can be recomputed from the raw log and compared exactly; the rates
and averages are derived from them in Python (:mod:`layers.time.evaluation`).
"""

from __future__ import annotations

from psycopg import sql

# the actions that start or end a stage (the contract in layers/time/__init__.py)
BOUNDARY_ACTIONS = ("accept", "dispatch", "feedback", "verify", "close", "return", "reject", "mark_duplicate")
STAGES = ("dispatch", "handle", "verify", "feedback")
COUNTS = ("cases", "filed", "dispatch_due", "dispatched_on_time", "dispatched", "handling_due",
          "handled_on_time", "handled", "fed_back", "reworked", "returns", "closed", "closed_first_time",
          *(f"{stage}_stages" for stage in STAGES), "support_reported", "support_on_time", "support_released")

# A stage's time: the working minutes its ``stage_end`` record states, else (a log written before
# working-time calendars: the demo's history, imports) the elapsed time since the stage began, i.e.
# since the case's previous stage-boundary event. Whole microseconds, so sums are exact.
_STAGE_US = """coalesce(b.stated_us,
                  (extract(epoch FROM b.at - coalesce(b.previous_at, b.reported_at)) * 1000000)::bigint)"""

_QUERY = """
WITH cohort AS (
    SELECT i.id, i.{child} AS child, i.team_id, i.status, i.reported_at, i.deadline,
           i.status NOT IN ('rejected', 'duplicate') AS filed,
           k.team_type IS NOT NULL AS dispatchable
    FROM incidents AS i JOIN catalogue AS k ON k.code = i.category_code
    WHERE i.district_code = %(district)s AND i.{area_column} = %(area)s
      AND i.reported_at >= %(start)s AND i.reported_at < %(end)s
),
steps AS (
    -- every event of the cohort once, beside its case (an inner join, so no plan re-reads the log per
    -- case), reduced to scalars before the window sorts them (OFFSET 0 keeps the JSON out of the sort)
    SELECT c.id, c.child, c.team_id, c.status, c.filed, c.dispatchable, c.reported_at, c.deadline,
           e.id AS event_id, e.at, e.action, e.action = ANY(%(boundary)s) AS boundary,
           -- the stage an event ends is the stage of the status it leaves
           CASE WHEN e.action = ANY(%(boundary)s) AND e.action <> 'accept' THEN
               CASE e.from_status WHEN 'accepted' THEN 'dispatch' WHEN 'dispatched' THEN 'handle'
                   WHEN 'handling' THEN 'handle' WHEN 'feedback' THEN 'verify' WHEN 'verified' THEN 'feedback' END
           END AS stage,
           (e.details -> 'stage_end' ->> 'on_time')::boolean AS stated_on_time,
           round((e.details -> 'stage_end' ->> 'working_minutes')::numeric * 60000000)::bigint AS stated_us,
           (e.details -> 'stage_start' ->> 'due_at')::timestamptz AS start_due
    FROM cohort AS c JOIN incident_events AS e ON e.incident_id = c.id
    OFFSET 0
),
logged AS (
    SELECT s.*, lag(s.at) OVER (PARTITION BY s.id, s.boundary ORDER BY s.event_id) AS previous_at
    FROM steps AS s
),
folded AS (
    -- one row per case; its own columns are the same on each of its rows (min() just picks them)
    SELECT b.id, min(b.child) AS child, min(b.team_id) AS team_id, min(b.status) AS status,
           bool_and(b.filed) AS filed, bool_and(b.dispatchable) AS dispatchable,
           min(b.reported_at) AS reported_at, min(b.deadline) AS deadline,
           bool_or(b.action = 'dispatch') AS dispatched,
           coalesce(bool_or(b.action = 'dispatch' AND coalesce(b.stated_on_time,
                                                               b.at <= b.reported_at + %(dispatch_limit)s)), false)
               AS dispatched_on_time,
           min(b.start_due) FILTER (WHERE b.action = 'accept') AS dispatch_due_at,
           max(b.event_id) FILTER (WHERE b.action = 'feedback') AS last_feedback,
           max(b.event_id) FILTER (WHERE b.action = 'return') AS last_return,
           count(*) FILTER (WHERE b.action = 'return') AS returns,
           -- whether the last feedback was on time: the pair with the highest event id
           (max(ARRAY[b.event_id, coalesce(b.stated_on_time, b.at <= b.deadline)::int])
               FILTER (WHERE b.action = 'feedback'))[2] = 1 AS feedback_on_time,
           {stage_sums}
    FROM logged AS b
    GROUP BY b.id
),
cases AS (
    SELECT f.child, f.team_id, f.filed, f.status, f.dispatchable, f.dispatched, f.dispatched_on_time,
           coalesce(f.dispatch_due_at, f.reported_at + %(dispatch_limit)s) < %(as_of)s AS dispatch_due_passed,
           f.deadline < %(as_of)s AS deadline_passed,
           coalesce(f.last_feedback > coalesce(f.last_return, 0), false) AS handled,
           f.last_feedback IS NOT NULL AS fed_back, coalesce(f.feedback_on_time, false) AS feedback_on_time,
           f.returns, {case_sums}
    FROM folded AS f
)
SELECT GROUPING(child) = 0 AS by_child, GROUPING(team_id) = 0 AS by_team, child, team_id,
       count(*) AS cases,
       count(*) FILTER (WHERE filed) AS filed,
       count(*) FILTER (WHERE filed AND dispatchable AND (dispatched OR dispatch_due_passed)) AS dispatch_due,
       count(*) FILTER (WHERE filed AND dispatchable AND dispatched_on_time) AS dispatched_on_time,
       count(*) FILTER (WHERE filed AND dispatched) AS dispatched,
       count(*) FILTER (WHERE filed AND dispatched AND (handled OR deadline_passed)) AS handling_due,
       count(*) FILTER (WHERE filed AND handled AND feedback_on_time) AS handled_on_time,
       count(*) FILTER (WHERE filed AND handled) AS handled,
       count(*) FILTER (WHERE filed AND fed_back) AS fed_back,
       count(*) FILTER (WHERE filed AND fed_back AND returns > 0) AS reworked,
       coalesce(sum(returns) FILTER (WHERE filed), 0)::bigint AS returns,
       count(*) FILTER (WHERE filed AND status = 'closed') AS closed,
       count(*) FILTER (WHERE filed AND status = 'closed' AND returns = 0) AS closed_first_time,
       {totals}
FROM cases
GROUP BY GROUPING SETS ((child), (team_id), ())
"""


def evaluation_query(area_column: str, child_column: str) -> sql.Composed:
    """The aggregate for an area named by the incidents column ``area_column``, its children by ``child_column``.

    The area is matched by equality on its own column, whose statistics the
    planner has: a prefix test there is estimated at a fixed fraction of the
    rows, and the join to the log is then planned for a cohort a hundred times
    too small (a nested loop over the whole log, minutes instead of milliseconds).
    """
    stage_sums = ",\n           ".join(
        f"coalesce(sum({_STAGE_US}) FILTER (WHERE b.stage = '{stage}'), 0) AS {stage}_us,\n"
        f"           count(*) FILTER (WHERE b.stage = '{stage}') AS {stage}_stages" for stage in STAGES)
    case_sums = ", ".join(f"f.{stage}_us, f.{stage}_stages" for stage in STAGES)
    totals = ",\n       ".join(
        f"coalesce(sum({stage}_us) FILTER (WHERE filed), 0)::bigint AS {stage}_us,\n"
        f"       coalesce(sum({stage}_stages) FILTER (WHERE filed), 0)::bigint AS {stage}_stages" for stage in STAGES)
    text = _QUERY.replace("{stage_sums}", stage_sums).replace("{case_sums}", case_sums).replace("{totals}", totals)
    return sql.SQL(text).format(child=sql.Identifier(child_column), area_column=sql.Identifier(area_column))


# Joint dispatch (协办): what supporting teams did on the cohort's filed cases, from the ``assignment``
# record of each ``support_feedback`` (reported) and ``release`` event; by the case's child area,
# by the supporting team, and in all
_SUPPORT = """
SELECT GROUPING(i.{child}) = 0 AS by_child, GROUPING((e.details -> 'assignment' ->> 'team_id')::int) = 0 AS by_team,
       i.{child} AS child, (e.details -> 'assignment' ->> 'team_id')::int AS team_id,
       count(*) FILTER (WHERE e.action = 'support_feedback') AS support_reported,
       count(*) FILTER (WHERE e.action = 'support_feedback'
                          AND (e.details -> 'assignment' ->> 'on_time')::boolean) AS support_on_time,
       count(*) FILTER (WHERE e.action = 'release') AS support_released,
       coalesce(sum(round((e.details -> 'assignment' ->> 'working_minutes')::numeric * 60000000)::bigint)
                FILTER (WHERE e.action = 'support_feedback'), 0)::bigint AS support_us
FROM incidents AS i JOIN incident_events AS e ON e.incident_id = i.id
WHERE i.district_code = %(district)s AND i.{area_column} = %(area)s
  AND i.reported_at >= %(start)s AND i.reported_at < %(end)s AND i.status NOT IN ('rejected', 'duplicate')
  AND e.action IN ('support_feedback', 'release')
GROUP BY GROUPING SETS ((i.{child}), ((e.details -> 'assignment' ->> 'team_id')::int), ())
"""


def support_query(area_column: str, child_column: str) -> sql.Composed:
    """What supporting teams did, for an area named by ``area_column`` with children by ``child_column``."""
    return sql.SQL(_SUPPORT).format(child=sql.Identifier(child_column), area_column=sql.Identifier(area_column))

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
          *(f"{stage}_stages" for stage in STAGES))

# A stage's time: the working minutes its ``stage_end`` record states, else (a log written before
# working-time calendars: the demo's history, imports) the elapsed time since the stage began, i.e.
# since the case's previous stage-boundary event. Whole microseconds, so sums are exact.
_STAGE_US = """coalesce(round((b.stage_end ->> 'working_minutes')::numeric * 60000000)::bigint,
                  (extract(epoch FROM b.at - coalesce(b.previous_at, c.reported_at)) * 1000000)::bigint)"""

_QUERY = """
WITH cohort AS (
    SELECT i.id, i.{child} AS child, i.team_id, i.status, i.reported_at, i.deadline,
           i.status NOT IN ('rejected', 'duplicate') AS filed,
           k.team_type IS NOT NULL AS dispatchable
    FROM incidents AS i JOIN catalogue AS k ON k.code = i.category_code
    WHERE i.district_code = %(district)s AND starts_with(i.grid_code, %(area)s)
      AND i.reported_at >= %(start)s AND i.reported_at < %(end)s
),
boundary AS (
    SELECT e.incident_id, e.id, e.at, e.action,
           -- the stage an event ends is the stage of the status it leaves
           CASE e.from_status WHEN 'accepted' THEN 'dispatch' WHEN 'dispatched' THEN 'handle'
               WHEN 'handling' THEN 'handle' WHEN 'feedback' THEN 'verify' WHEN 'verified' THEN 'feedback' END
               AS stage,
           e.details -> 'stage_end' AS stage_end,
           (e.details -> 'stage_start' ->> 'due_at')::timestamptz AS start_due,
           lag(e.at) OVER (PARTITION BY e.incident_id ORDER BY e.id) AS previous_at
    FROM incident_events AS e
    WHERE e.incident_id IN (SELECT id FROM cohort) AND e.action = ANY(%(boundary)s)
),
folded AS (
    SELECT b.incident_id,
           bool_or(b.action = 'dispatch') AS dispatched,
           bool_or(b.action = 'dispatch' AND coalesce((b.stage_end ->> 'on_time')::boolean,
                                                      b.at <= c.reported_at + %(dispatch_limit)s))
               AS dispatched_on_time,
           min(b.start_due) FILTER (WHERE b.action = 'accept') AS dispatch_due_at,
           max(b.id) FILTER (WHERE b.action = 'feedback') AS last_feedback,
           max(b.id) FILTER (WHERE b.action = 'return') AS last_return,
           count(*) FILTER (WHERE b.action = 'return') AS returns,
           (array_agg(coalesce((b.stage_end ->> 'on_time')::boolean, b.at <= c.deadline) ORDER BY b.id DESC)
               FILTER (WHERE b.action = 'feedback'))[1] AS feedback_on_time,
           {stage_sums}
    FROM boundary AS b JOIN cohort AS c ON c.id = b.incident_id
    GROUP BY b.incident_id
),
cases AS (
    SELECT c.child, c.team_id, c.filed, c.status, c.dispatchable,
           coalesce(f.dispatched, false) AS dispatched, coalesce(f.dispatched_on_time, false) AS dispatched_on_time,
           coalesce(f.dispatch_due_at, c.reported_at + %(dispatch_limit)s) < %(as_of)s AS dispatch_due_passed,
           c.deadline < %(as_of)s AS deadline_passed,
           coalesce(f.last_feedback > coalesce(f.last_return, 0), false) AS handled,
           f.last_feedback IS NOT NULL AS fed_back, coalesce(f.feedback_on_time, false) AS feedback_on_time,
           coalesce(f.returns, 0) AS returns, {case_sums}
    FROM cohort AS c LEFT JOIN folded AS f ON f.incident_id = c.id
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


def evaluation_query(child_column: str) -> sql.Composed:
    """The aggregate for an area whose children are named by the incidents column ``child_column``."""
    stage_sums = ",\n           ".join(
        f"coalesce(sum({_STAGE_US}) FILTER (WHERE b.stage = '{stage}'), 0) AS {stage}_us,\n"
        f"           count(*) FILTER (WHERE b.stage = '{stage}') AS {stage}_stages" for stage in STAGES)
    case_sums = ", ".join(f"coalesce(f.{stage}_us, 0) AS {stage}_us, coalesce(f.{stage}_stages, 0) AS {stage}_stages"
                          for stage in STAGES)
    totals = ",\n       ".join(
        f"coalesce(sum({stage}_us) FILTER (WHERE filed), 0)::bigint AS {stage}_us,\n"
        f"       coalesce(sum({stage}_stages) FILTER (WHERE filed), 0)::bigint AS {stage}_stages" for stage in STAGES)
    text = _QUERY.replace("{stage_sums}", stage_sums).replace("{case_sums}", case_sums).replace("{totals}", totals)
    return sql.SQL(text).format(child=sql.Identifier(child_column))

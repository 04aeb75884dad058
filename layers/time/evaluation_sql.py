"""The evaluation's one aggregate: every figure of every group from one pass over the cohort's event logs.

The cohort is the cases reported in the period inside the area (bounded by
``district_code`` and the ``reported_at`` range, so the planner can use the
time index and a sharded table stays on one district). Each case's log is
folded once into the few instants the definitions need (first dispatch, last
feedback, close, returns), then grouped three ways in one statement with
``GROUPING SETS``: by child area, by team, and the whole area.

Counts are integers and stage durations sums of whole microseconds, so the
figures can be recomputed from the raw log and compared exactly; the rates
and averages are derived from them in Python (:mod:`layers.time.evaluation`).
"""

from __future__ import annotations

from psycopg import sql

# what the log's actions mean for the evaluation (layers/loop.py names them)
DISPATCH, FEEDBACK, RETURN, CLOSE = "dispatch", "feedback", "return", "close"
VOID_STATES = ("rejected", "duplicate")

# the per-case flags and durations, one column each, over ``c`` (cohort row joined with its folded log)
_FLAGS = """
    c.filed AND c.dispatchable AND (c.dispatched_at IS NOT NULL OR c.dispatch_due < %(as_of)s) AS dispatch_due_passed,
    c.filed AND c.dispatchable AND c.dispatched_at <= c.dispatch_due AS dispatched_on_time,
    c.filed AND c.dispatched_at IS NOT NULL AS dispatched,
    c.filed AND c.dispatched_at IS NOT NULL AND (c.handled OR c.deadline < %(as_of)s) AS handling_due_passed,
    c.filed AND c.handled AND c.fed_back_at <= c.deadline AS handled_on_time,
    c.filed AND c.handled AS handled,
    c.filed AND c.last_feedback IS NOT NULL AS fed_back,
    c.filed AND c.last_feedback IS NOT NULL AND c.returns > 0 AS reworked,
    CASE WHEN c.filed THEN c.returns ELSE 0 END AS returns,
    c.filed AND c.status = 'closed' AS closed,
    c.filed AND c.status = 'closed' AND c.closed_at <= c.deadline AS closed_on_time,
    c.filed AND c.status = 'closed' AND c.returns = 0 AS closed_first_time,
    c.filed AND c.handled AND c.status = 'closed' AS checked,
    CASE WHEN c.filed AND c.dispatched_at IS NOT NULL
         THEN (extract(epoch FROM c.dispatched_at - c.reported_at) * 1000000)::bigint END AS dispatch_us,
    CASE WHEN c.filed AND c.handled
         THEN (extract(epoch FROM c.fed_back_at - c.dispatched_at) * 1000000)::bigint END AS handle_us,
    CASE WHEN c.filed AND c.handled AND c.status = 'closed'
         THEN (extract(epoch FROM c.closed_at - c.fed_back_at) * 1000000)::bigint END AS check_us
"""

COUNTS = ("cases", "filed", "dispatch_due", "dispatched_on_time", "dispatched", "handling_due",
          "handled_on_time", "handled", "fed_back", "reworked", "returns", "closed", "closed_on_time",
          "closed_first_time", "checked")
STAGES = ("dispatch", "handle", "check")

_QUERY = """
WITH cohort AS (
    SELECT i.id, i.{child} AS child, i.team_id, i.status, i.reported_at, i.deadline,
           i.status NOT IN ('rejected', 'duplicate') AS filed,
           k.team_type IS NOT NULL AS dispatchable,
           i.reported_at + %(dispatch_limit)s AS dispatch_due
    FROM incidents AS i JOIN catalogue AS k ON k.code = i.category_code
    WHERE i.district_code = %(district)s AND starts_with(i.grid_code, %(area)s)
      AND i.reported_at >= %(start)s AND i.reported_at < %(end)s
),
folded AS (
    SELECT e.incident_id,
           min(e.at) FILTER (WHERE e.action = 'dispatch') AS dispatched_at,
           max(e.at) FILTER (WHERE e.action = 'feedback') AS fed_back_at,
           max(e.id) FILTER (WHERE e.action = 'feedback') AS last_feedback,
           max(e.id) FILTER (WHERE e.action = 'return') AS last_return,
           count(*) FILTER (WHERE e.action = 'return') AS returns,
           max(e.at) FILTER (WHERE e.action = 'close') AS closed_at
    FROM incident_events AS e
    WHERE e.incident_id IN (SELECT id FROM cohort)
    GROUP BY e.incident_id
),
flags AS (
    SELECT c.child, c.team_id, c.filed, """ + _FLAGS + """
    FROM (SELECT cohort.*, f.dispatched_at, f.fed_back_at, f.last_feedback, f.closed_at,
                 coalesce(f.returns, 0) AS returns,
                 f.last_feedback > coalesce(f.last_return, 0) AS handled
          FROM cohort LEFT JOIN folded AS f ON f.incident_id = cohort.id) AS c
)
SELECT GROUPING(child) = 0 AS by_child, GROUPING(team_id) = 0 AS by_team, child, team_id,
       count(*) AS cases,
       count(*) FILTER (WHERE filed) AS filed,
       count(*) FILTER (WHERE dispatch_due_passed) AS dispatch_due,
       count(*) FILTER (WHERE dispatched_on_time) AS dispatched_on_time,
       count(*) FILTER (WHERE dispatched) AS dispatched,
       count(*) FILTER (WHERE handling_due_passed) AS handling_due,
       count(*) FILTER (WHERE handled_on_time) AS handled_on_time,
       count(*) FILTER (WHERE handled) AS handled,
       count(*) FILTER (WHERE fed_back) AS fed_back,
       count(*) FILTER (WHERE reworked) AS reworked,
       coalesce(sum(returns), 0)::bigint AS returns,
       count(*) FILTER (WHERE closed) AS closed,
       count(*) FILTER (WHERE closed_on_time) AS closed_on_time,
       count(*) FILTER (WHERE closed_first_time) AS closed_first_time,
       count(*) FILTER (WHERE checked) AS checked,
       coalesce(sum(dispatch_us), 0)::bigint AS dispatch_us,
       coalesce(sum(handle_us), 0)::bigint AS handle_us,
       coalesce(sum(check_us), 0)::bigint AS check_us
FROM flags
GROUP BY GROUPING SETS ((child), (team_id), ())
"""


def evaluation_query(child_column: str) -> sql.Composed:
    """The aggregate for an area whose children are named by the incidents column ``child_column``."""
    return sql.SQL(_QUERY).format(child=sql.Identifier(child_column))

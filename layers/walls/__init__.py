"""What map walls read, kept cheap as the years of cases pile up (issue 12).

``aggregates``: per-area counters maintained by triggers (migration 0008) and
the one function that rebuilds them after a bulk load; ``feed``: the live
case feed by level (child-area counts, clusters, points with deltas).
"""

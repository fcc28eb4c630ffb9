"""Usage per consumer from the roll-up ``rollup_usage``, exact to the request.

``rollup_usage`` (migration 4 of the ``predictions`` component) holds, per second, key id,
model and version, the client requests (shadow copies left out), the rows of those answered
(status < 400), the refused ones (status >= 400) and their summed latency — filled by the log
writer in the same transaction as the requests, like the other roll-ups
(:mod:`workbench.monitoring.rollup`). A usage report reads the whole seconds of its range from
it and only the requests of the two partial seconds at the ends from ``predictions``, so it
adds up a few thousand rows instead of scanning every request of a busy day, and the figures
are those of the requests themselves (period boundaries fall on whole seconds).

A key id, model or version the request did not have is stored as ``''``, ``''`` or ``0`` (key
columns cannot be NULL) and read back as NULL.
"""
from __future__ import annotations

import math

_TABLE = """
CREATE TABLE IF NOT EXISTS rollup_usage (
    second BIGINT NOT NULL, key_id TEXT NOT NULL, model TEXT NOT NULL, version INTEGER NOT NULL,
    requests BIGINT NOT NULL, rows BIGINT NOT NULL, errors BIGINT NOT NULL,
    latency_sum {real} NOT NULL,
    PRIMARY KEY (second, key_id, model, version)
){without_rowid};
INSERT INTO rollup_usage (second, key_id, model, version, requests, rows, errors, latency_sum)
SELECT {second}, COALESCE(key_id, ''), COALESCE(model, ''), COALESCE(version, 0), COUNT(*),
       COALESCE(SUM(CASE WHEN status < 400 THEN rows ELSE 0 END), 0),
       SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(latency_ms)
FROM predictions WHERE role IS NULL GROUP BY 1, 2, 3, 4;
CREATE INDEX IF NOT EXISTS predictions_served ON predictions (model, version, id)
    WHERE status = 200 AND role IS NULL"""
#: migration 4 of the prediction log: the table, filled from the requests already logged, and
#: the index ``predictions_served`` through which the live-quality section reads a version's
#: newest answers without sorting the window (created with the log, so a writer keeps it up
#: to date from its first request instead of a first dashboard building it over a big log)
SQLITE_USAGE = _TABLE.format(real="REAL", without_rowid=" WITHOUT ROWID",
                             second="CAST(time AS INTEGER)")
POSTGRESQL_USAGE = _TABLE.format(real="DOUBLE PRECISION", without_rowid="",
                                 second="CAST(floor(time) AS BIGINT)")

UPSERT_USAGE = """
INSERT INTO rollup_usage (second, key_id, model, version, requests, rows, errors, latency_sum)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (second, key_id, model, version) DO UPDATE SET
    requests = rollup_usage.requests + excluded.requests,
    rows = rollup_usage.rows + excluded.rows,
    errors = rollup_usage.errors + excluded.errors,
    latency_sum = rollup_usage.latency_sum + excluded.latency_sum
"""


def whole_seconds(lo: float | None, hi: float | None) -> tuple:
    """Split the times ``[lo, hi)`` (None: unbounded) into whole seconds and partial ends.

    Returns ``(first, stop, edges)``: the seconds ``first <= s < stop`` lie wholly inside (a
    bound is None when unbounded), and ``edges`` lists the ``(a, b)`` time ranges ``[a, b)``
    left over at the ends, to be read from the requests themselves.

    >>> whole_seconds(10.5, 13.25)
    (11, 13, [(10.5, 11), (13, 13.25)])
    >>> whole_seconds(10.2, 10.8)
    (11, 11, [(10.2, 10.8)])
    >>> whole_seconds(None, 12.0)
    (None, 12, [])
    """
    lo = None if lo is None or math.isinf(lo) else float(lo)
    hi = None if hi is None or math.isinf(hi) else float(hi)
    first = None if lo is None else math.ceil(lo)
    stop = None if hi is None else math.floor(hi)
    if first is not None and stop is not None and stop < first:
        stop = first                                  # no whole second inside
    edges = []
    if lo is not None and lo < first:
        edges.append((lo, first if hi is None else min(first, hi)))
    if hi is not None and stop < hi:
        start = stop if lo is None else max(stop, lo)
        if start < hi:                                # after the lower end: never overlaps
            edges.append((start, hi))
    return first, stop, edges


def second_bounds(first, stop) -> tuple[list, list]:
    """SQL conditions and arguments on ``second`` for the seconds ``first <= s < stop``."""
    where, args = [], []
    if first is not None:
        where.append("second >= ?")
        args.append(int(first))
    if stop is not None:
        where.append("second < ?")
        args.append(int(stop))
    return where, args


class UsageReads:
    """Usage statements (mixed into :class:`~.predictions.PredictionTables`; needs ``self.db``
    and ``self._usage_sql``)."""

    def usage_from_rollups(self, group, label, since, until) -> list:
        """Rows as :meth:`~.predictions.PredictionTables.usage` returns them, from
        ``rollup_usage`` plus the requests of the partial seconds at both ends."""
        first, stop, edges = whole_seconds(since, until)
        where, args = second_bounds(first, stop)
        parts = ["SELECT second AS time, NULLIF(key_id, '') AS key_id, NULLIF(model, '') AS model, "
                 "NULLIF(version, 0) AS version, requests AS n, rows AS answered, errors, "
                 "latency_sum FROM rollup_usage" + (" WHERE " + " AND ".join(where) if where else "")]
        for a, b in edges:
            parts.append(
                "SELECT time, NULLIF(key_id, '') AS key_id, NULLIF(model, '') AS model, version, "
                "1 AS n, CASE WHEN status < 400 THEN rows ELSE 0 END AS answered, "
                "CASE WHEN status >= 400 THEN 1 ELSE 0 END AS errors, latency_ms AS latency_sum "
                "FROM predictions WHERE (role IS NULL OR role <> 'shadow') AND time >= ? AND "
                "time < ?")
            args += [a, b]
        cols = ", ".join(group)
        keys = ", ".join(str(i + 1) for i in range(len(group) + 1))
        sql = (f"SELECT {label} AS period, {cols}, SUM(n), COALESCE(SUM(answered), 0), "
               f"SUM(errors), COALESCE(SUM(latency_sum), 0) FROM ("
               + " UNION ALL ".join(parts) + f") AS u GROUP BY {keys} ORDER BY {keys}")
        return [tuple(r) for r in self.db.query(sql, args)]

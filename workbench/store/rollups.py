"""What the monitor reads from the per-second roll-ups (see :mod:`workbench.monitoring.rollup`):
sums over a model's seconds ``[lo, hi]``, a few thousand rows whatever the size of the log."""
from __future__ import annotations


class RollupReads:
    """Read statements on ``rollup_status``, ``rollup_latency``, ``rollup_outputs``
    (mixed into :class:`~.predictions.PredictionTables`; needs ``self.db``)."""

    def logged_models(self) -> list[str]:
        """Every model name the roll-ups hold (requests that named no known model excluded).

        A skip scan of the primary key (one index probe per model), not ``SELECT DISTINCT``,
        which reads every second of every model ever kept."""
        return [r[0] for r in self.db.query(
            "WITH RECURSIVE m(model) AS (SELECT MIN(model) FROM rollup_status UNION ALL "
            "SELECT (SELECT MIN(model) FROM rollup_status WHERE model > m.model) FROM m "
            "WHERE m.model IS NOT NULL) SELECT model FROM m WHERE model IS NOT NULL AND "
            "model != ''")]

    def status_by_version(self, model, lo, hi) -> list:
        """``(version, status, requests, rows)`` summed over the seconds."""
        return self.db.query("SELECT version, status, SUM(requests), SUM(rows) FROM rollup_status "
                             "WHERE model = ? AND second BETWEEN ? AND ? GROUP BY version, status",
                             (model, lo, hi))

    def latency_by_version(self, model, lo, hi) -> list:
        """``(version, bucket, requests)`` summed over the seconds."""
        return self.db.query("SELECT version, bucket, SUM(requests) FROM rollup_latency "
                             "WHERE model = ? AND second BETWEEN ? AND ? GROUP BY version, bucket",
                             (model, lo, hi))

    def output_counts(self, model, lo, hi) -> list:
        """``(output, count)``, most frequent first."""
        return self.db.query("SELECT output, SUM(count) FROM rollup_outputs WHERE model = ? AND "
                             "second BETWEEN ? AND ? GROUP BY output ORDER BY SUM(count) DESC",
                             (model, lo, hi))

    def outputs_by_version(self, model, lo, hi) -> list:
        """``(version, output, count)``."""
        return self.db.query("SELECT version, output, SUM(count) FROM rollup_outputs WHERE "
                             "model = ? AND second BETWEEN ? AND ? GROUP BY version, output",
                             (model, lo, hi))

    def last_second(self, model) -> int | None:
        """The last second ``model`` answered a request in."""
        value = self.db.query("SELECT MAX(second) FROM rollup_status WHERE model = ?", (model,))[0][0]
        return None if value is None else int(value)

    def requests_between(self, model, lo, hi) -> int:
        value = self.db.query("SELECT SUM(requests) FROM rollup_status WHERE model = ? AND "
                              "second BETWEEN ? AND ?", (model, lo, hi))[0][0]
        return int(value or 0)

    def requests_per_step(self, model, lo, hi, step) -> list:
        """``(step index, requests, error requests)`` for steps of ``step`` seconds from ``lo``."""
        return self.db.query(
            "SELECT (second - ?) / ?, SUM(requests), SUM(CASE WHEN status >= 400 THEN requests "
            "END) FROM rollup_status WHERE model = ? AND second BETWEEN ? AND ? GROUP BY 1",
            (lo, step, model, lo, hi))

    def latency_per_step(self, model, lo, hi, step) -> list:
        """``(step index, bucket, requests)`` for steps of ``step`` seconds from ``lo``."""
        return self.db.query(
            "SELECT (second - ?) / ?, bucket, SUM(requests) FROM rollup_latency "
            "WHERE model = ? AND second BETWEEN ? AND ? GROUP BY 1, 2", (lo, step, model, lo, hi))

    def window_rollups(self, model, lo, hi, step) -> tuple[list, list, list]:
        """Everything a refresh reads from the roll-ups of ``model`` over seconds ``[lo, hi]``,
        in three statements (one scan of each roll-up): ``(step index, version, status,
        requests, rows)``, ``(step index, version, bucket, requests)`` and ``(version, output,
        count)``, steps of ``step`` seconds from ``lo``."""
        args = (lo, step, model, lo, hi)
        return (self.db.query(
                    "SELECT (second - ?) / ?, version, status, SUM(requests), SUM(rows) FROM "
                    "rollup_status WHERE model = ? AND second BETWEEN ? AND ? GROUP BY 1, 2, 3",
                    args),
                self.db.query(
                    "SELECT (second - ?) / ?, version, bucket, SUM(requests) FROM rollup_latency "
                    "WHERE model = ? AND second BETWEEN ? AND ? GROUP BY 1, 2, 3", args),
                self.outputs_by_version(model, lo, hi))

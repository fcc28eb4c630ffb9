"""Statements of the prediction log's upkeep: retention pruning and the writers' health rows
(mixed into :class:`~.predictions.PredictionTables`; needs ``self.db``).

``log_health`` (migration 3 of the ``predictions`` component) holds one row per log writer
(``pid``, ``started``): requests written, records dropped, why the last one was dropped and when.
"""
from __future__ import annotations

_HEALTH = """
CREATE TABLE IF NOT EXISTS log_health (
    pid INTEGER NOT NULL, started {real} NOT NULL, updated {real} NOT NULL,
    written BIGINT NOT NULL, dropped BIGINT NOT NULL, last_reason TEXT, last_drop_at {real},
    PRIMARY KEY (pid, started)
)
"""
SQLITE_LOG_HEALTH = _HEALTH.format(real="REAL")
POSTGRESQL_LOG_HEALTH = _HEALTH.format(real="DOUBLE PRECISION")

#: the roll-up tables, pruned by second
ROLLUPS = ("rollup_status", "rollup_latency", "rollup_outputs", "rollup_usage")


class LogUpkeep:
    """Pruning and health statements of the prediction log."""

    def prune_before(self, cutoff: float, batch: int) -> int:
        """Delete up to ``batch`` of the oldest requests older than ``cutoff`` (one
        transaction); return how many."""
        with self.db.write(lock="predictions") as conn:
            return conn.execute(
                "DELETE FROM predictions WHERE id IN (SELECT id FROM predictions WHERE time < ? "
                "ORDER BY time LIMIT ?)", (cutoff, int(batch))).rowcount

    def prune_oldest(self, batch: int) -> int:
        """Delete the ``batch`` oldest requests (one transaction); return how many."""
        with self.db.write(lock="predictions") as conn:
            return conn.execute(
                "DELETE FROM predictions WHERE id IN (SELECT id FROM predictions ORDER BY id "
                "LIMIT ?)", (int(batch),)).rowcount

    def live_bytes(self) -> int:
        """Bytes the log's data takes (SQLite: pages in use; PostgreSQL: the tables' size)."""
        if self.db.dialect == "sqlite":
            with self.db.read() as conn:
                pages = conn.execute("PRAGMA page_count").fetchone()[0]
                free = conn.execute("PRAGMA freelist_count").fetchone()[0]
                size = conn.execute("PRAGMA page_size").fetchone()[0]
            return (pages - free) * size
        return int(self.db.query("SELECT pg_total_relation_size('predictions')")[0][0])

    def rollup_models_before(self, table: str, cutoff: int) -> list[tuple]:
        """``(model, first second)`` of the models of roll-up ``table`` with seconds before
        ``cutoff``."""
        assert table in ROLLUPS
        return [tuple(r) for r in self.db.query(
            f"SELECT model, MIN(second) FROM {table} GROUP BY model HAVING MIN(second) < ?",
            (int(cutoff),))]

    def prune_rollup(self, table: str, model: str, before: int) -> int:
        """Delete the seconds of ``model`` before ``before`` from roll-up ``table``."""
        assert table in ROLLUPS
        with self.db.write(lock="predictions") as conn:
            return conn.execute(f"DELETE FROM {table} WHERE model = ? AND second < ?",
                                (model, int(before))).rowcount

    def put_health(self, pid, started, updated, written, dropped, last_reason,
                   last_drop_at) -> None:
        """Insert or update one writer's health row."""
        with self.db.write(lock="predictions") as conn:
            conn.execute(
                "INSERT INTO log_health (pid, started, updated, written, dropped, last_reason, "
                "last_drop_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pid, started) DO UPDATE "
                "SET updated = excluded.updated, written = excluded.written, "
                "dropped = excluded.dropped, last_reason = excluded.last_reason, "
                "last_drop_at = excluded.last_drop_at",
                (pid, started, updated, written, dropped, last_reason, last_drop_at))

    def health_summary(self) -> tuple:
        """``(records dropped by all writers, time of the last drop, its reason)``."""
        with self.db.read() as conn:
            dropped, last_at = conn.execute(
                "SELECT COALESCE(SUM(dropped), 0), MAX(last_drop_at) FROM log_health").fetchone()
            row = conn.execute("SELECT last_reason FROM log_health WHERE last_drop_at IS NOT NULL "
                               "ORDER BY last_drop_at DESC LIMIT 1").fetchone()
        return int(dropped), last_at, None if row is None else row[0]

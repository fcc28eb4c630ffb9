"""The closed loop's tables (issue 14), next to the prediction log they join with:

=====================  ======================================================================
table                  holds
=====================  ======================================================================
``labels``             one true label per (model, request id, row); ``pred_id`` is the
                       ``predictions`` row it belongs to, ``label`` its JSON value
``rollouts``           one row per model: the running (or last) rollout, its policy and step
``loop_lease``         who holds a lease (the rollout controller) and until when
``webhook_deliveries`` one row per event and webhook: outcome, attempts, last status or error
=====================  ======================================================================

:class:`LoopTables` has one named method per statement; it also reads ``predictions``
(the request a label belongs to, the arms of a rollout, replayable inputs), and its migration
adds an index of request ids to ``predictions`` (so :attr:`Store.loop` opens the prediction
log's tables first).
"""
from __future__ import annotations

import math
import time

import orjson

from .migrations import Migration
from .tables import Tables
from .usage import second_bounds, whole_seconds

_V1 = """
CREATE TABLE IF NOT EXISTS labels (
    model TEXT NOT NULL, request_id TEXT NOT NULL, row INTEGER NOT NULL,
    label TEXT NOT NULL, pred_id BIGINT NOT NULL, time {real} NOT NULL,
    PRIMARY KEY (model, request_id, row)
);
CREATE INDEX IF NOT EXISTS labels_pred ON labels (pred_id);
CREATE TABLE IF NOT EXISTS rollouts (
    model TEXT PRIMARY KEY, alias TEXT NOT NULL, baseline INTEGER NOT NULL,
    candidate INTEGER NOT NULL, state TEXT NOT NULL, step INTEGER NOT NULL,
    policy TEXT NOT NULL, started {real} NOT NULL, step_started {real} NOT NULL,
    updated {real} NOT NULL, last_decision TEXT
);
CREATE TABLE IF NOT EXISTS loop_lease (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires {real} NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id {id}, time {real} NOT NULL, target TEXT NOT NULL, event TEXT NOT NULL,
    ok INTEGER NOT NULL, attempts INTEGER NOT NULL, status INTEGER, error TEXT
);
CREATE INDEX IF NOT EXISTS predictions_request ON predictions (model, request_id)
    WHERE request_id IS NOT NULL"""

#: the closed loop's schema, oldest first (append to change it)
MIGRATIONS = [
    Migration(1, "feedback labels, rollouts, controller lease, webhook deliveries",
              _V1.format(real="REAL", id="INTEGER PRIMARY KEY"),
              _V1.format(real="DOUBLE PRECISION", id="BIGSERIAL PRIMARY KEY")),
]

ROLLOUT_COLUMNS = ("model", "alias", "baseline", "candidate", "state", "step", "policy",
                   "started", "step_started", "updated", "last_decision")
DELIVERY_COLUMNS = ("id", "time", "target", "event", "ok", "attempts", "status", "error")


def _bounds(lo, hi) -> tuple:
    """Infinite bounds as the largest finite floats (both backends compare them)."""
    big = 1.7e308
    return (-big if lo is None or math.isinf(lo) else lo, big if hi is None or math.isinf(hi) else hi)


class LoopTables(Tables):
    """Named statements on the closed loop's tables (see the module)."""


    # -- feedback labels -----------------------------------------------------------------------
    def find_request(self, model: str, request_id: str):
        """``(pred_id, rows)`` of the newest successful client answer with that id, else None."""
        rows = self.db.query(
            "SELECT id, rows FROM predictions WHERE model = ? AND request_id = ? AND status = 200 "
            "AND role IS NULL ORDER BY id DESC LIMIT 1", (model, request_id))
        return tuple(rows[0]) if rows else None

    def upsert_labels(self, model: str, items) -> None:
        """Write ``(request_id, row, label, pred_id)`` tuples in one transaction; a label for a
        row that has one replaces it."""
        now = time.time()
        with self.db.write(lock="labels") as conn:
            conn.executemany(
                "INSERT INTO labels (model, request_id, row, label, pred_id, time) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (model, request_id, row) DO UPDATE SET "
                "label = excluded.label, pred_id = excluded.pred_id, time = excluded.time",
                [(model, rid, row, orjson.dumps(label).decode(), pred, now)
                 for rid, row, label, pred in items])

    def labelled_rows(self, model: str, lo, hi) -> list:
        """``(version, time, row, output, label)`` of every labelled row answered in [lo, hi]."""
        rows = self.db.query(
            "SELECT p.version, p.time, l.row, p.outputs, l.label FROM labels l "
            "JOIN predictions p ON p.id = l.pred_id WHERE l.model = ? AND p.time >= ? "
            "AND p.time <= ? ORDER BY p.id, l.row", (model, *_bounds(lo, hi)))
        out = []
        for version, at, row, outputs, label in rows:
            values = orjson.loads(outputs) if outputs else []
            if row < len(values):
                out.append((version, at, row, values[row], orjson.loads(label)))
        return out

    def served_rows(self, model: str, lo, hi) -> dict:
        """``{version: rows answered with 200}`` of client traffic in [lo, hi]: the whole
        seconds from the roll-up ``rollup_status`` (client traffic only, version 0 standing for
        none), the partial seconds at both ends from the requests."""
        first, stop, edges = whole_seconds(lo, hi)
        where, args = second_bounds(first, stop)
        sql = ["SELECT version, rows FROM rollup_status WHERE model = ? AND status = 200 AND "
               "version <> 0" + "".join(" AND " + w for w in where)]
        args = [model, *args]
        edges = [(a, b, "<") for a, b in edges]
        if hi is not None and not math.isinf(hi):   # [lo, hi] holds the time hi itself too
            edges.append((hi, hi, "<="))
        for a, b, op in edges:
            sql.append("SELECT version, rows FROM predictions WHERE model = ? AND status = 200 "
                       f"AND role IS NULL AND version IS NOT NULL AND time >= ? AND time {op} ?")
            args += [model, a, b]
        return {int(v): int(n) for v, n in self.db.query(
            "SELECT version, SUM(rows) FROM (" + " UNION ALL ".join(sql) + ") AS s "
            "GROUP BY version", args)}

    def served_outputs(self, model: str, version: int, lo, hi, limit: int = 5000) -> list:
        """The newest logged outputs (flattened rows) of ``version`` in [lo, hi], at most
        ``limit``: read newest first through the index ``predictions_served`` (predictions
        migration 4), a page of
        ``limit`` requests at a time (a request answers one row or more). On SQLite ``+time``
        keeps the planner from taking the time index instead (it would then sort the whole
        window); PostgreSQL, planning with the values, picks the best index by itself."""
        out: list = []
        before = None
        t = "+time" if self.db.dialect == "sqlite" else "time"
        while len(out) < limit:
            page = self.db.query(
                "SELECT id, outputs FROM predictions WHERE model = ? AND version = ? AND "
                f"status = 200 AND role IS NULL AND {t} >= ? AND {t} <= ?"
                + ("" if before is None else " AND id < ?") + " ORDER BY id DESC LIMIT ?",
                (model, version, *_bounds(lo, hi), *(() if before is None else (before,)),
                 int(limit)))
            for _, blob in page:
                out.extend(orjson.loads(blob) if blob else ())
            if len(page) < limit:
                break
            before = page[-1][0]
        return out[:limit]

    # -- what a rollout and a replay read ----------------------------------------------------------
    def arm_requests(self, model: str, versions, since: float) -> list:
        """``(version, status, latency_ms, time)`` of client requests of ``versions`` since
        ``since``."""
        marks = ",".join("?" * len(versions))
        return [tuple(r) for r in self.db.query(
            f"SELECT version, status, latency_ms, time FROM predictions WHERE model = ? AND "
            f"role IS NULL AND time >= ? AND version IN ({marks})", (model, since, *versions))]

    def shadow_agreement(self, model: str, version: int, since: float) -> tuple:
        """``(rows, mean agreement)`` of ``version``'s shadow answers since ``since``."""
        return tuple(self.db.query(
            "SELECT COUNT(*), AVG(agreement) FROM predictions WHERE model = ? AND role = 'shadow' "
            "AND version = ? AND time >= ?", (model, version, since))[0])

    def replay_rows(self, model: str, lo, hi) -> list:
        """``(id, version, latency_ms, inputs, outputs)`` of logged client answers with inputs."""
        return self.db.query(
            "SELECT id, version, latency_ms, inputs, outputs FROM predictions WHERE model = ? "
            "AND role IS NULL AND status = 200 AND inputs IS NOT NULL AND time >= ? AND time <= ? "
            "ORDER BY id", (model, *_bounds(lo, hi)))

    # -- rollouts ------------------------------------------------------------------------------
    def get_rollout(self, model: str) -> dict | None:
        rows = self.db.query(f"SELECT {', '.join(ROLLOUT_COLUMNS)} FROM rollouts WHERE model = ?",
                             (model,))
        return dict(zip(ROLLOUT_COLUMNS, rows[0])) if rows else None

    def running_rollouts(self) -> list[str]:
        return [r[0] for r in self.db.query("SELECT model FROM rollouts WHERE state = 'running'")]

    def put_rollout(self, values: dict) -> None:
        """Insert or replace the rollout row of ``values["model"]``."""
        updates = ", ".join(f"{c} = excluded.{c}" for c in ROLLOUT_COLUMNS[1:])
        with self.db.write(lock="rollouts") as conn:
            conn.execute(f"INSERT INTO rollouts ({', '.join(ROLLOUT_COLUMNS)}) VALUES "
                         f"({', '.join('?' * len(ROLLOUT_COLUMNS))}) ON CONFLICT (model) DO "
                         f"UPDATE SET {updates}", tuple(values[c] for c in ROLLOUT_COLUMNS))

    # -- the controller's lease ------------------------------------------------------------------
    def acquire_lease(self, name: str, holder: str, ttl: float, now: float | None = None) -> bool:
        """Take or renew lease ``name`` for ``holder`` for ``ttl`` seconds; False while another
        holder's lease runs. One write transaction: two processes never both get it."""
        now = time.time() if now is None else now
        with self.db.write(lock="lease") as conn:
            row = conn.execute("SELECT holder, expires FROM loop_lease WHERE name = ?",
                               (name,)).fetchone()
            if row is not None and row[0] != holder and row[1] > now:
                return False
            conn.execute("INSERT INTO loop_lease (name, holder, expires) VALUES (?, ?, ?) "
                         "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                         "expires = excluded.expires", (name, holder, now + ttl))
        return True

    def release_lease(self, name: str, holder: str) -> None:
        with self.db.write(lock="lease") as conn:
            conn.execute("DELETE FROM loop_lease WHERE name = ? AND holder = ?", (name, holder))

    def lease_holder(self, name: str, now: float | None = None):
        now = time.time() if now is None else now
        rows = self.db.query("SELECT holder, expires FROM loop_lease WHERE name = ?", (name,))
        return rows[0][0] if rows and rows[0][1] > now else None

    # -- webhook deliveries ------------------------------------------------------------------------
    def log_delivery(self, *, target: str, event: str, ok: bool, attempts: int, status,
                     error) -> None:
        with self.db.write(lock="deliveries") as conn:
            conn.execute("INSERT INTO webhook_deliveries (time, target, event, ok, attempts, "
                         "status, error) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (time.time(), target, event, int(ok), attempts, status, error))

    def deliveries(self, limit: int = 100) -> list[dict]:
        rows = self.db.query(f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM webhook_deliveries "
                             f"ORDER BY id DESC LIMIT ?", (int(limit),))
        return [dict(zip(DELIVERY_COLUMNS, r)) for r in reversed(rows)]

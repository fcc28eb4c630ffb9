"""Every SQL statement of the closed loop (issue 14), in one place so it can move into the store
layer as named methods: feedback labels, rollout state and its controller lease, and the webhook
delivery log. All tables live in ``<home>/predictions.db`` next to the log they join with.

=====================  ======================================================================
table                  holds
=====================  ======================================================================
``labels``             one true label per (model, request id, row); ``pred_id`` is the
                       ``predictions`` row it belongs to, ``label`` its JSON value
``rollouts``           one row per model: the running (or last) rollout, its policy and step
``loop_lease``         who holds a lease (the rollout controller) and until when
``webhook_deliveries`` one row per delivery attempt series: target, event, outcome, attempts
=====================  ======================================================================
"""
from __future__ import annotations

import sqlite3
import time

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS labels (
    model TEXT NOT NULL, request_id TEXT NOT NULL, row INTEGER NOT NULL,
    label TEXT NOT NULL, pred_id INTEGER NOT NULL, time REAL NOT NULL,
    PRIMARY KEY (model, request_id, row)
);
CREATE INDEX IF NOT EXISTS labels_pred ON labels (pred_id);
CREATE INDEX IF NOT EXISTS predictions_request ON predictions (model, request_id)
    WHERE request_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS rollouts (
    model TEXT PRIMARY KEY, alias TEXT NOT NULL, baseline INTEGER NOT NULL,
    candidate INTEGER NOT NULL, state TEXT NOT NULL, step INTEGER NOT NULL,
    policy TEXT NOT NULL, started REAL NOT NULL, step_started REAL NOT NULL,
    updated REAL NOT NULL, last_decision TEXT
);
CREATE TABLE IF NOT EXISTS loop_lease (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id INTEGER PRIMARY KEY, time REAL NOT NULL, target TEXT NOT NULL, event TEXT NOT NULL,
    ok INTEGER NOT NULL, attempts INTEGER NOT NULL, status INTEGER, error TEXT
);
"""


def ensure(conn: sqlite3.Connection) -> sqlite3.Connection:
    """Create the closed-loop tables on a prediction-log connection (idempotent)."""
    conn.executescript(SCHEMA)
    return conn


# -- feedback labels ------------------------------------------------------------------------
def find_request(conn, model: str, request_id: str):
    """``(pred_id, rows)`` of the newest successful client answer with that id, else None."""
    return conn.execute(
        "SELECT id, rows FROM predictions WHERE model = ? AND request_id = ? AND status = 200 "
        "AND role IS NULL ORDER BY id DESC LIMIT 1", (model, request_id)).fetchone()


def upsert_labels(conn, model: str, items) -> None:
    """Write ``(request_id, row, label, pred_id)`` tuples; a repeated row replaces (one
    transaction)."""
    now = time.time()
    with conn:
        conn.executemany(
            "INSERT INTO labels (model, request_id, row, label, pred_id, time) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (model, request_id, row) DO UPDATE SET "
            "label = excluded.label, pred_id = excluded.pred_id, time = excluded.time",
            [(model, rid, row, orjson.dumps(label).decode(), pred, now)
             for rid, row, label, pred in items])


def labelled_rows(conn, model: str, lo: float, hi: float):
    """``(version, time, row, output, label)`` of every labelled row answered in [lo, hi]."""
    rows = conn.execute(
        "SELECT p.version, p.time, l.row, p.outputs, l.label FROM labels l "
        "JOIN predictions p ON p.id = l.pred_id WHERE l.model = ? AND p.time >= ? "
        "AND p.time <= ? ORDER BY p.id, l.row", (model, lo, hi)).fetchall()
    out = []
    for version, at, row, outputs, label in rows:
        values = orjson.loads(outputs) if outputs else []
        if row < len(values):
            out.append((version, at, row, values[row], orjson.loads(label)))
    return out


def served_rows(conn, model: str, lo: float, hi: float) -> dict:
    """``{version: rows answered with 200}`` of client traffic in [lo, hi]."""
    return {int(v): int(n) for v, n in conn.execute(
        "SELECT version, SUM(rows) FROM predictions WHERE model = ? AND status = 200 AND "
        "role IS NULL AND time >= ? AND time <= ? AND version IS NOT NULL GROUP BY version",
        (model, lo, hi))}


def served_outputs(conn, model: str, version: int, lo: float, hi: float, limit: int = 5000):
    """The newest logged outputs (flattened rows) of ``version`` in [lo, hi]."""
    out: list = []
    for (blob,) in conn.execute(
            "SELECT outputs FROM predictions WHERE model = ? AND version = ? AND status = 200 "
            "AND role IS NULL AND time >= ? AND time <= ? ORDER BY id DESC",
            (model, version, lo, hi)):
        out.extend(orjson.loads(blob))
        if len(out) >= limit:
            break
    return out[:limit]


# -- what a rollout reads ---------------------------------------------------------------------
def arm_requests(conn, model: str, versions, since: float):
    """``(version, status, latency_ms, time)`` of client requests of ``versions`` since
    ``since``."""
    marks = ",".join("?" * len(versions))
    return conn.execute(
        f"SELECT version, status, latency_ms, time FROM predictions WHERE model = ? AND role IS NULL "
        f"AND time >= ? AND version IN ({marks})", (model, since, *versions)).fetchall()


def shadow_agreement(conn, model: str, version: int, since: float):
    """``(rows, mean agreement)`` of ``version``'s shadow answers since ``since``."""
    return conn.execute(
        "SELECT COUNT(*), AVG(agreement) FROM predictions WHERE model = ? AND role = 'shadow' "
        "AND version = ? AND time >= ?", (model, version, since)).fetchone()


def replay_rows(conn, model: str, lo: float, hi: float):
    """``(id, version, latency_ms, inputs, outputs)`` of logged client answers with inputs."""
    return conn.execute(
        "SELECT id, version, latency_ms, inputs, outputs FROM predictions WHERE model = ? "
        "AND role IS NULL AND status = 200 AND inputs IS NOT NULL AND time >= ? AND time <= ? "
        "ORDER BY id", (model, lo, hi)).fetchall()


# -- rollouts ----------------------------------------------------------------------------------
ROLLOUT_COLUMNS = ("model", "alias", "baseline", "candidate", "state", "step", "policy",
                   "started", "step_started", "updated", "last_decision")


def get_rollout(conn, model: str):
    row = conn.execute(f"SELECT {', '.join(ROLLOUT_COLUMNS)} FROM rollouts WHERE model = ?",
                       (model,)).fetchone()
    return None if row is None else dict(zip(ROLLOUT_COLUMNS, row))


def running_rollouts(conn) -> list[str]:
    return [r[0] for r in conn.execute("SELECT model FROM rollouts WHERE state = 'running'")]


def put_rollout(conn, values: dict) -> None:
    """Insert or replace the rollout row of ``values["model"]``."""
    with conn:
        conn.execute(f"INSERT OR REPLACE INTO rollouts ({', '.join(ROLLOUT_COLUMNS)}) VALUES "
                     f"({', '.join('?' * len(ROLLOUT_COLUMNS))})",
                     tuple(values[c] for c in ROLLOUT_COLUMNS))


# -- the controller's lease ----------------------------------------------------------------
def acquire_lease(conn, name: str, holder: str, ttl: float, now: float | None = None) -> bool:
    """Take or renew lease ``name`` for ``holder`` for ``ttl`` seconds; False when another
    holder's lease has not expired. One ``BEGIN IMMEDIATE`` transaction: two processes never
    both get it."""
    now = time.time() if now is None else now
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute("SELECT holder, expires FROM loop_lease WHERE name = ?",
                           (name,)).fetchone()
        if row is not None and row[0] != holder and row[1] > now:
            return False
        conn.execute("INSERT OR REPLACE INTO loop_lease (name, holder, expires) VALUES (?, ?, ?)",
                     (name, holder, now + ttl))
    return True


def release_lease(conn, name: str, holder: str) -> None:
    with conn:
        conn.execute("DELETE FROM loop_lease WHERE name = ? AND holder = ?", (name, holder))


def lease_holder(conn, name: str, now: float | None = None):
    now = time.time() if now is None else now
    row = conn.execute("SELECT holder, expires FROM loop_lease WHERE name = ?", (name,)).fetchone()
    return row[0] if row and row[1] > now else None


# -- webhook deliveries -----------------------------------------------------------------------
def log_delivery(conn, *, target: str, event: str, ok: bool, attempts: int, status, error) -> None:
    with conn:
        conn.execute("INSERT INTO webhook_deliveries (time, target, event, ok, attempts, status, "
                     "error) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (time.time(), target, event, int(ok), attempts, status, error))


def deliveries(conn, limit: int = 100) -> list[dict]:
    cols = ("id", "time", "target", "event", "ok", "attempts", "status", "error")
    rows = conn.execute(f"SELECT {', '.join(cols)} FROM webhook_deliveries ORDER BY id DESC "
                        f"LIMIT ?", (int(limit),)).fetchall()
    return [dict(zip(cols, r)) for r in reversed(rows)]

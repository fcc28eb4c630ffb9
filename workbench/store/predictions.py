"""The prediction log's tables: ``predictions`` (one row per served request), the per-second
roll-ups ``rollup_status``, ``rollup_latency``, ``rollup_outputs`` and ``alert_state``.

Columns and their meaning are documented in :mod:`workbench.monitoring.log` (requests),
:mod:`workbench.monitoring.rollup` (roll-ups) and :mod:`workbench.monitoring.alerts`.
:class:`PredictionTables` has one named method per statement; the queries the monitor runs over
the roll-ups are in :mod:`.rollups`.
"""
from __future__ import annotations

import logging
import sqlite3

import orjson

from .migrations import Migration
from .rollups import RollupReads
from .tables import Tables
from .upkeep import POSTGRESQL_LOG_HEALTH, SQLITE_LOG_HEALTH, LogUpkeep
from .usage import POSTGRESQL_USAGE, SQLITE_USAGE, UPSERT_USAGE, UsageReads

logger = logging.getLogger("workbench.store")

#: every column of ``predictions`` but ``id``, in order
COLUMNS = ("time", "request_id", "model", "version", "protocol", "status", "latency_ms",
           "rows", "outputs", "inputs", "error", "role", "shadow_of", "agreement", "key_id")

_V1 = """
CREATE TABLE IF NOT EXISTS predictions (
    id {id},
    time {real} NOT NULL,
    request_id TEXT,
    model TEXT,
    version INTEGER,
    protocol TEXT NOT NULL,
    status INTEGER NOT NULL,
    latency_ms {real} NOT NULL,
    rows INTEGER NOT NULL,
    outputs TEXT,
    inputs TEXT,
    error TEXT{shadow_columns}
);
CREATE INDEX IF NOT EXISTS predictions_model_time ON predictions (model, time);
CREATE INDEX IF NOT EXISTS predictions_time ON predictions (time);
CREATE INDEX IF NOT EXISTS predictions_sampled ON predictions (model, time) WHERE inputs IS NOT NULL;
CREATE TABLE IF NOT EXISTS rollup_status (
    model TEXT NOT NULL, version INTEGER NOT NULL, second BIGINT NOT NULL, status INTEGER NOT NULL,
    requests BIGINT NOT NULL, rows BIGINT NOT NULL, latency_sum {real} NOT NULL,
    PRIMARY KEY (model, second, version, status)
){without_rowid};
CREATE TABLE IF NOT EXISTS rollup_latency (
    model TEXT NOT NULL, version INTEGER NOT NULL, second BIGINT NOT NULL, bucket INTEGER NOT NULL,
    requests BIGINT NOT NULL,
    PRIMARY KEY (model, second, version, bucket)
){without_rowid};
CREATE TABLE IF NOT EXISTS rollup_outputs (
    model TEXT NOT NULL, version INTEGER NOT NULL, second BIGINT NOT NULL, output TEXT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (model, second, version, output)
){without_rowid};
CREATE TABLE IF NOT EXISTS alert_state (
    rule TEXT NOT NULL, model TEXT NOT NULL, state TEXT NOT NULL, since {real} NOT NULL,
    value {real}, updated {real} NOT NULL,
    PRIMARY KEY (rule, model)
)
"""
_SHADOW_INDEX = ("CREATE INDEX IF NOT EXISTS predictions_shadow ON predictions (model, time) "
                 "WHERE role = 'shadow'")
#: columns the previous release added to older files in place
_ADDED = (("role", "TEXT"), ("shadow_of", "INTEGER"), ("agreement", "REAL"))


def _sqlite_v1(conn) -> None:
    sql = _V1.format(id="INTEGER PRIMARY KEY", real="REAL", shadow_columns="",
                     without_rowid=" WITHOUT ROWID")
    for statement in sql.split(";\n"):
        conn.execute(statement)
    have = {r[1] for r in conn.execute("PRAGMA table_info(predictions)")}
    for column, kind in _ADDED:
        if column not in have:
            conn.execute(f"ALTER TABLE predictions ADD COLUMN {column} {kind}")
    conn.execute(_SHADOW_INDEX)


_POSTGRESQL_V1 = _V1.format(
    id="BIGSERIAL PRIMARY KEY", real="DOUBLE PRECISION", without_rowid="",
    shadow_columns=",\n    role TEXT,\n    shadow_of INTEGER,\n    agreement DOUBLE PRECISION",
) + ";\n" + _SHADOW_INDEX

def _sqlite_v2(conn) -> None:
    if "key_id" not in {r[1] for r in conn.execute("PRAGMA table_info(predictions)")}:
        conn.execute("ALTER TABLE predictions ADD COLUMN key_id TEXT")


#: the prediction log's schema, oldest first (append to change it)
MIGRATIONS = [
    Migration(1, "predictions, per-second roll-ups, alert state", _sqlite_v1, _POSTGRESQL_V1),
    Migration(2, "predictions.key_id: the caller's public key id (usage metering)", _sqlite_v2,
              "ALTER TABLE predictions ADD COLUMN IF NOT EXISTS key_id TEXT"),
    Migration(3, "log_health: records each log writer wrote and dropped", SQLITE_LOG_HEALTH,
              POSTGRESQL_LOG_HEALTH),
    Migration(4, "rollup_usage: client requests per second, key, model and version (usage "
              "reports without scanning the log), filled from the requests already logged; "
              "index predictions_served (a version's newest answers)",
              SQLITE_USAGE, POSTGRESQL_USAGE),
]
#: a period's label from ``time`` (UNIX seconds), per backend
_PERIODS = {
    "sqlite": {"day": "strftime('%Y-%m-%d', time, 'unixepoch')",
               "hour": "strftime('%Y-%m-%dT%H', time, 'unixepoch')",
               "month": "strftime('%Y-%m', time, 'unixepoch')", "all": "'all'"},
    "postgresql": {"day": "to_char(to_timestamp(time) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
                   "hour": "to_char(to_timestamp(time) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24')",
                   "month": "to_char(to_timestamp(time) AT TIME ZONE 'UTC', 'YYYY-MM')",
                   "all": "'all'"},
}
#: the columns usage can be grouped by
USAGE_GROUPS = ("key_id", "model", "version")

_INSERT = (f"INSERT INTO predictions ({', '.join(COLUMNS)}) "
           f"VALUES ({', '.join('?' * len(COLUMNS))})")
_UPSERT_STATUS = """
INSERT INTO rollup_status (model, version, second, status, requests, rows, latency_sum)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (model, second, version, status) DO UPDATE SET
    requests = rollup_status.requests + excluded.requests,
    rows = rollup_status.rows + excluded.rows,
    latency_sum = rollup_status.latency_sum + excluded.latency_sum
"""
_UPSERT_LATENCY = """
INSERT INTO rollup_latency (model, version, second, bucket, requests) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (model, second, version, bucket) DO UPDATE SET
    requests = rollup_latency.requests + excluded.requests
"""
_UPSERT_OUTPUTS = """
INSERT INTO rollup_outputs (model, version, second, output, count) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (model, second, version, output) DO UPDATE SET
    count = rollup_outputs.count + excluded.count
"""


def _batched(sql: str) -> str:
    """``sql`` (``INSERT INTO t (…) VALUES (?, …) [ON CONFLICT …]``) fed by one JSON array of
    rows instead: ``… SELECT value ->> 0, … FROM json_each(?) WHERE true [ON CONFLICT …]``.

    SQLite then writes a whole batch in one statement step, which Python's ``sqlite3`` runs with
    the GIL released, instead of one step (one GIL release and re-acquire) per row. ``->>`` gives
    every number, string and NULL back exactly as binding it would, and a nested array (the
    ``outputs``/``inputs`` JSON, when passed as arrays) as its JSON text.
    """
    head, _, tail = sql.partition("VALUES")
    conflict = tail.partition(")")[2].strip()
    values = ", ".join(f"value ->> {i}" for i in range(sql.count("?")))
    return f"{head.strip()} SELECT {values} FROM json_each(?) WHERE true {conflict}".strip()


#: ``->>`` exists from SQLite 3.38 (2022); an older library binds row by row (``executemany``)
JSON_BATCH = sqlite3.sqlite_version_info >= (3, 38)

#: the statements of :meth:`PredictionTables.append`, in the order an append runs them
_APPEND = (_INSERT, _UPSERT_STATUS, _UPSERT_LATENCY, _UPSERT_OUTPUTS, UPSERT_USAGE)
#: SQLite: each write statement over one JSON parameter per batch (see :func:`_batched`)
_SQLITE_BATCH = {sql: _batched(sql) for sql in _APPEND}
#: how a batch is encoded for SQLite's JSON functions: numpy arrays as they are, integers beyond
#: 2**53 refused (JSON would round them) so that the caller binds them instead
JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_STRICT_INTEGER


class PredictionTables(Tables, RollupReads, UsageReads, LogUpkeep):
    """Named statements on the prediction log's tables.

    Parameters
    ----------
    db : SQLiteDatabase or PostgresDatabase
    """


    #: the helper process appends go through (see :meth:`start_append_process`), or None
    appender = None

    def close(self) -> None:
        self.stop_append_process()
        self.db.close()

    def stop_append_process(self) -> None:
        """Stop the helper process (it finishes the transaction at hand); appends run here
        again. Safe to call without one."""
        if self.appender is not None:
            self.appender.close()
            self.appender = None

    # -- writing -------------------------------------------------------------------------------
    def start_append_process(self, module: str = "workbench.store.append_process") -> bool:
        """Run :meth:`append` in a helper process from now on (SQLite with JSON batches only;
        see :mod:`.append_process` for why); return whether it started. Everything else still
        runs on this object's connection. ``module``: the helper's entry point."""
        if self.db.dialect != "sqlite" or not JSON_BATCH or self.appender is not None:
            return self.appender is not None
        from .append_process import AppendProcess, AppendProcessGone

        try:
            self.appender = AppendProcess(self.db.path, [_SQLITE_BATCH[s] for s in _APPEND],
                                          module=module)
        except (OSError, AppendProcessGone) as exc:
            logger.warning("prediction log: writing in-process (%s)", exc)
        return self.appender is not None

    def append(self, rows, status=(), latency=(), outputs=(), usage=()) -> None:
        """Insert request rows (tuples in :data:`COLUMNS` order) and add roll-up counts, in one
        transaction. ``status``: ``(model, version, second, status, requests, rows,
        latency_sum)``; ``latency``: ``(model, version, second, bucket, requests)``;
        ``outputs``: ``(model, version, second, output, count)``; ``usage``: ``(second,
        key_id, model, version, requests, rows answered, errors, latency_sum)``."""
        if self.appender is not None and self._append_remote(rows, status, latency, outputs,
                                                            usage):
            return
        with self.db.write(lock="predictions") as conn:
            if rows:
                self._many(conn, _INSERT, rows)
            self._add_rollups(conn, status, latency, outputs, usage)

    def _append_remote(self, *batches) -> bool:
        """:meth:`append` through the helper process; False when it must run here instead (a
        value JSON cannot hold exactly, or the helper is gone — then in-process from now on)."""
        try:
            parts = [(i, orjson.dumps(batch, option=JSON_OPTIONS))
                     for i, batch in enumerate(batches) if batch]
        except TypeError:       # e.g. an integer beyond 2**53: sqlite3 binds (or refuses) it
            return False
        return self.append_parts(parts)

    def append_parts(self, parts) -> bool:
        """Send ``(index into the append statements, JSON array)`` parts — or parts of kinds the
        helper's module expands itself — to the helper process as one transaction and wait for
        it; False when it is gone (then this object writes in-process from now on). Settle what
        :meth:`send_parts` sent first: the answer waited for is the oldest one."""
        if self.appender is not None and self.appender.outstanding:
            raise RuntimeError("settle_parts() the transactions sent before appending")
        return self.send_parts(parts) and self.settle_parts()

    def send_parts(self, parts) -> bool:
        """:meth:`append_parts` without waiting: :meth:`settle_parts` gets the outcome later.
        False when there is no helper process (then nothing was sent)."""
        from .append_process import AppendProcessGone

        if self.appender is None:
            return False
        try:
            self.appender.send(parts)
        except AppendProcessGone as exc:
            self._lost_append_process(exc)
            return False
        return True

    def settle_parts(self) -> bool:
        """The outcome of the oldest transaction sent: True when committed; the database's
        error when refused; False when the helper is gone (whether it committed is unknown)."""
        from .append_process import AppendProcessGone

        try:
            self.appender.receive()
        except AppendProcessGone as exc:
            self._lost_append_process(exc)
            return False
        return True

    def _lost_append_process(self, exc) -> None:
        logger.warning("prediction log: %s; writing in-process from now on", exc)
        self.appender.close(timeout=1.0)
        self.appender = None

    def add_rollups(self, status=(), latency=(), outputs=(), usage=()) -> None:
        """Add roll-up counts only (one transaction); see :meth:`append`."""
        with self.db.write(lock="predictions") as conn:
            self._add_rollups(conn, status, latency, outputs, usage)

    def _add_rollups(self, conn, status, latency, outputs, usage=()) -> None:
        if status:
            self._many(conn, _UPSERT_STATUS, status)
        if latency:
            self._many(conn, _UPSERT_LATENCY, latency)
        if outputs:
            self._many(conn, _UPSERT_OUTPUTS, outputs)
        if usage:
            self._many(conn, UPSERT_USAGE, usage)

    def _many(self, conn, sql: str, rows) -> None:
        """``executemany``; on SQLite as one statement over the rows as a JSON array (a serving
        worker's log writer then holds the GIL for the encoding only, not per row)."""
        if self.db.dialect == "sqlite" and JSON_BATCH:
            try:        # integers beyond 2**53 are refused, not rounded: binding handles them
                batch = orjson.dumps(rows, option=JSON_OPTIONS)
            except TypeError:       # a value JSON cannot hold: let sqlite3 bind (or refuse) it
                batch = None
            if batch is not None:
                conn.execute(_SQLITE_BATCH[sql], (batch,))
                return
        conn.executemany(sql, rows)

    def analyze(self) -> None:
        """Refresh the query planner's statistics of the log's tables (after a bulk load or a
        big prune: PostgreSQL's autovacuum gets to it only later, and until then plans for an
        empty table). SQLite: ``PRAGMA optimize``, which analyses only what needs it. On
        PostgreSQL it takes a lock of its own: log writers go on meanwhile."""
        with self.db.write(lock="analyze") as conn:
            if self.db.dialect == "sqlite":
                conn.execute("PRAGMA optimize")
            else:
                conn.execute("ANALYZE predictions, rollup_status, rollup_latency, "
                             "rollup_outputs, rollup_usage")

    # -- reading requests ----------------------------------------------------------------------
    def count(self) -> int:
        """How many requests are logged."""
        return int(self.db.query("SELECT COUNT(*) FROM predictions")[0][0])

    def read(self, *, model=None, since=None, limit=None) -> tuple[tuple, list]:
        """The newest matching requests, newest first, as ``(columns, rows)``: ``columns`` is
        ``("id",) + COLUMNS`` less any column an old file lacks."""
        columns = COLUMNS
        if self.db.dialect == "sqlite":
            have = self.db.columns("predictions")
            if not set(COLUMNS) <= have:        # a log written before role/shadow_of/agreement
                columns = tuple(c for c in COLUMNS if c in have)
        where, args = [], []
        if model is not None:
            where.append("model = ?")
            args.append(model)
        if since is not None:
            where.append("time >= ?")
            args.append(float(since))
        sql = "SELECT id, " + ", ".join(columns) + " FROM predictions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return ("id",) + columns, self.db.query(sql, args)

    def sampled_inputs(self, model, since, until, version=None, *, page: int = 2000):
        """The ``inputs`` JSON of sampled requests of ``model`` in ``(since, until]``, newest
        first (an iterator: stop reading when you have enough). Read ``page`` requests at a time
        through the partial index ``predictions_sampled``, each page starting where the last
        one ended (never an OFFSET, which would read the skipped rows again)."""
        sql = ("SELECT id, time, inputs FROM predictions WHERE model = ? AND inputs IS NOT NULL "
               "AND time > ? AND time <= ?")
        args: tuple = (model, since, until)
        if version is not None:
            sql, args = sql + " AND version = ?", args + (int(version),)
        after = None
        while True:
            rows = self.db.query(
                sql + ("" if after is None else " AND (time < ? OR (time = ? AND id < ?))")
                + " ORDER BY time DESC, id DESC LIMIT ?",
                args + (() if after is None else (after[1], after[1], after[0])) + (int(page),))
            for row in rows:
                yield (row[2],)
            if len(rows) < page:
                return
            after = rows[-1]

    def shadow_rows(self, model, lo, hi, limit) -> list:
        """``version, status, latency_ms, agreement, outputs`` of shadow answers of ``model`` in
        seconds ``[lo, hi]``, newest first, at most ``limit``."""
        return self.db.query(
            "SELECT version, status, latency_ms, agreement, outputs FROM predictions "
            "WHERE role = 'shadow' AND model = ? AND time >= ? AND time < ? ORDER BY time DESC "
            "LIMIT ?", (model, lo, hi + 1, int(limit)))

    def usage(self, group, *, period="day", since=None, until=None) -> list:
        """Client requests (shadow copies left out) added up per period and ``group`` (a tuple
        of :data:`USAGE_GROUPS`): rows ``(period, *group, requests, rows of answered requests,
        errors (status >= 400), sum of latency_ms)``, ordered by period then group."""
        group = tuple(group)
        if not group or any(g not in USAGE_GROUPS for g in group):
            raise ValueError(f"usage groups must be among {USAGE_GROUPS}, got {group}")
        label = _PERIODS[self.db.dialect][period]
        if self.db.dialect != "sqlite" or self.db.table_exists("rollup_usage"):
            return self.usage_from_rollups(group, label, since, until)
        cols = ", ".join(group)    # a read-only log from before migration 4: scan the requests
        if "key_id" not in self.db.columns("predictions"):
            cols = cols.replace("key_id", "NULL AS key_id")    # a read-only log of schema 1
        where, args = ["(role IS NULL OR role <> 'shadow')"], []
        if since is not None:
            where.append("time >= ?")
            args.append(float(since))
        if until is not None:
            where.append("time < ?")
            args.append(float(until))
        keys = ", ".join(str(i + 1) for i in range(len(group) + 1))
        sql = (f"SELECT {label} AS period, {cols}, COUNT(*), "
               f"COALESCE(SUM(CASE WHEN status < 400 THEN rows ELSE 0 END), 0), "
               f"SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), COALESCE(SUM(latency_ms), 0) "
               f"FROM predictions WHERE {' AND '.join(where)} GROUP BY {keys} ORDER BY {keys}")
        return [tuple(r) for r in self.db.query(sql, args)]

    # -- alert state ---------------------------------------------------------------------------
    def alert_transaction(self):
        """A write transaction for one evaluation of the alert rules (one evaluator at a time):
        ``with tables.alert_transaction() as alerts: alerts.get(...); alerts.put(...)``."""
        return _AlertContext(self.db.write(lock="alerts"))


class _AlertState:
    def __init__(self, conn):
        self.conn = conn

    def get(self, rule: str, model: str):
        """``(state, since, value)`` of a rule for a model, or None."""
        row = self.conn.execute("SELECT state, since, value FROM alert_state WHERE rule = ? AND "
                                "model = ?", (rule, model)).fetchone()
        return None if row is None else tuple(row)

    def put(self, rule, model, state, since, value, updated) -> None:
        self.conn.execute(
            "INSERT INTO alert_state (rule, model, state, since, value, updated) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (rule, model) DO UPDATE SET "
            "state = excluded.state, since = excluded.since, value = excluded.value, "
            "updated = excluded.updated", (rule, model, state, since, value, updated))


class _AlertContext:
    def __init__(self, manager):
        self._manager = manager

    def __enter__(self) -> _AlertState:
        return _AlertState(self._manager.__enter__())

    def __exit__(self, *exc):
        return self._manager.__exit__(*exc)

"""The SQLite side of the registry: schema, connection settings and row conversion.

``registry.db`` runs in WAL mode (readers never block the writer) with a busy timeout, and every
write is one ``BEGIN IMMEDIATE`` transaction: concurrent processes queue for the write lock
instead of failing, and version numbers are allocated inside that transaction, so two writers
can never get the same number. The audit log is append-only, enforced by triggers.

Tables
------
``meta(key, value)``
    ``schema`` version and ``generation`` (grows with every change of what a name resolves to).
``models(name, created_at, next_version)``
    ``next_version`` is never decreased, so numbers are never reused.
``versions(name, version, sha256, ...)``
    One row per version; JSON columns for metrics, params, tags, signature, origin.
``aliases(name, alias, version, split, shadow)``
    Where each alias points now: ``version`` is the primary target; ``split`` (JSON
    ``{"version": weight}`` or NULL) a weighted canary split; ``shadow`` a version that gets a copy
    of the alias's traffic without answering (or NULL).
``alias_stack(id, name, alias, version, split)``
    Earlier targets of each alias, newest last: ``rollback`` pops from here.
``audit(id, name, action, version, alias, previous, author, at, detail)``
    Who did what, when.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import orjson

from .errors import IntegrityError
from .records import AuditEvent, ModelVersion

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 60_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY, created_at REAL NOT NULL, next_version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
    name TEXT NOT NULL REFERENCES models(name), version INTEGER NOT NULL,
    sha256 TEXT NOT NULL, size_bytes INTEGER NOT NULL,
    created_at REAL NOT NULL, author TEXT NOT NULL,
    metrics TEXT NOT NULL, params TEXT NOT NULL, tags TEXT NOT NULL, description TEXT NOT NULL,
    parent_name TEXT, parent_version INTEGER, signature TEXT, model_class TEXT NOT NULL,
    reference_sha256 TEXT, reference_size INTEGER, origin TEXT,
    archived INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS aliases (
    name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (name, alias));
CREATE TABLE IF NOT EXISTS alias_stack (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, alias TEXT NOT NULL,
    version INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS alias_stack_by_alias ON alias_stack (name, alias, id);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, action TEXT NOT NULL,
    version INTEGER, alias TEXT, previous INTEGER, author TEXT NOT NULL, at REAL NOT NULL,
    detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_name ON audit (name, id);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', 0);
"""

VERSION_COLUMNS = ("name, version, sha256, size_bytes, created_at, author, metrics, params, tags, "
                   "description, parent_name, parent_version, signature, model_class, "
                   "reference_sha256, reference_size, origin, archived")


class Store:
    """A connection to ``registry.db`` with the schema in place.

    One connection per instance, shared by threads under a lock; each process opens its own.
    """

    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                     isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._enable_wal()
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        with self.write() as conn:
            for statement in SCHEMA.split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)",
                         (SCHEMA_VERSION,))
            found = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0]
            _add_columns(conn)
        if found != SCHEMA_VERSION:
            raise IntegrityError(f"{self.path} has registry schema {found}; this workbench reads "
                               f"schema {SCHEMA_VERSION}")

    def _enable_wal(self) -> None:
        """Switch to WAL; when several processes create the file at once, SQLite may answer
        "locked" without waiting, so retry for a while."""
        for attempt in range(200):
            try:
                self._conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 199:
                    raise
                time.sleep(0.01 + 0.001 * attempt)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def write(self):
        """Run the block as one ``BEGIN IMMEDIATE`` transaction; roll back on any error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                # SQLite may already have rolled back by itself (disk full, I/O error): only roll
                # back what is still open, so the original error is the one raised
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    @contextmanager
    def read(self):
        """Run the block as one read transaction (a consistent snapshot)."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("COMMIT")

    def query(self, sql: str, args=()) -> list[sqlite3.Row]:
        """Run one read statement and return all rows."""
        with self._lock:
            return self._conn.execute(sql, args).fetchall()


#: columns added after schema 1 was first released (added to older files in place)
_ADDED_COLUMNS = (("aliases", "split", "TEXT"), ("aliases", "shadow", "INTEGER"),
                  ("alias_stack", "split", "TEXT"))


def _add_columns(conn) -> None:
    for table, column, kind in _ADDED_COLUMNS:
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def bump_generation(conn) -> None:
    """Increase the generation counter (inside a write transaction)."""
    conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")


def add_audit(conn, *, name, action, author, at, version=None, alias=None, previous=None,
              detail=None) -> None:
    """Append one event to the audit log (inside a write transaction)."""
    conn.execute("INSERT INTO audit (name, action, version, alias, previous, author, at, detail) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 (name, action, version, alias, previous, author, at, json.dumps(detail or {})))


def _loads(text):
    """Parse a JSON column (``orjson``: listing 1,000 versions parses 4,000 of them)."""
    return {} if text == "{}" else orjson.loads(text)


def row_to_version(row, aliases=()) -> ModelVersion:
    """Build a :class:`ModelVersion` from a ``versions`` row."""
    parent = None
    if row["parent_name"] is not None:
        parent = (row["parent_name"], int(row["parent_version"]))
    return ModelVersion(
        name=row["name"], version=int(row["version"]), sha256=row["sha256"],
        size_bytes=int(row["size_bytes"]), created_at=float(row["created_at"]),
        author=row["author"], metrics=_loads(row["metrics"]), params=_loads(row["params"]),
        tags=_loads(row["tags"]), description=row["description"], parent=parent,
        signature=_loads(row["signature"]) if row["signature"] else None,
        model_class=row["model_class"], aliases=tuple(sorted(aliases)),
        archived=bool(row["archived"]), reference_sha256=row["reference_sha256"],
        origin=_loads(row["origin"]) if row["origin"] else None)


def row_to_event(row) -> AuditEvent:
    """Build an :class:`AuditEvent` from an ``audit`` row."""
    return AuditEvent(id=int(row["id"]), name=row["name"], action=row["action"],
                      version=row["version"], alias=row["alias"], previous=row["previous"],
                      author=row["author"], at=float(row["at"]), detail=json.loads(row["detail"]))

"""The registry's tables: models, versions, aliases (with splits, shadows and their rollback
stack), the append-only audit log and the generation counter.

:class:`RegistryTables` opens transactions; inside one, :class:`RegistryTx` has a named method
for every statement the registry runs. Rows come back as mappings (``row["version"]``) on both
backends. The registry decides what is allowed; these methods only read and write.

Tables
------
``meta(key, value)``
    ``schema`` (1, kept for the release before schema versions) and ``generation`` (grows with
    every change of what a name resolves to).
``models(name, created_at, next_version)``
    ``next_version`` is never decreased, so numbers are never reused.
``versions(name, version, sha256, ...)``
    One row per version; JSON text columns for metrics, params, tags, signature, origin.
``aliases(name, alias, version, split, shadow)``
    Where each alias points now: ``split`` (JSON ``{"version": weight}`` or NULL), ``shadow``.
``alias_stack(id, name, alias, version, split)``
    Earlier targets of each alias, newest last: ``rollback`` pops from here.
``audit(id, name, action, version, alias, previous, author, at, detail)``
    Who did what, when; append-only (triggers refuse UPDATE and DELETE).
"""
from __future__ import annotations

import json

from .migrations import Migration
from .tables import Tables

VERSION_COLUMNS = ("name, version, sha256, size_bytes, created_at, author, metrics, params, tags, "
                   "description, parent_name, parent_version, signature, model_class, "
                   "reference_sha256, reference_size, origin, archived")

_SQLITE_V1 = """
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
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', 1)
"""

#: columns the previous release added to older files in place
_ADDED_COLUMNS = (("aliases", "split", "TEXT"), ("aliases", "shadow", "INTEGER"),
                  ("alias_stack", "split", "TEXT"))


def _sqlite_v1(conn) -> None:
    for statement in _SQLITE_V1.split(";\n"):
        if statement.strip():
            conn.execute(statement)
    for table, column, kind in _ADDED_COLUMNS:
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


_POSTGRESQL_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY, created_at DOUBLE PRECISION NOT NULL, next_version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
    name TEXT NOT NULL REFERENCES models(name), version INTEGER NOT NULL,
    sha256 TEXT NOT NULL, size_bytes BIGINT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL, author TEXT NOT NULL,
    metrics TEXT NOT NULL, params TEXT NOT NULL, tags TEXT NOT NULL, description TEXT NOT NULL,
    parent_name TEXT, parent_version INTEGER, signature TEXT, model_class TEXT NOT NULL,
    reference_sha256 TEXT, reference_size BIGINT, origin TEXT,
    archived INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (name, version));
CREATE TABLE IF NOT EXISTS aliases (
    name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL, split TEXT, shadow INTEGER,
    PRIMARY KEY (name, alias));
CREATE TABLE IF NOT EXISTS alias_stack (
    id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, alias TEXT NOT NULL,
    version INTEGER NOT NULL, split TEXT);
CREATE INDEX IF NOT EXISTS alias_stack_by_alias ON alias_stack (name, alias, id);
CREATE TABLE IF NOT EXISTS audit (
    id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, action TEXT NOT NULL,
    version INTEGER, alias TEXT, previous INTEGER, author TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL, detail TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_name ON audit (name, id);
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_delete BEFORE DELETE OR TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
INSERT INTO meta (key, value) VALUES ('generation', 0) ON CONFLICT DO NOTHING;
INSERT INTO meta (key, value) VALUES ('schema', 1) ON CONFLICT DO NOTHING
"""

#: the registry's schema, oldest first (append to change it)
MIGRATIONS = [
    Migration(1, "models, versions, aliases with splits and shadows, alias stack, audit log",
              _sqlite_v1, _POSTGRESQL_V1),
]


class RegistryTables(Tables):
    """The registry's tables in one database (see the module).

    Examples
    --------
    >>> with tables.write() as tx:                       # doctest: +SKIP
    ...     version = tx.next_version("digits", now)
    """


    def write(self):
        """A write transaction (one writer at a time): ``with tables.write() as tx: ...``."""
        return _Tx.enter(self.db.write(lock="registry"))

    def read(self):
        """A read transaction (a consistent snapshot)."""
        return _Tx.enter(self.db.read())

    def model_names(self) -> list[str]:
        return [r[0] for r in self.db.query("SELECT name FROM models ORDER BY name")]

    def generation(self) -> int:
        return int(self.db.query("SELECT value FROM meta WHERE key = 'generation'")[0][0])

    def verify_rows(self) -> tuple[list, list, list]:
        """Rows ``verify`` checks: versions' files, aliases' targets, version counters."""
        with self.read() as tx:
            c = tx.conn
            rows = c.execute("SELECT name, version, sha256, size_bytes, reference_sha256, "
                             "reference_size, archived FROM versions ORDER BY name, version").fetchall()
            aliases = c.execute("SELECT a.name, a.alias, a.version, v.archived FROM aliases a "
                                "LEFT JOIN versions v ON v.name = a.name AND v.version = a.version "
                                "ORDER BY a.name, a.alias").fetchall()
            counters = c.execute("SELECT m.name, m.next_version, MAX(v.version) FROM models m "
                                 "LEFT JOIN versions v ON v.name = m.name GROUP BY m.name, "
                                 "m.next_version ORDER BY m.name").fetchall()
        return rows, aliases, counters


class _Tx:
    """Named statements inside one transaction (``conn`` is the backend's connection)."""

    def __init__(self, conn):
        self.conn = conn

    @staticmethod
    def enter(manager):
        return _TxContext(manager)

    # -- models and versions -------------------------------------------------------------------
    def has_model(self, name) -> bool:
        return self.conn.execute("SELECT 1 FROM models WHERE name = ?", (name,)).fetchone() is not None

    def some_model_names(self, limit: int = 10) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM models ORDER BY name LIMIT ?",
                                                (limit,))]

    def next_version(self, name, now) -> int:
        """Create the model if needed and take its next version number."""
        self.conn.execute("INSERT INTO models (name, created_at, next_version) VALUES (?, ?, 1) "
                          "ON CONFLICT (name) DO NOTHING", (name, now))
        version = self.conn.execute("SELECT next_version FROM models WHERE name = ?",
                                    (name,)).fetchone()[0]
        self.conn.execute("UPDATE models SET next_version = ? WHERE name = ?", (version + 1, name))
        return int(version)

    def insert_version(self, values: dict) -> None:
        """Insert one ``versions`` row (``values`` holds every column but ``archived``)."""
        columns = [c.strip() for c in VERSION_COLUMNS.split(",")][:-1]
        self.conn.execute(f"INSERT INTO versions ({VERSION_COLUMNS}) VALUES "
                          f"({', '.join('?' * len(columns))}, 0)",
                          tuple(values[c] for c in columns))

    def version_row(self, name, version):
        return self.conn.execute(f"SELECT {VERSION_COLUMNS} FROM versions WHERE name = ? AND "
                                 "version = ?", (name, version)).fetchone()

    def version_rows(self, name) -> list:
        return self.conn.execute(f"SELECT {VERSION_COLUMNS} FROM versions WHERE name = ? "
                                 "ORDER BY version", (name,)).fetchall()

    def latest_version(self, name) -> int | None:
        """The highest version of ``name`` that is not archived."""
        row = self.conn.execute("SELECT MAX(version) FROM versions WHERE name = ? AND archived = 0",
                                (name,)).fetchone()
        return None if row[0] is None else int(row[0])

    def version_range(self, name) -> tuple:
        return tuple(self.conn.execute("SELECT MIN(version), MAX(version) FROM versions WHERE "
                                       "name = ?", (name,)).fetchone())

    def archive_version(self, name, version) -> None:
        self.conn.execute("UPDATE versions SET archived = 1 WHERE name = ? AND version = ?",
                          (name, version))

    # -- aliases -------------------------------------------------------------------------------
    def alias_rows(self, name) -> list:
        """``alias, version, split, shadow`` of every alias of ``name``, by alias."""
        return self.conn.execute("SELECT alias, version, split, shadow FROM aliases WHERE name = ? "
                                 "ORDER BY alias", (name,)).fetchall()

    def alias_row(self, name, alias):
        return self.conn.execute("SELECT alias, version, split, shadow FROM aliases WHERE "
                                 "name = ? AND alias = ?", (name, alias)).fetchone()

    def aliases_of_version(self, name, version) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT alias FROM aliases WHERE name = ? AND "
                                                "version = ?", (name, version))]

    def put_alias(self, name, alias, version, split) -> None:
        """Point ``alias`` at ``version`` (and ``split``), keeping its shadow."""
        self.conn.execute("INSERT INTO aliases (name, alias, version, split) VALUES (?, ?, ?, ?) "
                          "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version, "
                          "split = excluded.split", (name, alias, version, split))

    def set_shadow(self, name, alias, version) -> None:
        self.conn.execute("UPDATE aliases SET shadow = ? WHERE name = ? AND alias = ?",
                          (version, name, alias))

    def push_alias_stack(self, name, alias, version, split) -> None:
        self.conn.execute("INSERT INTO alias_stack (name, alias, version, split) VALUES "
                          "(?, ?, ?, ?)", (name, alias, version, split))

    def top_of_alias_stack(self, name, alias):
        """The newest earlier target of ``alias`` (``id, version, split``), or None."""
        return self.conn.execute("SELECT id, version, split FROM alias_stack WHERE name = ? AND "
                                 "alias = ? ORDER BY id DESC LIMIT 1", (name, alias)).fetchone()

    def alias_stack(self, name, alias) -> list:
        """Every earlier target of ``alias`` (``id, version, split``), newest first."""
        return self.conn.execute("SELECT id, version, split FROM alias_stack WHERE name = ? AND "
                                 "alias = ? ORDER BY id DESC", (name, alias)).fetchall()

    def drop_alias_stack_entry(self, entry_id) -> None:
        self.conn.execute("DELETE FROM alias_stack WHERE id = ?", (entry_id,))

    # -- audit and generation ------------------------------------------------------------------
    def add_audit(self, *, name, action, author, at, version=None, alias=None, previous=None,
                  detail=None) -> None:
        """Append one event to the audit log."""
        self.conn.execute("INSERT INTO audit (name, action, version, alias, previous, author, at, "
                          "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                          (name, action, version, alias, previous, author, at,
                           json.dumps(detail or {})))

    def audit_rows(self, name) -> list:
        return self.conn.execute("SELECT id, name, action, version, alias, previous, author, at, "
                                 "detail FROM audit WHERE name = ? ORDER BY id", (name,)).fetchall()

    def bump_generation(self) -> None:
        """Increase the generation counter (every change of what a name resolves to)."""
        self.conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")


class _TxContext:
    def __init__(self, manager):
        self._manager = manager

    def __enter__(self) -> _Tx:
        return _Tx(self._manager.__enter__())

    def __exit__(self, *exc):
        return self._manager.__exit__(*exc)


RegistryTx = _Tx

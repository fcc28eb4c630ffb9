"""Schema versions and the migration runner.

Each *component* of the store (``registry``, ``keys``, ``predictions``) has an ordered list of
:class:`Migration` s, numbered from 1. Table ``schema_version(component, version)`` records how far
each database has come; opening a database applies the missing migrations in one write
transaction (other processes that open it at the same time wait, then find nothing to do).

Migration 1 of each component is the schema of the release before schema versions existed,
written so that it also completes a database that release made (``CREATE … IF NOT EXISTS``,
columns added when missing): a home from that release simply migrates.

To change the schema, append a migration to the component's list (in the module that owns its
tables) with the SQL for both backends; never edit one that was released.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: a migration step: SQL text (statements separated by ``;`` at line ends) or a function of the
#: open transaction
Step = str | Callable


class SchemaError(RuntimeError):
    """The database was written by a newer workbench, or a migration failed."""


@dataclass(frozen=True)
class Migration:
    """One step of a component's schema: ``sqlite`` and ``postgresql`` do the same thing."""

    version: int
    description: str
    sqlite: Step
    postgresql: Step


_VERSION_TABLE = ("CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY, "
                  "version INTEGER NOT NULL, migrated_at DOUBLE PRECISION)")


def check_migrations(migrations) -> None:
    """Refuse a list that is not numbered 1, 2, 3, … (a mistake when adding one)."""
    numbers = [m.version for m in migrations]
    if numbers != list(range(1, len(numbers) + 1)):
        raise SchemaError(f"migrations must be numbered 1, 2, 3, …; got {numbers}")


def run_step(conn, step: Step) -> None:
    """Apply one step inside the open transaction ``conn``."""
    if callable(step):
        step(conn)
        return
    for statement in step.split(";\n"):
        if statement.strip():
            conn.execute(statement)


def current_version(conn, component: str) -> int:
    """The schema version of ``component`` recorded in the open transaction (0: none yet)."""
    row = conn.execute("SELECT version FROM schema_version WHERE component = ?",
                       (component,)).fetchone()
    return 0 if row is None else int(row[0])


def migrate(db, component: str, migrations, *, now: float = 0.0) -> int:
    """Bring ``component`` of ``db`` to the newest of ``migrations``; return that version.

    Raises :class:`SchemaError` when the database is newer than this code (written by a newer
    workbench): upgrading the workbench is then the fix, never a downgrade of the data.
    """
    check_migrations(migrations)
    target = len(migrations)
    found = -1
    if db.table_exists("schema_version"):     # the common case: nothing to do, no write lock
        with db.read() as conn:
            found = current_version(conn, component)
    if found == target:
        return target
    with db.write(lock="migrate") as conn:
        conn.execute(_VERSION_TABLE)
        found = current_version(conn, component)
        if found > target:
            raise SchemaError(
                f"{db.location} holds {component} schema version {found}, but this workbench knows "
                f"versions up to {target}: upgrade the workbench (pip install -U maas-workbench) "
                "to open it")
        for migration in migrations[found:]:
            run_step(conn, getattr(migration, db.dialect))
        conn.execute("INSERT INTO schema_version (component, version, migrated_at) VALUES (?, ?, ?) "
                     "ON CONFLICT (component) DO UPDATE SET version = excluded.version, "
                     "migrated_at = excluded.migrated_at", (component, target, now))
    return target

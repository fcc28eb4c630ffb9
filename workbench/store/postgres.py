"""The PostgreSQL backend (psycopg 3): every table of the home in one database, for many nodes.

The statements of the store are written once with ``?`` placeholders, the SQL both backends
understand (``ON CONFLICT``, ``LIMIT``); this module turns them into psycopg's ``%s``. A write
transaction first takes a transaction-scoped advisory lock named after what it writes
(``registry``, ``keys``, ``predictions``, ``alerts``, ``migrate``), so writers of one kind queue
one after another exactly as on SQLite (``BEGIN IMMEDIATE``), whatever process or node they run
in; readers never wait. A read transaction is one ``REPEATABLE READ`` snapshot. A connection
broken by a server restart is opened again on next use.
"""
from __future__ import annotations

import functools
import threading
import zlib
from contextlib import contextmanager
from decimal import Decimal

import psycopg
from psycopg.adapt import Loader

#: seconds to wait for the server when connecting (a URL naming nobody fails, not hangs)
CONNECT_TIMEOUT_S = 10


class _NumericLoader(Loader):
    """``SUM`` of integers is ``numeric`` in PostgreSQL: give ints (floats when fractional)."""

    def load(self, data):
        value = Decimal(bytes(data).decode())
        return int(value) if value == value.to_integral_value() else float(value)


@functools.lru_cache(maxsize=512)
def _placeholders(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


@functools.lru_cache(maxsize=256)
def _row_class(names: tuple):
    index = {name: i for i, name in enumerate(names)}

    class Row(tuple):
        """A row read by position (``row[0]``) or by column name (``row["version"]``)."""

        __slots__ = ()

        def __getitem__(self, key):
            if isinstance(key, str):
                return tuple.__getitem__(self, index[key])
            return tuple.__getitem__(self, key)

        def keys(self):
            return list(names)

    return Row


def _row_factory(cursor):
    if cursor.description is None:
        return tuple
    cls = _row_class(tuple(c.name for c in cursor.description))
    return cls


def _lock_key(name: str) -> int:
    """A stable 32-bit advisory lock number for a lock name."""
    return zlib.crc32(f"workbench:{name}".encode())


class _Conn:
    """What the store's statements call inside a transaction: ``execute`` / ``executemany``
    with ``?`` placeholders, rows by position or name."""

    __slots__ = ("_conn",)

    def __init__(self, conn):
        self._conn = conn

    def execute(self, sql, args=()):
        return self._conn.execute(_placeholders(sql), args)

    def executemany(self, sql, rows):
        with self._conn.cursor() as cursor:
            cursor.executemany(_placeholders(sql), rows)


class PostgresDatabase:
    """One connection to a PostgreSQL database, shared by threads under a lock.

    Parameters
    ----------
    url : str
        ``postgresql://user[:password]@host[:port]/database`` (libpq's syntax; a password may
        also come from ``~/.pgpass`` or ``PGPASSWORD``).
    """

    dialect = "postgresql"
    IntegrityError = psycopg.IntegrityError
    #: errors a background writer retries on (server restarting, connection lost)
    OperationalError = psycopg.Error

    def __init__(self, url: str):
        self.url = url
        self._lock = threading.RLock()
        self._conn = None
        self._connect()

    @property
    def location(self) -> str:
        """Where the database is, for messages and logs: host, port and name, never the user
        or password of the URL."""
        return self.url.rpartition("@")[2]

    def __repr__(self) -> str:
        return f"<PostgresDatabase {self.location}>"

    def _connect(self):
        conn = psycopg.connect(self.url, autocommit=True, row_factory=_row_factory,
                               application_name="workbench", connect_timeout=CONNECT_TIMEOUT_S)
        conn.adapters.register_loader("numeric", _NumericLoader)
        self._conn = conn
        return conn

    def _connection(self):
        if self._conn is None or self._conn.closed or self._conn.broken:
            return self._connect()
        return self._conn

    def _first(self, sql, args=(), prepare=None):
        """Run the first statement of a unit of work: when the connection turns out to be
        broken (server restarted, connection killed), nothing has run yet, so connect again and
        run it once more. Returns ``(connection, cursor)``."""
        conn = self._connection()
        try:
            return conn, conn.execute(sql, args, prepare=prepare)
        except psycopg.OperationalError:
            if not conn.broken:
                raise
            conn = self._connect()
            return conn, conn.execute(sql, args, prepare=prepare)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()

    @contextmanager
    def _transaction(self, begin: str, lock: str | None):
        with self._lock:
            conn, _ = self._first(begin)
            try:
                if lock is not None:
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(lock),))
                yield _Conn(conn)
            except BaseException:
                if not conn.closed and not conn.broken:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def write(self, lock: str = "write"):
        """One write transaction; writers holding the same ``lock`` name queue one after another."""
        return self._transaction("BEGIN", lock)

    def read(self):
        """One read transaction (a consistent snapshot)."""
        return self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", None)

    def query(self, sql: str, args=()) -> list:
        """Run one read statement and return all rows.

        Never a prepared statement: after a few runs psycopg would prepare it and PostgreSQL
        could switch to a *generic* plan, one that does not know the bounds — and a time range
        covering a whole 10^6-row log was then read through the time index and sorted instead
        of read newest-first and stopped at the LIMIT (0.7 s a page instead of 15 ms). Reads
        are planned with their values each time (a fraction of a millisecond)."""
        with self._lock:
            return self._first(_placeholders(sql), args, prepare=False)[1].fetchall()

    def table_exists(self, table: str) -> bool:
        return self.query("SELECT to_regclass(?) IS NOT NULL", (table,))[0][0]

    def columns(self, table: str) -> set:
        return {r[0] for r in self.query("SELECT column_name FROM information_schema.columns "
                                         "WHERE table_name = ? AND table_schema = current_schema()",
                                         (table,))}

    def integrity_problems(self) -> list[str]:
        """PostgreSQL checks its own pages; only a connection that fails is a problem here."""
        try:
            self.query("SELECT 1")
        except psycopg.Error as exc:
            return [f"the PostgreSQL store does not answer: {exc}"]
        return []

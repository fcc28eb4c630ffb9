"""The SQLite backend: one file per database in the home, WAL mode, one writer at a time.

Every write is one ``BEGIN IMMEDIATE`` transaction: concurrent processes queue for the write
lock (busy timeout) instead of failing. Readers never block the writer (WAL). One connection per
:class:`SQLiteDatabase`, shared by threads under a lock; each process opens its own.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from ..home import create_private_file
from .netfs import warn_if_network

#: how long a writer waits for the lock before giving up
BUSY_TIMEOUT_MS = 60_000


class SQLiteDatabase:
    """A connection to one SQLite file, with the settings every database of the home uses.

    Parameters
    ----------
    path : path-like
        The database file (created, with its folder, when missing).
    synchronous : str, default="FULL"
        ``PRAGMA synchronous``; the prediction log uses ``NORMAL`` (a power cut may lose the last
        few requests, never corrupt the file).
    readonly : bool, default=False
        Open an existing file read-only (no migration, no WAL switch).
    """

    dialect = "sqlite"
    IntegrityError = sqlite3.IntegrityError
    #: errors a background writer retries on (disk full, locked too long)
    OperationalError = sqlite3.Error

    def __init__(self, path, *, synchronous: str = "FULL", readonly: bool = False):
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self._lock = threading.RLock()
        if readonly:
            self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True,
                                         timeout=BUSY_TIMEOUT_MS / 1000,
                                         isolation_level=None, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            create_private_file(self.path)  # 0600 when new; its -wal/-shm get the same mode
            warn_if_network(self.path)
            self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                         isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not readonly:
            self._enable_wal()
            self._conn.execute(f"PRAGMA synchronous = {synchronous}")
            self._conn.execute("PRAGMA foreign_keys = ON")

    @property
    def location(self) -> str:
        """Where the database is, for messages: its file."""
        return str(self.path)

    def __repr__(self) -> str:
        return f"<SQLiteDatabase {self.location}>"

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
    def write(self, lock: str = "write"):
        """Run the block as one ``BEGIN IMMEDIATE`` transaction; roll back on any error.

        ``lock`` names the writer queue on PostgreSQL; SQLite has one writer per file anyway.
        """
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

    def query(self, sql: str, args=()) -> list:
        """Run one read statement and return all rows."""
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def change_token(self):
        """A value that changes when another connection commits to this file
        (``PRAGMA data_version``); cheap enough to poll several times a second."""
        with self._lock:
            return self._conn.execute("PRAGMA data_version").fetchone()[0]

    def columns(self, table: str) -> set:
        """The column names of ``table`` (empty when it does not exist)."""
        with self._lock:
            return {r[1] for r in self._conn.execute(f"PRAGMA table_info({table})")}

    def integrity_problems(self) -> list[str]:
        """What SQLite's ``quick_check`` finds (empty when the file is sound)."""
        with self._lock:
            rows = self._conn.execute("PRAGMA quick_check").fetchall()
        if [tuple(r) for r in rows] == [("ok",)]:
            return []
        return [f"{self.path.name} failed SQLite's quick_check: "
                + "; ".join(str(r[0]) for r in rows[:5])]

    def table_exists(self, table: str) -> bool:
        """Whether ``table`` exists."""
        with self._lock:
            return self._conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                      "name = ?", (table,)).fetchone() is not None

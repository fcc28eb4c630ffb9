"""Quota state shared by every worker process: ``quota_state`` (one row per limited key).

SQLite keeps it in its own file, ``<home>/quota.db`` (``synchronous=NORMAL``): it is written on
every request of a limited key, so it must neither wait for registry writes nor wake every
worker's key-cache reload (which follows ``registry.db``). On PostgreSQL it is one more table.

Columns: ``key_id``; ``tokens`` and ``updated`` (the token bucket as of ``updated``, UNIX
seconds); ``day`` (UTC days since the epoch) and ``day_rows`` (input rows used that day).
Each method is one short write transaction.
"""
from __future__ import annotations

import time

from .migrations import Migration
from .tables import Tables

_V1 = """
CREATE TABLE IF NOT EXISTS quota_state (
    key_id TEXT PRIMARY KEY,
    tokens {real} NOT NULL,
    updated {real} NOT NULL,
    day INTEGER NOT NULL DEFAULT 0,
    day_rows BIGINT NOT NULL DEFAULT 0
)
"""
#: the quota state's schema, oldest first (append to change it)
MIGRATIONS = [
    Migration(1, "quota state: token bucket and rows of the day per key",
              _V1.format(real="REAL"), _V1.format(real="DOUBLE PRECISION")),
]
#: tokens of a row the row budget created: a full bucket (clamped to ``burst`` when read)
_FULL = 1e18


class QuotaTables(Tables):
    """Named statements on ``quota_state``.

    Parameters
    ----------
    db : SQLiteDatabase or PostgresDatabase
    """


    def _row(self, conn, key_id, columns):
        lock = " FOR UPDATE" if self.db.dialect == "postgresql" else ""
        return conn.execute(f"SELECT {columns} FROM quota_state WHERE key_id = ?{lock}",
                            (key_id,)).fetchone()

    def take(self, key_id: str, *, rate: float, burst: int,
             now: float | None = None) -> float | None:
        """Take one token from the key's bucket (full at first use, refilled at ``rate`` per
        second up to ``burst``); return None, or the seconds until a token is back.

        A refusal only reads (a snapshot suffices: other writers can only take tokens away,
        and an unchanged row refills the same way next time), so a flood of refused requests
        costs no write lock; ``now`` defaults to the clock read inside the transaction.
        """
        row = self.db.query("SELECT tokens, updated FROM quota_state WHERE key_id = ?", (key_id,))
        if row:
            at = time.time() if now is None else now
            tokens = min(float(burst), row[0][0] + rate * max(0.0, at - row[0][1]))
            if tokens < 1.0:
                return (1.0 - tokens) / rate
        with self.db.write(lock="quotas") as conn:
            at = time.time() if now is None else now
            row = self._row(conn, key_id, "tokens, updated")
            if row is None:
                conn.execute("INSERT INTO quota_state (key_id, tokens, updated) VALUES (?, ?, ?)",
                             (key_id, float(burst) - 1.0, at))
                return None
            tokens = min(float(burst), row[0] + rate * max(0.0, at - row[1]))
            if tokens < 1.0:
                return (1.0 - tokens) / rate
            conn.execute("UPDATE quota_state SET tokens = ?, updated = ? WHERE key_id = ?",
                         (tokens - 1.0, at, key_id))
            return None

    def charge_rows(self, key_id: str, rows: int, *, daily_rows: int, now: float) -> int | None:
        """Add ``rows`` to the key's rows of this UTC day unless that would exceed
        ``daily_rows``; return None, or the rows already used (nothing is added then)."""
        day = int(now // 86400)
        with self.db.write(lock="quotas") as conn:
            row = self._row(conn, key_id, "day, day_rows")
            used = 0 if row is None or row[0] != day else int(row[1])
            if used + rows > daily_rows:
                return used
            if row is None:
                conn.execute("INSERT INTO quota_state (key_id, tokens, updated, day, day_rows) "
                             "VALUES (?, ?, ?, ?, ?)", (key_id, _FULL, now, day, rows))
            else:
                conn.execute("UPDATE quota_state SET day = ?, day_rows = ? WHERE key_id = ?",
                             (day, used + rows, key_id))
            return None

    def rows_today(self, key_id: str, now: float) -> int:
        """Rows the key has used on the UTC day of ``now``."""
        rows = self.db.query("SELECT day, day_rows FROM quota_state WHERE key_id = ?", (key_id,))
        return 0 if not rows or rows[0][0] != int(now // 86400) else int(rows[0][1])

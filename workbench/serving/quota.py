"""Per-key quotas shared by every worker process: a token bucket and a daily row budget.

The state lives in the store (:class:`workbench.store.QuotaTables`: ``<home>/quota.db`` with
SQLite, one more table with PostgreSQL), and each check is one short write transaction, so
``--workers N`` processes (and the gRPC server, which calls the same
:class:`~.auth.Authenticator`) draw from one bucket. Keys without limits never touch it.

Token bucket (rate :math:`r` per second, size :math:`b`): a key starts with :math:`b` tokens; a
request takes one; tokens come back at :math:`r` per second up to :math:`b`:

.. math:: t \\leftarrow \\min(b,\\ t + r\\,\\Delta t); \\quad \\text{admit iff } t \\ge 1

so over :math:`T` seconds at most :math:`b + rT` requests are admitted. Refused requests are told
``Retry-After`` = the time until one token is back (the daily row budget: until 00:00 UTC).
"""
from __future__ import annotations

import math
import time
from pathlib import Path

from ..store import Store


class QuotaExceeded(Exception):
    """A request over a key's limit; ``retry_after`` is in whole seconds (at least 1)."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.message = message
        self.retry_after = max(1, math.ceil(retry_after))


class QuotaStore:
    """Shared quota state of a workbench home (one connection per process, thread-safe).

    Examples
    --------
    >>> import tempfile
    >>> quotas = QuotaStore(tempfile.mkdtemp())
    >>> quotas.take("k1", rate=1.0, burst=2, now=0.0)
    >>> quotas.take("k1", rate=1.0, burst=2, now=0.0)
    >>> try:
    ...     quotas.take("k1", rate=1.0, burst=2, now=0.5)
    ... except QuotaExceeded as exc:
    ...     exc.retry_after
    1
    """

    def __init__(self, home, *, store: str | None = None):
        self.store = Store(Path(home), store)
        self._tables = self.store.quotas

    def __repr__(self) -> str:
        return f"<QuotaStore {self._tables.db.url}>"

    def take(self, key_id: str, *, rate: float, burst: int, now: float | None = None) -> None:
        """Take one token from the key's bucket, or raise :class:`QuotaExceeded`."""
        wait = self._tables.take(key_id, rate=rate, burst=burst, now=now)
        if wait is not None:
            raise QuotaExceeded(f"rate limit of {rate:g} requests/s (burst {burst}) exceeded; "
                                f"retry in {math.ceil(wait)} s", wait)

    def charge_rows(self, key_id: str, rows: int, *, daily_rows: int,
                    now: float | None = None) -> None:
        """Count ``rows`` against the key's rows of this UTC day, or raise
        :class:`QuotaExceeded` (and count nothing) when they would go over ``daily_rows``."""
        now = time.time() if now is None else now
        used = self._tables.charge_rows(key_id, rows, daily_rows=daily_rows, now=now)
        if used is not None:
            raise QuotaExceeded(
                f"daily quota of {daily_rows} rows exceeded ({used} used today, this request has "
                f"{rows}); it renews at 00:00 UTC", (int(now // 86400) + 1) * 86400 - now)

    def usage_today(self, key_id: str, now: float | None = None) -> int:
        """Rows the key has used this UTC day."""
        return self._tables.rows_today(key_id, time.time() if now is None else now)

    def close(self) -> None:
        self.store.close()

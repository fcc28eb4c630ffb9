"""Upkeep of ``predictions.db``: retention pruning and the writer's health row.

The statements are named methods of the store (:mod:`workbench.store.upkeep`).

Retention
---------
:class:`Retention` says how long rows stay (``days``, default 30) and/or how large the file's
live data may grow (``max_bytes``). The writer thread calls :func:`prune` every
``interval`` seconds: it deletes the oldest rows in transactions of ``batch`` rows (and the
roll-up seconds older than the window, an hour of them per statement), at most ``max_batches``
per call, so a writer never waits long for the lock and readers (WAL) never wait at all. Freed
pages are reused by new rows; the file does not shrink (run ``VACUUM`` offline for that).

Health
------
Each writer keeps one row of ``log_health`` (its pid and start time) up to date when it drops a
record: how many it wrote, how many it dropped, and why the last one was dropped.
:func:`read_health` sums them for the monitoring layer (``Monitor.log_health()``).
"""
from __future__ import annotations

import logging
import math
import os
import sqlite3
import time
from dataclasses import dataclass

from ..store.upkeep import ROLLUPS

logger = logging.getLogger("workbench.monitoring")
#: rows pruned after which the writer refreshes the query planner's statistics
ANALYZE_AFTER = 100_000

@dataclass(frozen=True)
class Retention:
    """How long and how much of the prediction log is kept.

    Attributes
    ----------
    days : float or None, default=30
        Rows older than this are deleted; None keeps rows whatever their age.
    max_bytes : int or None
        When the live data (pages in use) of ``predictions.db`` is larger, the oldest rows are
        deleted until it fits; None: no size cap.
    interval : float, default=60
        Seconds between pruning passes of the writer thread.
    batch : int, default=500
        Rows deleted per transaction.
    max_batches : int, default=20
        Transactions per pass at most (the rest waits for the next pass).
    """

    days: float | None = 30.0
    max_bytes: int | None = None
    interval: float = 60.0
    batch: int = 500
    max_batches: int = 20

    def __post_init__(self):
        if self.days is not None and not (isinstance(self.days, (int, float))
                                          and self.days > 0):
            raise ValueError(f"retention days must be a positive number or None, "
                             f"got {self.days!r}")
        if self.max_bytes is not None and not (isinstance(self.max_bytes, int)
                                               and self.max_bytes >= 64 * 1024):
            raise ValueError(f"retention max_bytes must be at least 65536 or None, "
                             f"got {self.max_bytes!r}")
        for field in ("interval", "batch", "max_batches"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"retention {field} must be positive, got {value!r}")

    @property
    def enabled(self) -> bool:
        return self.days is not None or self.max_bytes is not None


def prune(tables, retention: Retention, now: float | None = None) -> int:
    """Delete rows past the retention window or size cap of the prediction log ``tables``
    (:class:`workbench.store.PredictionTables`), in small transactions; return how many
    requests were deleted."""
    if not retention.enabled:
        return 0
    now = time.time() if now is None else now
    cutoff = None if retention.days is None else now - 86400.0 * retention.days
    deleted = 0
    for _ in range(int(retention.max_batches)):
        n = 0 if cutoff is None else tables.prune_before(cutoff, retention.batch)
        if n == 0 and retention.max_bytes is not None and tables.live_bytes() > retention.max_bytes:
            n = tables.prune_oldest(retention.batch)
        deleted += n
        if n == 0:
            break
        time.sleep(0)   # let the event loop and other writers in between transactions
    if cutoff is not None:
        for table in ROLLUPS:          # at most an hour of seconds per statement
            for model, first in tables.rollup_models_before(table, int(cutoff)):
                tables.prune_rollup(table, model, min(int(cutoff), first + 3600))
    return deleted


def read_health(tables, *, window: float = 3600.0, now: float | None = None) -> dict:
    """The log's health for a dashboard: ``healthy`` (no record dropped in the last ``window``
    seconds), ``dropped`` (records dropped since the log was created, all writers),
    ``last_reason``, ``last_drop_at`` and a one-line ``status``."""
    now = time.time() if now is None else now
    dropped, last_at, reason = tables.health_summary()
    healthy = last_at is None or last_at < now - window
    status = ("log healthy" if healthy else f"{dropped} records dropped (last: {reason})")
    if healthy and dropped:
        status += f" ({dropped} records dropped earlier)"
    return {"healthy": healthy, "dropped": dropped, "last_reason": reason,
            "last_drop_at": last_at, "status": status}


def is_transient(db, exc) -> bool:
    """Whether a write failed because of the database (locked, disk full): retry later."""
    if db.dialect == "sqlite":
        return isinstance(exc, sqlite3.OperationalError)
    return isinstance(exc, db.OperationalError)


class WriterCare:
    """Mixin of :class:`~.log.PredictionLog`: dropping records visibly, health and pruning."""

    def _dropped(self, reason: str, detail: str, n: int = 1) -> None:
        self.dropped_ += n
        self.drops_[reason] += n
        self.last_drop_reason_ = f"{reason}: {detail}"[:300]
        self._last_drop_at = time.time()
        if self.drops_[reason] == n or reason != "queue_full" or self.drops_[reason] % 1000 == 0:
            logger.warning("prediction log: dropped %d record(s), %d so far (%s)", n,
                           self.dropped_, self.last_drop_reason_)
        if self.on_drop is not None:
            try:
                self.on_drop(reason, n)
            except Exception:
                logger.exception("prediction log: on_drop callback failed")

    def _write_or_skip(self, chunk) -> int:
        """Write a chunk; if it fails, write its records one by one and drop the ones that
        cannot be written. A locked or full database re-queues the chunk (retried later)."""
        db = self._tables.db
        try:
            return self._write(chunk)
        except Exception as exc:
            if is_transient(db, exc):
                self._queue.extendleft(reversed(chunk))
                raise
            logger.debug("prediction log: a chunk failed (%s); writing one by one", exc)
        written = 0
        for i, record in enumerate(chunk):
            try:
                written += self._write([record])
            except Exception as exc:
                if is_transient(db, exc):         # this record and the rest, back in front
                    self._queue.extendleft(reversed(chunk[i:]))
                    raise
                self._dropped("unwritable", f"{type(exc).__name__}: {exc}")
        return written

    def health(self) -> dict:
        """This writer's counters: ``written``, ``dropped`` (by reason) and the last reason."""
        return {"healthy": self.dropped_ == 0, "written": self.written_,
                "dropped": self.dropped_, "drops": dict(self.drops_),
                "last_reason": self.last_drop_reason_,
                "waiting": len(self._queue) + len(getattr(self, "_in_flight", None) or ())}

    def _upkeep(self) -> None:
        """Report new drops in the ``log_health`` table and prune now and then."""
        if self.dropped_ != self._reported:
            dropped = self.dropped_
            self._tables.put_health(os.getpid(), self._started, time.time(), self.written_,
                                    dropped, self.last_drop_reason_, self._last_drop_at)
            self._reported = dropped
        if self.retention.enabled and time.monotonic() >= self._next_prune:
            self._next_prune = time.monotonic() + self.retention.interval
            pruned = prune(self._tables, self.retention)
            if pruned:
                logger.info("prediction log: pruned %d rows past retention", pruned)
            self._pruned_since_analyze = getattr(self, "_pruned_since_analyze", 0) + pruned
            if self._pruned_since_analyze >= ANALYZE_AFTER:   # the planner's counts are stale
                self._tables.analyze()
                self._pruned_since_analyze = 0

    def _upkeep_health_only(self) -> None:
        if self.dropped_ != self._reported:
            self._next_prune = math.inf
            self._upkeep()

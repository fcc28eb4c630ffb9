"""How a :class:`~.log.PredictionLog` hands its records to a write process (SQLite): the
writer thread's side of :mod:`.write_process`.

Each turn the thread collects the outcome of the chunk it sent the turn before — the answer is
already in the pipe, so it does not wait — and sends what is queued in one ``orjson.dumps``
call, then sleeps. Each wait for an answer would be one more time the thread has to win the GIL
back from a busy event loop (see :mod:`workbench.store.append_process`).
"""
from __future__ import annotations

import logging
import math

import orjson

from ..store.predictions import JSON_OPTIONS
from .upkeep import is_transient
from .write_process import RECORDS

logger = logging.getLogger("workbench.monitoring")


def _size(value) -> int:
    """How many values an ``outputs`` or ``inputs`` entry of a record holds (roughly)."""
    if value is None:
        return 0
    size = getattr(value, "size", None)
    if isinstance(size, int):
        return size
    try:
        return len(value)
    except TypeError:
        return 1


class HandOver:
    """Mixin of :class:`~.log.PredictionLog` (which owns ``_queue``, ``_tables``,
    ``_flush_lock``, ``_write_lock``, ``_in_flight``, ``written_`` and ``_write_or_skip``)."""

    #: records per chunk handed over (each hand-over costs the writer thread a few waits for
    #: the GIL whatever its size; encoding 8,192 records holds the GIL for about 3 ms)
    PROCESS_CHUNK = 8192

    def _take(self, limit: int, max_values: float = math.inf) -> list:
        """Up to ``limit`` records from the front of the queue, fewer when their output and
        input values add up to more than ``max_values`` (at least one record)."""
        chunk, values = [], 0
        while self._queue and len(chunk) < limit and values < max_values:
            try:
                record = self._queue.popleft()
            except IndexError:  # pragma: no cover - raced with another flush
                break
            chunk.append(record)
            if max_values < math.inf:
                values += _size(record[8]) + _size(record[9])
        return chunk

    #: at most this many output and input values per chunk handed to a write process (about
    #: 40 MB of JSON): sampled inputs of big batches must not make one huge chunk
    PROCESS_CHUNK_VALUES = 2_000_000

    def _pump(self) -> None:
        """The writer thread's turn with a write process: collect the outcome of the chunk sent
        last turn, then send what was queued when the turn began and return without waiting
        for it (records queued meanwhile wait for the next turn)."""
        with self._flush_lock:
            self._settle()
            backlog = len(self._queue)
            while backlog > 0 and self._tables.appender is not None:
                if self._in_flight is not None:
                    self._settle()         # more than a chunk this turn: one at a time
                chunk = self._take(min(backlog, self.PROCESS_CHUNK), self.PROCESS_CHUNK_VALUES)
                backlog -= len(chunk)
                try:
                    payload = orjson.dumps(chunk, option=JSON_OPTIONS)
                except TypeError:       # written here instead, as :meth:`_write_records` says
                    self._write_or_skip(chunk)
                    continue
                except BaseException:
                    self._queue.extendleft(reversed(chunk))
                    raise
                try:
                    sent = self._tables.send_parts([(RECORDS, payload)])
                except BaseException:
                    self._queue.extendleft(reversed(chunk))
                    raise
                if sent:
                    self._in_flight = chunk
                else:                   # the write process is gone: in-process from now on
                    self._write_or_skip(chunk)

    def _settle(self) -> int:
        """Wait for the chunk sent by :meth:`_pump`, if any; return how many it wrote. Refused
        rows go through :meth:`_write_or_skip` (records it cannot write are dropped, counted);
        a locked or full database puts the chunk back in front of the queue. When the write
        process died meanwhile, the chunk is written here: if the process had committed it
        just before dying, its rows are then in the log twice (never lost)."""
        chunk, self._in_flight = self._in_flight, None
        if chunk is None:
            return 0
        try:
            committed = self._tables.settle_parts()
        except Exception as exc:
            if is_transient(self._tables.db, exc):
                self._queue.extendleft(reversed(chunk))
                raise
            logger.debug("prediction log: a chunk failed (%s); writing one by one", exc)
            return self._write_or_skip(chunk)
        if not committed:           # the process died: it may or may not have committed
            return self._write_or_skip(chunk)
        self.written_ += len(chunk)
        return len(chunk)

    def _write_records(self, batch) -> bool:
        """Hand the records as they are to the write process (one ``orjson.dumps`` here; it adds
        up the roll-ups and inserts); False when they must be written here (a value JSON holds
        differently, such as an object array or an integer beyond 2**53, or no process)."""
        try:
            payload = orjson.dumps(batch, option=JSON_OPTIONS)
        except TypeError:
            return False
        with self._write_lock:
            if not self._tables.append_parts([(RECORDS, payload)]):
                return False
        self.written_ += len(batch)
        return True


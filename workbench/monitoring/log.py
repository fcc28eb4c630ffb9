"""The prediction log: one row per served request, written off the request path.

The rows live in the store (:mod:`workbench.store.predictions`): ``predictions.db`` (SQLite,
WAL) in the workbench home by default, or the PostgreSQL database of a store URL. The serving layer only calls
:meth:`PredictionLog.record`, which appends to an in-memory queue; a background thread writes
the queue in batches (one transaction per batch) and :meth:`PredictionLog.close` flushes what is
left. Each batch also updates the per-second roll-up tables of :mod:`.rollup` in the same
transaction. Readers (the monitoring dashboard) use :func:`read_predictions` or the roll-ups
and never need the web stack.

Schema of table ``predictions``
-------------------------------
=============  =======  ==========================================================================
column         type     meaning
=============  =======  ==========================================================================
id             INTEGER  row id, grows with insertion
time           REAL     UNIX seconds when the request arrived
request_id     TEXT     the v2 ``id`` the client sent, else NULL
model          TEXT     model name as resolved, NULL when the request named no known model
version        INTEGER  model version that answered, NULL when none was resolved
protocol       TEXT     ``"v2"`` or ``"v1"``
status         INTEGER  HTTP status of the answer
latency_ms     REAL     server-side time from arrival to answer, milliseconds
rows           INTEGER  number of input rows (0 when the body could not be read)
outputs        TEXT     JSON list of predictions (labels for classifiers, values for regressors),
                        NULL for errors
inputs         TEXT     JSON list of input rows, only for the sampled fraction of successful
                        requests (at most ``max_input_rows`` rows each), else NULL
error          TEXT     the error message sent to the client, NULL on success
role           TEXT     NULL for a request a client sent; ``"shadow"`` for the copy of one that
                        a shadow version answered (nobody saw that answer)
shadow_of      INTEGER  for shadow rows: the version that answered the client
agreement      REAL     for shadow rows: fraction of rows where the shadow's output equals the
                        answering version's (same label; regressors: within 1 % relative)
key_id         TEXT     who called: the API key's public id (never the secret), ``jwt:<sub>``
                        for an identity provider's token, NULL when unauthenticated
=============  =======  ==========================================================================

Shadow rows are not added to the roll-ups (they are not client traffic); the monitor reads them
from this table through a partial index.

Nothing is dropped silently
---------------------------
The writer thread survives any exception. A record that cannot be written (a value the
database or JSON refuses) is skipped, counted in ``drops_["unwritable"]``, reported in the
server log with the reason, to the ``on_drop`` callback (the server's ``/metrics`` counter
``workbench_prediction_log_dropped_total{reason}``) and in the ``log_health`` table that
``Monitor.log_health()`` reads. The queue holds at most ``max_queue`` records (default 100,000,
about 2 minutes at 1,000 requests/s with a stalled disk); a record arriving when it is full is
dropped and counted as ``queue_full``. While the database is locked or the disk is full the
batch stays queued and is retried. :meth:`PredictionLog.close` (the server's shutdown, SIGTERM
included) writes everything queued. Rows older than the :class:`~.upkeep.Retention` window are
pruned in the background.
"""
from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np
import orjson

from ..store import Store
from . import rollup, upkeep
from .handover import HandOver
from .upkeep import Retention
from .reader import COLUMNS, PredictionRecord, read_predictions  # noqa: F401 - this module's API

logger = logging.getLogger("workbench.monitoring")

#: file name of the log inside a workbench home
FILENAME = "predictions.db"


def open_tables(path, store=None, *, readonly: bool = False):
    """The store tables of the prediction log at ``path`` (a ``predictions.db`` file or a home
    folder), or of the store URL ``store`` (``$WORKBENCH_STORE`` when None)."""
    path = Path(path)
    if path.is_dir():
        path = path / FILENAME
    return Store(path.parent, store, predictions_path=path, readonly=readonly)


def _count(path, store) -> int:
    holder = open_tables(path, store, readonly=True)
    try:
        if not holder.exists("predictions"):
            return 0
        if not holder.database("predictions").table_exists("predictions"):   # not created yet
            return 0
        return holder.predictions.count()
    finally:
        holder.close()


def wait_until_written(path: str | os.PathLike, *, quiet: float = 0.5, timeout: float = 15.0,
                       store: str | None = None) -> int:
    """Wait until the log at ``path`` (a file or a home) has stopped growing for ``quiet``
    seconds — the writer flushes a few times a second — and return its number of rows.

    For tests and walkthroughs that read the log right after sending traffic.
    """
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while True:
        count = _count(path, store)
        now = time.monotonic()
        if count != last:
            last, since = count, now
        elif now - since >= quiet or now > deadline:
            return count
        time.sleep(0.05)


def _json_list(value):
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf":
            return orjson.dumps(value if value.flags.c_contiguous else np.ascontiguousarray(value),
                                option=orjson.OPT_SERIALIZE_NUMPY).decode()
        value = value.tolist()
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


class PredictionLog(upkeep.WriterCare, HandOver):
    """Batched, thread-backed writer of ``predictions.db``.

    Parameters
    ----------
    path : path-like
        The database file (``<home>/predictions.db``).
    input_fraction : float, default=0.1
        Fraction of successful requests whose input rows are stored too (0 disables, 1 keeps all).
    max_input_rows : int, default=100
        At most this many input rows are stored for one sampled request.
    flush_interval : float, default=0.25
        Seconds between background writes.
    max_queue : int, default=100_000
        Records beyond this many waiting ones are dropped (and counted in ``dropped_`` and
        ``drops_["queue_full"]``), so a stuck disk never grows memory without bound.
    random_state : int or None
        Seed of the input sampler.
    retention : Retention, optional
        Pruning of old rows by the writer thread (default: none; the server keeps 30 days).
    on_drop : callable(reason, n), optional
        Called whenever records are dropped (``"queue_full"`` or ``"unwritable"``).
    store : str or None
        Store URL (``postgresql://…``): log there instead of the file ``path``;
        ``$WORKBENCH_STORE`` when None.
    write_process : bool, default=False
        SQLite: run the inserts in a helper process (:mod:`workbench.store.append_process`),
        so that they never wait for this process's GIL; a serving worker uses it. The thread,
        the queue and everything said above stay as they are.

    Examples
    --------
    >>> import tempfile, os
    >>> log = PredictionLog(os.path.join(tempfile.mkdtemp(), "predictions.db"))
    >>> log.record(model="iris", version=1, status=200, latency_ms=1.2, rows=1, outputs=[0])
    >>> log.close()
    >>> len(read_predictions(log.path))
    1
    """

    def __init__(self, path, *, input_fraction: float = 0.1, max_input_rows: int = 100,
                 flush_interval: float = 0.25, max_queue: int = 100_000, random_state=None,
                 store: str | None = None, retention: Retention | None = None, on_drop=None,
                 write_process: bool = False):
        if not (isinstance(input_fraction, (int, float)) and 0.0 <= input_fraction <= 1.0):
            raise ValueError(f"input_fraction must be a number in [0, 1], got {input_fraction!r}")
        if not (isinstance(max_input_rows, int) and max_input_rows >= 0):
            raise ValueError(f"max_input_rows must be a non-negative int, got {max_input_rows!r}")
        if not (isinstance(flush_interval, (int, float)) and 0 < flush_interval < math.inf):
            raise ValueError(f"flush_interval must be a positive number, got {flush_interval!r}")
        self.path = Path(path)
        self.input_fraction = float(input_fraction)
        self.max_input_rows = max_input_rows
        self.flush_interval = float(flush_interval)
        self.max_queue = int(max_queue)
        self.dropped_ = 0
        self.drops_ = {"queue_full": 0, "unwritable": 0}
        self.last_drop_reason_ = None
        self.written_ = 0
        self.retention = retention or Retention(days=None)
        self.on_drop = on_drop
        self._started = time.time()
        self._last_drop_at = None
        self._reported = 0
        self._next_prune = time.monotonic() + min(5.0, self.retention.interval)
        self._rng = random.Random(random_state)
        #: per-model input fractions overriding ``input_fraction`` (see :meth:`load_settings`)
        self.input_fractions: dict = {}
        self._settings_mtime = None
        self._queue: deque = deque()
        self._wake = threading.Event()
        self._write_lock = threading.Lock()
        self._flush_lock = threading.RLock()
        self._in_flight = None       # the chunk a write process is writing (see _pump)
        self._closed = False
        self.store = open_tables(self.path, store)
        self._tables = self.store.predictions
        if write_process:
            self._tables.start_append_process(module="workbench.monitoring.write_process")
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return (f"<PredictionLog {self.path} written={self.written_} waiting={len(self._queue)}"
                f" input_fraction={self.input_fraction}>")

    def record(self, *, model, version, status, latency_ms, rows, outputs=None, inputs=None,
               error=None, request_id=None, protocol="v2", time_=None, role=None,
               shadow_of=None, agreement=None, key_id=None) -> None:
        """Queue one request for writing; returns at once (no I/O on the caller's thread).

        ``outputs`` and ``inputs`` may be numpy arrays; they are turned into JSON by the writer
        thread. ``inputs`` is kept only for the sampled fraction of successful requests.
        ``role="shadow"`` (with ``shadow_of`` and ``agreement``) marks a shadow version's answer;
        ``key_id`` is the caller's public key id (for usage reports).
        """
        if self._closed:
            return
        if len(self._queue) >= self.max_queue:
            self._dropped("queue_full", f"the queue holds {self.max_queue} records")
            return
        if inputs is not None:
            if error is not None or self._rng.random() >= self.input_fractions.get(
                    model, self.input_fraction):
                inputs = None
            else:
                inputs = inputs[:self.max_input_rows]
        self._queue.append((time.time() if time_ is None else time_, request_id, model, version,
                            protocol, status, latency_ms, rows, outputs, inputs, error, role,
                            shadow_of, agreement, key_id))

    def load_settings(self, home) -> None:
        """Read per-model input fractions from ``<home>/monitoring.json`` when it changed
        (``{"input_fraction": {"digits": 1.0}}``, written by
        :func:`workbench.monitoring.sampling.set_input_fraction`)."""
        path = Path(home) / "monitoring.json"
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            mtime = None
        if mtime == self._settings_mtime:
            return
        self._settings_mtime = mtime
        try:
            fractions = orjson.loads(path.read_bytes()).get("input_fraction", {}) if mtime else {}
            self.input_fractions = {str(k): float(v) for k, v in fractions.items()
                                    if 0.0 <= float(v) <= 1.0}
        except (OSError, ValueError, TypeError, AttributeError):
            self.input_fractions = {}

    def flush(self) -> int:
        """Write everything queued now, on the caller's thread; return the number written.

        Works in chunks of :attr:`CHUNK` records, one transaction each, yielding the GIL between
        chunks so a server's event loop is never held up for long by the writer. With a write
        process, the chunk it is still writing is waited for first (and counted).
        """
        with self._flush_lock:
            written = self._settle()
            while self._queue:
                if self._tables.appender is None:
                    chunk = self._take(self.CHUNK)
                else:
                    chunk = self._take(self.PROCESS_CHUNK, self.PROCESS_CHUNK_VALUES)
                written += self._write_or_skip(chunk)
                if self._tables.appender is None:    # (a helper process's reply yields anyway)
                    time.sleep(0)
            return written

    #: records per transaction (a flush at a few thousand requests/s is one or two transactions)
    CHUNK = 1024
    def _write(self, batch) -> int:
        if not batch:
            return 0
        if self._tables.appender is not None and self._write_records(batch):
            return len(batch)
        rows, summaries = [], []
        dumps, numpy_option, ndarray = orjson.dumps, orjson.OPT_SERIALIZE_NUMPY, np.ndarray
        for (at, request_id, model, version, protocol, status, latency, n_rows, outputs, inputs,
             error, role, shadow_of, agreement, key_id) in batch:
            if type(outputs) is ndarray:
                if outputs.dtype.kind in "biuf" and outputs.flags.c_contiguous:
                    outputs_json = dumps(outputs, option=numpy_option).decode()
                else:
                    outputs_json = _json_list(outputs)
                outputs = outputs.tolist()
            else:
                outputs_json = None if outputs is None else dumps(outputs).decode()
            if role is None:            # shadow answers are not client traffic
                summaries.append((at, model, version, status, latency, n_rows, outputs,
                                  key_id))
            if inputs is not None:
                inputs = _json_list(np.asarray(inputs))     # record() kept max_input_rows
            rows.append((at, request_id, model, version, protocol, status, latency, n_rows,
                         outputs_json, inputs, error, role, shadow_of, agreement, key_id))
        with self._write_lock:    # one transaction: the rows and their roll-ups
            self._tables.append(rows, *rollup.summarise_rows(summaries))
        self.written_ += len(rows)
        return len(rows)

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            try:
                if self._tables.appender is not None:
                    self._pump()
                else:
                    self.flush()
                self._upkeep()
            except self._tables.db.OperationalError as exc:  # disk full, locked: retry
                logger.warning("prediction log: write failed (%s); retrying", exc)
                time.sleep(self.flush_interval)
            except Exception:
                logger.exception("prediction log: writer error; continuing")
                time.sleep(self.flush_interval)

    def close(self) -> None:
        """Stop the writer thread, write what is left and close the database."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=10)
        for _ in range(3):      # a locked database gets a few more tries
            try:
                self.flush()
                break
            except self._tables.db.OperationalError as exc:
                logger.warning("prediction log: final flush failed (%s); retrying", exc)
                time.sleep(0.5)
        if self._queue:
            self._dropped("unwritable", "the log closed with records it could not write",
                          len(self._queue))
            self._queue.clear()
        self._tables.stop_append_process()
        try:
            self._upkeep_health_only()
        except Exception:
            logger.exception("prediction log: could not record its health")
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

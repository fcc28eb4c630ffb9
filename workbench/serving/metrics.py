"""Prometheus metrics of the inference service, served as text at ``/metrics``.

Single worker: each app owns a private :class:`prometheus_client.CollectorRegistry` (no
process-global state, so several apps can live in one process). Several workers
(``workbench serve --workers N``): the server points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh
temporary folder before the workers start, every worker writes its samples there and
``/metrics`` — whichever worker answers — aggregates all of them (counters and histograms
summed; the in-flight gauge summed over live workers; the live-version gauge the latest value).

Metrics
-------
``workbench_requests_total{model,version,status}``
    inference requests (v2 infer and v1 predict) by answer status.
``workbench_request_latency_seconds{model}``
    server-side latency histogram of inference requests.
``workbench_request_rows{model}``
    rows per inference request.
``workbench_requests_in_flight``
    inference requests being answered now.
``workbench_model_loads_total{model,version,result}``
    model versions loaded into a worker (result ``ok`` or ``error``).
``workbench_model_live_version{model}``
    version a model's name (no version, no alias) is served by.
``workbench_batch_rows{model}``
    rows per merged forward pass (adaptive batching only).
``workbench_batch_queue_wait_seconds{model}``
    time each batched request waited in the queue before its batch ran.
``workbench_shadow_requests_total{model,version,result}``
    copies of live requests answered by a shadow version (``ok``, ``error``, ``dropped``).
``workbench_prediction_log_dropped_total{reason}``
    prediction-log records dropped: ``queue_full`` (the writer's queue was full) or
    ``unwritable`` (a record SQLite or JSON refused; the server log says why).
"""
from __future__ import annotations

import os

from bisect import bisect_left

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest)
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    5.0, 10.0)
_ROW_BUCKETS = (1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10000)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)
_WAIT_BUCKETS = (0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)
_HISTOGRAMS = (
    ("workbench_request_latency_seconds", "Server-side latency of inference requests.",
     "latency", _LATENCY_BUCKETS),
    ("workbench_request_rows", "Rows per inference request.", "rows", _ROW_BUCKETS),
    ("workbench_batch_rows", "Rows per merged forward pass (adaptive batching).", "batch_rows",
     _BATCH_BUCKETS),
    ("workbench_batch_queue_wait_seconds", "Queue wait of batched requests before their batch "
     "ran.", "queue_wait", _WAIT_BUCKETS))


def multiprocess_dir() -> str | None:
    """The ``PROMETHEUS_MULTIPROC_DIR`` in use, or None for in-process metrics."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return path if path and os.path.isdir(path) else None


class _RequestCollector(Collector):
    """In-process request metrics as plain counters, turned into metric families at scrape time.

    Updated only from the event-loop thread, so no locks on the request path (the prometheus
    client's own metric objects take several per request).
    """

    def __init__(self):
        self.counts: dict = {}
        self.latency: dict = {}
        self.rows: dict = {}
        self.batch_rows: dict = {}
        self.queue_wait: dict = {}

    @staticmethod
    def _add(table, label, bounds, value):
        entry = table.get(label)
        if entry is None:
            entry = table[label] = [[0] * (len(bounds) + 1), 0.0]
        entry[0][bisect_left(bounds, value)] += 1
        entry[1] += value

    def observe(self, model, version, status, seconds, rows):
        key = (model or "", "" if version is None else str(version), str(status))
        self.counts[key] = self.counts.get(key, 0) + 1
        self._add(self.latency, key[0], _LATENCY_BUCKETS, seconds)
        if rows:
            self._add(self.rows, key[0], _ROW_BUCKETS, rows)

    def collect(self):
        requests = CounterMetricFamily("workbench_requests", "Inference requests by model, "
                                       "version and HTTP status.",
                                       labels=["model", "version", "status"])
        for labels, n in self.counts.items():
            requests.add_metric(list(labels), n)
        yield requests
        for name, doc, attr, bounds in _HISTOGRAMS:
            table = getattr(self, attr)
            if not table and attr in ("batch_rows", "queue_wait"):
                continue
            family = HistogramMetricFamily(name, doc, labels=["model"])
            for model, (counts, total) in table.items():
                cumulative, buckets = 0, []
                for bound, n in zip([*map(str, map(float, bounds)), "+Inf"], counts):
                    cumulative += n
                    buckets.append((bound, cumulative))
                family.add_metric([model], buckets, total)
            yield family


class ServingMetrics:
    """The service's metrics and their text rendering.

    Examples
    --------
    >>> m = ServingMetrics()
    >>> m.observe("iris", 1, 200, 0.002, 1)
    >>> b'workbench_requests_total{model="iris",status="200",version="1"} 1.0' in m.render()[0]
    True
    """

    def __init__(self):
        self.multiprocess = multiprocess_dir() is not None
        own = None if self.multiprocess else CollectorRegistry()
        self.registry = own
        if self.multiprocess:   # samples go to files every worker's /metrics aggregates
            self.requests = Counter("workbench_requests", "Inference requests by model, version "
                                    "and HTTP status.", ["model", "version", "status"])
            self.latency = Histogram("workbench_request_latency_seconds", "Server-side latency "
                                     "of inference requests.", ["model"],
                                     buckets=_LATENCY_BUCKETS)
            self.rows = Histogram("workbench_request_rows", "Rows per inference request.",
                                  ["model"], buckets=_ROW_BUCKETS)
            self.batch_rows = Histogram(_HISTOGRAMS[2][0], _HISTOGRAMS[2][1], ["model"],
                                        buckets=_BATCH_BUCKETS)
            self.queue_wait = Histogram(_HISTOGRAMS[3][0], _HISTOGRAMS[3][1], ["model"],
                                        buckets=_WAIT_BUCKETS)
            self._collector = None
        else:
            self._collector = _RequestCollector()
            own.register(self._collector)
        self.in_flight = Gauge("workbench_requests_in_flight", "Inference requests being "
                               "answered.", registry=own, multiprocess_mode="livesum")
        self.loads = Counter("workbench_model_loads", "Model versions loaded into a worker.",
                             ["model", "version", "result"], registry=own)
        self.live_version = Gauge("workbench_model_live_version", "Version that answers for a "
                                  "model's bare name.", ["model"], registry=own,
                                  multiprocess_mode="mostrecent")
        self.shadow = Counter("workbench_shadow_requests", "Copies of live requests answered "
                              "by a shadow version.", ["model", "version", "result"],
                              registry=own)
        self.log_drops = Counter("workbench_prediction_log_dropped", "Prediction-log records "
                                 "dropped (queue full, or a record that could not be written).",
                                 ["reason"], registry=own)
        for reason in ("queue_full", "unwritable"):
            self.log_drops.labels(reason)       # shown as 0 until something is dropped
        self._children: dict = {}
        self._active = 0
        if not self.multiprocess:   # read at scrape time: nothing to do per request
            self.in_flight.set_function(lambda: self._active)

    def __repr__(self) -> str:
        return f"<ServingMetrics {'multiprocess' if self.multiprocess else 'in-process'}>"

    def request_started(self) -> None:
        """One more inference request in flight."""
        if self.multiprocess:
            self.in_flight.inc()
        else:
            self._active += 1

    def request_finished(self) -> None:
        """One inference request fewer in flight."""
        if self.multiprocess:
            self.in_flight.dec()
        else:
            self._active -= 1

    def observe(self, model, version, status: int, seconds: float, rows: int) -> None:
        """Count one inference request."""
        if self._collector is not None:
            self._collector.observe(model, version, status, seconds, rows)
            return
        key = (model, version, status)
        children = self._children.get(key)
        if children is None:
            label = model or ""
            children = (self.requests.labels(label, "" if version is None else str(version),
                                             str(status)),
                        self.latency.labels(label), self.rows.labels(label))
            if len(self._children) < 10_000:
                self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
        if rows:
            children[2].observe(rows)

    def observe_batch(self, model: str, version: int, rows: int, waits) -> None:
        """Count one merged forward pass of ``rows`` rows and each request's queue wait."""
        if self._collector is not None:
            table = self._collector
            table._add(table.batch_rows, model, _BATCH_BUCKETS, rows)
            for wait in waits:
                table._add(table.queue_wait, model, _WAIT_BUCKETS, wait)
            return
        self.batch_rows.labels(model).observe(rows)
        child = self.queue_wait.labels(model)
        for wait in waits:
            child.observe(wait)

    def shadow_done(self, model: str, version: int, result: str) -> None:
        """Count one shadow call (``ok``, ``error`` or ``dropped``)."""
        self.shadow.labels(model, str(version), result).inc()

    def log_dropped(self, reason: str, n: int = 1) -> None:
        """Count ``n`` prediction-log records dropped for ``reason`` (any thread)."""
        self.log_drops.labels(reason).inc(n)

    def model_loaded(self, model: str, version: int, ok: bool) -> None:
        """Count one model load attempt."""
        self.loads.labels(model, str(version), "ok" if ok else "error").inc()

    def set_live(self, model: str, version: int) -> None:
        """Record which version answers for ``model``'s bare name."""
        self.live_version.labels(model).set(version)

    def render(self) -> tuple[bytes, str]:
        """Return the Prometheus text exposition and its content type."""
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def worker_exit(self) -> None:
        """Tell the multiprocess collector this worker is gone (its live gauges stop counting)."""
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())

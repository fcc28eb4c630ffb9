"""One read of a model's roll-ups over a window, added up every way a refresh shows them.

:meth:`Monitor.health` needs the traffic per version and status, the latency buckets overall
and per version, the predictions overall and per version, and all of it per time step for the
charts; the version comparison needs the per-version figures again. :func:`read_window` reads
each roll-up once (grouped by step, version and status / bucket / output) and
:class:`WindowRollups` gives every sum from those rows, so a refresh scans each roll-up table
once instead of seven times. The sums are exact (integers added in Python).
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from .rollup import percentile_from_buckets


@dataclass(frozen=True)
class TimeSeries:
    """Per-step traffic: ``start`` (UNIX seconds of each step) and one value per step."""

    start: np.ndarray
    requests_per_s: np.ndarray
    p50_ms: np.ndarray
    p99_ms: np.ndarray
    error_rate: np.ndarray


@dataclass(frozen=True)
class WindowRollups:
    """Roll-up rows of one model over seconds ``[lo, hi]`` in steps of ``step`` seconds."""

    lo: int
    hi: int
    step: int
    status_steps: list     # (step index, version, status, requests, rows)
    latency_steps: list    # (step index, version, bucket, requests)
    outputs_by_version: list   # (version, output, count)

    @property
    def status_by_version(self) -> list:
        """``(version, status, requests, rows)``, as :meth:`status_by_version` reads them."""
        sums = defaultdict(lambda: [0, 0])
        for _, version, status, n, rows in self.status_steps:
            s = sums[(int(version), int(status))]
            s[0] += int(n)
            s[1] += int(rows)
        return [(v, st, n, rows) for (v, st), (n, rows) in sorted(sums.items())]

    @property
    def latency_by_version(self) -> list:
        """``(version, bucket, requests)``."""
        sums: dict = defaultdict(int)
        for _, version, bucket, n in self.latency_steps:
            sums[(int(version), int(bucket))] += int(n)
        return [(v, b, n) for (v, b), n in sorted(sums.items())]

    @property
    def output_counts(self) -> list:
        """``(output, count)``, most frequent first."""
        sums: dict = defaultdict(int)
        for _, output, n in self.outputs_by_version:
            sums[output] += int(n)
        return sorted(sums.items(), key=lambda kv: (-kv[1], kv[0]))

    @property
    def requests_per_step(self) -> list:
        """``(step index, requests, error requests)``."""
        sums = defaultdict(lambda: [0, 0])
        for k, _, status, n, _ in self.status_steps:
            s = sums[int(k)]
            s[0] += int(n)
            if status >= 400:
                s[1] += int(n)
        return [(k, n, e) for k, (n, e) in sorted(sums.items())]

    @property
    def latency_per_step(self) -> list:
        """``(step index, bucket, requests)``."""
        sums: dict = defaultdict(int)
        for k, _, bucket, n in self.latency_steps:
            sums[(int(k), int(bucket))] += int(n)
        return [(k, b, n) for (k, b), n in sorted(sums.items())]


def read_window(tables, model: str, lo: int, hi: int, step: int) -> WindowRollups:
    """Read the roll-ups of ``model`` over seconds ``[lo, hi]`` once (three statements)."""
    status, latency, outputs = tables.window_rollups(model, lo, hi, step)
    return WindowRollups(lo, hi, step, [tuple(r) for r in status], [tuple(r) for r in latency],
                         [tuple(r) for r in outputs])


def step_seconds(window: float, step: float | None) -> int:
    """Seconds per time step: ``step``, or about 60 steps over the window."""
    step = int(step or max(1, round(window / 60)))
    if step < 1:
        raise ValueError(f"step must be at least 1 second, got {step!r}")
    return step


def timeseries_of(rollups: WindowRollups) -> TimeSeries:
    """Requests per second, p50/p99 latency and error rate per step of ``rollups``."""
    lo, hi, step = rollups.lo, rollups.hi, rollups.step
    n_steps = max(1, math.ceil((hi - lo + 1) / step))
    start = lo + step * np.arange(n_steps)
    req, err = np.zeros(n_steps), np.zeros(n_steps)
    for k, n, e in rollups.requests_per_step:
        req[k], err[k] = n, e
    per_step: dict = {}
    for k, b, n in rollups.latency_per_step:
        per_step.setdefault(k, ([], []))
        per_step[k][0].append(b)
        per_step[k][1].append(n)
    p50, p99 = np.full(n_steps, np.nan), np.full(n_steps, np.nan)
    for k, (b, n) in per_step.items():
        p50[k], p99[k] = percentile_from_buckets(b, n, 50), percentile_from_buckets(b, n, 99)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(req > 0, err / np.where(req > 0, req, 1), np.nan)
    return TimeSeries(start.astype(np.float64), req / step, p50, p99, rate)

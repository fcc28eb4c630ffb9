"""Replay: run logged requests again through any version, and compare.

The prediction log keeps the input rows of a sampled fraction of requests (all of them for a
model whose input fraction is 1.0: :func:`workbench.monitoring.sampling.set_input_fraction`). :func:`replay` sends those
inputs, request by request, to ``version`` — loaded in this process, or through a running
service (``url``) — and compares the answers with what was served then:

- ``agreement``: fraction of rows with the same answer (same label; regressors within 1 %
  relative, as for shadows);
- ``differences``: for classifiers the most frequent ``(served, replayed)`` label pairs that
  differ; for regressors the mean and largest absolute difference;
- latency: logged server-side latency of the originals against the replay's (in process: the
  model call alone; through a service: the whole HTTP round trip).
"""
from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import orjson

from ..home import resolve_home
from ..monitoring.log import FILENAME, open_tables
from ..monitoring.quality import same_label


@dataclass(frozen=True)
class ReplayReport:
    """What :func:`replay` found (see the module docstring)."""

    model: str
    version: int
    target: str
    requests: int
    rows: int
    agreement: float
    served_by: dict = field(default_factory=dict)
    differences: dict = field(default_factory=dict)
    logged_p50_ms: float = math.nan
    logged_p99_ms: float = math.nan
    replay_p50_ms: float = math.nan
    replay_p99_ms: float = math.nan

    def __str__(self) -> str:
        if not self.rows:
            return (f"nothing to replay of {self.model} through v{self.version} ({self.target}): no "
                    f"logged inputs in that window (the service "
                    f"logs the inputs of a fraction of requests, --log-inputs, 0.1 by default; "
                    f"send traffic first or widen --since/--until)")
        return (f"replayed {self.requests} requests ({self.rows} rows) of {self.model} through "
                f"v{self.version} ({self.target}): agreement {self.agreement:.2%}; latency p50 "
                f"{self.logged_p50_ms:.2f} → {self.replay_p50_ms:.2f} ms, p99 "
                f"{self.logged_p99_ms:.2f} → {self.replay_p99_ms:.2f} ms; differences "
                f"{self.differences}")


def replay(home=None, model: str = "", version: int = 0, *, since: float | None = None,
           until: float | None = None, url: str | None = None, key: str | None = None,
           max_requests: int | None = None) -> ReplayReport:
    """Re-run the logged inputs of ``model`` answered in [since, until] through ``version``."""
    from ..registry import Registry

    home = resolve_home(home)
    store = open_tables(home / FILENAME)
    try:
        logged = store.loop.replay_rows(model, -math.inf if since is None else since,
                                      math.inf if until is None else until)
    finally:
        store.close()
    if max_requests is not None:
        logged = logged[-int(max_requests):]
    with Registry(home) as registry:
        task = (registry.get_version(model, version).signature or {}).get("task", "classification")
        predict, target, closer = _predictor(registry, model, version, url, key)
    try:
        served_by, pairs, latencies, took = Counter(), [], [], []
        for _id, served_version, latency_ms, inputs, outputs in logged:
            X = np.asarray(orjson.loads(inputs), dtype=np.float64)
            served = orjson.loads(outputs)[:len(X)]
            start = time.perf_counter()
            answer = np.asarray(predict(X)).tolist()
            took.append(1000 * (time.perf_counter() - start))
            latencies.append(latency_ms)
            served_by[int(served_version)] += 1
            pairs.extend(zip(served, answer))
    finally:
        closer()
    agree, differences = _compare(task, pairs)

    def pct(values, q):
        return float(np.percentile(values, q)) if values else math.nan
    return ReplayReport(model, int(version), target, len(logged), len(pairs),
                        agree / len(pairs) if pairs else math.nan, dict(served_by), differences,
                        pct(latencies, 50), pct(latencies, 99), pct(took, 50), pct(took, 99))


def _predictor(registry, model, version, url, key):
    if url is None:
        loaded = registry.load(model, version=version)
        return loaded.predict, "in-process", lambda: None
    from ..serving.client import Client

    client = Client(url, key)
    return (lambda X: client.predict(model, X, version=version)), url, client.close


def _compare(task: str, pairs) -> tuple[int, dict]:
    if task == "classification":
        misses = Counter((str(a), str(b)) for a, b in pairs if not same_label(a, b))
        return len(pairs) - sum(misses.values()), {
            "disagreeing_rows": sum(misses.values()),
            "top_pairs": [{"served": a, "replayed": b, "rows": n}
                          for (a, b), n in misses.most_common(5)]}
    served = np.array([float(np.ravel(a)[0]) for a, _ in pairs])
    again = np.array([float(np.ravel(b)[0]) for _, b in pairs])
    close = np.abs(served - again) <= 0.01 * np.maximum(np.abs(served), 1e-12)
    diff = np.abs(served - again)
    return int(close.sum()), {"mean_abs_diff": float(diff.mean()) if len(diff) else 0.0,
                              "max_abs_diff": float(diff.max()) if len(diff) else 0.0}

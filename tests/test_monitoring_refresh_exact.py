"""What a dashboard refresh shows on a large-ish log (50 000 requests) equals the same figures
computed the straightforward way from the raw request rows — traffic, errors, latency buckets,
predictions, time steps, usage per consumer, the quality section's served rows and prediction
sample, the drift sample — whatever roll-ups, indexes and bounded reads the refresh uses.
Behaviour only: nothing here looks at the clock."""
import time
from collections import Counter, defaultdict

import numpy as np
import pytest

from workbench.data import load_dataset
from workbench.models import LogisticRegression
from workbench.monitoring import Monitor, PredictionLog, read_predictions
from workbench.monitoring.quality import prediction_drift
from workbench.monitoring.rollup import latency_bucket, output_key, percentile_from_buckets
from workbench.monitoring.usage import usage_report
from workbench.registry import Registry
from workbench.store import Store

#: every test here runs on SQLite and on PostgreSQL (tests/conftest.py: store_backend)
pytestmark = pytest.mark.usefixtures("store_backend")

NOW = 1_800_000_000.25
N = 50_000
SPAN = 900.0          # seconds of traffic, ending just before NOW
KEYS = ["k_acme", "k_globex", None]


@pytest.fixture(scope="module")
def iris():
    return load_dataset("iris")


def fill(home, iris, n=N):
    """A log of ``n`` requests over SPAN seconds at fractional times: two versions, a few
    callers, 3 % refused, 5 % with their inputs, some shadow copies and some with no model."""
    model = LogisticRegression(epochs=20, random_state=0).fit(iris.X, iris.y)
    with Registry(home) as reg:
        reg.register("iris", model, reference=iris.X)
        reg.register("iris", model, reference=iris.X)
        reg.set_alias("iris", "production", 2)
    rng = np.random.default_rng(1)
    times = np.sort(NOW - 1 - SPAN + rng.random(n) * SPAN)
    log = PredictionLog(home / "predictions.db", input_fraction=1.0, flush_interval=3600)
    for i, t in enumerate(times):
        status = 422 if rng.random() < 0.03 else 200
        version = 1 if rng.random() < 0.3 else 2
        rows = int(rng.integers(1, 4)) if status == 200 else 1
        outputs = [int(v) for v in rng.integers(0, 3, rows)] if status == 200 else None
        k = KEYS[i % 3]
        if i % 97 == 0:       # a request naming no known model
            log.record(model=None, version=None, status=404, latency_ms=0.2, rows=0,
                       error="no such model", time_=float(t), key_id=k)
            continue
        inputs = iris.X[i % 150:i % 150 + rows] if status == 200 and i % 20 == 0 else None
        log.record(model="iris", version=version, status=status, rows=rows, outputs=outputs,
                   latency_ms=float(rng.lognormal(1.0, 0.7)), inputs=inputs, time_=float(t),
                   key_id=k, error=None if status == 200 else "wrong shape",
                   request_id=f"r{i}")
        if i % 50 == 0:       # a shadow copy: no client's traffic
            log.record(model="iris", version=1, status=200, rows=rows, outputs=outputs,
                       latency_ms=1.0, role="shadow", shadow_of=version, agreement=1.0,
                       time_=float(t))
        if i % 5000 == 0:
            log.flush()
    log.close()


@pytest.fixture
def big_home(tmp_path, iris):
    fill(tmp_path, iris)
    return tmp_path


def client(records, model="iris"):
    return [r for r in records if r.role is None and r.model == model]


def test_the_refresh_figures_equal_those_of_the_raw_rows(big_home, iris):
    records = read_predictions(big_home)
    assert len(records) == N + sum(1 for i in range(N) if i % 50 == 0 and i % 97)  # + shadows
    window, step = 600.5, 10
    mon = Monitor(big_home)
    snap = mon.snapshot(window=window, now=NOW, step=step)
    h = snap.models["iris"]
    lo, hi = int(np.floor(NOW)) - round(window) + 1, int(np.floor(NOW))
    mine = [r for r in client(records) if lo <= int(r.time) <= hi]

    assert h.requests == len(mine) and h.rows == sum(r.rows for r in mine)
    assert h.errors_by_status == dict(Counter(r.status for r in mine if r.status >= 400))
    buckets = Counter(latency_bucket(r.latency_ms) for r in mine)
    for q, got in ((50, h.p50_ms), (95, h.p95_ms), (99, h.p99_ms)):
        assert got == percentile_from_buckets(list(buckets), list(buckets.values()), q)
    per_version = Counter(r.version for r in mine)
    assert {v.version: v.requests for v in h.versions} == dict(per_version)
    outputs = Counter(output_key(o) for r in mine if r.status == 200 for o in r.outputs)
    assert h.predictions == dict(outputs)
    assert list(h.predictions.values()) == sorted(outputs.values(), reverse=True)
    steps = Counter((int(r.time) - lo) // step for r in mine)
    assert h.timeseries.requests_per_s.tolist() == [steps.get(k, 0) / step
                                                    for k in range(len(h.timeseries.start))]
    for v in h.comparison.versions:
        if v.role != "shadow":
            assert v.requests == per_version[v.version]
            assert sum(v.predictions.values()) == sum(
                len(r.outputs) for r in mine if r.version == v.version and r.status == 200)

    # drift reads the newest sampled rows of the live version (2), at most 2000, newest first
    sampled = sorted((r for r in client(records) if r.inputs is not None and r.version == 2
                      and NOW - window < r.time <= NOW), key=lambda r: (r.time, r.id), reverse=True)
    rows = [row for r in sampled for row in r.inputs][:2000]
    assert h.drift.n_live_rows == len(rows)
    assert np.array_equal(mon.live_inputs("iris", version=2, window=window, now=NOW), rows)
    mon.close()


def test_quality_reads_served_rows_and_outputs_as_the_raw_rows_say(big_home):
    records = read_predictions(big_home)
    mon = Monitor(big_home)
    window = 400.7
    report = mon.quality("iris", window, now=NOW)
    answered = [r for r in client(records) if r.status == 200 and NOW - window <= r.time <= NOW]
    for v in report.versions:
        assert v.served_rows == sum(r.rows for r in answered if r.version == v.version)
        newest = [o for r in sorted((r for r in answered if r.version == v.version),
                                    key=lambda r: r.id, reverse=True) for o in r.outputs][:5000]
        reference = mon._reference_outputs("iris", v.version)
        expected = prediction_drift(v.task, reference, newest)
        assert (v.prediction_drift.n_live, v.prediction_drift.statistic) == \
            (expected.n_live, expected.statistic)
    mon.close()


@pytest.mark.parametrize("since, until", [(None, None), (NOW - 700.3, NOW - 99.6),
                                          (NOW - 500.5, NOW - 500.2), (NOW - 300, None),
                                          (None, NOW - 200.0)])
def test_usage_equals_a_sum_over_the_raw_rows(big_home, since, until):
    records = read_predictions(big_home)
    got = usage_report(big_home, by=["model", "version"], period="hour", since=since,
                       until=until)
    want = defaultdict(lambda: [0, 0, 0, 0.0])
    for r in records:
        if r.role == "shadow" or (since is not None and r.time < since) or \
                (until is not None and r.time >= until):
            continue
        period = time.strftime("%Y-%m-%dT%H", time.gmtime(r.time))
        w = want[(period, r.key_id or "-", r.model or "-",
                  "-" if r.version is None else str(r.version))]
        w[0] += 1
        w[1] += r.rows if r.status < 400 else 0
        w[2] += r.status >= 400
        w[3] += r.latency_ms
    assert {(u.period, u.key_id, u.model, u.version): (u.requests, u.rows, u.errors)
            for u in got} == {k: tuple(v[:3]) for k, v in want.items()}
    for u in got:
        assert u.compute_ms == pytest.approx(want[(u.period, u.key_id, u.model, u.version)][3],
                                             abs=2e-3)


def indexes(home) -> set:
    from store_helpers import raw_execute

    if Store(home).backend == "postgresql":
        return {r[0] for r in raw_execute(home, "SELECT indexname FROM pg_indexes WHERE "
                                                "tablename = 'predictions'")}
    return {r[0] for r in raw_execute(home, "SELECT name FROM sqlite_master WHERE type = 'index' "
                                            "AND tbl_name = 'predictions'", "predictions.db")}


def test_a_log_of_schema_3_gains_the_usage_rollup_and_the_index_on_opening(tmp_path, iris):
    """Opening a log written before predictions migration 4 fills ``rollup_usage`` from its
    requests and indexes the answered requests per version."""
    fill(tmp_path, iris, n=3000)
    before = usage_report(tmp_path, by=["model", "version"], period="all")
    from store_helpers import raw_execute

    assert "predictions_served" in indexes(tmp_path)      # made with the log
    for sql in ("DELETE FROM rollup_usage", "DROP INDEX predictions_served",
                "UPDATE schema_version SET version = 3 WHERE component = 'predictions'"):
        raw_execute(tmp_path, sql, "predictions.db")
    assert "predictions_served" not in indexes(tmp_path)
    with Store(tmp_path) as store:
        _ = store.predictions
        assert store.schema_versions()["predictions"] == 4
    assert "predictions_served" in indexes(tmp_path)
    assert usage_report(tmp_path, by=["model", "version"], period="all") == before
    assert raw_execute(tmp_path, "SELECT COUNT(*) FROM rollup_usage", "predictions.db")[0][0] > 0

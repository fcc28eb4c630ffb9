"""Monitor on a log with known contents: counts exact, percentiles within a bucket, drift found."""
import numpy as np
import pytest

from workbench.data import load_dataset
from workbench.models import LogisticRegression
from workbench.monitoring import Monitor, PredictionLog, alerts
from workbench.registry import Registry

#: every test here runs on SQLite and on PostgreSQL (tests/conftest.py: store_backend)
pytestmark = pytest.mark.usefixtures("store_backend")


NOW = 1_800_000_000.0


@pytest.fixture
def home(tmp_path):
    iris = load_dataset("iris")
    reg = Registry(tmp_path)
    model = LogisticRegression(epochs=20, random_state=0).fit(iris.X, iris.y)
    reg.register("iris", model, reference=iris.X)
    reg.register("iris", model, reference=iris.X)
    reg.set_alias("iris", "production", 1)
    reg.close()
    return tmp_path


def write_log(home, records):
    log = PredictionLog(home / "predictions.db", input_fraction=1.0, random_state=0)
    for r in records:
        log.record(**r)
    log.close()


def test_snapshot_counts_and_percentiles(home):
    rng = np.random.default_rng(0)
    latencies = rng.lognormal(1.0, 0.5, size=600)
    iris = load_dataset("iris")
    records = []
    for i, lat in enumerate(latencies):
        status = 422 if i % 20 == 0 else 200
        version = 1 if i % 3 else 2
        records.append(dict(model="iris", version=version, status=status, latency_ms=float(lat), rows=1,
                            outputs=None if status != 200 else [int(i % 3)],
                            error=None if status == 200 else "X has 3 features, expected 4",
                            inputs=iris.X[i % 150: i % 150 + 1], time_=NOW - 100 + i / 6))
    records.append(dict(model=None, version=None, status=404, latency_ms=0.1, rows=0, time_=NOW - 5))
    write_log(home, records)
    mon = Monitor(home)
    snap = mon.snapshot(window=120, now=NOW)
    assert list(snap.models) == ["iris"]
    h = snap.models["iris"]
    assert h.requests == 600 and h.rows == 600
    assert h.errors_by_status == {422: 30} and h.error_rate == pytest.approx(0.05)
    assert h.requests_per_s == pytest.approx(5.0)  # over the whole 120 s window
    assert h.recent_requests_per_s == pytest.approx(6.0)  # the last minute: 360 requests
    for q, got in ((50, h.p50_ms), (95, h.p95_ms), (99, h.p99_ms)):
        assert abs(got / np.percentile(latencies, q) - 1) < 0.091
    assert {v.version: v.requests for v in h.versions} == {1: 400, 2: 200}
    assert sum(h.predictions.values()) == 570 and set(h.predictions) == {"0", "1", "2"}
    assert h.live_version == 1 and h.aliases == {"production": 1}
    # drift of the live version (v1) reads only the inputs v1 answered: 400 requests, 20 refused
    assert h.drift is not None and h.drift.n_live_rows == 380 and h.drift.status == "stable"
    assert h.timeseries.requests_per_s.sum() * 2 == pytest.approx(600)  # 2-second steps
    assert h.last_request == pytest.approx(NOW - 100 + 599 / 6, abs=1)
    # a narrower window reads only its part of the log: 10 s at 6 requests/s, traffic running
    # on past the window's end
    recent = mon.health("iris", window=10, now=NOW - 1)
    assert recent.requests == 60 and recent.requests_per_s == pytest.approx(6.0)
    assert recent.timeseries.requests_per_s.sum() * 1 == pytest.approx(60)  # 1-second steps
    assert mon.health("iris", window=10, now=NOW - 200).requests == 0
    mon.close()


def test_drift_and_alerts_fire_on_shifted_inputs(home):
    iris = load_dataset("iris")
    shifted = iris.X + 3 * iris.X.std(axis=0)
    write_log(home, [dict(model="iris", version=1, status=200, latency_ms=500.0, rows=1, outputs=[0],
                          inputs=shifted[i:i + 1], time_=NOW - 50 + i * 0.1) for i in range(150)])
    mon = Monitor(home, rules=[alerts.drift_share_above(0.5), alerts.latency_above(100),
                               alerts.no_traffic_for(40)])
    snap = mon.snapshot(window=60, now=NOW)
    drift = snap.models["iris"].drift
    assert drift.status == "major" and drift.drift_share == 1.0
    assert {s.rule.metric for s in snap.firing} == {"drift_share", "p99_latency_ms"}
    later = mon.snapshot(window=60, now=NOW + 100)  # no traffic since
    assert {s.rule.metric for s in later.firing} == {"drift_share", "p99_latency_ms", "seconds_since_request"}
    mon.close()


def test_monitor_of_an_empty_home_has_no_models(tmp_path):
    mon = Monitor(tmp_path)
    assert mon.models() == [] and mon.snapshot(now=NOW).models == {}
    mon.close()


def test_inputs_of_another_width_do_not_break_drift(home):
    # e.g. a new version that takes other features is being canaried: its rows are left out
    iris = load_dataset("iris")
    write_log(home, [dict(model="iris", version=1 + i % 2, status=200, latency_ms=1.0, rows=1, outputs=[0],
                          inputs=iris.X[i:i + 1] if i % 2 == 0 else np.ones((1, 7)), time_=NOW - 10 + i * 0.1)
                     for i in range(40)])
    mon = Monitor(home)
    assert mon.live_inputs("iris", window=60, now=NOW).shape[0] == 20  # the newest row's width
    drift = mon.snapshot(window=60, now=NOW).models["iris"].drift
    assert drift.n_live_rows == 20
    assert mon.live_inputs("iris", window=60, now=NOW, n_features=4).shape == (20, 4)
    mon.close()


def test_window_and_step_are_checked(tmp_path):
    mon = Monitor(tmp_path)
    with pytest.raises(ValueError, match="window must be a positive number"):
        mon.health("x", window=0)
    with pytest.raises(ValueError, match="step must be at least 1 second"):
        mon.timeseries("x", window=60, step=0.5)
    mon.close()

"""Usage reports from the prediction log (per key, model, version and period) and the usage
view of the monitoring dashboard."""
import sqlite3

import pytest

from workbench.data import load_dataset
from workbench.models import LogisticRegression
from workbench.monitoring import PredictionLog
from workbench.monitoring.usage import format_usage, usage_report
from workbench.panels.monitoring_panel import MonitoringDashboard
from workbench.registry import Registry
from workbench.serving.keys import KeyStore

DAY = 86400.0
T0 = 20_000 * DAY          # midnight UTC


@pytest.fixture
def home(tmp_path, store_backend):
    iris = load_dataset("iris")
    with Registry(tmp_path) as reg:
        reg.register("iris", LogisticRegression(epochs=5, random_state=0).fit(iris.X, iris.y))
    store = KeyStore(tmp_path)
    ids = {name: store.create(name, "predictor").split("_")[1] for name in ("acme", "globex")}
    store.close()
    log = PredictionLog(tmp_path / "predictions.db")
    calls = [("acme", "iris", 1, 200, 4, T0 + 10), ("acme", "iris", 1, 200, 6, T0 + DAY + 5),
             ("acme", "iris", 1, 429, 0, T0 + DAY + 6), ("globex", "iris", 2, 200, 1, T0 + 20),
             ("globex", None, None, 404, 0, T0 + 30), (None, None, None, 401, 0, T0 + 40)]
    for key, model, version, status, rows, at in calls:
        log.record(model=model, version=version, status=status, latency_ms=2.5, rows=rows,
                   key_id=None if key is None else ids[key], time_=at,
                   error=None if status == 200 else "refused")
    log.record(model="iris", version=2, status=200, latency_ms=1.0, rows=4, role="shadow",
               shadow_of=1, agreement=1.0, time_=T0 + 11)          # not a consumer's traffic
    log.close()
    return tmp_path, ids


def test_usage_per_key_and_day(home):
    path, _ = home
    rows = usage_report(path, period="day")
    got = {(r.period, r.key_name): (r.requests, r.rows, r.errors, r.compute_ms) for r in rows}
    assert got == {("2024-10-04", "-"): (1, 0, 1, 2.5),
                   ("2024-10-04", "acme"): (1, 4, 0, 2.5),
                   ("2024-10-04", "globex"): (2, 1, 1, 5.0),
                   ("2024-10-05", "acme"): (2, 6, 1, 5.0)}
    everything = usage_report(path, period="all")
    assert sum(r.requests for r in everything) == 6
    from store_helpers import raw_execute

    logged = raw_execute(path, "SELECT COUNT(*) FROM predictions WHERE role IS NULL",
                         "predictions.db")[0][0]
    assert logged == 6


def test_usage_by_version_and_time_bounds(home, store_backend):
    path, _ = home
    rows = usage_report(path, by=["version"], period="all", since=T0, until=T0 + DAY)
    got = {(r.key_name, r.model, r.version): r.requests for r in rows}
    assert got == {("-", "-", "-"): 1, ("acme", "iris", "1"): 1, ("globex", "-", "-"): 1,
                   ("globex", "iris", "2"): 1}
    assert format_usage(rows, "csv").splitlines()[0] == (
        "period,key_id,key_name,model,version,requests,rows,errors,compute_ms")
    with pytest.raises(ValueError, match="broken down by"):
        usage_report(path, by="colour")
    with pytest.raises(ValueError, match="period"):
        usage_report(path, period="week")
    if store_backend == "sqlite":       # a home without a log file (PostgreSQL: one store)
        assert usage_report(path / "nowhere") == []


def test_dashboard_shows_usage_per_consumer(home):
    path, _ = home
    dash = MonitoringDashboard(path, window=3600)
    dash.refresh(now=T0 + 60)
    html = dash._usage.value
    assert "acme" in html and "globex" in html and "wb-usage-total" in html
    assert {r.key_name for r in dash.usage(T0 + 60)} == {"-", "acme", "globex"}


def test_usage_of_a_log_from_the_previous_release(tmp_path):
    """A log written before usage metering (no key_id column, read-only): every request is
    counted under '-' and nothing is changed in the file."""
    from pathlib import Path

    data = Path(__file__).parent / "data" / "previous_release"
    for name in ("registry", "predictions"):
        conn = sqlite3.connect(tmp_path / f"{name}.db")
        conn.executescript((data / f"{name}.sql").read_text())
        conn.close()
    before = (tmp_path / "predictions.db").read_bytes()
    rows = usage_report(tmp_path, period="all")
    conn = sqlite3.connect(tmp_path / "predictions.db")
    logged = conn.execute("SELECT COUNT(*) FROM predictions WHERE role IS NULL "
                          "OR role != 'shadow'").fetchone()[0]
    conn.close()
    assert [(r.key_id, r.requests) for r in rows] == [("-", logged)]
    assert (tmp_path / "predictions.db").read_bytes() == before

"""The monitoring dashboard, driven through its methods; widget values read back."""
import asyncio

import pytest

from workbench.data import load_dataset
from workbench.models import LogisticRegression
from workbench.monitoring import PredictionLog
from workbench.panels.monitoring_panel import MonitoringDashboard
from workbench.registry import Registry

NOW = 1_800_000_000.0


@pytest.fixture
def home(tmp_path):
    iris = load_dataset("iris")
    reg = Registry(tmp_path)
    model = LogisticRegression(epochs=20, random_state=0).fit(iris.X, iris.y)
    for _ in range(2):
        reg.register("iris", model, reference=iris.X)
    reg.set_alias("iris", "production", 2)
    reg.close()
    log = PredictionLog(tmp_path / "predictions.db", input_fraction=1.0, random_state=0)
    for i in range(120):
        log.record(model="iris", version=2, status=200 if i % 10 else 503, latency_ms=2.0 + i % 5,
                   rows=1, outputs=[i % 3] if i % 10 else None, inputs=iris.X[i:i + 1] + 5.0,
                   error=None if i % 10 else "not ready", time_=NOW - 60 + i * 0.5)
    log.close()
    return tmp_path


def tile_value(dash, key):
    html = dash._tiles[key].value
    return html.split("class='wb-kpi-value'")[1].split(">", 1)[1].split("<", 1)[0]


def test_refresh_fills_every_tile_from_the_log(home):
    dash = MonitoringDashboard(home, window=300)
    dash.refresh(now=NOW)
    assert dash.model == "iris"
    assert tile_value(dash, "version") == "v2"
    assert tile_value(dash, "requests") == "120"
    # the current rate: the last 60 complete seconds hold all 120 requests
    assert tile_value(dash, "rps") == f"{dash.snapshot.models['iris'].recent_requests_per_s:.2f}" == "2.00"
    assert tile_value(dash, "errors") == "10.0 %"
    # every input moved by +5: all four features drifted (major PSI and a significant KS test)
    assert tile_value(dash, "drift") == "4 of 4" and "wb-tone-bad" in dash._tiles["drift"].value
    assert dash.kpis["requests"] == 120 and dash.kpis["drift_status"] == "major"
    assert "wb-alert" in dash._alerts.value and "error rate above 5%" in dash._alerts.value
    assert dash._drift_table.value.count("wb-verdict-drifted") == 4
    assert "production → v2" in dash._history.value
    assert dash._charts.outputs and "image/png" in dash._charts.outputs[0]["data"]


def test_rollback_button_only_with_a_maintainer_key(home):
    plain = MonitoringDashboard(home)
    assert not plain.can_roll_back
    with pytest.raises(PermissionError, match="maintainer key"):
        plain.rollback()
    with_key = MonitoringDashboard(home, url="http://127.0.0.1:9", maintainer_key="wb_x")
    assert not with_key.can_roll_back  # a key alone is not enough: the control is opt-in
    assert all(c is not with_key._rollback_control for c in with_key.children[-1].children)
    with pytest.raises(PermissionError, match="allow_rollback"):
        with_key.rollback()
    enabled = MonitoringDashboard(home, url="http://127.0.0.1:9", maintainer_key="wb_x",
                                  allow_rollback=True)
    assert enabled.can_roll_back and enabled._rollback_control in enabled.children[-1].children


def test_rollback_asks_for_confirmation_naming_the_versions(home):
    with Registry(home) as reg:  # production: v1, then v2 again, so v1 is where a roll back goes
        reg.set_alias("iris", "production", 1)
        reg.set_alias("iris", "production", 2)
    calls = []
    dash = MonitoringDashboard(home, model="iris", url="http://127.0.0.1:9", maintainer_key="wb_x",
                               allow_rollback=True)
    dash.rollback = lambda alias="production": calls.append(alias)  # no service here
    control = dash._rollback_control
    control._act = dash.rollback
    assert control.box.layout.display == "none"
    control.button.click()                      # pressing the button only asks
    assert calls == [] and control.box.layout.display == "flex"
    assert "from v2 → v1" in control.question.value and "iris" in control.question.value
    control.cancel.click()
    assert calls == [] and control.box.layout.display == "none"
    control.button.click()
    control.confirm.click()
    assert calls == ["production"] and control.box.layout.display == "none"
    with Registry(home) as reg:
        reg.rollback("iris", "production")  # to v1
        reg.rollback("iris", "production")  # to v2 (the fixture's first target)
    assert "no earlier version" in control.ask() and control.confirm.disabled


def test_periodic_refresh_runs_on_the_event_loop(home):
    dash = MonitoringDashboard(home, interval=0.05)

    async def run():
        dash.start()
        await asyncio.sleep(0.3)
        dash.stop()

    asyncio.run(run())
    assert dash.snapshot is not None and dash._task is None


def test_an_empty_home_says_so(tmp_path):
    dash = MonitoringDashboard(tmp_path)
    assert dash.refresh() is None and "no model" in dash._updated.value


def test_tile_colours_follow_the_alert_rules(home):
    from workbench.monitoring import Monitor, alerts

    strict = MonitoringDashboard(home, monitor=Monitor(home, rules=[alerts.latency_above(1.0)]))
    strict.refresh(now=NOW)
    assert "wb-tone-bad" in strict._tiles["p99"].value
    lax = MonitoringDashboard(home, monitor=Monitor(home, rules=[alerts.latency_above(1000.0)]))
    lax.refresh(now=NOW)
    assert "wb-tone-bad" not in lax._tiles["p99"].value


def test_a_refresh_that_changes_the_model_list_refreshes_once(home, monkeypatch):
    dash = MonitoringDashboard(home)
    calls = []
    original = dash.monitor.snapshot
    monkeypatch.setattr(dash.monitor, "snapshot", lambda **kw: calls.append(kw) or original(**kw))
    dash._model.options = ["(no models yet)"]  # as if the home had no model when the panel opened
    calls.clear()
    dash.refresh(now=NOW)
    assert len(calls) == 1 and dash.model == "iris"


def test_a_quick_first_paint_shows_the_same_tiles_without_drift_or_alerts(home):
    quick = MonitoringDashboard(home, window=300)
    assert quick.refresh(now=NOW, quick=True) is None
    assert quick.snapshot is None and quick._alerts.value == "" and quick._drift.value == ""
    assert quick._drift_table.value == "" and tile_value(quick, "quality") == "…"
    assert tile_value(quick, "drift") == "…"
    full = MonitoringDashboard(home, window=300)
    full.refresh(now=NOW)
    for key in ("version", "rps", "requests", "p50", "p99", "errors"):
        assert tile_value(quick, key) == tile_value(full, key)
    assert quick._versions.value == full._versions.value
    assert {k: v for k, v in quick.kpis.items() if not k.startswith("drift")} == \
        {k: v for k, v in full.kpis.items() if not k.startswith("drift")}
    quick.refresh(now=NOW)           # the next full refresh draws the rest
    assert tile_value(quick, "drift") == "4 of 4" and "wb-drift-row" in quick._drift_table.value


def test_a_quick_first_paint_imports_neither_scipy_nor_matplotlib(home):
    import json
    import subprocess
    import sys

    script = (
        "import json, sys\n"
        "from workbench.panels.monitoring_panel import MonitoringDashboard\n"
        f"dash = MonitoringDashboard({str(home)!r}, window=300)\n"
        f"dash.refresh(now={NOW!r}, quick=True)\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'matplotlib', 'sklearn', 'pandas'})\n"
        "print(json.dumps({'heavy': heavy, 'requests': dash.kpis['requests']}))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"heavy": [], "requests": 120}


def test_start_with_a_delay_refreshes_after_it(home):
    dash = MonitoringDashboard(home, window=300)
    calls = []
    dash.refresh = lambda *a, **k: calls.append(asyncio.get_event_loop().time())

    async def run():
        begun = asyncio.get_event_loop().time()
        task = dash.start(interval=10, delay=0.2)
        await asyncio.sleep(0.05)
        assert calls == []                      # not before the delay
        await asyncio.sleep(0.4)
        dash.stop()
        await asyncio.gather(task, return_exceptions=True)
        return begun

    begun = asyncio.run(run())
    assert len(calls) == 1 and calls[0] - begun >= 0.2


def test_a_dropdown_change_after_the_monitor_was_closed_says_so_in_the_status_line(home):
    dash = MonitoringDashboard(home, window=300)
    dash.monitor.close()                          # what the walkthrough's clean-up cell does
    dash._window.value = 60                       # raises if the error escaped the callback
    message = dash._message.value
    assert "show iris failed:" in message and "Traceback" not in message


def test_a_failing_periodic_refresh_names_the_refresh_and_recovers(home, monkeypatch):
    dash = MonitoringDashboard(home, interval=0.05)
    real = dash.refresh
    calls = []

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(dash, "refresh", flaky)
    seen = []

    async def run():
        dash.start()
        await asyncio.sleep(0.02)
        seen.append(dash._message.value)
        await asyncio.sleep(0.3)
        dash.stop()

    asyncio.run(run())
    assert "refresh failed:" in seen[0] and "the database went away" in seen[0]
    assert dash._message.value == ""              # the next refresh worked: the message is gone

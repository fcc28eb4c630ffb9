"""Monitor and the traffic simulator against a real server run (uvicorn on 127.0.0.1)."""
import time
from collections import Counter

import numpy as np
import pytest

from workbench.cli import main as workbench_main
from workbench.data import load_dataset
from workbench.loadgen import TrafficSimulator, simulate
from workbench.monitoring import Monitor, read_predictions, wait_until_written
from workbench.registry import Registry


def wait_for_log(home, model="digits"):
    wait_until_written(home)
    return read_predictions(home, model=model)


def test_monitor_agrees_with_the_log_of_a_real_server(digits_service):
    home, endpoint = digits_service
    X = load_dataset("digits").X
    result = simulate(endpoint.url, "digits", X, key=endpoint.key, rps=50, duration=3,
                      bad_fraction=0.3, random_state=5)
    assert result.failures == 0 and result.sent >= 100
    # every kind of bad request got its own status from the server
    expected = Counter({200: result.by_kind["good"]})
    for kind, status in (("malformed_json", 400), ("missing_key", 401), ("unknown_model", 404),
                         ("wrong_shape", 422)):
        expected[status] += result.by_kind.get(kind, 0)
    assert Counter(result.statuses) == expected

    logged = wait_for_log(home)
    statuses = Counter(r.status for r in logged)
    monitor = Monitor(home)
    health = monitor.health("digits", window=120)
    monitor.close()
    assert health.requests == len(logged)
    assert health.errors_by_status == {s: n for s, n in statuses.items() if s >= 400}
    assert health.error_rate == pytest.approx(sum(n for s, n in statuses.items() if s >= 400) / len(logged))
    by_version = Counter(r.version for r in logged if r.version)
    assert {v.version: v.requests for v in health.versions} == dict(by_version)
    assert by_version[2] >= statuses[200] + statuses[422]
    latencies = np.array([r.latency_ms for r in logged])
    assert health.p50_ms == pytest.approx(np.percentile(latencies, 50), rel=0.1)
    assert sum(health.predictions.values()) == statuses[200]
    assert health.live_version == 2 and health.drift.n_live_rows == statuses[200]


def test_drifting_traffic_is_detected(digits_service, tmp_path):
    home, endpoint = digits_service
    X = load_dataset("digits").X
    start = time.time()
    simulate(endpoint.url, "digits", X, key=endpoint.key, rps=80, duration=3, drift=4.0,
             drift_start=0.0, random_state=7)
    wait_until_written(home)
    now = time.time()
    monitor = Monitor(home)
    report = monitor.drift("digits", window=now - start, now=now)  # exactly this run's traffic
    monitor.close()
    assert report.n_live_rows > 50
    assert report.status == "major" and report.drift_share > 0.1
    # the demo registers the data set's column names: the drift report speaks of pixels, not x28
    assert {f.feature for f in report.features} == set(load_dataset("digits").feature_names)


def test_simulate_command_creates_and_revokes_its_own_key(digits_service, capsys):
    home, endpoint = digits_service
    code = workbench_main(["simulate", "--home", str(home), "--model", "digits", "--url", endpoint.url,
                           "--rps", "20", "--duration", "1"])
    out = capsys.readouterr().out
    assert code == 0 and "sent" in out and "200:" in out
    from workbench.serving.keys import KeyStore

    store = KeyStore(home)
    simulators = [k for k in store.list() if k.name.startswith("simulator-")]
    store.close()
    assert simulators and all(k.revoked for k in simulators)


@pytest.mark.parametrize("ref, version", [("1", 1), ("production", None)])
def test_simulate_command_calls_the_version_or_alias_it_is_given(digits_service, capsys, ref,
                                                                version):
    """`workbench simulate digits 1` sends every request to v1, whatever production serves."""
    home, endpoint = digits_service
    if version is None:
        version = Registry(home).aliases("digits")["production"]
    start = time.time()
    code = workbench_main(["simulate", "digits", ref, "--home", str(home), "--url", endpoint.url,
                           "--rps", "20", "--duration", "1"])
    out = capsys.readouterr().out
    assert code == 0 and f"TrafficSimulator('digits' {ref} at" in out and "200:" in out
    wait_until_written(home)
    served = Counter(r.version for r in read_predictions(home, model="digits", since=start))
    assert sum(served.values()) >= 10 and set(served) == {version}


def test_simulator_drift_schedule_and_bad_arguments():
    X = np.arange(20.0).reshape(10, 2)
    sim = TrafficSimulator("http://127.0.0.1:9", "m", X, rps=10, duration=10, drift=2.0, drift_start=0.5)
    assert sim.shift_at(0.25) == 0.0 and sim.shift_at(0.75) == pytest.approx(1.0) and sim.shift_at(1.0) == 2.0
    with pytest.raises(ValueError, match="rps must be"):
        TrafficSimulator("http://x", "m", X, rps=0)
    with pytest.raises(ValueError, match="bad_fraction must be in"):
        TrafficSimulator("http://x", "m", X, bad_fraction=2)
    with pytest.raises(ValueError, match="non-empty 2-D array"):
        TrafficSimulator("http://x", "m", X[0])


def test_simulator_reports_an_unreachable_service():
    from workbench.serving.endpoint import free_port

    X = np.ones((3, 2))
    # bounded by max_requests, not by a short duration (a busy machine may need a while to send one)
    result = simulate(f"http://127.0.0.1:{free_port()}", "m", X, rps=20, duration=30, max_requests=3)
    assert result.sent == 3 and result.failures == 3 and result.statuses == {}
    assert "answers none; no answer: 3" in str(result)


def test_simulate_command_hints_when_nothing_answers(tmp_path):
    import subprocess
    import sys

    from serving_helpers import make_home
    from workbench.serving.endpoint import free_port

    make_home(tmp_path)
    url = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run([sys.executable, "-m", "workbench.cli", "simulate", "--home", str(tmp_path),
                             "--model", "iris", "--url", url, "--duration", "1", "--rps", "5"],
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert f"nothing answered at {url}: is the service running there?" in result.stderr
    assert "workbench serve --home" in result.stderr


def test_dashboard_rolls_back_through_the_service_with_a_maintainer_key(digits_service):
    # last in this module: it moves production from v2 back to v1
    from workbench.panels.monitoring_panel import MonitoringDashboard

    home, endpoint = digits_service
    dash = MonitoringDashboard(home, model="digits", url=endpoint.url, maintainer_key=endpoint.key,
                               allow_rollback=True)
    dash.refresh()
    assert dash.kpis["live_version"] == 2
    assert dash.rollback() == 200
    assert "rolled back to v1" in dash._message.value and dash.kpis["live_version"] == 1
    event = Registry(home).history("digits")[-1]
    assert event.action == "rolled back" and event.author.startswith("dashboard (key ")
    assert dash.rollback() == 409  # nothing further back: refused, and the reason is shown
    assert "roll back refused" in dash._message.value
    viewer = MonitoringDashboard(home, model="digits", url=endpoint.url, maintainer_key="wb_00000000_" + "x" * 43,
                                 allow_rollback=True)
    assert viewer.rollback() == 401

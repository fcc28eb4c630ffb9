"""Issue 10, serving side, in process: the log writer never dies silently, retention, bounded
cold loads, archived versions, the --no-auth guard, no server paths in errors, keys audited and
never taken from argv."""
import os
import sqlite3
import time

import pytest
from serving_helpers import auth, data, make_home, v2_body
from starlette.testclient import TestClient

from workbench.monitoring import upkeep
from workbench.loadgen.cli import read_key
from workbench.monitoring.log import PredictionLog, open_tables
from workbench.monitoring.monitor import Monitor
from workbench.registry import Registry
from workbench.serving.app import create_app
from workbench.serving.guard import loopback_host
from workbench.serving.keys import KeyStore
from workbench.serving.metrics import ServingMetrics
from workbench.serving.protocol import Limits


def _count(path, where="1=1"):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM predictions WHERE {where}").fetchone()[0]
    finally:
        conn.close()


# -- the prediction log ----------------------------------------------------------------------
def test_unwritable_record_is_counted_reported_and_skipped(tmp_path, caplog):
    drops = []
    log = PredictionLog(tmp_path / "predictions.db", flush_interval=0.05,
                        on_drop=lambda reason, n: drops.append((reason, n)))
    try:
        log.record(model="m", version=1, status=200, latency_ms=1, rows=1, request_id="before")
        log.record(model="m", version=1, status=200, latency_ms=1, rows=1, request_id="\ud800")
        log.record(model="m", version=1, status=200, latency_ms=1, rows=1, request_id="after")
        deadline = time.monotonic() + 10
        while log.written_ < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert log._thread.is_alive()
        for i in range(8):       # the writer keeps writing after the bad record
            log.record(model="m", version=1, status=200, latency_ms=1, rows=1,
                       request_id=f"later-{i}")
    finally:
        log.close()
    assert _count(log.path) == 10
    assert log.drops_ == {"queue_full": 0, "unwritable": 1}
    assert drops == [("unwritable", 1)]
    assert "UnicodeEncodeError" in log.last_drop_reason_
    assert "dropped 1 record" in caplog.text and "UnicodeEncodeError" in caplog.text
    monitor = Monitor(tmp_path)
    try:
        health = monitor.log_health()
    finally:
        monitor.close()
    assert health["healthy"] is False and health["dropped"] == 1
    assert health["status"].startswith("1 records dropped") and "unwritable" in health["status"]


def test_full_queue_drops_are_counted_and_the_rest_written(tmp_path):
    drops = []
    log = PredictionLog(tmp_path / "predictions.db", flush_interval=3600, max_queue=3,
                        on_drop=lambda reason, n: drops.append(reason))
    for i in range(5):
        log.record(model="m", version=1, status=200, latency_ms=1, rows=1, request_id=str(i))
    log.close()
    assert _count(log.path) == 3
    assert log.drops_["queue_full"] == 2 and drops == ["queue_full"] * 2
    store = open_tables(log.path)
    try:
        health = upkeep.read_health(store.predictions)
    finally:
        store.close()
    assert health["dropped"] == 2 and not health["healthy"]


def test_a_healthy_log_says_so(tmp_path):
    with PredictionLog(tmp_path / "predictions.db") as log:
        log.record(model="m", version=1, status=200, latency_ms=1, rows=1)
    monitor = Monitor(tmp_path)
    try:
        assert monitor.log_health() == {"healthy": True, "dropped": 0, "last_reason": None,
                                        "last_drop_at": None, "status": "log healthy"}
    finally:
        monitor.close()


def test_dropped_records_are_a_metrics_counter():
    metrics = ServingMetrics()
    body = metrics.render()[0].decode()
    assert 'workbench_prediction_log_dropped_total{reason="unwritable"} 0.0' in body
    metrics.log_dropped("unwritable", 2)
    metrics.log_dropped("queue_full")
    body = metrics.render()[0].decode()
    assert 'workbench_prediction_log_dropped_total{reason="unwritable"} 2.0' in body
    assert 'workbench_prediction_log_dropped_total{reason="queue_full"} 1.0' in body


# -- retention --------------------------------------------------------------------------------
def test_retention_prunes_old_rows_in_small_batches(tmp_path):
    now = time.time()
    log = PredictionLog(tmp_path / "predictions.db", flush_interval=3600)
    for i in range(120):
        log.record(model="m", version=1, status=200, latency_ms=1, rows=1, outputs=[1],
                   time_=now - 40 * 86400 + i)
    for i in range(30):
        log.record(model="m", version=1, status=200, latency_ms=1, rows=1, outputs=[1],
                   time_=now - 60 + i)
    log.close()
    store = open_tables(log.path)
    tables = store.predictions
    batches = []
    prune_before = tables.prune_before
    tables.prune_before = lambda cutoff, batch: batches.append(prune_before(cutoff, batch)) \
        or batches[-1]
    try:
        deleted = upkeep.prune(tables, upkeep.Retention(days=30, batch=50), now=now)
    finally:
        store.close()
    assert deleted == 120 and batches == [50, 50, 20, 0]     # small transactions
    conn = sqlite3.connect(log.path)
    try:
        assert conn.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 30
        old = conn.execute("SELECT COUNT(*) FROM rollup_status WHERE second < ?",
                           (int(now - 30 * 86400),)).fetchone()[0]
        assert old == 0
        assert conn.execute("SELECT COUNT(*) FROM rollup_status").fetchone()[0] > 0
    finally:
        conn.close()


def test_retention_size_cap_removes_the_oldest_rows(tmp_path):
    log = PredictionLog(tmp_path / "predictions.db", flush_interval=3600)
    for i in range(3000):
        log.record(model="m", version=1, status=200, latency_ms=1, rows=1, outputs=["x" * 200],
                   request_id=str(i))
    log.close()
    store = open_tables(log.path)
    try:
        cap = 256 * 1024
        assert store.predictions.live_bytes() > cap
        upkeep.prune(store.predictions,
                     upkeep.Retention(days=None, max_bytes=cap, max_batches=100))
        assert store.predictions.live_bytes() <= cap
    finally:
        store.close()
    conn = sqlite3.connect(log.path)
    try:
        ids = [int(r[0]) for r in conn.execute("SELECT request_id FROM predictions")]
    finally:
        conn.close()
    assert ids and min(ids) > 0 and max(ids) == 2999       # the newest are kept


def test_the_writer_prunes_in_the_background(tmp_path):
    log = PredictionLog(tmp_path / "predictions.db", flush_interval=0.05,
                        retention=upkeep.Retention(days=1, interval=0.1))
    try:
        log.record(model="m", version=1, status=200, latency_ms=1, rows=1,
                   time_=time.time() - 2 * 86400)
        log.record(model="m", version=1, status=200, latency_ms=1, rows=1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (
                log.written_ == 2 and _count(log.path) == 1):
            time.sleep(0.05)
    finally:
        log.close()
    assert _count(log.path) == 1


@pytest.mark.parametrize("kwargs", [{"days": 0}, {"days": -1}, {"max_bytes": 10},
                                    {"batch": 0}, {"days": "30"}])
def test_retention_refuses_bad_settings(kwargs):
    with pytest.raises(ValueError):
        upkeep.Retention(**kwargs)


# -- limits and the guard -------------------------------------------------------------------
@pytest.mark.parametrize("field", ["max_inputs", "max_rank", "max_dim", "max_id_chars"])
def test_limits_refuse_non_positive_caps(field):
    with pytest.raises(ValueError, match=field):
        Limits(**{field: 0})


@pytest.mark.parametrize("host, ok", [
    (b"127.0.0.1", True), (b"127.0.0.1:8000", True), (b"localhost", True),
    (b"LOCALHOST:1", True), (b"[::1]", True), (b"[::1]:8080", True),
    (b"evil.example", False), (b"localhost.evil.example", False), (b"127.0.0.1.nip.io", False),
    (b"127.0.0.1:80:80", False), (b"[::1]x", False), (b"", False), (None, False),
    (b"127.0.0.2", False), (b"0.0.0.0", False), (b"localhost:abc", False)])
def test_loopback_host(host, ok):
    assert loopback_host(host) is ok


# -- in-process app: archived, cold loads, no paths, key audit --------------------------------
@pytest.fixture
def home(tmp_path):
    keys = make_home(tmp_path)
    X, y = data()
    from workbench.models import LogisticRegression

    with Registry(tmp_path) as reg:
        for _ in range(3):            # iris v3, v4, v5
            reg.register("iris", LogisticRegression().fit(X, y))
        reg.archive("iris", 5)
    return tmp_path, keys


def test_cold_loads_by_number_are_bounded(home):
    home, keys = home
    app = create_app(home, max_cold_loads=2, preload=False)
    with TestClient(app) as client:
        answers = [client.post(f"/v2/models/iris/versions/{v}/infer",
                               json=v2_body(data(1)[0]), headers=auth(keys["predictor"]))
                   for v in (1, 2, 1, 2, 3)]
        assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
        assert int(answers[-1].headers["retry-after"]) >= 1
        assert "retry in" in answers[-1].json()["error"]
        # what is loaded keeps answering; names and aliases are not limited
        assert client.post("/v2/models/iris/versions/2/infer", json=v2_body(data(1)[0]),
                           headers=auth(keys["predictor"])).status_code == 200
        assert client.post("/v2/models/house/infer", json=v2_body(data(1)[0]),
                           headers=auth(keys["predictor"])).status_code == 200


def test_archived_version_is_404_and_leaves_the_cache_when_archived(home):
    home, keys = home
    app = create_app(home, poll_interval=0.05)
    with TestClient(app) as client:
        answer = client.post("/v2/models/iris/versions/5/infer", json=v2_body(data(1)[0]),
                             headers=auth(keys["predictor"]))
        assert answer.status_code == 404 and "archived" in answer.json()["error"]
        path = "/v2/models/iris/versions/4/infer"
        assert client.post(path, json=v2_body(data(1)[0]),
                           headers=auth(keys["predictor"])).status_code == 200
        with Registry(home) as reg:
            reg.archive("iris", 4)
        app.state.serving.cache.refresh()
        answer = client.post(path, json=v2_body(data(1)[0]), headers=auth(keys["predictor"]))
        assert answer.status_code == 404 and "archived" in answer.json()["error"]


def test_a_damaged_weight_file_answers_503_without_server_paths(home):
    home, keys = home
    with Registry(home) as reg:
        sha = reg.get_version("iris", 3).sha256
    (home / "blobs" / sha).write_bytes(b"tampered")
    with TestClient(create_app(home, preload=False)) as client:
        answer = client.post("/v2/models/iris/versions/3/infer", json=v2_body(data(1)[0]),
                             headers=auth(keys["predictor"]))
    assert answer.status_code == 503
    error = answer.json()["error"]
    assert "damaged" in error and str(home) not in error and "/tmp" not in error, error


def test_key_create_and_revoke_are_audited_without_the_secret(home):
    home, keys = home
    with TestClient(create_app(home, preload=False)) as client:
        created = client.post("/admin/keys", json={"name": "ci", "role": "predictor"},
                              headers=auth(keys["admin"]))
        assert created.status_code == 201
        assert client.delete("/admin/keys/ci", headers=auth(keys["admin"])).status_code == 200
    store = KeyStore(home)
    try:
        store.create("cli-made", "viewer", author="alice")
        events = store.events()
    finally:
        store.close()
    ours = [(name, action, author) for name, action, author, _, _ in events
            if name in ("ci", "cli-made")]
    assert ours == [("ci", "key created", "admin-key"), ("ci", "key revoked", "admin-key"),
                    ("cli-made", "key created", "alice")]
    conn = sqlite3.connect(home / "registry.db")
    try:
        audit = " ".join(str(r) for r in conn.execute("SELECT * FROM audit"))
    finally:
        conn.close()
    secret = created.json()["key"]
    assert secret not in audit and secret.rsplit("_", 1)[1] not in audit


def test_the_guard_is_in_the_app_factory(tmp_path):
    make_home(tmp_path)
    with TestClient(create_app(tmp_path, auth=False, preload=False),
                    base_url="http://evil.example") as client:
        assert client.get("/v2/models").status_code == 403
    with TestClient(create_app(tmp_path, auth=False, preload=False),
                    base_url="http://127.0.0.1:8000") as client:
        assert client.get("/v2/models").status_code == 200
        refused = client.post("/v2/models/iris/aliases/production/rollback",
                              content=b"{}", headers={"Content-Type": "text/plain"})
        assert refused.status_code == 415


# -- keys never in argv -----------------------------------------------------------------------
def test_simulate_reads_the_key_from_a_file_or_the_environment(tmp_path, monkeypatch):
    path = tmp_path / "key"
    path.write_text("wb_12345678_secret\n")
    monkeypatch.setenv("WORKBENCH_API_KEY", "from-env")
    assert read_key(str(path)) == "wb_12345678_secret"
    assert read_key(None) == "from-env"
    monkeypatch.delenv("WORKBENCH_API_KEY")
    assert read_key(None) is None
    with pytest.raises(ValueError, match="cannot read"):
        read_key(str(tmp_path / "missing"))
    (tmp_path / "empty").write_text("")
    with pytest.raises(ValueError, match="empty"):
        read_key(str(tmp_path / "empty"))


def test_simulate_has_no_key_option():
    from workbench.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["simulate", "--model", "iris", "--key", "wb_12345678_secret"])
    assert exit_.value.code == 2
    assert os.environ.get("WORKBENCH_API_KEY") != "wb_12345678_secret"

"""The closed loop without a server: webhooks to a real local receiver (retries, signatures,
delivery log, alert transitions), the controller's lease, quality of regressors, prediction
drift, the per-model input fraction, feedback parsing."""
import json
import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from webhook_receiver import Receiver

from workbench.models import LinearRegression, LogisticRegression
from workbench.monitoring import Monitor, PredictionLog, read_predictions
from workbench.monitoring.feedback import FeedbackError, parse_feedback, record_feedback
from workbench.monitoring.quality import wilson
from workbench.monitoring.sampling import set_input_fraction
from workbench.monitoring.webhooks import (
    Webhook,
    deliver,
    load_webhooks,
    sign,
    verify_signature,
)
from workbench.registry import Registry
from workbench.store import Store

SECRET = "s3cret"


def test_webhook_is_retried_after_two_failures_signed_and_logged(tmp_path):
    store = Store(tmp_path)
    slept = []
    with Receiver(fail_first=2) as receiver:
        hook = Webhook(receiver.url, secret=SECRET, backoff_s=0.01)
        event = {"kind": "alert", "text": "hello", "value": 1.5}
        [result] = deliver([hook], event, tables=store.loop, sleep=lambda s: (slept.append(s), time.sleep(s)))
    assert result == {"target": receiver.url, "ok": True, "attempts": 3, "status": 200,
                      "error": None}
    assert receiver.attempts == 3 and slept == [0.01, 0.02]          # exponential backoff
    [got] = receiver.received
    assert got["json"] == event
    assert verify_signature(SECRET, got["body"], got["headers"]["x-workbench-timestamp"],
                            got["headers"]["x-workbench-signature"])
    assert not verify_signature(SECRET, got["body"] + b" ", got["headers"]["x-workbench-timestamp"],
                                got["headers"]["x-workbench-signature"])
    assert not verify_signature("other", got["body"], got["headers"]["x-workbench-timestamp"],
                                got["headers"]["x-workbench-signature"])
    [row] = store.loop.deliveries()
    assert row["ok"] == 1 and row["attempts"] == 3 and row["status"] == 200
    store.close()


def test_webhook_gives_up_after_max_attempts_and_slack_format(tmp_path):
    store = Store(tmp_path)
    with Receiver(fail_first=10) as receiver:
        hook = Webhook(receiver.url, max_attempts=3, backoff_s=0)
        [result] = deliver([hook], {"kind": "rollout", "text": "x"}, tables=store.loop)
        assert not result["ok"] and result["attempts"] == 3 and result["error"] == "HTTP 500"
    with Receiver() as receiver:
        slack = Webhook(receiver.url, format="slack", events=["rollout"])
        deliver([slack], {"kind": "alert", "text": "not for this hook"})
        deliver([slack], {"kind": "rollout", "text": "rolled back", "evidence": {}})
        assert receiver.events() == [{"text": "rolled back"}]
        assert "x-workbench-signature" not in receiver.received[0]["headers"]   # no secret
    assert [r["ok"] for r in store.loop.deliveries()] == [0]
    store.close()


def test_signature_is_refused_when_old():
    body, ts = b"{}", str(int(time.time()) - 3600)
    good = sign(b"k", ts, body)
    assert verify_signature(b"k", body, ts, good, max_age_s=None)
    assert not verify_signature(b"k", body, ts, good)              # an hour old: replayed


@pytest.mark.parametrize("bad, match", [
    ({"url": "ftp://x"}, "http"), ({"url": "http://x", "format": "xml"}, "format"),
    ({"url": "http://x", "events": ["deploy"]}, "events"),
    ({"url": "http://x", "max_attempts": 0}, "max_attempts"),
    ({"url": "http://x", "backoff_s": -1}, "backoff_s")])
def test_bad_webhook_configs_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        Webhook(**bad)


def test_alert_transitions_are_delivered_once(tmp_path, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    with Receiver() as receiver:
        (tmp_path / "alerts.json").write_text(json.dumps({
            "rules": [{"name": "errors", "metric": "error_rate", "threshold": 0.2}],
            "webhooks": [{"url": receiver.url, "secret_env": "HOOK_SECRET", "backoff_s": 0}]}))
        assert load_webhooks(tmp_path)[0].key() == SECRET.encode()
        now = time.time()
        with PredictionLog(tmp_path / "predictions.db") as log:
            for i in range(10):
                log.record(model="m", version=1, status=500 if i < 5 else 200, latency_ms=1,
                           rows=1, outputs=None if i < 5 else [0], time_=now - 100 + i)
            for i in range(10):
                log.record(model="m", version=1, status=200, latency_ms=1, rows=1, outputs=[0],
                           time_=now - 10 + i * 0.1)
        mon = Monitor(tmp_path)
        try:
            assert [a.changed for a in mon.snapshot(window=60, now=now - 85).alerts] == [True]
            assert [a.changed for a in mon.snapshot(window=60, now=now - 84).alerts] == [False]
            [resolved] = mon.snapshot(window=30, now=now).alerts
            assert resolved.state == "resolved" and resolved.changed
        finally:
            mon.close()
        deadline = time.monotonic() + 10
        while len(receiver.events("alert")) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [e["state"] for e in receiver.events("alert")] == ["firing", "resolved"]
        assert receiver.events("alert")[0]["rule"] == "errors"


def test_lease_lets_one_holder_act_until_it_expires(tmp_path):
    sa, sb = Store(tmp_path), Store(tmp_path)          # two processes' connections
    a, b = sa.loop, sb.loop
    assert a.acquire_lease("ctl", "A", ttl=10, now=100)
    assert not b.acquire_lease("ctl", "B", ttl=10, now=105)
    assert a.acquire_lease("ctl", "A", ttl=10, now=105)      # renewed to 115
    assert not b.acquire_lease("ctl", "B", ttl=10, now=112)
    assert b.acquire_lease("ctl", "B", ttl=10, now=116)      # A stopped renewing
    assert a.lease_holder("ctl", now=117) == "B"
    b.release_lease("ctl", "B")
    assert a.lease_holder("ctl", now=117) is None
    sa.close(), sb.close()


def _served(home, model, version, X, outputs, ids):
    with PredictionLog(home / "predictions.db") as log:
        for rid, x, out in zip(ids, X, outputs):
            log.record(model=model, version=version, status=200, latency_ms=1.0, rows=1,
                       outputs=np.atleast_1d(out), inputs=x[None, :], request_id=rid)


def test_regression_quality_rmse_mae_and_prediction_drift(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    with Registry(tmp_path) as reg:
        reg.register("house", LinearRegression().fit(X, y), reference=X)
        model = reg.load("house", version=1)
    ids = [f"h{i}" for i in range(100)]
    live = X[:100] + np.array([3.0, 0, 0])                          # shifted inputs
    predictions = model.predict(live)
    _served(tmp_path, "house", 1, live, predictions, ids)
    truth = predictions + rng.normal(scale=0.5, size=100)
    store = Store(tmp_path)
    answer = record_feedback(store.loop, "house", {"feedback": [
        {"id": rid, "labels": [float(t)]} for rid, t in zip(ids[:80], truth)]})
    assert answer == {"matched": 80, "unknown": []}
    store.close()
    mon = Monitor(tmp_path)
    try:
        q = mon.quality("house").get(1)
    finally:
        mon.close()
    stored = np.array(json.loads(json.dumps(predictions[:80].tolist())))
    errors = stored - truth[:80]
    assert q.task == "regression" and q.labelled_rows == 80 and q.served_rows == 100
    assert q.labelled_fraction == 0.8 and math.isnan(q.accuracy)
    assert q.rmse == pytest.approx(np.sqrt(np.mean(errors ** 2)), rel=1e-12)
    assert q.mae == pytest.approx(np.mean(np.abs(errors)), rel=1e-12)
    assert q.rmse_ci[0] < q.rmse < q.rmse_ci[1] and q.mae_ci[0] < q.mae < q.mae_ci[1]
    assert q.prediction_drift.test == "ks" and q.prediction_drift.drifted


def test_classifier_prediction_drift_and_timeline(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] > 0).astype(int)
    with Registry(tmp_path) as reg:
        reg.register("clf", LogisticRegression().fit(X, y), reference=X)
    ids = [f"c{i}" for i in range(60)]
    _served(tmp_path, "clf", 1, X[:60] + [4.0, 0], np.ones(60, dtype=int), ids)   # all class 1
    store = Store(tmp_path)
    record_feedback(store.loop, "clf", {"feedback": [{"id": r, "labels": [int(i % 2)]}
                                               for i, r in enumerate(ids)]})
    store.close()
    mon = Monitor(tmp_path)
    try:
        q = mon.quality("clf", window=3600, step=60).get(1)
    finally:
        mon.close()
    assert q.accuracy == 0.5 and q.accuracy_ci == wilson(30, 60)
    assert q.prediction_drift.test == "chi-square" and q.prediction_drift.drifted
    assert sum(n for _, n, _ in q.timeline) == 60


def test_quality_at_one_instant_sees_labels_posted_in_between_and_a_refresh_asks_once(tmp_path,
                                                                                    monkeypatch):
    from workbench.monitoring import quality as quality_module

    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 2))
    with Registry(tmp_path) as reg:
        reg.register("clf", LogisticRegression().fit(X, (X[:, 0] > 0).astype(int)), reference=X)
        reg.set_alias("clf", "production", 1)
    ids = [f"q{i}" for i in range(40)]
    _served(tmp_path, "clf", 1, X[:40], np.ones(40, dtype=int), ids)
    store = Store(tmp_path)
    record_feedback(store.loop, "clf", {"feedback": [{"id": r, "labels": [1]} for r in ids[:10]]})
    mon = Monitor(tmp_path)
    try:
        now = time.time() + 1
        assert mon.quality("clf", 3600, now=now).get(1).labelled_rows == 10
        record_feedback(store.loop, "clf", {"feedback": [{"id": r, "labels": [0]} for r in ids[10:]]})
        again = mon.quality("clf", 3600, now=now).get(1)        # same instant, new labels: seen
        assert again.labelled_rows == 40 and again.accuracy == 0.25
        calls = []
        real = quality_module.quality_report
        monkeypatch.setattr(quality_module, "quality_report",
                            lambda *a, **k: calls.append(1) or real(*a, **k))
        snap = mon.snapshot(window=3600, now=now, models=["clf"])
        table = mon.quality("clf", 3600, now=snap.time)         # the dashboard's next question
        assert table.get(1).labelled_rows == 40 and len(calls) == 1
        mon.quality("clf", 3600, now=snap.time)                 # asked once more: computed afresh
        assert len(calls) == 2
    finally:
        mon.close()
        store.close()


def test_wilson_interval_known_values():
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    assert all(math.isnan(v) for v in wilson(0, 0))  # no data, no interval


def test_per_model_input_fraction(tmp_path):
    set_input_fraction(tmp_path, "full", 1.0)
    with PredictionLog(tmp_path / "predictions.db", input_fraction=0.0) as log:
        log.load_settings(tmp_path)
        assert log.input_fractions == {"full": 1.0}
        for model in ("full", "other"):
            for _ in range(20):
                log.record(model=model, version=1, status=200, latency_ms=1, rows=1,
                           outputs=[0], inputs=np.ones((1, 2)))
    records = read_predictions(tmp_path)
    kept = {m: sum(r.inputs is not None for r in records if r.model == m) for m in ("full", "other")}
    assert kept == {"full": 20, "other": 0}
    assert set_input_fraction(tmp_path, "full", None) == {}
    with pytest.raises(ValueError, match="input fraction"):
        set_input_fraction(tmp_path, "full", 2)


@pytest.mark.parametrize("body", [
    None, {}, {"feedback": "x"}, {"feedback": [None]}, {"feedback": [{"id": "", "labels": [1]}]},
    {"feedback": [{"id": "a", "labels": [True]}]}, {"feedback": [{"id": "a", "labels": [[1]]}]},
    {"feedback": [{"id": "a", "labels": ["x" * 201]}]},
    {"feedback": [{"id": "a", "labels": [1], "rows": [-1]}]},
    {"feedback": [{"id": "a", "labels": [1], "rows": [0, 1]}]}])
def test_feedback_parser_refuses_bad_bodies(body):
    with pytest.raises(FeedbackError):
        parse_feedback(body)


def test_quality_alert_rules_fire_below_their_threshold(tmp_path):
    from workbench.monitoring.alerts import AlertRule, accuracy_below, evaluate

    store = Store(tmp_path)
    rules = [accuracy_below(0.9), AlertRule("labels stopped", "label_coverage", 0.1),
             AlertRule("rmse high", "rmse", 2.0)]
    assert rules[0].describe() == "accuracy < 90%"
    fired = {s.rule.metric: s.state for s in evaluate(
        store.predictions, rules, {"m": {"accuracy": 0.8, "label_coverage": 0.5, "rmse": 3.0}}, now=1)}
    assert fired == {"accuracy": "firing", "label_coverage": "ok", "rmse": "firing"}
    store.close()


def test_panel_html_of_quality_and_rollout(tmp_path):
    from workbench.monitoring.quality import QualityReport, version_quality
    from workbench.panels.loop_html import quality_html, rollout_html
    from workbench.rollout import RolloutPolicy, RolloutState

    q = version_quality(3, "classification", [(1, 1), (0, 1), (2, 2), (1, 1)], served=8)
    html = quality_html(QualityReport("m", 60.0, (q,)))
    assert "accuracy 75.0 %" in html and "4 / 8 (50.0 %)" in html and "data-version='3'" in html
    assert "no labels yet" in quality_html(QualityReport("m", 60.0, (version_quality(
        1, "regression", [], served=5),)))
    state = RolloutState("m", "production", 1, 2, "aborted", 1, RolloutPolicy(), 0.0, 0.0, 0.0,
                         {"reason": "error rate: <worse>", "evidence": {"error rate": {
                             "effect": 0.2, "ci_low": 0.1, "ci_high": 0.3, "p_value": 0.001,
                             "n_candidate": 50, "n_baseline": 400}}})
    html = rollout_html(state)
    assert "aborted" in html and "v1 → v2" in html and "&lt;worse&gt;" in html
    assert "samples 50 / 400" in html and "0 %" in html
    assert "no automatic rollout" in rollout_html(None)


def test_controller_aborts_on_labelled_quality_and_audits_the_evidence(tmp_path):
    """No server: answers of a baseline and a worse candidate logged, labels posted, one look
    of the controller rolls the alias back and writes the quality evidence to the audit log."""
    from workbench.rollout import RolloutController, RolloutPolicy

    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] > 0).astype(int)
    with Registry(tmp_path) as reg:
        reg.register("q", LogisticRegression().fit(X, y))
        reg.register("q", LogisticRegression().fit(X, 1 - y))          # always wrong
        reg.set_alias("q", "production", 1)
    policy = RolloutPolicy(steps=(50, 100), min_samples=10_000, min_test_samples=20)
    with RolloutController(tmp_path) as ctl:
        state = ctl.start("q", to=2, policy=policy)
        with Registry(tmp_path) as reg:
            models = {v: reg.load("q", version=v) for v in (1, 2)}
        ids = []
        with PredictionLog(tmp_path / "predictions.db") as log:
            for i in range(120):
                v = 1 + i % 2
                log.record(model="q", version=v, status=200, latency_ms=1.0, rows=1,
                           outputs=models[v].predict(X[i:i + 1]), request_id=f"q{i}")
                ids.append(f"q{i}")
        record_feedback(ctl.tables, "q", {"feedback": [{"id": r, "labels": [int(y[i])]}
                                                       for i, r in enumerate(ids)]})
        [(after, decision)] = ctl.tick()
        assert decision.action == "abort" and decision.reason.startswith("quality")
        assert after.state == "aborted" and ctl.status("q").state == "aborted"
        assert ctl.tick() == []                                           # nothing runs now
    with Registry(tmp_path) as reg:
        assert reg.route("q", "production").weights == {1: 1.0}
        event = reg.history("q")[-1]
    assert event.action == "rollout aborted" and event.author == "rollout-controller"
    quality = event.detail["evidence"]["quality"]
    assert quality["effect"] > 0.5 and quality["n_candidate"] == 60 == quality["n_baseline"]
    assert state.started <= event.at


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "labels", "rows", "feedback", "x"]), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(body=_json | st.fixed_dictionaries({"feedback": st.lists(_json, max_size=3)}))
def test_feedback_parser_fuzz_refuses_with_feedback_error_only(body):
    try:
        items = parse_feedback(body)
    except FeedbackError as exc:
        assert str(exc)
        return
    for rid, rows, labels in items:
        assert isinstance(rid, str) and labels and (rows is None or len(rows) == len(labels))

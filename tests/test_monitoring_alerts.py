"""Alert rules: thresholds, firing / resolved transitions, state shared through the home."""
import json
import math

import pytest

from workbench.monitoring import alerts
from workbench.monitoring.alerts import AlertRule, evaluate, load_rules
from workbench.store import Store

#: every test here runs on SQLite and on PostgreSQL (tests/conftest.py: store_backend)
pytestmark = pytest.mark.usefixtures("store_backend")


@pytest.fixture
def conn(tmp_path):
    store = Store(tmp_path)
    yield store.predictions
    store.close()


RULES = [alerts.latency_above(100), alerts.error_rate_above(0.05),
         alerts.drift_share_above(0.25), alerts.no_traffic_for(60)]


def states(result):
    return {(s.rule.metric, s.model): s.state for s in result}


def test_each_rule_fires_above_its_threshold_only(conn):
    calm = {"p99_latency_ms": 99.0, "error_rate": 0.05, "drift_share": 0.25, "seconds_since_request": 60.0}
    stormy = {"p99_latency_ms": 101.0, "error_rate": 0.06, "drift_share": 0.3, "seconds_since_request": 61.0}
    assert set(states(evaluate(conn, RULES, {"a": calm, "b": stormy}, now=10)).items()) == {
        ((m, "a"), "ok") for m in alerts.METRICS} | {((m, "b"), "firing") for m in alerts.METRICS}


def test_firing_then_resolved_keeps_since(conn):
    rule = [alerts.error_rate_above(0.1)]
    first = evaluate(conn, rule, {"m": {"error_rate": 0.5}}, now=100)[0]
    again = evaluate(conn, rule, {"m": {"error_rate": 0.6}}, now=105)[0]
    assert first.firing and again.firing and again.since == 100 and again.value == 0.6
    resolved = evaluate(conn, rule, {"m": {"error_rate": 0.0}}, now=110)[0]
    assert resolved.state == "resolved" and resolved.since == 110
    still = evaluate(conn, rule, {"m": {"error_rate": 0.0}}, now=120)[0]
    assert still.state == "resolved" and still.since == 110


def test_missing_data_leaves_state_unchanged(conn):
    rule = [alerts.drift_share_above(0.2)]
    evaluate(conn, rule, {"m": {"drift_share": 0.9}}, now=1)
    kept = evaluate(conn, rule, {"m": {"drift_share": math.nan}}, now=2)[0]
    assert kept.firing and kept.since == 1


def test_state_is_shared_between_viewers(tmp_path):
    rule = [alerts.latency_above(10)]
    one, two = Store(tmp_path), Store(tmp_path)
    evaluate(one.predictions, rule, {"m": {"p99_latency_ms": 50.0}}, now=5)
    seen = evaluate(two.predictions, rule, {"m": {"p99_latency_ms": math.nan}}, now=6)[0]
    assert seen.firing and seen.since == 5
    one.close(), two.close()


def test_rules_for_one_model_ignore_others(conn):
    rule = [AlertRule("digits slow", "p99_latency_ms", 1.0, model="digits")]
    result = evaluate(conn, rule, {"digits": {"p99_latency_ms": 5.0}, "iris": {"p99_latency_ms": 5.0}})
    assert [(s.model, s.state) for s in result] == [("digits", "firing")]


def test_rules_load_from_the_home(tmp_path):
    assert load_rules(tmp_path) == alerts.DEFAULT_RULES
    (tmp_path / "alerts.json").write_text(json.dumps([{"name": "slow", "metric": "p99_latency_ms", "threshold": 5}]))
    assert load_rules(tmp_path) == (AlertRule("slow", "p99_latency_ms", 5),)
    (tmp_path / "alerts.json").write_text(json.dumps([{"name": "x", "metric": "cpu", "threshold": 5}]))
    with pytest.raises(ValueError, match="unknown alert metric 'cpu'"):
        load_rules(tmp_path)


def test_bad_rules_are_refused():
    with pytest.raises(ValueError, match="finite number"):
        AlertRule("x", "error_rate", float("inf"))
    with pytest.raises(ValueError, match="needs a name"):
        AlertRule("", "error_rate", 0.1)
    assert alerts.error_rate_above(0.05).describe() == "error_rate > 5%"

"""The dashboard's tiles in plain words: colours against stated targets (table-tested), the drift
tile and the drift table by one rule, alerts and drift with what to do, who acted, the charts'
shared time axis, feature names from the model's signature."""
import math
import re
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.data import load_dataset
from workbench.models import LogisticRegression
from workbench.monitoring import PredictionLog, alerts
from workbench.monitoring.alerts import AlertStatus
from workbench.monitoring.drift import FeatureDrift, DriftReport
from workbench.panels.dashboard_html import alerts_html, history_html, kpi_tile
from workbench.panels.drift_html import drift_summary_html, drift_table_html
from workbench.panels.monitoring_panel import MonitoringDashboard
from workbench.panels.plots import traffic_figure
from workbench.panels.targets import Targets
from workbench.panels.tiles import build_tiles, drift_counts, feature_verdict
from workbench.panels.words import actor_label, alert_sentence
from workbench.registry import Registry

NOW = 1_800_000_000.0
ALPHA_64 = 0.05 / 64


@pytest.mark.parametrize("metric, value, tone", [
    ("p99", 40.0, "good"), ("p99", 100.0, "good"), ("p99", 100.1, "warn"), ("p99", 250.0, "warn"),
    ("p99", 250.1, "bad"), ("p99", math.nan, "neutral"), ("p99", None, "neutral"),
    ("p50", 50.0, "good"), ("p50", 51.0, "warn"), ("p50", 900.0, "warn"),
    ("errors", 0.0, "good"), ("errors", 0.01, "good"), ("errors", 0.02, "warn"), ("errors", 0.05, "warn"),
    ("errors", 0.08, "bad"),
    ("drift", 0.0, "good"), ("drift", 0.1, "warn"), ("drift", 0.25, "warn"), ("drift", 0.26, "bad"),
    ("accuracy", 0.95, "good"), ("accuracy", 0.90, "good"), ("accuracy", 0.85, "warn"),
    ("accuracy", 0.80, "warn"), ("accuracy", 0.79, "bad"),
])
def test_tone_against_the_default_targets(metric, value, tone):
    assert Targets().tone(metric, value) == tone


@given(st.floats(0, 1e4, allow_nan=False), st.floats(0, 1e4, allow_nan=False))
def test_p99_tone_never_gets_better_as_latency_grows(a, b):
    rank = {"good": 0, "warn": 1, "bad": 2}
    lo, hi = sorted((a, b))
    assert rank[Targets().tone("p99", lo)] <= rank[Targets().tone("p99", hi)]


@pytest.mark.parametrize("kwargs, message", [
    ({"p99_ms": -1}, "p99_ms must be a finite number"),
    ({"p99_ms": math.inf}, "p99_ms must be a finite number"),
    ({"error_rate": "1%"}, "error_rate must be a finite number"),
    ({"p99_ms": 300, "p99_ms_alert": 200}, "target must be the stricter one"),
    ({"accuracy": 0.7, "accuracy_alert": 0.8}, "below its alert level"),
])
def test_targets_refuse_nonsense(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Targets(**kwargs)


def test_targets_follow_the_alert_rules_for_the_model():
    rules = [alerts.latency_above(200), alerts.latency_above(20, model="other"),
             alerts.error_rate_above(0.02), alerts.drift_share_above(0.5), alerts.accuracy_below(0.85)]
    t = Targets().following(rules, "digits")
    assert (t.p99_ms, t.p99_ms_alert) == (100.0, 200.0)     # target kept, alert from the rule
    assert (t.error_rate_alert, t.drift_share_alert, t.accuracy_alert) == (0.02, 0.5, 0.85)
    assert t.accuracy == 0.90
    strict = Targets().following([alerts.latency_above(50)], "digits")
    assert (strict.p99_ms, strict.p99_ms_alert) == (50.0, 50.0)   # never green past a firing rule
    assert Targets().following(rules, "other").p99_ms_alert == 20.0


def feature(name, band, p, alpha=ALPHA_64, psi=None):
    psi = psi if psi is not None else {"stable": 0.05, "moderate": 0.15, "major": 0.9}[band]
    return FeatureDrift(name, psi, band, 0.3, p, 0.0, 0.0, alpha)


@pytest.mark.parametrize("band, p, verdict", [
    ("major", ALPHA_64 / 2, "drifted"), ("major", 0.01, "within noise"),  # 0.01 < 0.05 but not < 0.05/64
    ("moderate", 1e-9, "shifting"), ("moderate", 0.5, "within noise"),
    ("stable", 1e-9, "stable"), ("stable", 0.9, "stable"),
])
def test_the_drift_rule_per_feature(band, p, verdict):
    assert feature_verdict(feature("f", band, p)) == verdict


def health(drift=None, **overrides):
    values = dict(live_version=2, aliases={"production": 2}, requests=200, recent_requests_per_s=3.3,
                  p50_ms=3.0, p99_ms=8.0, error_rate=0.0, errors_by_status={}, drift=drift,
                  window_s=300.0, last_request=NOW, timeseries=None, predictions={})
    values.update(overrides)
    return SimpleNamespace(**values)


def test_seven_major_but_not_significant_features_are_green_on_the_tile_and_in_the_table():
    # the live-demo confusion: "stable · 0 % of features" above seven red "major" bars
    feats = [feature(f"pixel r0c{i}", "major", 0.2) for i in range(7)] + \
            [feature(f"pixel r1c{i}", "stable", 0.9) for i in range(57)]
    report = DriftReport("digits", 2, 300, tuple(feats))
    tile = build_tiles(health(report), Targets())["drift"]
    assert (tile.value, tile.tone) == ("0 of 64", "good")
    table = drift_table_html(report)
    assert table.count("wb-verdict-within-noise") == 7 and "wb-verdict-drifted" not in table
    assert "#cf222e;font-weight" not in table          # no red verdict anywhere
    assert "nothing to do" in drift_summary_html(report, Targets())


@pytest.mark.parametrize("n_drifted, n_shifting, value, tone, advice", [
    (0, 0, "0 of 20", "good", "nothing to do"),
    (0, 2, "0 of 20", "warn", "tell the team"),
    (3, 1, "3 of 20", "warn", "tell the team"),
    (5, 0, "5 of 20", "warn", "tell the team"),        # 25 %: the rule fires only above
    (6, 0, "6 of 20", "bad", "retrain"),
])
def test_the_drift_tile_counts_exactly_the_rows_the_table_marks(n_drifted, n_shifting, value, tone, advice):
    feats = ([feature(f"d{i}", "major", 1e-12) for i in range(n_drifted)]
             + [feature(f"s{i}", "moderate", 1e-12) for i in range(n_shifting)]
             + [feature(f"n{i}", "major", 0.5) for i in range(3)])
    feats += [feature(f"q{i}", "stable", 0.9) for i in range(20 - len(feats))]
    report = DriftReport("m", 1, 500, tuple(feats))
    tile = build_tiles(health(report), Targets())["drift"]
    table = drift_table_html(report)
    assert (tile.value, tile.tone) == (value, tone)
    assert table.count("wb-verdict-drifted") == n_drifted == drift_counts(report)["drifted"]
    assert table.count("wb-verdict-shifting") == n_shifting
    assert table.count("wb-drift-row") == 20                       # every feature, none hidden
    verdicts = re.findall(r"wb-verdict-([a-z-]+)", table)
    assert verdicts == sorted(verdicts, key=["drifted", "shifting", "within-noise", "stable"].index)
    summary = drift_summary_html(report, Targets())
    assert f"{n_drifted} of 20 input features drifted" in summary and advice in summary
    assert "Bonferroni" in table and "What to do" in summary


def test_errors_tile_is_not_green_while_listing_many_errors():
    many = build_tiles(health(error_rate=16 / 200, errors_by_status={400: 5, 422: 11}), Targets())["errors"]
    assert many.tone == "bad" and many.value == "8.0 %"
    assert many.note == "400 malformed: 5 · 422 invalid input: 11"
    few = build_tiles(health(error_rate=1 / 200, errors_by_status={400: 1}), Targets())["errors"]
    assert few.tone == "good" and "target ≤ 1 %" in few.target


def test_p99_turns_green_under_its_target_and_every_tile_says_what_it_means():
    tiles = build_tiles(health(), Targets())
    assert tiles["p99"].tone == "good" and tiles["p99"].target == "target ≤ 100 ms · alert above 250 ms"
    assert build_tiles(health(p99_ms=400.0), Targets())["p99"].tone == "bad"
    for key, tile in tiles.items():
        assert tile.caption and tile.target, key
        html = kpi_tile(tile)
        assert "wb-kpi-caption" in html and "wb-kpi-target" in html and f"wb-tone-{tile.tone}" in html


def test_alerts_read_in_plain_words_with_what_to_do():
    assert alert_sentence("drift_share", 0.312, 0.25) == \
        "31 % of input features drifted — the rule fires above 25 %"
    assert alert_sentence("p99_latency_ms", 312.4, 250) == \
        "the slowest 1 % of requests take 312 ms or more — the rule fires above 250 ms"
    rule = alerts.drift_share_above(0.25)
    html = alerts_html([AlertStatus(rule, "digits", "firing", NOW, 0.312)])
    assert "31 % of input features drifted — the rule fires above 25 %" in html
    assert "What to do:" in html and "retrain" in html and "0.312" not in html
    assert "no alert firing" in alerts_html([AlertStatus(rule, "digits", "ok", NOW, 0.0)])


@pytest.mark.parametrize("author, label", [
    ("root", "root (local user: Python or CLI)"),
    ("dashboard (key ops)", "dashboard (key ops)"),
    ("ci (api)", "key 'ci' through the API"),
    ("rollout-controller", "rollout controller (automatic)"),
    ("workbench-serving", "the service itself"),
])
def test_the_history_says_who_acted(author, label):
    assert actor_label(author) == label
    event = SimpleNamespace(at=NOW, author=author, alias="production", version=2, previous=1,
                            action="alias moved")
    assert f">{label.replace(chr(39), '&#x27;')}<" in history_html([event])


def test_both_charts_share_the_whole_window_and_have_legends():
    ts = SimpleNamespace(start=NOW - 40 + 5.0 * __import__("numpy").arange(6),
                         requests_per_s=[1.0] * 6, p50_ms=[2.0] * 6, p99_ms=[5.0] * 6, error_rate=[0.1] * 6)
    fig = traffic_figure(health(timeseries=ts, predictions={"3": 4, "7": 2}), now=NOW, window=300,
                         targets=Targets())
    ax_rps, ax_lat, ax_pred = fig.axes
    assert ax_rps.get_xlim() == ax_lat.get_xlim() == (-300.0, 0.0)
    assert [t.get_text() for t in ax_rps.get_legend().get_texts()] == \
        ["requests / s", "of which refused or failed"]
    assert "p99 target 100 ms" in [t.get_text() for t in ax_lat.get_legend().get_texts()]
    assert ax_pred.get_legend() is not None


def test_drift_rows_are_named_from_the_model_signature(tmp_path):
    iris = load_dataset("iris")
    model = LogisticRegression(epochs=5, random_state=0).fit(iris.X, iris.y)
    model.feature_names_in_ = __import__("numpy").array(iris.feature_names, dtype=object)
    with Registry(tmp_path) as reg:
        reg.register("iris", model, reference=iris.X)
        assert reg.get_version("iris", 1).signature["feature_names"] == iris.feature_names
    with PredictionLog(tmp_path / "predictions.db", input_fraction=1.0) as log:
        for i in range(60):
            log.record(model="iris", version=1, status=200, latency_ms=2.0, rows=1, outputs=[0],
                       inputs=iris.X[i:i + 1] + 3.0, time_=NOW - 30 + i * 0.5)
    dash = MonitoringDashboard(tmp_path, targets=Targets(p99_ms=10))
    dash.refresh(now=NOW)
    assert "petal length (cm)" in dash._drift_table.value and ">x0<" not in dash._drift_table.value
    assert "wb-tone-good" in dash._tiles["p99"].value      # 2 ms against a 10 ms target
    with pytest.raises(TypeError, match="Targets"):
        MonitoringDashboard(tmp_path, targets={"p99_ms": 10})


@pytest.mark.parametrize("correct, tone", [(93, "good"), (85, "warn"), (70, "bad")])
def test_the_accuracy_tile_reads_the_live_quality_table(correct, tone):
    from workbench.monitoring.quality import QualityReport, VersionQuality
    from workbench.panels.loop_html import quality_html

    q = VersionQuality(2, "classification", 100, 120, accuracy=correct / 100)
    tile = build_tiles(health(), Targets(), q)["quality"]
    assert (tile.value, tile.tone) == (f"{correct}.0 %", tone)
    assert f"accuracy {correct}.0 %" in quality_html(QualityReport("digits", 300.0, (q,)))
    assert tile.target == "target ≥ 90 % · alert below 80 %"
    unlabelled = build_tiles(health(), Targets(), VersionQuality(2, "classification", 0, 120))["quality"]
    assert (unlabelled.value, unlabelled.tone) == ("–", "neutral")

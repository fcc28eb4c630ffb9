"""The route diagram draws what the alias does: one box per version, a dashed copy to a shadow."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from workbench.panels.diagrams import plot_route
from workbench.registry import AliasRoute


def texts(ax):
    return [t.get_text() for t in ax.texts]


@pytest.mark.parametrize("route, versions, shares", [
    (AliasRoute("production", 1, {1: 1.0}), ["v1"], ["100%"]),
    (AliasRoute("production", 1, {1: 0.9, 2: 0.1}), ["v1", "v2"], ["90%", "10%"]),
    (AliasRoute("staging", 4, {3: 0.25, 4: 0.5, 5: 0.25}), ["v3", "v4", "v5"], ["25%", "50%", "25%"]),
])
def test_one_box_and_one_share_per_version(route, versions, shares):
    fig, ax = plt.subplots()
    plot_route(route, ax=ax, model="digits")
    shown = texts(ax)
    assert [t for t in shown if t.startswith("v")] == versions
    assert [t for t in shown if t.endswith("%")] == shares
    assert f"digits\n{route.alias!r}" in shown
    assert not any("shadow" in t for t in shown)
    plt.close(fig)


def test_a_shadow_gets_a_dashed_copy_and_no_answer():
    fig, ax = plt.subplots()
    plot_route(AliasRoute("production", 1, {1: 0.9, 2: 0.1}, shadow=3), ax=ax)
    assert "v3\n(shadow)" in texts(ax)
    arrows = [a for a in ax.texts if getattr(a, "arrow_patch", None) is not None]
    dashed = [a for a in arrows if a.arrow_patch.get_linestyle() not in ("-", "solid")]
    assert len(arrows) == 4 and len(dashed) == 1     # requests, two answers, one copy
    plt.close(fig)


# -- the alias history stack, the request path, the drift rule ----------------------------------

def test_alias_stacks_replay_the_audit_log_of_one_alias(tmp_path):
    from workbench.models import DecisionTreeClassifier
    from workbench.panels.diagrams import alias_stacks, plot_alias_stack
    from workbench.registry import Registry

    X, y = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1])
    with Registry(tmp_path) as reg:
        for _ in range(3):
            reg.register("m", DecisionTreeClassifier().fit(X, y))
        for version in (1, 2, 3):
            reg.set_alias("m", "production", version)
        reg.set_alias("m", "staging", 1)
        reg.rollback("m", "production")
        reg.rollback("m", "production")
        events = reg.history("m")
    states = alias_stacks(events, "production")
    # each rollback lands where the stack said it would: the top of the grey boxes before it
    assert states == [("aliased v1", [], 1), ("aliased v2", [1], 2), ("aliased v3", [1, 2], 3),
                      ("rolled back v2", [1], 2), ("rolled back v1", [], 1)]
    fig, ax = plt.subplots()
    plot_alias_stack(events, "production", ax=ax)
    shown = texts(ax)
    assert shown.count("v1  ← production") == 2 and shown.count("v3  ← production") == 1
    assert [t for t in shown if t.startswith(("aliased", "rolled"))] == [s[0] for s in states]
    plt.close(fig)


def test_the_request_path_names_every_refusal_in_the_order_the_service_checks():
    from workbench.panels.diagrams import REQUEST_STAGES, plot_request_path

    fig, ax = plt.subplots()
    plot_request_path(ax=ax)
    shown = texts(ax)
    statuses = [t for t in shown if t[:1] == "4"]
    assert statuses == ["401", "403", "429", "404", "400 / 413\n/ 422"]
    assert [s for s, _ in REQUEST_STAGES] == [t for t in shown if t in dict(REQUEST_STAGES)]
    assert "prediction log\n(a queue)" in shown
    plt.close(fig)


def test_the_drift_rule_marks_only_major_and_significant_features():
    from workbench.monitoring.drift import ALPHA, DriftReport, FeatureDrift
    from workbench.panels.diagrams import plot_drift_rule

    alpha = ALPHA / 4
    features = (FeatureDrift("moved", 0.9, "major", 0.5, 1e-12, 0, 1, alpha),
                FeatureDrift("noisy", 0.4, "major", 0.1, 0.2, 0, 1, alpha),       # not significant
                FeatureDrift("tiny", 0.05, "stable", 0.05, 1e-6, 0, 1, alpha),    # significant only
                FeatureDrift("calm", 0.01, "stable", 0.01, 0.9, 0, 1, alpha))
    report = DriftReport("m", 1, 500, features)
    fig, ax = plt.subplots()
    plot_drift_rule(report, ax=ax)
    grey, red = ax.collections[-2], ax.collections[-1]
    assert len(red.get_offsets()) == 1 and len(grey.get_offsets()) == 3
    assert ax.get_title() == "1 of 4 features drifted (drift share 25%)"
    assert f"Bonferroni level: p < {ALPHA:g} / 4" in [t.get_text() for t in ax.get_legend().texts]
    plt.close(fig)

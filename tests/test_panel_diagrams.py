"""The route diagram draws what the alias does: one box per version, a dashed copy to a shadow."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
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

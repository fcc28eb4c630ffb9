"""The registry panel, driven through its methods and buttons (no browser)."""
import matplotlib

matplotlib.use("Agg")

import pytest
from registry_fakes import FakeModel

from workbench.panels.registry_panel import RegistryPanel, versions_table_html
from workbench.registry import NothingToRollBackError, Registry


@pytest.fixture
def reg(tmp_path):
    r = Registry(tmp_path / "home", author="dana")
    r.register("digits", FakeModel(0), metrics={"accuracy": 0.91, "loss": 0.3})
    r.register("digits", FakeModel(1), metrics={"accuracy": 0.95, "loss": 0.2})
    r.register("iris", FakeModel(2), metrics={"accuracy": 0.97})
    return r


def test_empty_registry(tmp_path):
    panel = RegistryPanel(home=tmp_path / "empty")
    assert panel.model is None and "empty" in panel.table_html


def test_shows_models_versions_metrics_and_card(reg):
    panel = RegistryPanel(reg)
    assert panel.model == "digits" and panel.version == 2
    assert "0.95" in panel.table_html and "accuracy" in panel.table_html
    assert "workbench-model-card" in panel.card_html and "digits" in panel.card_html
    panel.select_version(1)
    assert panel.version == 1 and "0.91" in panel.card_html
    panel.select_model("iris")
    assert panel.model == "iris" and panel.version == 1 and "0.97" in panel.card_html


def test_promote_and_rollback_methods(reg):
    panel = RegistryPanel(reg)
    panel.promote("production", version=1)
    panel.promote("staging")                       # the selected version, v2
    assert reg.aliases("digits") == {"production": 1, "staging": 2}
    panel.promote("production", version=2)
    assert "production" in panel.table_html and "production -&gt; v2" in panel.status
    assert panel.rollback("production") == 1
    assert reg.aliases("digits")["production"] == 1 and "rolled back" in panel.status
    with pytest.raises(NothingToRollBackError):
        panel.rollback("production")


def test_buttons_call_the_methods_and_show_errors(reg):
    panel = RegistryPanel(reg)
    panel._promote_buttons["production"].click()
    assert reg.aliases("digits") == {"production": 2}
    panel._rollback_alias.value = "production"
    panel._rollback_button.click()                 # nothing to roll back: shown, not raised
    assert "no earlier target" in panel.status and "#b00020" in panel.status
    panel._version.value = 1
    assert "0.91" in panel.card_html
    panel._promote_buttons["staging"].click()
    assert reg.aliases("digits")["staging"] == 1


def test_compare_draws_table_and_chart(reg):
    panel = RegistryPanel(reg)
    cmp = panel.compare(1, 2)
    assert cmp.metrics["accuracy"] == (0.91, 0.95)
    assert "v1" in panel._comparison.value and "+0.04" in panel._comparison.value
    import matplotlib.pyplot as plt
    assert plt.get_fignums() == []                 # the figure was shown and closed
    panel._compare_button.click()
    assert plt.get_fignums() == []
    fig = RegistryPanel.comparison_figure(cmp)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["accuracy", "loss"]
    assert [round(p.get_height(), 2) for p in fig.axes[0].patches] == [0.91, 0.3, 0.95, 0.2]
    plt.close(fig)


def test_refresh_sees_changes_made_elsewhere(reg):
    panel = RegistryPanel(reg)
    Registry(reg.home).register("digits", FakeModel(5), metrics={"accuracy": 0.99})
    panel.refresh()
    assert "v3" in panel.table_html and panel.version == 2   # selection kept
    assert "RegistryPanel(" in repr(panel)


def test_versions_table_html_escapes():
    assert "no versions" in versions_table_html([])

"""The deployment panel, driven through its methods (no browser)."""
import numpy as np

from serving_helpers import data, make_home
from workbench.panels.deployment_panel import DEFAULT, DeploymentPanel


def test_panel_start_sample_promote_rollback_stop(tmp_path):
    make_home(tmp_path)
    panel = DeploymentPanel(home=tmp_path)
    try:
        assert list(panel._model.options) == ["house", "iris"]
        assert panel.status()["running"] is False
        panel.start("iris")
        state = panel.status()
        assert state["running"] and state["live_version"] == 1 and "running" in panel._status.value
        answer = panel.send_sample(data(2)[0])
        assert answer["model_version"] == "1" and "probabilities" in panel._answer.value
        assert panel.send_sample()["model_version"] == "1"       # default sample rows
        assert panel.promote(2)["model_version"] == "2"
        assert panel.status()["live_version"] == 2
        assert panel.rollback()["model_version"] == "1"
        assert "rolled back" in panel._message.value
    finally:
        panel.stop()
    assert panel.status()["running"] is False and "stopped" in panel._status.value


def test_panel_buttons_report_errors_in_the_panel(tmp_path):
    make_home(tmp_path)
    panel = DeploymentPanel(home=tmp_path)
    panel._sample.click()                         # nothing running: message, no exception
    assert "no endpoint is running" in panel._message.value
    panel._model.value = "iris"
    assert DEFAULT in panel._alias.options and "production" in panel._alias.options
    panel.promote(2, alias="staging")             # without an endpoint: through the registry
    assert panel.registry.aliases("iris")["staging"] == 2
    assert np.isin(list(panel._version.options), [1, 2]).all()

"""The API-keys panel: every action through its public methods and through its buttons."""
from workbench.panels import DeploymentPanel
from workbench.panels.keys_panel import KeysPanel
from workbench.serving.keys import KeyStore


def test_panel_creates_rotates_limits_and_revokes(tmp_path):
    panel = KeysPanel(home=tmp_path)
    key = panel.create("app", "predictor", models="iris-*", expires_in="30d", rate="5/s",
                       daily_rows=1000)
    assert key in panel._secret.value                    # shown once, in the panel
    assert "iris-*" in panel._table.value and "5/s (burst 5)" in panel._table.value
    new = panel.rotate("app", grace="1h")
    assert new != key and new in panel._secret.value and key not in panel._secret.value
    limited = panel.limit("app", rate="10/s", burst=20)
    assert (limited.rate, limited.burst, limited.daily_rows) == (10.0, 20, None)
    panel.revoke("app")
    assert panel._secret.value == "" and "revoked" in panel._table.value
    store = KeyStore(tmp_path)
    try:
        assert [action for _, action, *_ in store.events("app")] == [
            "key created", "key rotated", "key limited", "key revoked"]
        record = store.get("app")
    finally:
        store.close()
    assert record.models == ("iris-*",) and record.revoked and record.expires_at is not None


def test_panel_buttons_show_errors_and_secrets(tmp_path):
    panel = KeysPanel(home=tmp_path)
    panel._name.value, panel._rate.value, panel._burst.value = "ci", "2/s", "x"
    panel._create.click()
    assert "whole number" in panel._message.value and "ci" not in panel._table.value
    panel._burst.value, panel._models.value = "4", "digits, iris-*"
    panel._create.click()
    assert "wb_" in panel._secret.value and "digits,iris-*" in panel._table.value
    panel._rate.value = "sometimes"
    panel._limit.click()
    assert "rate" in panel._message.value
    panel._grace.value = "0s"
    panel._rotate.click()
    assert "rotated" in panel._secret.value
    panel._revoke.click()
    assert "revoked" in panel._message.value


def test_deployment_panel_has_the_keys_section(tmp_path):
    panel = DeploymentPanel(home=tmp_path)
    assert isinstance(panel.keys_panel, KeysPanel)
    panel.keys_panel.create("viewer-app", "viewer")
    assert "viewer-app" in panel.keys_panel._table.value

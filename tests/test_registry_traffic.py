"""Canary splits and shadows in the registry: set, read, promote, abort, roll back, audit,
archive protection; the CLI and the registry panel."""
import numpy as np
import pytest

from workbench.cli import main as workbench_main
from workbench.models import LogisticRegression
from workbench.panels.registry_panel import RegistryPanel
from workbench.registry import (AliasInUseError, InvalidInputError, Registry,
                                VersionNotFoundError)

#: every test here runs on SQLite and on PostgreSQL (tests/conftest.py: store_backend)
pytestmark = pytest.mark.usefixtures("store_backend")


@pytest.fixture
def reg(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    registry = Registry(tmp_path, author="tester")
    for _ in range(4):
        registry.register("m", LogisticRegression().fit(X, y))
    registry.set_alias("m", "production", 3)
    yield registry
    registry.close()


def test_split_keeps_aliases_backward_compatible(reg):
    route = reg.set_alias("m", "production", {3: 0.9, 4: 0.1})
    assert reg.aliases("m") == {"production": 3}                  # the primary
    split = reg.route("m", "production")
    assert split.weights == {3: 0.9, 4: 0.1} and split.is_split and split.version == 3
    assert route.version == 3 and "production" in route.aliases
    assert reg.set_split("m", "staging", {"1": 30, "2": 70}).weights == {1: 0.3, 2: 0.7}
    assert reg.aliases("m") == {"production": 3, "staging": 2}


def test_promote_abort_and_rollback_walk_back_through_splits(reg):
    reg.set_split("m", "production", {3: 0.9, 4: 0.1})
    assert reg.promote("m", "production") == 4
    assert reg.route("m", "production").weights == {4: 1.0}
    assert reg.rollback("m", "production") == 3                  # the split is back
    assert reg.route("m", "production").weights == {3: 0.9, 4: 0.1}
    assert reg.abort("m", "production") == 3
    assert not reg.route("m", "production").is_split
    assert reg.rollback("m", "production") == 3 and reg.route("m", "production").is_split
    assert reg.rollback("m", "production") == 3 and not reg.route("m", "production").is_split
    actions = [e.action for e in reg.history("m")]
    assert actions[-6:] == ["split", "promoted", "rolled back", "aborted", "rolled back",
                            "rolled back"]
    split_event = [e for e in reg.history("m") if e.action == "split"][0]
    assert split_event.detail == {"weights": {"3": 0.9, "4": 0.1}} and split_event.author == "tester"


def test_refusals(reg):
    with pytest.raises(InvalidInputError, match="add up to 1"):
        reg.set_split("m", "production", {3: 0.5, 4: 0.1})
    with pytest.raises(InvalidInputError, match="positive number"):
        reg.set_split("m", "production", {3: 1.0, 4: 0.0})
    with pytest.raises(VersionNotFoundError, match="no version 9"):
        reg.set_split("m", "production", {3: 0.5, 9: 0.5})
    with pytest.raises(InvalidInputError, match="not split"):
        reg.promote("m", "production")
    reg.set_split("m", "production", {3: 0.5, 4: 0.5})
    with pytest.raises(InvalidInputError, match="not part of the split"):
        reg.promote("m", "production", 1)
    with pytest.raises(AliasInUseError, match="production"):
        reg.archive("m", 4)                                     # the canary is in use
    assert reg.route("m", "production").weights == {3: 0.5, 4: 0.5}


def test_shadow_set_clear_audited_and_protected(reg):
    assert reg.set_shadow("m", "production", 4).shadow == 4
    with pytest.raises(AliasInUseError):
        reg.archive("m", 4)
    assert reg.set_shadow("m", "production", None).shadow is None
    reg.archive("m", 4)
    assert [e.action for e in reg.history("m")][-3:] == ["shadowed", "unshadowed", "archived"]
    with pytest.raises(LookupError, match="no alias"):
        reg.set_shadow("m", "nosuch", 2)


def test_generation_moves_with_every_traffic_change(reg):
    g = reg.generation()
    reg.set_split("m", "production", {3: 0.8, 4: 0.2})
    reg.set_shadow("m", "production", 2)
    assert reg.generation() == g + 2


def test_cli_canary_promote_abort_shadow(reg, capsys):
    home = str(reg.home)
    assert workbench_main(["registry", "canary", "m", "3=0.9", "4=0.1", "--home", home]) == 0
    assert "90.0% v3 + 10.0% v4" in capsys.readouterr().out
    assert workbench_main(["registry", "promote", "m", "--home", home]) == 0
    assert reg.route("m", "production").weights == {4: 1.0}
    assert workbench_main(["registry", "canary", "m", "4=80", "1=20", "--alias", "production",
                           "--home", home]) == 0
    assert workbench_main(["registry", "abort", "m", "--home", home]) == 0
    assert reg.route("m", "production").weights == {4: 1.0}
    assert workbench_main(["registry", "shadow", "m", "2", "--home", home]) == 0
    assert reg.route("m", "production").shadow == 2
    assert workbench_main(["registry", "shadow", "m", "off", "--home", home]) == 0
    assert reg.route("m", "production").shadow is None
    capsys.readouterr()
    assert workbench_main(["registry", "canary", "m", "3:0.9", "--home", home]) != 0
    assert "VERSION=SHARE" in capsys.readouterr().err


def test_panel_canary_promote_abort_shadow(reg):
    panel = RegistryPanel(reg)
    panel.select_version(4)
    route = panel.canary(10)
    assert route.weights == {3: 0.9, 4: 0.1} and "10% v4" in panel.traffic_html
    assert panel.promote_canary() == 4
    panel.select_version(2)
    panel.canary(25)
    assert panel.abort_canary() == 4
    assert panel.shadow().shadow == 2 and "shadow v2" in panel.traffic_html
    panel._canary_button.click()                     # canary v2 of production → v4 primary
    assert reg.route("m", "production").weights == {2: 0.1, 4: 0.9}
    panel._canary_abort.click()
    panel._canary_abort.click()                      # not split any more: the error is shown
    assert "not split" in panel.status
    panel._unshadow_button.click()
    assert reg.route("m", "production").shadow is None

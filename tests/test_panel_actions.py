"""Every action of every panel, run against a backend that is gone (the registry closed by a
clean-up cell, a service that does not answer, a home that is in the way, data that cannot be
loaded): the panel's own status line names the action and says what to do, and nothing escapes
the widget callback (where JupyterLab would only put it in its log console)."""
import matplotlib

matplotlib.use("Agg")

import errno
import logging
import re
import sqlite3
import subprocess
import sys
from html import unescape

import httpx
import ipywidgets as widgets
import psycopg
import pytest
from registry_fakes import FakeModel
from serving_helpers import make_home

from workbench.panels import actions as actions_module
from workbench.panels import experiment, training_panel
from workbench.panels.actions import explain, failure_message
from workbench.panels.deployment_panel import DeploymentPanel
from workbench.panels.keys_panel import KeysPanel
from workbench.panels.registry_panel import RegistryPanel
from workbench.panels.rollback_control import RollbackControl
from workbench.panels.training_panel import TrainingPanel
from workbench.registry import AliasNotFoundError, NothingToRollBackError, Registry
from workbench.serving.client import Client, ServingError
from workbench.serving.endpoint import Endpoint, free_port

CLOSED = "the registry is closed — run the first cells again to reopen it"
NO_ANSWER = (r"the service at http://127\.0\.0\.1:\d+ does not answer — is it running\? "
             r"\(start or deploy it again\)")


def press(button):
    """Run a button's click handlers directly: ipywidgets' own ``click()`` would swallow an
    escaping exception into a log warning, this lets it fail the test."""
    callbacks = button._click_handlers.callbacks
    assert callbacks, "the button does nothing"
    for callback in callbacks:
        callback(button)


def text_of(html: str) -> str:
    """The status line as the user reads it: the message, without the folded traceback."""
    html = re.sub(r"<details.*?</details>", "", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", "", html)).strip()


def assert_says(html: str, action: str, advice: str):
    assert re.fullmatch(rf"{re.escape(action)} failed: {advice}", text_of(html)), text_of(html)
    assert "#b00020" in html and "Traceback" in html        # red, and the details are there


# -- the registry panel: every button and dropdown after the registry was closed ---------------
@pytest.fixture
def closed_registry_panel(tmp_path):
    reg = Registry(tmp_path / "home", author="dana")
    for seed in range(3):
        reg.register("digits", FakeModel(seed), metrics={"accuracy": 0.9 + seed / 100})
    reg.register("iris", FakeModel(9))
    reg.set_alias("digits", "production", 1)
    panel = RegistryPanel(reg)
    reg.close()                                   # what the walkthrough's clean-up cell does
    return panel


REGISTRY_ACTIONS = [
    ("promote to production", lambda p: press(p._promote_buttons["production"])),
    ("promote to staging", lambda p: press(p._promote_buttons["staging"])),
    ("roll back production", lambda p: press(p._rollback_button)),
    ("compare", lambda p: press(p._compare_button)),
    ("canary", lambda p: press(p._canary_button)),
    ("promote canary", lambda p: press(p._canary_promote)),
    ("abort canary", lambda p: press(p._canary_abort)),
    ("shadow", lambda p: press(p._shadow_button)),
    ("stop shadow", lambda p: press(p._unshadow_button)),
    ("show model", lambda p: setattr(p._model, "value", "iris")),
    ("show version", lambda p: setattr(p._version, "value", 1)),
]


@pytest.mark.parametrize("action, do", REGISTRY_ACTIONS, ids=[a for a, _ in REGISTRY_ACTIONS])
def test_registry_panel_says_the_registry_is_closed(closed_registry_panel, action, do):
    do(closed_registry_panel)
    assert_says(closed_registry_panel.status, action, CLOSED)


def test_registry_panel_still_shows_the_registrys_own_errors(tmp_path):
    reg = Registry(tmp_path / "home")
    reg.register("digits", FakeModel(0))
    panel = RegistryPanel(reg)
    press(panel._rollback_button)                 # production names nothing yet
    assert text_of(panel.status) == ("roll back production failed: model 'digits' has no alias "
                                     "'production'; it has no aliases yet")
    with pytest.raises(AliasNotFoundError):       # from Python the error is raised as before
        panel.rollback("production")


# -- the deployment panel: a closed registry, and a service that does not answer ---------------
@pytest.fixture
def deployment_panel(tmp_path):
    make_home(tmp_path)
    panel = DeploymentPanel(home=tmp_path)
    panel._model.value = "iris"
    yield panel
    if panel.endpoint is not None:                # panel.stop() would read the closed registry
        panel.endpoint.stop()


DEPLOYMENT_CLOSED = [
    ("start", lambda p: press(p._start)),
    ("stop", lambda p: press(p._stop)),
    ("promote to production", lambda p: press(p._promote)),
    ("roll back production", lambda p: press(p._rollback)),
    ("refresh", lambda p: press(p._refresh)),
    ("show model", lambda p: setattr(p._model, "value", "house")),
]


@pytest.mark.parametrize("action, do", DEPLOYMENT_CLOSED, ids=[a for a, _ in DEPLOYMENT_CLOSED])
def test_deployment_panel_says_the_registry_is_closed(deployment_panel, action, do):
    deployment_panel.registry.close()
    do(deployment_panel)
    assert_says(deployment_panel._message.value, action, CLOSED)


@pytest.fixture
def silent_endpoint(tmp_path):
    """An endpoint whose process lives but whose port nobody answers on (a service that hangs
    up): the panel's client gets connection refused."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                            start_new_session=True, stdin=subprocess.DEVNULL)
    endpoint = Endpoint(proc, f"http://127.0.0.1:{free_port()}", "iris", None, None, None,
                        tmp_path, tmp_path / "server.log")
    try:
        yield endpoint
    finally:
        endpoint.stop()
    assert proc.poll() is not None


DEPLOYMENT_SERVICE = [
    ("send sample request", lambda p: press(p._sample)),
    ("promote to production", lambda p: press(p._promote)),
    ("roll back production", lambda p: press(p._rollback)),
]


@pytest.mark.parametrize("action, do", DEPLOYMENT_SERVICE, ids=[a for a, _ in DEPLOYMENT_SERVICE])
def test_deployment_panel_says_the_service_does_not_answer(deployment_panel, silent_endpoint,
                                                           action, do):
    deployment_panel.endpoint = silent_endpoint
    do(deployment_panel)
    assert_says(deployment_panel._message.value, action, NO_ANSWER)


def test_deployment_panel_after_the_endpoint_was_stopped(deployment_panel):
    press(deployment_panel._sample)
    assert_says(deployment_panel._message.value, "send sample request",
                r"RuntimeError: no endpoint is running; press start \(or call \.start\(\)\) first")


# -- the keys panel: a home that a clean-up replaced, and a closed key store -------------------
KEY_ACTIONS = [
    ("create key", lambda p: press(p._create)),
    ("rotate key", lambda p: press(p._rotate)),
    ("set limits", lambda p: press(p._limit)),
    ("revoke key", lambda p: press(p._revoke)),
]


@pytest.mark.parametrize("action, do", KEY_ACTIONS, ids=[a for a, _ in KEY_ACTIONS])
def test_keys_panel_says_the_home_is_in_the_way(tmp_path, action, do):
    home = tmp_path / "home"
    panel = KeysPanel(home=home)
    panel._name.value, panel._rate.value = "app", "5/s"
    panel.create("app")
    import shutil

    shutil.rmtree(home)
    home.write_text("not a folder")               # something else now sits where the home was
    do(panel)
    assert_says(panel._message.value, action,
                rf"a file or folder is missing or in the way \({re.escape(str(home))}\) — did a "
                r"clean-up cell delete the home\? run the first cells again")


@pytest.mark.parametrize("action, do", KEY_ACTIONS, ids=[a for a, _ in KEY_ACTIONS])
def test_keys_panel_says_the_key_store_is_closed(tmp_path, monkeypatch, action, do):
    panel = KeysPanel(home=tmp_path)
    panel._name.value = "app"
    panel.create("app")
    store = panel._store()
    store.close()
    monkeypatch.setattr(panel, "_store", lambda: store)
    do(panel)
    assert_says(panel._message.value, action,
                "the key store is closed — run the first cells again to reopen it")


# -- the training panel: data that cannot be loaded, a run that fails in its thread ------------
def test_training_panel_says_the_data_cannot_be_loaded(monkeypatch):
    panel = TrainingPanel(dataset="iris", epochs=2)

    def missing(name):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", f"/data/{name}.npz")

    monkeypatch.setattr(experiment, "load_dataset", missing)
    monkeypatch.setattr(training_panel, "load_dataset", missing)
    advice = (r"a file or folder is missing or in the way \(/data/{}\.npz\) — did a clean-up cell "
              r"delete the home\? run the first cells again")
    press(panel._train_button)
    assert_says(panel.status, "train", advice.format("iris"))
    assert panel.state == "error" and not panel._train_button.disabled
    panel._dataset.value = "digits"               # the dropdown's callback
    assert_says(panel.status, "choose data set", advice.format("digits"))


def test_training_panel_shows_an_error_of_the_training_thread(monkeypatch):
    panel = TrainingPanel(dataset="iris", epochs=2)
    built = experiment.build_model

    def broken(task, settings):
        model = built(task, settings)

        def fit(*args, **kwargs):
            raise MemoryError("cannot allocate the weights")

        model.fit = fit
        return model

    monkeypatch.setattr(training_panel, "build_model", broken)
    press(panel._train_button)
    assert panel.wait(timeout=60) and panel.state == "error"
    assert_says(panel.status, "train", "MemoryError: cannot allocate the weights")


# -- the dashboard's roll back control: a closed registry, a stopped service -------------------
def test_rollback_control_says_the_registry_is_closed(tmp_path):
    reg = Registry(tmp_path)
    reg.register("digits", FakeModel(0))
    control = RollbackControl(lambda: ("digits", "production", None,
                                       reg.rollback_target("digits", "production")),
                              lambda alias: None)
    reg.close()
    press(control.button)
    assert_says(control.message.value, "roll back production", CLOSED)
    assert control.box.layout.display == "none"


def test_rollback_control_says_the_service_does_not_answer():
    client = Client(f"http://127.0.0.1:{free_port()}")
    control = RollbackControl(lambda: ("digits", "production", 2, 1),
                              lambda alias: client.rollback("digits", alias))
    try:
        press(control.button)
        assert "from v2 → v1" in control.question.value and control.message.value == ""
        press(control.confirm)
        assert_says(control.message.value, "roll back production", NO_ANSWER)
        press(control.button)                     # asking again clears the old message
        assert control.message.value == ""
    finally:
        client.close()


# -- the messages themselves ---------------------------------------------------------------------
def _connect_error():
    return httpx.ConnectError("[Errno 111] Connection refused",
                              request=httpx.Request("POST", "http://127.0.0.1:8000/v2/models/x"))


@pytest.mark.parametrize("exc, message", [
    (sqlite3.ProgrammingError("Cannot operate on a closed database."), CLOSED),
    (sqlite3.OperationalError("attempt to write a readonly database"),
     "the registry's database file is gone or read-only (did a clean-up cell delete the home?) "
     "— run the first cells again"),
    (sqlite3.OperationalError("database is locked"),
     "the registry is busy (another process is writing) — try again in a moment"),
    (psycopg.OperationalError("connection refused"),
     "the database server does not answer (connection refused) — is PostgreSQL running?"),
    (_connect_error(), "the service at http://127.0.0.1:8000 does not answer — is it running? "
                       "(start or deploy it again)"),
    (httpx.ReadTimeout("timed out", request=httpx.Request("GET", "http://127.0.0.1:9/x")),
     "the service at http://127.0.0.1:9 took too long to answer — it may be busy; try again"),
    (httpx.ConnectError("refused"), "the service does not answer — is it running? "
                                    "(start or deploy it again)"),
    (RuntimeError("Cannot send a request, as the client has been closed."),
     "the endpoint was stopped — press start (or deploy it again)"),
    (ServingError(403, "this key may not change aliases"),
     "the service refused: HTTP 403: this key may not change aliases — use a key whose role may "
     "do this (a maintainer key for aliases and roll backs)"),
    (ServingError(404, "no model 'x'"), "the service refused: HTTP 404: no model 'x' — check the "
                                        "model name, version or alias (press refresh)"),
    (ServingError(429, "quota"), "the service refused: HTTP 429: quota — the key's rate or daily "
                                 "quota is used up; wait, or raise its limits"),
    (PermissionError(errno.EACCES, "Permission denied", "/srv/home"),
     "no permission to write (/srv/home) — choose a home you can write to"),
    (OSError(errno.ENOSPC, "No space left on device", "/srv/home/blobs"),
     "the disk is full (/srv/home/blobs) — free some space and try again"),
    (OSError(errno.EIO, "Input/output error"), "OSError: Input/output error"),
    (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
     "the connection failed (ConnectionResetError: [Errno 104] Connection reset by peer) — is the "
     "service running?"),
    (PermissionError("rolling back needs allow_rollback=True"),
     "PermissionError: rolling back needs allow_rollback=True"),
    (NothingToRollBackError("production of digits has no earlier target"),
     "production of digits has no earlier target"),
    (ValueError("percent must be between 0 and 100, got 120"),
     "ValueError: percent must be between 0 and 100, got 120"),
    (KeyError("x0"), "KeyError: 'x0'"),
])
def test_explain_says_what_went_wrong_and_what_to_do(exc, message):
    assert explain(exc) == message
    assert failure_message("promote", exc) == f"promote failed: {message}"


def test_run_action_returns_the_result_or_shows_and_logs_the_error(caplog):
    shown = []
    assert actions_module.run_action("add", lambda a, b: a + b, 1, 2, show=shown.append) == 3
    assert shown == []
    with caplog.at_level(logging.DEBUG, logger="workbench.panels"):
        assert actions_module.run_action("divide", lambda: 1 / 0, show=shown.append) is None
    assert text_of(shown[0]) == "divide failed: ZeroDivisionError: division by zero"
    assert "ZeroDivisionError" in shown[0].split("<details", 1)[1]     # the traceback, folded
    assert caplog.records[0].exc_info[0] is ZeroDivisionError           # and in the debug log
    with pytest.raises(KeyboardInterrupt):                              # only errors are caught
        actions_module.run_action("wait", _interrupt, show=shown.append)


def _interrupt():
    raise KeyboardInterrupt


def test_error_html_escapes_the_message():
    html = actions_module.error_html("show", ValueError("<script>alert(1)</script>"))
    assert "<script>" not in html and "&lt;script&gt;" in html


# -- labels fit ------------------------------------------------------------------------------------
def _widgets(root):
    yield root
    for child in getattr(root, "children", ()):
        yield from _widgets(child)


def test_every_button_is_as_wide_as_its_label_and_every_description_fits(tmp_path):
    make_home(tmp_path)
    reg = Registry(tmp_path)
    panels = [RegistryPanel(reg), DeploymentPanel(home=tmp_path), KeysPanel(home=tmp_path),
              TrainingPanel(), RollbackControl(lambda: ("iris", "production", 1, None), print)]
    seen = 0
    for panel in panels:
        for w in _widgets(panel):
            if isinstance(w, widgets.Button):
                assert w.layout.width == "auto", w.description
                seen += 1
            elif getattr(w, "description", "") and hasattr(w, "style"):
                assert w.style.description_width == "initial", w.description
    assert seen >= 25
    reg.close()

"""The training panel, driven through its methods and buttons and read through widget values."""
import matplotlib

matplotlib.use("Agg")

import base64
import time

import numpy as np
import pytest

from workbench.data import load_dataset
from workbench.panels import TrainingPanel
from workbench.panels.experiment import build_model, parse_hidden_layers, prepare_data

PNG_MAGIC = b"\x89PNG"


def shows_png(output) -> bool:
    """True when an Output widget holds one rendered PNG."""
    return (len(output.outputs) == 1 and
            base64.b64decode(output.outputs[0]["data"]["image/png"]).startswith(PNG_MAGIC))


def wait_until(condition, panel):
    """Poll while the training thread runs; fail if it ends before ``condition`` holds."""
    while not condition():
        assert panel.running, f"training ended first: {panel.state}, {panel.status}"
        time.sleep(0.005)


# -- the plain logic under the panel ------------------------------------------------------------
def test_parse_hidden_layers():
    assert parse_hidden_layers("128, 64") == (128, 64)
    assert parse_hidden_layers(" 32 ") == (32,)
    assert parse_hidden_layers("") == ()
    with pytest.raises(ValueError, match="whole numbers separated by commas"):
        parse_hidden_layers("64, lots")


def test_prepare_data_splits_stratified_and_standardises():
    data = prepare_data("iris", random_state=0)
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (96, 24, 30)
    np.testing.assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(data.X_train.std(axis=0), 1)
    assert np.bincount(data.y_test).tolist() == [10, 10, 10]          # stratified
    reg = prepare_data("diabetes", random_state=0)
    assert reg.target_scaler is not None and abs(reg.y_train.mean()) < 1e-12
    raw = load_dataset("diabetes").y
    assert set(np.round(reg.unscale(reg.y_test), 6)) <= set(np.round(raw.astype(float), 6))


def test_build_model_checks_the_task():
    model = build_model("classification", {"model": "MLPClassifier", "hidden_layers": "8, 4", "epochs": 3})
    assert model.hidden_layer_sizes == (8, 4) and model.epochs == 3
    assert build_model("regression", {"model": "LinearRegression"}).solver == "gd"
    with pytest.raises(ValueError, match="does not fit a regression data set"):
        build_model("regression", {"model": "MLPClassifier"})


# -- the panel -----------------------------------------------------------------------------------
def test_controls_follow_the_data_set():
    panel = TrainingPanel()
    assert panel.state == "idle" and panel.model is None and panel.history is None
    assert panel.settings["dataset"] == "digits" and panel._model_choice.value == "MLPClassifier"
    panel._dataset.value = "diabetes"                     # as a user would pick it
    assert list(panel._model_choice.options) == ["MLPRegressor", "LinearRegression"]
    assert panel._model_choice.value == "MLPRegressor"
    panel.configure(model="LinearRegression")
    assert panel._hidden.disabled and panel._activation.disabled
    panel.configure(dataset="iris", hidden_layers=(16, 8), epochs=7)
    assert panel._model_choice.value == "MLPClassifier" and not panel._hidden.disabled
    assert panel._hidden.value == "16, 8" and panel._epochs.value == 7
    with pytest.raises(ValueError, match="unknown setting"):
        panel.configure(epoch=3)
    with pytest.raises(ValueError, match="model must be one of"):
        panel.configure(model="MLPRegressor")
    assert "workbench-training-panel" in panel._dom_classes


def test_train_a_classifier_and_see_the_result():
    panel = TrainingPanel(dataset="iris", hidden_layers="16", epochs=15, batch_size=16, learning_rate=0.01)
    panel.train(wait=True)
    assert panel.state == "finished", panel.status
    assert panel.history.epochs == list(range(1, 16))
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(panel.history.metrics)
    assert "finished after 15 of 15 epochs" in panel.status
    assert panel.score == pytest.approx(panel.model.score(panel.data.X_test, panel.data.y_test))
    assert panel.score > 0.8
    assert f"test accuracy: {panel.score:.4f}" in panel._score.value
    assert shows_png(panel._curves) and shows_png(panel._result)       # curves + confusion matrix
    assert panel._progress.value == 15 and panel._progress.bar_style == "success"
    assert not panel._train_button.disabled and panel._stop_button.disabled
    raw = load_dataset("iris").X[:5]
    assert panel.predict(raw).shape == (5,)


def test_train_a_regressor_and_predict_in_the_data_units():
    panel = TrainingPanel(dataset="linear", hidden_layers="16", epochs=40, learning_rate=0.01)
    panel.train(wait=True)
    assert panel.state == "finished", panel.status
    assert "r2" in panel.history and "test R²" in panel.status and shows_png(panel._result)
    data = load_dataset("linear")
    pred = panel.predict(data.X)
    r2 = 1 - np.sum((data.y - pred) ** 2) / np.sum((data.y - data.y.mean()) ** 2)
    assert r2 > 0.8                                      # un-standardised back to y's units


@pytest.mark.parametrize("hidden, message", [
    ("128, 0", "hidden_layer_sizes must be positive integers, got (128, 0)"),
    ("128, many", "hidden layers must be whole numbers"),
])
def test_a_bad_hyperparameter_is_shown_not_raised(hidden, message):
    panel = TrainingPanel(dataset="iris", hidden_layers=hidden, epochs=3)
    panel.train(wait=True)
    assert panel.state == "error" and isinstance(panel.error, ValueError)
    assert message in str(panel.error)
    assert "ValueError" in panel.status and "#b00020" in panel.status
    assert not panel._train_button.disabled                # the user can fix it and try again
    panel.configure(hidden_layers="8")
    panel.train(wait=True)
    assert panel.state == "finished" and panel.error is None


def test_a_diverging_run_says_what_to_do():
    panel = TrainingPanel(dataset="iris", optimizer="sgd", learning_rate=1e4, epochs=20)
    panel.train(wait=True)
    assert panel.state == "error" and "smaller learning_rate" in panel.status


def test_training_runs_in_the_background_and_stop_ends_it_early():
    epochs = 10**6                                       # far more than the test will wait for
    panel = TrainingPanel(dataset="moons", hidden_layers="8", epochs=epochs, redraw_interval=0)
    panel.train(wait=False)                              # returns while the thread trains
    assert panel.running and panel.state == "running"
    assert panel._train_button.disabled and not panel._stop_button.disabled
    with pytest.raises(RuntimeError, match="already running"):
        panel.train()
    wait_until(lambda: len(panel.history) >= 3 and shows_png(panel._curves), panel)  # live curves
    panel.stop()
    assert panel.wait(timeout=60)
    assert panel.state == "stopped" and not panel.running
    assert 3 <= len(panel.history) < epochs and panel.model.n_iter_ == len(panel.history)
    assert f"stopped after {len(panel.history)} of {epochs} epochs" in panel.status
    assert shows_png(panel._result) and panel._progress.bar_style == "warning"


def test_buttons_call_the_methods():
    panel = TrainingPanel(dataset="moons", hidden_layers="8", epochs=10**6)
    panel._train_button.click()
    assert panel.running
    wait_until(lambda: len(panel.history) >= 1, panel)
    panel._stop_button.click()
    assert panel.wait(timeout=60) and panel.state == "stopped"
    panel.stop()                                         # idle: nothing happens
    assert panel.state == "stopped"

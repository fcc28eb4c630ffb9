"""The training loop: history, callbacks, early stopping, progress bar."""
import numpy as np
import pytest

from workbench.data import load_dataset, split
from workbench.models import MLPClassifier, MLPRegressor
from workbench.training import Callback, EarlyStopping, History


@pytest.fixture(scope="module")
def moons():
    data = load_dataset("moons", n_samples=300)
    return split(data.X, data.y, test_size=0.3, random_state=0)


def test_history_has_train_and_validation_metrics(moons):
    X_train, X_val, y_train, y_val = moons
    model = MLPClassifier((8,), epochs=4, random_state=0).fit(X_train, y_train, X_val=X_val, y_val=y_val)
    h = model.history_
    assert h.epochs == [1, 2, 3, 4]
    assert set(h.metrics) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    # the validation metrics are the model's own loss and accuracy on the validation set
    np.testing.assert_allclose(h["val_accuracy"][-1], model.score(X_val, y_val))


def test_regressor_history_reports_r2():
    data = load_dataset("linear")
    model = MLPRegressor((8,), epochs=3, random_state=0).fit(data.X, data.y, X_val=data.X, y_val=data.y)
    assert {"loss", "r2", "val_loss", "val_r2"} <= set(model.history_.metrics)
    np.testing.assert_allclose(model.history_["val_r2"][-1], model.score(data.X, data.y), rtol=1e-4)


def test_a_callback_can_stop_training(moons):
    X_train, _, y_train, _ = moons
    seen = []

    def stop_at_three(model, epoch, logs):
        seen.append((epoch, sorted(logs)))
        return epoch == 3

    model = MLPClassifier((8,), epochs=50, random_state=0).fit(X_train, y_train, callbacks=[stop_at_three])
    assert model.n_iter_ == 3 and [e for e, _ in seen] == [1, 2, 3]
    assert seen[0][1] == ["accuracy", "loss"]


def test_callback_hooks_are_called_in_order(moons):
    X_train, _, y_train, _ = moons
    calls = []

    class Recorder(Callback):
        def on_train_begin(self, model):
            calls.append("begin")

        def on_epoch_end(self, model, epoch, logs):
            calls.append(epoch)

        def on_train_end(self, model, history):
            calls.append(("end", len(history)))

    MLPClassifier((4,), epochs=2, random_state=0).fit(X_train, y_train, callbacks=[Recorder()])
    assert calls == ["begin", 1, 2, ("end", 2)]


def test_early_stopping_stops_and_restores_the_best_weights(moons):
    X_train, X_val, y_train, y_val = moons
    stopper = EarlyStopping(patience=3, min_delta=0.0)
    snapshots = {}

    def remember(model, epoch, logs):
        snapshots[epoch] = {k: v.copy() for k, v in model.params_.items()}

    model = MLPClassifier((64,), learning_rate=0.05, epochs=300, random_state=0)
    model.fit(X_train, y_train, X_val=X_val, y_val=y_val, callbacks=[remember, stopper])
    assert stopper.stopped_epoch is not None and model.n_iter_ < 300
    assert model.n_iter_ == stopper.best_epoch + 3
    for k in model.params_:
        np.testing.assert_array_equal(model.params_[k], snapshots[stopper.best_epoch][k])


def test_early_stopping_hyperparameter_holds_out_validation_data():
    data = load_dataset("digits")
    model = MLPClassifier((16,), epochs=500, early_stopping=True, n_iter_no_change=3,
                          random_state=0).fit(data.X / 16, data.y)
    assert "val_loss" in model.history_ and model.n_iter_ < 500


def test_early_stopping_needs_validation_logs(moons):
    X_train, _, y_train, _ = moons
    with pytest.raises(ValueError, match="give validation data"):
        MLPClassifier((4,), epochs=2).fit(X_train, y_train, callbacks=[EarlyStopping()])


def test_progress_bar_shows_when_verbose_and_is_silent_otherwise(moons, capsys):
    X_train, _, y_train, _ = moons
    MLPClassifier((4,), epochs=3, random_state=0).fit(X_train, y_train)
    assert capsys.readouterr().err == ""
    MLPClassifier((4,), epochs=3, verbose=True, random_state=0).fit(X_train, y_train)
    err = capsys.readouterr().err
    assert "MLPClassifier" in err and "3/3" in err and "loss=" in err


def test_divergence_is_reported_with_advice():
    data = load_dataset("linear")
    with pytest.raises(FloatingPointError, match="smaller learning_rate"):
        MLPRegressor((8,), optimizer="sgd", learning_rate=10.0, epochs=50, random_state=0).fit(
            data.X * 100, data.y * 100)


def test_history_round_trips_through_a_dict():
    h = History()
    h.append(1, {"loss": 1.0, "accuracy": 0.5})
    h.append(2, {"loss": 0.5, "accuracy": 0.75})
    again = History.from_dict(h.as_dict())
    assert again == h and again["loss"] == [1.0, 0.5] and len(again) == 2

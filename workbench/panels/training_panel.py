"""The training panel: pick data, a model and its hyperparameters, train in the background, watch.

Every button only calls a public method (:meth:`TrainingPanel.train`, :meth:`~TrainingPanel.stop`),
so the panel works the same from plain Python and in tests. Training runs in a daemon thread;
the thread updates widget values and swaps rendered PNGs into the ``Output`` widgets
(``output.outputs = (...)``), because ``with output:`` and pyplot's global figure list are not
safe to use from a thread.
"""
from __future__ import annotations

import threading
import time
from html import escape

import ipywidgets as widgets
from matplotlib.figure import Figure

from ..data import DATASETS, load_dataset
from ..models.activations import ACTIVATIONS
from ..models.optimizers import OPTIMIZERS
from ..training import History
from .actions import button, error_html, log, row, run_action
from .experiment import MODELS, NETWORKS, build_model, prepare_data
from .plots import figure_to_output, plot_confusion_matrix, plot_history, plot_predicted_vs_true


def _control(kind, description, **kwargs):
    """A labelled control whose label is never cut short."""
    return kind(description=description, style={"description_width": "initial"},
                layout={"width": "auto"}, **kwargs)


class TrainingPanel(widgets.VBox):
    """Train a workbench model on a bundled data set and watch its curves live.

    The data are split (stratified for classes) into train / validation / test (64/16/20 %),
    standardised with statistics of the training part (regression targets too), and the model
    is fitted on the training part while the validation curves are drawn.

    Parameters
    ----------
    redraw_interval : float, default=0.5
        Least number of seconds between two live updates of the progress and the curves
        (the last epoch is always drawn).
    **settings
        Initial values of the controls, as for :meth:`configure` (``dataset="iris"``, ``epochs=20``).

    Examples
    --------
    >>> panel = TrainingPanel(dataset="iris", epochs=20)     # doctest: +SKIP
    >>> panel.train(wait=True)                               # doctest: +SKIP
    >>> panel.state, panel.score                             # doctest: +SKIP
    ('finished', 0.9...)
    """

    def __init__(self, *, redraw_interval: float = 0.5, **settings):
        self.redraw_interval = float(redraw_interval)
        self._dataset = _control(widgets.Dropdown, "data set", options=list(DATASETS), value="digits")
        self._model_choice = _control(widgets.Dropdown, "model",
                                      options=list(MODELS["classification"]))
        self._hidden = _control(widgets.Text, "hidden layers", value="64")
        self._activation = _control(widgets.Dropdown, "activation", options=list(ACTIVATIONS))
        self._optimizer = _control(widgets.Dropdown, "optimizer", options=list(OPTIMIZERS), value="adam")
        self._learning_rate = _control(widgets.FloatText, "learning rate", value=0.001, step=0.001)
        self._batch_size = _control(widgets.IntText, "batch size", value=64)
        self._epochs = _control(widgets.IntText, "epochs", value=30)
        self._alpha = _control(widgets.FloatText, "alpha (L2)", value=1e-4, step=1e-4)
        self._random_state = _control(widgets.IntText, "random state", value=0)
        self._train_button = button("Train", button_style="primary", icon="play")
        self._stop_button = button("Stop", button_style="danger", icon="stop", disabled=True)
        self._progress = widgets.IntProgress(value=0, min=0, max=1, description="epoch 0",
                                             style={"description_width": "initial"},
                                             layout={"width": "360px"})   # the bar needs a width
        self._status, self._score = widgets.HTML("<i>ready</i>"), widgets.HTML()
        self._curves, self._result = widgets.Output(), widgets.Output()
        self._controls = {"dataset": self._dataset, "model": self._model_choice,
                          "hidden_layers": self._hidden, "activation": self._activation,
                          "optimizer": self._optimizer,
                          "learning_rate": self._learning_rate, "batch_size": self._batch_size,
                          "epochs": self._epochs, "alpha": self._alpha, "random_state": self._random_state}
        self._train_button.on_click(lambda _b: self._safely("train", self.train))
        self._stop_button.on_click(lambda _b: self._safely("stop", self.stop))
        self._dataset.observe(lambda _ch: self._safely("choose data set", self._dataset_changed),
                              names="value")
        self._model_choice.observe(lambda _ch: self._safely("choose model", self._model_changed),
                                   names="value")
        super().__init__(children=[
            widgets.HTML("<b>Train a model</b>"),
            row(self._dataset, self._model_choice, self._hidden, self._activation),
            row(self._optimizer, self._learning_rate, self._batch_size),
            row(self._epochs, self._alpha, self._random_state),
            row(self._train_button, self._stop_button, self._progress),
            self._status, self._curves, self._score, self._result])
        self.add_class("workbench-training-panel")
        for name in ("train_button", "stop_button", "progress", "status", "score", "curves", "result"):
            getattr(self, "_" + name).add_class("workbench-training-" + name.replace("_", "-"))
        self._thread, self._stop_event, self._last_draw = None, threading.Event(), 0.0
        self._model = self._history = self._error = self._score_value = None
        self._state, self._data = "idle", None
        self._dataset_changed()
        self.configure(**settings)

    def __repr__(self) -> str:
        return f"TrainingPanel({self.settings}, state={self.state!r})"

    # ------------------------------------------------------------------ state readers
    @property
    def settings(self) -> dict:
        """The current value of every control, by the names :meth:`configure` takes."""
        return {name: w.value for name, w in self._controls.items()}

    @property
    def state(self) -> str:
        """``"idle"``, ``"running"``, ``"finished"``, ``"stopped"`` or ``"error"``."""
        return self._state

    @property
    def running(self) -> bool:
        """True while the training thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def status(self) -> str:
        """The status line (HTML): what is happening, or what went wrong."""
        return self._status.value

    @property
    def model(self):
        """The estimator of the last run (being trained while :attr:`running`), or None."""
        return self._model

    @property
    def history(self) -> History | None:
        """Loss and metrics per epoch of the last run; grows while it trains."""
        return self._history

    @property
    def score(self) -> float | None:
        """Test accuracy (classifiers) or R² (regressors) of the last finished run."""
        return self._score_value

    @property
    def error(self) -> Exception | None:
        """The error that ended the last run, or None."""
        return self._error

    # ------------------------------------------------------------------ actions
    def configure(self, **settings) -> None:
        """Set controls by name: ``dataset``, ``model``, ``hidden_layers`` (text like ``"64, 32"``),
        ``activation``, ``optimizer``, ``learning_rate``, ``batch_size``, ``epochs``, ``alpha``,
        ``random_state``."""
        unknown = sorted(set(settings) - set(self._controls))
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}; choose from {list(self._controls)}")
        if "hidden_layers" in settings and not isinstance(settings["hidden_layers"], str):
            settings["hidden_layers"] = ", ".join(str(s) for s in settings["hidden_layers"])
        for name in self._controls:  # in order, so the data set picks the models offered first
            if name in settings:
                widget, value = self._controls[name], settings[name]
                options = getattr(widget, "options", None)
                if options is not None and value not in options:
                    raise ValueError(f"{name} must be one of {list(options)}, got {value!r}")
                widget.value = value

    def train(self, wait: bool = False) -> None:
        """Start training with the current settings in a background thread.

        A bad setting (or data that cannot be loaded) does not raise: the message is shown in the
        status line and :attr:`state` becomes ``"error"``. With ``wait=True`` return only when training has ended.
        """
        if self.running:
            raise RuntimeError("training is already running; call stop() or wait() first")
        self._stop_event.clear()
        self._model = self._history = self._error = self._score_value = None
        self._score.value, self._curves.outputs, self._result.outputs = "", (), ()
        try:
            data = prepare_data(self._dataset.value, self._random_state.value)
            model = build_model(data.task, self.settings)
        except Exception as exc:  # noqa: BLE001 - shown in the status line, see _fail
            return self._fail(exc)
        self._model, self._history, self._data, self._last_draw = model, History(), data, 0.0
        with self._progress.hold_sync():
            self._progress.max, self._progress.value = max(int(model.epochs), 1), 0
            self._progress.description, self._progress.bar_style = "epoch 0", ""
        self._set_buttons(running=True)
        self._say(f"training {type(model).__name__} on {data.name} ...")
        self._state = "running"
        self._thread = threading.Thread(target=self._run, args=(model, data), daemon=True,
                                        name="workbench-training")
        self._thread.start()
        if wait:
            self.wait()

    def stop(self) -> None:
        """Ask a running training to stop after the current epoch (no effect when idle)."""
        if self.running:
            self._stop_event.set()
            self._say("stopping after this epoch ...")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until training has ended (or ``timeout`` seconds passed); True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    @property
    def data(self):
        """The :class:`~workbench.panels.experiment.PreparedData` of the last run (split, scaled)."""
        return self._data

    def predict(self, X):
        """Predictions of the last trained model for raw (unscaled) rows ``X``, in the data's units."""
        if self._model is None or self.running or not hasattr(self._model, "params_"):
            raise ValueError("no trained model yet: call train(wait=True) first")
        return self._data.unscale(self._model.predict(self._data.standardizer.transform(X)))

    # ------------------------------------------------------------------ the work
    def _run(self, model, data):
        try:
            model.fit(data.X_train, data.y_train, X_val=data.X_val, y_val=data.y_val,
                      callbacks=[self._on_epoch_end])
            self._history = model.history_
            self._score_value = float(model.score(data.X_test, data.y_test))
            self._draw_result(model, data)
        except Exception as exc:  # noqa: BLE001 - a thread has nowhere to raise to: show it
            self._fail(exc)
            return
        stopped = self._stop_event.is_set() and len(self._history) < model.epochs
        metric = "accuracy" if data.task == "classification" else "R²"
        self._show_progress(bar_style="warning" if stopped else "success")
        self._draw_curves()
        self._score.value = f"<b>test {metric}: {self._score_value:.4f}</b>"
        self._say(f"{'stopped' if stopped else 'finished'} after {len(self._history)} of {model.epochs} "
                  f"epochs; test {metric} {self._score_value:.4f}")
        self._set_buttons(running=False)
        self._state = "stopped" if stopped else "finished"

    def _on_epoch_end(self, model, epoch, logs):
        """Training callback: record the epoch, redraw now and then, stop when asked."""
        self._history.append(epoch, logs)
        if time.monotonic() - self._last_draw >= self.redraw_interval and epoch < model.epochs:
            self._show_progress()
            self._draw_curves()
            self._last_draw = time.monotonic()  # from the end of a draw: training gets its share
        return self._stop_event.is_set()

    def _show_progress(self, bar_style: str = ""):
        done = len(self._history)
        with self._progress.hold_sync():
            self._progress.value, self._progress.description = done, f"epoch {done}"
            self._progress.bar_style = bar_style

    def _draw_curves(self):
        metric = "accuracy" if self._data.task == "classification" else "r2"
        fig = Figure(figsize=(9, 3))
        axes = fig.subplots(1, 2)
        plot_history(self._history, axes[0], "loss")
        plot_history(self._history, axes[1], metric)
        fig.tight_layout()
        self._curves.outputs = (figure_to_output(fig),)

    def _draw_result(self, model, data):
        fig = Figure(figsize=(4.5, 4))
        ax = fig.subplots()
        y_pred, title = model.predict(data.X_test), f"{data.name}: test set"
        if data.task == "classification":
            plot_confusion_matrix(data.y_test, y_pred, model.classes_, ax, title=title)
        else:
            plot_predicted_vs_true(data.unscale(data.y_test), data.unscale(y_pred), ax, title=title)
        fig.tight_layout()
        self._result.outputs = (figure_to_output(fig),)

    # ------------------------------------------------------------------ helpers
    def _fail(self, exc: Exception) -> None:
        self._error = exc
        log.debug("train failed", exc_info=exc)
        self._status.value = error_html("train", exc)
        self._progress.bar_style = "danger"
        self._set_buttons(running=False)
        self._state = "error"

    def _set_buttons(self, running: bool) -> None:
        with self._train_button.hold_sync(), self._stop_button.hold_sync():
            self._train_button.disabled, self._stop_button.disabled = running, not running

    def _safely(self, action: str, func):
        """Run a button's or dropdown's action; show any error in the status line."""
        return run_action(action, func, show=self._show_error)

    def _show_error(self, html: str) -> None:
        self._status.value = html

    def _say(self, message: str, error: bool = False) -> None:
        color = "#b00020" if error else "#2b7a2b"
        self._status.value = f"<span style='color:{color}'>{escape(message)}</span>"

    def _dataset_changed(self) -> None:
        """Offer the models that fit the data set's task, keeping the current one when it fits."""
        names = list(MODELS[load_dataset(self._dataset.value).task])
        keep = self._model_choice.value if self._model_choice.value in names else names[0]
        with self._model_choice.hold_sync():
            self._model_choice.options, self._model_choice.value = names, keep
        self._model_changed()

    def _model_changed(self) -> None:
        network = self._model_choice.value in NETWORKS
        self._hidden.disabled = self._activation.disabled = not network

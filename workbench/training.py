"""The fit loop: epochs of shuffled mini-batches, a history, callbacks, early stopping, progress.

The loop is generic: it trains any model that offers

- ``params_``: a dict of weight arrays, updated in place by the optimizer;
- ``loss_and_gradients(X, Y) -> (loss, grads, Z)``: the mean loss on a batch, its gradient for
  every entry of ``params_``, and the batch's raw outputs ``Z``;
- ``_evaluate(X, Y) -> (loss, Z)``: the loss and raw outputs without gradients.

Models call :func:`train` from ``fit`` and ``partial_fit``; the loop knows nothing about any
particular model class.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from contextlib import closing as _closing

import numpy as np


# -- metrics accumulated over the batches of an epoch (no extra pass over the data) ------------
class Accuracy:
    """Share of rows whose largest output is the true class (one 0/1 column: output > 0)."""

    name = "accuracy"

    def __init__(self):
        self.correct = 0
        self.total = 0

    def update(self, Z, Y):
        if Z.shape[1] == 1:
            pred, true = Z[:, 0] > 0, Y[:, 0] > 0.5
        else:
            pred, true = Z.argmax(axis=1), Y.argmax(axis=1)
        self.correct += int(np.count_nonzero(pred == true))
        self.total += Z.shape[0]

    def result(self):
        return self.correct / max(self.total, 1)


class RSquared:
    """Coefficient of determination, averaged over outputs: 1 - SSE / SST.

    ``Y_all`` fixes the mean used for SST (the whole set, as :func:`sklearn.metrics.r2_score`).
    """

    name = "r2"

    def __init__(self, Y_all):
        self.mean = Y_all.mean(axis=0)
        self.sse = np.zeros(Y_all.shape[1])
        self.sst = np.zeros(Y_all.shape[1])

    def update(self, Z, Y):
        self.sse += ((Y - Z) ** 2).sum(axis=0)
        self.sst += ((Y - self.mean) ** 2).sum(axis=0)

    def result(self):
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(self.sst > 0, 1 - self.sse / np.where(self.sst > 0, self.sst, 1), 0.0)
        return float(np.mean(r2))


# -- history ------------------------------------------------------------------------------------
@dataclass
class History:
    """Loss and metrics per epoch: ``history["loss"]``, ``history["val_accuracy"]``, …"""

    epochs: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)

    def append(self, epoch: int, logs: dict) -> None:
        self.epochs.append(int(epoch))
        for key, value in logs.items():
            self.metrics.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> list:
        return self.metrics[key]

    def __contains__(self, key: str) -> bool:
        return key in self.metrics

    def __len__(self) -> int:
        return len(self.epochs)

    def as_dict(self) -> dict:
        return {"epochs": list(self.epochs), "metrics": {k: list(v) for k, v in self.metrics.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(list(d.get("epochs", [])), {k: list(v) for k, v in d.get("metrics", {}).items()})

    def plot(self, ax=None, keys=None):
        """Draw the curves (loss by default) on ``ax`` and return it."""
        import matplotlib.pyplot as plt

        ax = ax if ax is not None else plt.gca()
        keys = keys or [k for k in self.metrics if k.endswith("loss")]
        for key in keys:
            ax.plot(self.epochs, self.metrics[key], label=key)
        ax.set_xlabel("epoch")
        ax.legend()
        return ax

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self.metrics.items() if v}
        return f"History({len(self.epochs)} epochs, last={last})"


# -- callbacks ----------------------------------------------------------------------------------
class Callback:
    """Hooks called by :func:`train`. ``on_epoch_end`` returns True to stop training."""

    def on_train_begin(self, model) -> None:
        pass

    def on_epoch_end(self, model, epoch: int, logs: dict) -> bool | None:
        return None

    def on_train_end(self, model, history: History) -> None:
        pass


class LambdaCallback(Callback):
    """Wrap a function ``f(model, epoch, logs) -> bool | None`` as a callback."""

    def __init__(self, on_epoch_end):
        self._fn = on_epoch_end

    def on_epoch_end(self, model, epoch, logs):
        return self._fn(model, epoch, logs)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best=True`` the weights of the best epoch are put back at the end.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 10, min_delta: float = 1e-4,
                 restore_best: bool = True):
        if int(patience) < 1:
            raise ValueError(f"patience must be a positive integer, got {patience!r}")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.restore_best = restore_best
        self.mode = "max" if monitor.endswith(("accuracy", "r2")) else "min"

    def on_train_begin(self, model):
        self.best, self.best_epoch, self.wait, self._best_params = None, None, 0, None
        self.stopped_epoch = None

    def on_epoch_end(self, model, epoch, logs):
        if self.monitor not in logs:
            raise ValueError(
                f"EarlyStopping watches {self.monitor!r}, but the epoch logs only have "
                f"{sorted(logs)}; give validation data (X_val, y_val) or early_stopping=True"
            )
        value = logs[self.monitor]
        better = (self.best is None or
                  (value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta))
        if better:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self._best_params = {k: v.copy() for k, v in model.params_.items()}
            return None
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return None

    def on_train_end(self, model, history):
        if self.restore_best and self._best_params is not None:
            for k, v in self._best_params.items():
                model.params_[k][...] = v


class ConvergenceStop(Callback):
    """Stop once the training loss has not fallen by ``tol`` for ``n_iter_no_change`` epochs.

    This is scikit-learn's rule for its MLPs (``tol``, ``n_iter_no_change``): ``epochs`` becomes
    an upper bound. After training, ``model.converged_`` tells whether the loss settled; when
    the epochs ran out first a :class:`~sklearn.exceptions.ConvergenceWarning` says so.
    """

    def __init__(self, tol: float = 1e-4, n_iter_no_change: int = 10):
        if int(n_iter_no_change) < 1:
            raise ValueError(f"n_iter_no_change must be a positive integer, got {n_iter_no_change!r}")
        self.tol, self.n_iter_no_change = float(tol), int(n_iter_no_change)

    def on_train_begin(self, model):
        self.best, self.wait, self.stopped_epoch = np.inf, 0, None

    def on_epoch_end(self, model, epoch, logs):
        loss = logs["loss"]
        self.wait = self.wait + 1 if loss > self.best - self.tol else 0
        self.best = min(self.best, loss)
        if self.wait >= self.n_iter_no_change:
            self.stopped_epoch = epoch
            return True
        return None

    def on_train_end(self, model, history):
        model.converged_ = self.stopped_epoch is not None


def warn_if_not_converged(model, epochs: int) -> None:
    """Warn (scikit-learn's ``ConvergenceWarning``) when ``model.converged_`` is False."""
    if getattr(model, "converged_", True):
        return
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    warnings.warn(f"{type(model).__name__} did not converge: the training loss was still "
                  f"falling by more than tol={model.tol} after epochs={epochs}; raise epochs "
                  f"(or the learning_rate) to train to convergence", ConvergenceWarning,
                  stacklevel=4)


def _as_callback(cb) -> Callback:
    if isinstance(cb, Callback):
        return cb
    if callable(cb):
        return LambdaCallback(cb)
    raise TypeError(f"a callback must be a Callback or a function f(model, epoch, logs), got {cb!r}")


# -- the loop -----------------------------------------------------------------------------------
def train(model, X, Y, *, optimizer, epochs: int, batch_size: int, rng: np.random.Generator,
          make_metric, validation_data=None, callbacks=(), verbose=False, history=None,
          first_epoch: int = 1) -> History:
    """Run ``epochs`` epochs of mini-batch gradient descent on ``model`` and return its history.

    Parameters
    ----------
    model : a model offering ``params_``, ``loss_and_gradients`` and ``_evaluate``
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
        Encoded targets (one-hot classes, or values).
    optimizer : Optimizer
        Updates ``model.params_`` in place from the gradients.
    make_metric : callable
        ``make_metric(Y) -> metric`` with ``update(Z, Y)`` and ``result()``.
    validation_data : tuple (X_val, Y_val), optional
        Evaluated after every epoch into ``val_loss`` and ``val_<metric>``.
    callbacks : iterable of Callback or functions ``f(model, epoch, logs)``
        A callback returning True stops training after that epoch.
    verbose : bool
        Show a progress bar (``tqdm.auto``: a widget in JupyterLab, text in a terminal).
    """
    from tqdm.auto import tqdm

    callbacks = [_as_callback(cb) for cb in callbacks]
    history = history if history is not None else History()
    n = X.shape[0]
    for cb in callbacks:
        cb.on_train_begin(model)
    bar = tqdm(range(first_epoch, first_epoch + epochs), desc=type(model).__name__,
               unit="epoch", disable=not verbose, leave=True)
    # overflow shows up as a non-finite loss, reported below with advice, so numpy need not warn
    with np.errstate(over="ignore", invalid="ignore"), _closing(bar):
        for epoch in bar:
            order = rng.permutation(n)
            metric = make_metric(Y)
            total = 0.0
            for start in range(0, n, batch_size):
                idx = order[start:start + batch_size]
                xb, yb = X[idx], Y[idx]
                loss, grads, Z = model.loss_and_gradients(xb, yb)
                if not np.isfinite(loss):
                    raise FloatingPointError(
                        f"training diverged: the loss became {loss} in epoch {epoch}; "
                        f"try a smaller learning_rate (it is {optimizer.learning_rate})"
                    )
                optimizer.step(model.params_, grads)
                total += loss * len(idx)
                metric.update(Z, yb)
            logs = {"loss": total / n, metric.name: metric.result()}
            if validation_data is not None:
                Xv, Yv = validation_data
                val_loss, Zv = model._evaluate(Xv, Yv)
                vm = make_metric(Yv)
                vm.update(Zv, Yv)
                logs["val_loss"], logs["val_" + vm.name] = val_loss, vm.result()
            history.append(epoch, logs)
            bar.set_postfix({k: f"{v:.4g}" for k, v in logs.items()}, refresh=False)
            stop = False
            for cb in callbacks:
                stop = bool(cb.on_epoch_end(model, epoch, logs)) or stop
            if stop:
                break
    for cb in callbacks:
        cb.on_train_end(model, history)
    return history


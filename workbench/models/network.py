"""A fully-connected network trained by mini-batch gradient descent — the core of every model.

A linear model is a network with no hidden layer, so :class:`Network` serves
``LinearRegression`` (gradient-descent solver), ``LogisticRegression`` and the MLPs alike.

Forward pass, for layers :math:`l = 0 \\dots L-1`, with :math:`A_0 = X`:

.. math::

    Z_l = A_l W_l + b_l, \\qquad A_{l+1} = f(Z_l) \\quad (l < L - 1)

and the last :math:`Z_{L-1}` are the logits that the loss reads through its link.
Backward pass, from :math:`\\delta_{L-1} = \\partial L / \\partial Z_{L-1}` (given by the loss):

.. math::

    \\frac{\\partial L}{\\partial W_l} = A_l^\\top \\delta_l + \\frac{\\alpha}{n} W_l, \\qquad
    \\frac{\\partial L}{\\partial b_l} = \\mathbf{1}^\\top \\delta_l, \\qquad
    \\delta_{l-1} = (\\delta_l W_l^\\top) \\odot f'(Z_{l-1})

The L2 penalty adds :math:`\\frac{\\alpha}{2n} \\sum_l \\lVert W_l \\rVert^2` to the loss.
"""
from __future__ import annotations

import numbers

import numpy as np
from sklearn.model_selection import train_test_split

from ..training import ConvergenceStop, EarlyStopping, train, warn_if_not_converged
from .activations import get_activation
from .base import WorkbenchModel, check_dtype
from .forward import dense_forward
from .optimizers import make_optimizer


class Network(WorkbenchModel):
    """Shared machinery; subclasses choose hidden layers, activation, loss and target coding."""

    # -- what subclasses define -------------------------------------------------------------
    def _hidden_sizes(self) -> tuple[int, ...]:
        return ()

    def _activation_name(self) -> str:
        return "identity"

    def _loss(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def _make_metric(self, Y):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- hyperparameter checks (in fit, never in __init__) -----------------------------------
    def _validate_hyperparameters(self):
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if not isinstance(self.alpha, numbers.Real) or not self.alpha >= 0:
            raise ValueError(f"alpha (the L2 penalty) must be a number >= 0, got {self.alpha!r}")
        if self.early_stopping and not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction!r}")
        get_activation(self._activation_name())
        check_dtype(self.dtype)
        make_optimizer(self.optimizer, self.learning_rate)

    # -- shapes and initial weights ----------------------------------------------------------
    def _layer_sizes(self) -> list[int]:
        return [int(self.n_features_in_), *self._hidden_sizes(), int(self._n_logits_)]

    def _param_shapes(self) -> dict[str, tuple]:
        sizes = self._layer_sizes()
        shapes = {}
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            shapes[f"W{i}"] = (fan_in, fan_out)
            shapes[f"b{i}"] = (fan_out,)
        return shapes

    def _init_params(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """He initialisation for relu layers, Glorot otherwise; biases start at zero."""
        dtype = check_dtype(self.dtype)
        params = {}
        gain = 2.0 if self._activation_name() == "relu" else 1.0
        for name, shape in self._param_shapes().items():
            if name.startswith("W"):
                fan_in, fan_out = shape
                limit = np.sqrt(3.0 * gain / fan_in) if gain == 2.0 else np.sqrt(6.0 / (fan_in + fan_out))
                params[name] = rng.uniform(-limit, limit, size=shape).astype(dtype)
            else:
                params[name] = np.zeros(shape, dtype=dtype)
        return params

    # -- forward and backward ----------------------------------------------------------------
    def _logits(self, X, keep: bool = False):
        return dense_forward(X, self.params_, self._activation_name(), keep=keep)

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Outputs through the loss's link (probabilities or values); no input checks."""
        return self._loss().link(self._logits(X))

    def _penalty(self, n: int) -> float:
        if not self.alpha:
            return 0.0
        sq = 0.0
        for k, w in self.params_.items():
            if k[0] == "W":
                flat = w.ravel()
                sq += float(flat @ flat)
        return 0.5 * self.alpha * sq / n

    def loss_and_gradients(self, X: np.ndarray, Y: np.ndarray):
        """Mean loss on a batch, its gradient for each weight array, and the batch's logits.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        Y : ndarray of shape (n_samples, n_outputs)
            Encoded targets (one-hot for classes).
        """
        _, f_backward = get_activation(self._activation_name())
        loss_fn = self._loss()
        p = self.params_
        n = X.shape[0]
        Z, cache = self._logits(X, keep=True)
        value, delta = loss_fn.value_and_gradient(Z, Y)
        loss = value + self._penalty(n)
        grads = {}
        for i in reversed(range(len(p) // 2)):
            A_in = cache[2 * i]  # X for the first layer, else the activation feeding layer i
            grads[f"W{i}"] = A_in.T @ delta
            if self.alpha:
                grads[f"W{i}"] += (self.alpha / n) * p[f"W{i}"]
            grads[f"b{i}"] = delta.sum(axis=0)
            if i > 0:
                Z_prev, A_prev = cache[2 * i - 1], cache[2 * i]
                delta = f_backward(Z_prev, A_prev, delta @ p[f"W{i}"].T)
        return loss, grads, Z

    def _evaluate(self, X, Y):
        Z = self._logits(X)
        return self._loss().value(Z, Y) + self._penalty(X.shape[0]), Z

    # -- training ----------------------------------------------------------------------------
    def _run_training(self, X, Y, *, epochs, fresh, validation_data=None, callbacks=None,
                      early_stopping=False):
        """Initialise (when ``fresh``) and run the training loop; shared by fit and partial_fit.

        ``fit`` (``fresh``) trains to convergence: with ``early_stopping`` it holds out
        ``validation_fraction`` of the data (unless validation data is given) and stops when the
        validation loss stops improving; otherwise it stops when the training loss does (see
        :class:`~workbench.training.ConvergenceStop`). ``converged_`` records whether it did.
        """
        if fresh:
            self._rng = np.random.default_rng(self.random_state)
            self.params_ = self._init_params(self._rng)
            self._optimizer = make_optimizer(self.optimizer, self.learning_rate)
            self.history_ = None
        elif not hasattr(self, "_optimizer"):
            # continuing a model rebuilt from its spec, or fitted in closed form
            self._rng = np.random.default_rng(self.random_state)
            self._optimizer = make_optimizer(self.optimizer, self.learning_rate)
        callbacks = list(callbacks or [])
        if early_stopping and validation_data is None:
            X, Xv, Y, Yv = train_test_split(X, Y, test_size=self.validation_fraction,
                                            random_state=int(self._rng.integers(2**31)),
                                            stratify=self._stratify_labels(Y))
            validation_data = (Xv, Yv)
        stopper = None
        if early_stopping:
            stopper = EarlyStopping(patience=self.n_iter_no_change, min_delta=self.tol)
        elif fresh:
            stopper = ConvergenceStop(tol=self.tol, n_iter_no_change=self.n_iter_no_change)
        if stopper is not None:
            callbacks.append(stopper)
        first = len(self.history_) + 1 if self.history_ is not None else 1
        self.history_ = train(
            self, X, Y, optimizer=self._optimizer, epochs=epochs, batch_size=self.batch_size,
            rng=self._rng, make_metric=self._make_metric, validation_data=validation_data,
            callbacks=callbacks, verbose=self.verbose, history=self.history_, first_epoch=first,
        )
        self.n_iter_ = len(self.history_)
        self.loss_ = self.history_["loss"][-1]
        if isinstance(stopper, EarlyStopping):
            self.converged_ = stopper.stopped_epoch is not None
        if stopper is not None and len(self.history_) - first + 1 >= epochs:
            warn_if_not_converged(self, epochs)
        return self

    def _stratify_labels(self, Y):
        """Labels to stratify a validation split by (classifiers), or None."""
        return None

"""A linear support vector machine trained by mini-batch gradient descent on the hinge loss.

One score per class (one-vs-rest; a single score for two classes), :math:`z = x^\\top w + b`,
with targets :math:`t \\in \\{-1, +1\\}`:

.. math::

    L = \\frac{1}{n} \\sum_i \\sum_k \\max(0,\\, 1 - t_{ik} z_{ik})^{q}
        + \\frac{\\alpha}{2n} \\lVert W \\rVert^2, \\qquad
    \\frac{\\partial L}{\\partial z_{ik}} =
        -\\frac{q\\, t_{ik}}{n} \\max(0,\\, 1 - t_{ik} z_{ik})^{q-1}

with :math:`q = 1` for ``loss='hinge'`` and :math:`q = 2` for ``'squared_hinge'`` (whose gradient
is continuous). Only the rows inside the margin (:math:`t z < 1`) pull on the weights: the
support vectors. The penalty and the optimizer loop are those of the other networks.
"""
from __future__ import annotations

import numpy as np
from sklearn.utils.metaestimators import available_if

from .tasks import ClassifierNetwork


class Hinge:
    """Hinge loss over raw scores (identity link); targets are 0/1 columns."""

    name = "hinge"
    power = 1

    @staticmethod
    def link(z):
        return z

    @classmethod
    def value(cls, z, y):
        margin = np.maximum(0.0, 1.0 - (2 * y - 1) * z)
        return float(np.sum(margin ** cls.power)) / z.shape[0]

    @classmethod
    def gradient(cls, z, y):
        t = 2 * y - 1
        margin = np.maximum(0.0, 1.0 - t * z)
        if cls.power == 1:
            return -t * (margin > 0) / z.shape[0]
        return -2 * t * margin / z.shape[0]

    @classmethod
    def value_and_gradient(cls, z, y):
        """Both at once (the training loop's call), sharing the margins."""
        t = 2 * y - 1
        margin = np.maximum(0.0, 1.0 - t * z)
        value = float(np.sum(margin ** cls.power)) / z.shape[0]
        if cls.power == 1:
            return value, -t * (margin > 0) / z.shape[0]
        return value, -2 * t * margin / z.shape[0]


class SquaredHinge(Hinge):
    """Squared hinge loss: smooth at the margin, the default of scikit-learn's LinearSVC."""

    name = "squared_hinge"
    power = 2


_LOSSES = {"hinge": Hinge, "squared_hinge": SquaredHinge}


def _never(self) -> bool:
    return False


class LinearSVC(ClassifierNetwork):
    """Linear support vector classifier: hinge loss, L2 penalty, one-vs-rest scores.

    Parameters
    ----------
    loss : {'hinge', 'squared_hinge'}, default='hinge'
    alpha : float, default=1e-3
        L2 penalty on the weights (scikit-learn's ``C`` is about ``1 / alpha`` per sample).
    optimizer : default='adam'; learning_rate : default=0.01; batch_size : default=32;
    epochs : default=500 (an upper bound: training stops once the loss settles, see ``tol``)
    early_stopping, validation_fraction, n_iter_no_change, tol, dtype, random_state, verbose :
        as in :class:`MLPClassifier`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    converged_ : bool
        False when ``epochs`` ran out before the loss settled (a ``ConvergenceWarning`` says so).

    Notes
    -----
    There is no ``predict_proba``: an SVM gives scores, not probabilities. ``forward`` (what
    serving runs) returns the scores, one column per class, so the largest is the prediction.

    Examples
    --------
    >>> from workbench.data import load_dataset
    >>> data = load_dataset("iris")
    >>> LinearSVC(random_state=0).fit(data.X, data.y).decision_function(data.X[:2]).shape
    (2, 3)
    """

    _binary_as_single_output = True

    def __init__(self, *, loss="hinge", alpha=1e-3, optimizer="adam", learning_rate=0.01,
                 batch_size=32, epochs=500, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, tol=1e-4, dtype="float32", random_state=None,
                 verbose=False):
        self.loss = loss
        self.alpha = alpha
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    def _validate_hyperparameters(self):
        if self.loss not in _LOSSES:
            raise ValueError(f"loss must be one of {sorted(_LOSSES)}, got {self.loss!r}")
        super()._validate_hyperparameters()

    def _loss(self):
        return _LOSSES[self.loss]

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Scores (n_samples, n_classes); with two classes the columns are ``(-z, z)``."""
        Z = self._logits(X)
        return np.hstack([-Z, Z]) if Z.shape[1] == 1 else Z

    def decision_function(self, X) -> np.ndarray:
        """Signed distance-like scores: (n_samples,) for two classes, else (n_samples, n_classes)."""
        Z = self._logits(self._check_X(X))
        return Z[:, 0] if Z.shape[1] == 1 else Z

    @available_if(_never)
    def predict_proba(self, X):  # pragma: no cover - hidden: an SVM gives no probabilities
        raise AttributeError("LinearSVC has no predict_proba")

    def predict(self, X) -> np.ndarray:
        """The class with the largest score, shape (n_samples,)."""
        scores = self.forward(self._check_X(X))
        return self.classes_[scores.argmax(axis=1)]

    @property
    def coef_(self):
        return self.params_["W0"].T

    @property
    def intercept_(self):
        return self.params_["b0"]

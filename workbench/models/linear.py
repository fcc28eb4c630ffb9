"""Linear models: a network with no hidden layer.

``LinearRegression`` fits in closed form (least squares, with an optional ridge penalty) or by
gradient descent; ``LogisticRegression`` by gradient descent on the cross-entropy, with one sigmoid
output for two classes and a softmax over all classes otherwise.

.. math::

    \\hat y = X w + b, \\qquad
    w = (X_c^\\top X_c + \\alpha I)^{-1} X_c^\\top y_c, \\quad b = \\bar y - \\bar x^\\top w

where :math:`X_c, y_c` are centred (so the intercept is not penalised).
"""
from __future__ import annotations

import numpy as np
from scipy import linalg

from .base import check_dtype
from .tasks import ClassifierNetwork, RegressorNetwork


class LinearRegression(RegressorNetwork):
    """Least-squares linear regression, in closed form or by mini-batch gradient descent.

    Parameters
    ----------
    solver : {'closed_form', 'gd'}, default='closed_form'
        ``'closed_form'`` solves the normal equations once; ``'gd'`` trains by gradient descent
        with the optimizer settings below (and ``partial_fit`` always takes gradient steps).
    alpha : float, default=0.0
        L2 (ridge) penalty on the weights. In closed form the objective is, as in scikit-learn's
        ``Ridge``, :math:`\\lVert y - Xw - b \\rVert^2 + \\alpha \\lVert w \\rVert^2`; gradient descent
        penalises each mini-batch of :math:`m` rows by :math:`\\alpha \\lVert w \\rVert^2 / (2m)` as the
        MLPs do, which over an epoch weighs the penalty about :math:`n / m` times more. Compare
        the two solvers with ``alpha=0``.
    optimizer, learning_rate, batch_size, epochs, early_stopping, validation_fraction,
    n_iter_no_change, tol, dtype, random_state, verbose : as in :class:`MLPRegressor`
        With ``'gd'``, ``epochs`` (default 1000) is an upper bound: training stops once the
        loss settles, and ``converged_`` says whether it did.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
    intercept_ : float or ndarray of shape (n_targets,)
    params_ : dict with ``W0`` (n_features, n_targets) and ``b0`` (n_targets,)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(10.0).reshape(-1, 1)
    >>> LinearRegression().fit(X, 3 * X[:, 0] + 1).coef_.round(3)
    array([3.], dtype=float32)
    """

    def __init__(self, *, solver="closed_form", alpha=0.0, optimizer="adam", learning_rate=0.01,
                 batch_size=32, epochs=1000, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, tol=1e-4, dtype="float32", random_state=None, verbose=False):
        self.solver = solver
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

    def fit(self, X, y, *, X_val=None, y_val=None, callbacks=None):
        if self.solver == "gd":
            return super().fit(X, y, X_val=X_val, y_val=y_val, callbacks=callbacks)
        if self.solver != "closed_form":
            raise ValueError(f"solver must be 'closed_form' or 'gd', got {self.solver!r}")
        self._validate_hyperparameters()
        X, Y = self._validate_fit(X, y)
        # solve in float64 for accuracy, then store in the model's dtype
        X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
        x_mean, y_mean = X64.mean(axis=0), Y64.mean(axis=0)
        Xc, Yc = X64 - x_mean, Y64 - y_mean
        if self.alpha:
            A = Xc.T @ Xc + self.alpha * np.eye(X.shape[1])
            W = linalg.solve(A, Xc.T @ Yc, assume_a="pos")
        else:
            W = linalg.lstsq(Xc, Yc)[0]
        dtype = check_dtype(self.dtype)
        self.params_ = {"W0": W.astype(dtype), "b0": (y_mean - x_mean @ W).astype(dtype)}
        for stale in ("_optimizer", "_rng"):
            self.__dict__.pop(stale, None)
        self.history_ = None
        self.n_iter_, self.converged_ = 1, True   # an exact solution
        residual = Yc - Xc @ W
        self.loss_ = float(0.5 * np.mean(np.sum(residual ** 2, axis=1)))
        return self

    @property
    def coef_(self):
        W = self.params_["W0"]
        return W[:, 0] if self.y_ndim_ == 1 else W.T

    @property
    def intercept_(self):
        b = self.params_["b0"]
        return b[0] if self.y_ndim_ == 1 else b


class LogisticRegression(ClassifierNetwork):
    """Logistic regression: sigmoid output for two classes, softmax for more.

    Parameters
    ----------
    alpha : float, default=1e-4
        L2 penalty on the weights.
    optimizer : default='adam'; learning_rate : default=0.01; batch_size : default=32;
    epochs : default=1000
        An upper bound: ``fit`` stops once the training loss has not fallen by ``tol`` for
        ``n_iter_no_change`` epochs; ``converged_`` says whether it did (a
        ``ConvergenceWarning`` when not). The other training settings as in
        :class:`MLPClassifier`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)

    Examples
    --------
    >>> from workbench.data import load_dataset
    >>> data = load_dataset("breast_cancer")
    >>> LogisticRegression(random_state=0).fit(data.X, data.y).predict_proba(data.X[:2]).shape
    (2, 2)
    """

    _binary_as_single_output = True

    def __init__(self, *, alpha=1e-4, optimizer="adam", learning_rate=0.01, batch_size=32,
                 epochs=1000, early_stopping=False, validation_fraction=0.1, n_iter_no_change=10,
                 tol=1e-4, dtype="float32", random_state=None, verbose=False):
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

    @property
    def coef_(self):
        return self.params_["W0"].T

    @property
    def intercept_(self):
        return self.params_["b0"]

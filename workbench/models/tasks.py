"""Classification and regression on top of :class:`~workbench.models.network.Network`:
how targets are encoded, which loss is used, and what ``predict`` returns."""
from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..training import Accuracy, RSquared
from .base import check_dtype
from .losses import BinaryCrossEntropy, CrossEntropy, MeanSquaredError
from .network import Network


def _check_validation_pair(X_val, y_val):
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val for validation, or neither")


class ClassifierNetwork(ClassifierMixin, Network):
    """A network whose outputs are class probabilities (softmax, or sigmoid for two classes)."""

    _spec_attributes = ("n_features_in_", "n_iter_", "loss_", "converged_")

    #: two classes as one sigmoid output (logistic regression) instead of two softmax outputs
    _binary_as_single_output = False

    def _loss(self):
        return BinaryCrossEntropy if self._n_logits_ == 1 else CrossEntropy

    def _make_metric(self, Y):
        return Accuracy()

    def _stratify_labels(self, Y):
        labels = Y[:, 0] if Y.shape[1] == 1 else Y.argmax(axis=1)
        counts = np.bincount(labels.astype(int))
        return labels if counts[counts > 0].min() >= 2 else None

    def _encode(self, y) -> np.ndarray:
        """Labels -> one-hot rows (or one 0/1 column), in the order of ``classes_``."""
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        unseen = self.classes_[idx] != y
        if np.any(unseen):
            raise ValueError(
                f"y contains labels {np.unique(y[unseen]).tolist()} that were not seen at fit time; "
                f"this model knows the classes {self.classes_.tolist()}"
            )
        dtype = check_dtype(self.dtype)
        if self._n_logits_ == 1:
            return (idx == 1).astype(dtype)[:, None]
        Y = np.zeros((len(y), len(self.classes_)), dtype=dtype)
        Y[np.arange(len(y)), idx] = 1
        return Y

    def _set_classes(self, classes):
        classes = np.unique(classes)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least two classes, "
                f"but y has only one class: {classes.tolist()}"
            )
        self.classes_ = classes

    @property
    def _n_logits_(self):
        return 1 if (len(self.classes_) == 2 and self._binary_as_single_output) else len(self.classes_)

    def _validate_fit(self, X, y, reset=True):
        X, y = validate_data(self, X, y, reset=reset, dtype=check_dtype(self.dtype))
        check_classification_targets(y)
        return X, y

    def fit(self, X, y, *, X_val=None, y_val=None, callbacks=None):
        """Train from scratch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (numbers or strings).
        X_val, y_val : optional validation set, evaluated after every epoch (``val_loss``,
            ``val_accuracy`` in ``history_``).
        callbacks : list of Callback or functions ``f(model, epoch, logs)``; one returning True
            stops training.

        Returns
        -------
        self
        """
        self._validate_hyperparameters()
        _check_validation_pair(X_val, y_val)
        X, y = self._validate_fit(X, y)
        self._set_classes(y)
        validation = None
        if X_val is not None:
            Xv = validate_data(self, X_val, reset=False, dtype=check_dtype(self.dtype))
            validation = (Xv, self._encode(np.asarray(y_val)))
        return self._run_training(X, self._encode(y), epochs=self.epochs, fresh=True,
                                  validation_data=validation, callbacks=callbacks,
                                  early_stopping=self.early_stopping)

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``(X, y)``, continuing from the current weights (early stopping is for
        :meth:`fit` only, as in scikit-learn).

        ``classes`` lists every label the model will ever see; it is needed on the first call
        when this batch does not contain them all.
        """
        first = not hasattr(self, "params_")
        if first:
            self._validate_hyperparameters()
        X, y = self._validate_fit(X, y, reset=first)
        if first:
            self._set_classes(y if classes is None else classes)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes={np.unique(classes).tolist()} differs from the classes of the first "
                f"partial_fit call, {self.classes_.tolist()}"
            )
        return self._run_training(X, self._encode(y), epochs=1, fresh=first)

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities (n_samples, n_classes) for an already-validated array; a single
        sigmoid output p becomes the two columns (1 - p, p)."""
        P = self._loss().link(self._logits(X))
        return np.hstack([1 - P, P]) if P.shape[1] == 1 else P

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), columns ordered as ``classes_``."""
        return self.forward(self._check_X(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row, shape (n_samples,)."""
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]


class RegressorNetwork(RegressorMixin, Network):
    """A network whose outputs are real values, trained on (half) mean squared error."""

    _spec_attributes = ("n_features_in_", "n_outputs_", "y_ndim_", "n_iter_", "loss_", "converged_")

    @property
    def _n_logits_(self):
        return self.n_outputs_

    def _loss(self):
        return MeanSquaredError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _make_metric(self, Y):
        return RSquared(Y)

    def _validate_fit(self, X, y, reset=True):
        dtype = check_dtype(self.dtype)
        X, y = validate_data(self, X, y, reset=reset, dtype=dtype, multi_output=True, y_numeric=True)
        y = np.asarray(y, dtype=dtype)
        if reset:
            self.y_ndim_ = y.ndim
            self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        Y = y.reshape(len(y), -1)
        if Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} targets per row, but the model was fitted with {self.n_outputs_}")
        return X, Y

    def fit(self, X, y, *, X_val=None, y_val=None, callbacks=None):
        """Train from scratch on targets ``y`` of shape (n_samples,) or (n_samples, n_targets).

        See :meth:`ClassifierNetwork.fit` for ``X_val``, ``y_val`` and ``callbacks``.
        """
        self._validate_hyperparameters()
        _check_validation_pair(X_val, y_val)
        X, Y = self._validate_fit(X, y)
        validation = None
        if X_val is not None:
            Xv = validate_data(self, X_val, reset=False, dtype=check_dtype(self.dtype))
            validation = (Xv, np.asarray(y_val, dtype=check_dtype(self.dtype)).reshape(len(Xv), -1))
        return self._run_training(X, Y, epochs=self.epochs, fresh=True,
                                  validation_data=validation, callbacks=callbacks,
                                  early_stopping=self.early_stopping)

    def partial_fit(self, X, y):
        """One epoch over ``(X, y)``, continuing from the current weights (early stopping is for
        :meth:`fit` only, as in scikit-learn)."""
        first = not hasattr(self, "params_")
        if first:
            self._validate_hyperparameters()
        X, Y = self._validate_fit(X, y, reset=first)
        return self._run_training(X, Y, epochs=1, fresh=first)

    def predict(self, X) -> np.ndarray:
        """Predicted values: shape (n_samples,) for a 1-D target, else (n_samples, n_targets)."""
        check_is_fitted(self, "params_")
        Z = self.forward(self._check_X(X)).astype(np.float64)  # sklearn's regressors return float64
        return Z.ravel() if self.y_ndim_ == 1 else Z

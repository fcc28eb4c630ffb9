"""Data sets, splitting and standardisation.

Real data sets come from the files that scikit-learn ships inside its package (nothing is ever
downloaded); synthetic ones are generated from a seed. Every loader returns a :class:`Dataset`.

>>> data = load_dataset("iris")
>>> data
Dataset('iris', classification, X (150, 4), 3 classes)
>>> X_train, X_test, y_train, y_test = split(data.X, data.y, random_state=0)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn import datasets as _skd
from sklearn.model_selection import train_test_split


@dataclass(frozen=True)
class Dataset:
    """A data set: features ``X`` (n_samples, n_features), targets ``y`` (n_samples,)."""

    name: str
    X: np.ndarray
    y: np.ndarray
    feature_names: list = field(default_factory=list)
    target_names: list | None = None
    task: str = "classification"
    description: str = ""

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    def __repr__(self) -> str:
        what = f"{len(np.unique(self.y))} classes" if self.task == "classification" else "real target"
        return f"Dataset({self.name!r}, {self.task}, X {self.X.shape}, {what})"


def _bundled(name: str, loader) -> Dataset:
    bunch = loader()
    task = "regression" if name == "diabetes" else "classification"
    names = [str(n) for n in bunch.feature_names] if hasattr(bunch, "feature_names") else []
    target_names = [str(t) for t in bunch.target_names] if task == "classification" else None
    return Dataset(name, np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target),
                   names, target_names, task, (bunch.DESCR or "").split("\n\n")[0])


def _names(n: int) -> list:
    return [f"x{i}" for i in range(n)]


def make_moons(n_samples=400, *, noise=0.2, random_state=0) -> Dataset:
    """Two interleaving half circles (binary classification, 2 features)."""
    X, y = _skd.make_moons(n_samples=n_samples, noise=noise, random_state=random_state)
    return Dataset("moons", X, y, _names(2), ["0", "1"], "classification", "two interleaving moons")


def make_spirals(n_samples=600, *, n_classes=3, noise=0.2, random_state=0) -> Dataset:
    """Intertwined spiral arms, one per class (needs a non-linear model)."""
    rng = np.random.default_rng(random_state)
    per = n_samples // n_classes
    r = np.tile(np.linspace(0.05, 1.0, per), n_classes)
    k = np.repeat(np.arange(n_classes), per)
    theta = k * 2 * np.pi / n_classes + r * 4.0 + rng.normal(0, noise, r.size)
    X = np.column_stack([r * np.sin(theta), r * np.cos(theta)])
    return Dataset("spirals", X, k, _names(2), [str(i) for i in range(n_classes)], "classification",
                   f"{n_classes} intertwined spirals")


def make_blobs(n_samples=300, *, centers=3, n_features=2, cluster_std=1.0, random_state=0) -> Dataset:
    """Gaussian clusters, one class each."""
    X, y = _skd.make_blobs(n_samples=n_samples, centers=centers, n_features=n_features,
                           cluster_std=cluster_std, random_state=random_state)
    return Dataset("blobs", X, y, _names(n_features), [str(c) for c in np.unique(y)],
                   "classification", "Gaussian blobs")


def make_linear(n_samples=200, *, n_features=3, noise=0.5, random_state=0) -> Dataset:
    """Noisy linear regression: ``y = X @ w + b + noise``, with ``w`` and ``b`` drawn from the seed."""
    rng = np.random.default_rng(random_state)
    X = rng.normal(size=(n_samples, n_features))
    w = rng.uniform(-3, 3, size=n_features)
    y = X @ w + rng.uniform(-1, 1) + rng.normal(0, noise, n_samples)
    return Dataset("linear", X, y, _names(n_features), None, "regression", "noisy linear relation")


DATASETS = {
    "digits": lambda: _bundled("digits", _skd.load_digits),
    "iris": lambda: _bundled("iris", _skd.load_iris),
    "breast_cancer": lambda: _bundled("breast_cancer", _skd.load_breast_cancer),
    "wine": lambda: _bundled("wine", _skd.load_wine),
    "diabetes": lambda: _bundled("diabetes", _skd.load_diabetes),
    "moons": make_moons,
    "spirals": make_spirals,
    "blobs": make_blobs,
    "linear": make_linear,
}


def load_dataset(name: str, **kwargs) -> Dataset:
    """Load a data set by name: one of :data:`DATASETS` (``digits``, ``iris``, ``moons``, …).

    Keyword arguments go to the synthetic generators (``n_samples``, ``noise``, ``random_state``).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(DATASETS)}")
    if kwargs and name in ("digits", "iris", "breast_cancer", "wine", "diabetes"):
        raise ValueError(f"{name!r} is a fixed real data set and takes no options, got {sorted(kwargs)}")
    return DATASETS[name](**kwargs)


def split(X, y, *, test_size=0.2, stratify=None, random_state=0):
    """Reproducible train/test split; stratified by class when ``y`` holds class labels.

    ``stratify=None`` stratifies when ``y`` looks like labels (integers or strings), not otherwise.
    Returns ``X_train, X_test, y_train, y_test``.
    """
    y = np.asarray(y)
    if stratify is None:
        stratify = y.dtype.kind in "iubUSO"
    return train_test_split(X, y, test_size=test_size, random_state=random_state,
                            stratify=y if stratify else None)


class Standardizer:
    """Rescale each feature to mean 0 and standard deviation 1, remembering the statistics.

    Features with zero spread are only centred. ``fold_into(model)`` moves the scaling into a
    fitted model's first layer so that it accepts raw, unscaled inputs (useful before serving).

    >>> s = Standardizer().fit(np.array([[0.0], [2.0]]))
    >>> s.mean_, s.scale_
    (array([1.]), array([1.]))
    """

    def fit(self, X) -> "Standardizer":
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"X must be a non-empty 2-D array (n_samples, n_features), got shape {X.shape}")
        if not np.all(np.isfinite(X)):
            raise ValueError("X contains NaN or infinity; clean or impute it before standardising")
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def _check(self, X):
        if not hasattr(self, "mean_"):
            raise ValueError("this Standardizer is not fitted yet: call fit(X_train) first")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.mean_.size:
            raise ValueError(f"X must have shape (n_samples, {self.mean_.size}), got {X.shape}")
        return X

    def transform(self, X) -> np.ndarray:
        return (self._check(X) - self.mean_) / self.scale_

    def fit_transform(self, X) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, X) -> np.ndarray:
        return self._check(X) * self.scale_ + self.mean_

    def fold_into(self, model):
        """Make a fitted workbench network take raw inputs: returns the same model, changed.

        With :math:`x' = (x - m)/s`, the first layer :math:`x' W + b` equals
        :math:`x (W / s^\\top) + (b - (m / s) W)`.
        """
        if not hasattr(self, "mean_"):
            raise ValueError("this Standardizer is not fitted yet: call fit(X_train) first")
        W, b = model.params_["W0"], model.params_["b0"]
        if W.shape[0] != self.mean_.size:
            raise ValueError(f"the model takes {W.shape[0]} features, the Standardizer {self.mean_.size}")
        W64 = W.astype(np.float64) / self.scale_[:, None]
        model.params_["b0"] = (b - (self.mean_ / self.scale_) @ W.astype(np.float64)).astype(W.dtype)
        model.params_["W0"] = W64.astype(W.dtype)
        return model

    def __repr__(self) -> str:
        return "Standardizer(fitted)" if hasattr(self, "mean_") else "Standardizer()"

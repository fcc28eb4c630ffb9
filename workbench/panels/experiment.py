"""What the training panel does, without widgets: prepare a data set and build a model from settings.

>>> data = prepare_data("iris", random_state=0)
>>> data
PreparedData('iris', classification, train 96, validation 24, test 30)
>>> model = build_model(data.task, {"model": "MLPClassifier", "hidden_layers": "16", "epochs": 5})
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data import Standardizer, load_dataset, split
from ..models import LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor

#: the models offered for each kind of data set (the first one is the default)
MODELS = {"classification": {"MLPClassifier": MLPClassifier, "LogisticRegression": LogisticRegression},
          "regression": {"MLPRegressor": MLPRegressor, "LinearRegression": LinearRegression}}
#: the models that take ``hidden_layer_sizes`` and ``activation``
NETWORKS = ("MLPClassifier", "MLPRegressor")
#: settings passed to every model unchanged
_COMMON = ("optimizer", "learning_rate", "batch_size", "epochs", "alpha", "random_state")


def parse_hidden_layers(text) -> tuple:
    """``"128, 64"`` -> ``(128, 64)``; empty text -> ``()``. The sizes are checked by the model."""
    parts = [p.strip() for p in str(text).replace(";", ",").split(",") if p.strip()]
    try:
        return tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"hidden layers must be whole numbers separated by commas, like '64, 32'; "
                         f"got {text!r}") from None


@dataclass(frozen=True)
class PreparedData:
    """A data set split into train / validation / test and standardised with training statistics.

    For regression the target is standardised too (``target_scaler``); :meth:`unscale` turns
    model outputs back into the data's units.
    """

    name: str
    task: str
    X_train: np.ndarray
    X_val: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray
    standardizer: Standardizer
    target_scaler: Standardizer | None = None

    def unscale(self, y) -> np.ndarray:
        """Targets in the standardised scale -> the data's own units (classes pass through)."""
        y = np.asarray(y)
        if self.target_scaler is None:
            return y
        return self.target_scaler.inverse_transform(y.reshape(-1, 1)).ravel()

    def __repr__(self) -> str:
        return (f"PreparedData({self.name!r}, {self.task}, train {len(self.y_train)}, "
                f"validation {len(self.y_val)}, test {len(self.y_test)})")


def prepare_data(name: str, random_state: int = 0, test_size: float = 0.2,
                 val_size: float = 0.2) -> PreparedData:
    """Load data set ``name``, split it (stratified for classes) and standardise it.

    ``test_size`` of the rows are held out for the test; ``val_size`` of the rest for validation.
    """
    data = load_dataset(name)
    X_rest, X_test, y_rest, y_test = split(data.X, data.y, test_size=test_size, random_state=random_state)
    X_train, X_val, y_train, y_val = split(X_rest, y_rest, test_size=val_size, random_state=random_state)
    scaler = Standardizer().fit(X_train)
    X_train, X_val, X_test = (scaler.transform(X) for X in (X_train, X_val, X_test))
    target_scaler = None
    if data.task == "regression":
        target_scaler = Standardizer().fit(y_train.reshape(-1, 1))
        y_train, y_val, y_test = (target_scaler.transform(y.reshape(-1, 1)).ravel()
                                  for y in (y_train, y_val, y_test))
    return PreparedData(name, data.task, X_train, X_val, X_test, y_train, y_val, y_test, scaler,
                        target_scaler)


def build_model(task: str, settings: dict):
    """An unfitted estimator from panel settings (``model``, ``hidden_layers``, ``epochs`` ...).

    Settings not given keep the model's defaults. ``LinearRegression`` trains by gradient
    descent here, so that it has epochs to watch.
    """
    offered = MODELS.get(task, {})
    name = settings.get("model", next(iter(offered), None))
    if name not in offered:
        raise ValueError(f"model {name!r} does not fit a {task} data set; choose one of {list(offered)}")
    params = {k: settings[k] for k in _COMMON if k in settings}
    if name in NETWORKS:
        if "hidden_layers" in settings:
            params["hidden_layer_sizes"] = parse_hidden_layers(settings["hidden_layers"])
        if "activation" in settings:
            params["activation"] = settings["activation"]
    if offered[name] is LinearRegression:
        params["solver"] = "gd"
    return offered[name](**params)

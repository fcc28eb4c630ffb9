"""Finite-difference checks of every analytic gradient, in float64 (relative error < 1e-5)."""
import numpy as np
import pytest

from workbench.models import (
    ConvClassifier,
    LinearRegression,
    LinearSVC,
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
)
from workbench.models.losses import BinaryCrossEntropy, CrossEntropy, MeanSquaredError

RTOL = 1e-5


def rel_error(a, b):
    return np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))


def numeric_gradient(f, x, eps=1e-6):
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        up = f()
        x[i] = old - eps
        down = f()
        x[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


@pytest.mark.parametrize("loss, targets", [
    (MeanSquaredError, "values"), (CrossEntropy, "onehot"), (BinaryCrossEntropy, "binary"),
])
def test_loss_gradient_matches_finite_differences(loss, targets):
    rng = np.random.default_rng(0)
    if targets == "binary":
        Z = rng.normal(size=(7, 1))
        Y = rng.integers(0, 2, size=(7, 1)).astype(float)
    else:
        Z = rng.normal(size=(7, 4))
        Y = np.eye(4)[rng.integers(0, 4, 7)] if targets == "onehot" else rng.normal(size=(7, 4))
    numeric = numeric_gradient(lambda: loss.value(Z, Y), Z)
    assert rel_error(loss.gradient(Z, Y), numeric) < RTOL


def _problem(task, n_classes=3, n_outputs=1):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 5))
    if task == "classification":
        y = np.arange(20) % n_classes
    else:
        y = rng.normal(size=(20, n_outputs)) if n_outputs > 1 else rng.normal(size=20)
    return X, y


CASES = [
    ("LinearRegression gd", LinearRegression(solver="gd", alpha=0.1), "regression", {}),
    ("LinearRegression 2 targets", LinearRegression(solver="gd"), "regression", {"n_outputs": 2}),
    ("LogisticRegression binary", LogisticRegression(alpha=0.1), "classification", {"n_classes": 2}),
    ("LogisticRegression softmax", LogisticRegression(alpha=0.1), "classification", {"n_classes": 3}),
] + [
    (f"MLPClassifier {act}", MLPClassifier((6, 4), activation=act, alpha=0.1), "classification", {})
    for act in ("relu", "tanh", "sigmoid")
] + [
    (f"MLPRegressor {act}", MLPRegressor((6,), activation=act, alpha=0.1), "regression", {"n_outputs": 2})
    for act in ("relu", "tanh", "sigmoid")
] + [
    ("MLPClassifier binary", MLPClassifier((5,), activation="tanh"), "classification", {"n_classes": 2}),
]


@pytest.mark.parametrize("label, model, task, kw", CASES, ids=[c[0] for c in CASES])
def test_model_gradients_match_finite_differences(label, model, task, kw):
    X, y = _problem(task, **kw)
    model.set_params(dtype="float64", epochs=1, random_state=0)
    model.fit(X, y)  # one epoch, to get away from the initial weights and set up the encoding
    if task == "classification":
        Y = model._encode(y)
    else:
        Y = y.reshape(len(y), -1)
    _, grads, _ = model.loss_and_gradients(X, Y)
    assert set(grads) == set(model.params_)
    for name, theta in model.params_.items():
        numeric = numeric_gradient(lambda: model.loss_and_gradients(X, Y)[0], theta)
        assert rel_error(grads[name], numeric) < RTOL, f"{label}: gradient of {name}"


SVM_CASES = [
    (f"LinearSVC {loss} {k} classes", LinearSVC(loss=loss, alpha=0.1), k)
    for loss in ("hinge", "squared_hinge") for k in (2, 3)
]


@pytest.mark.parametrize("label, model, n_classes", SVM_CASES, ids=[c[0] for c in SVM_CASES])
def test_svm_gradients_match_finite_differences(label, model, n_classes):
    X, y = _problem("classification", n_classes=n_classes)
    model.set_params(dtype="float64", epochs=1, random_state=0)
    model.fit(X, y)
    Y = model._encode(y)
    _, grads, _ = model.loss_and_gradients(X, Y)
    assert set(grads) == set(model.params_)
    for name, theta in model.params_.items():
        numeric = numeric_gradient(lambda: model.loss_and_gradients(X, Y)[0], theta)
        assert rel_error(grads[name], numeric) < RTOL, f"{label}: gradient of {name}"


CONV_CASES = [
    ("4x5 image, pool 2, 3 classes", {"image_shape": (4, 5), "pool_size": 2}, 3),
    ("3x3 image, pool 3, 2 classes", {"image_shape": (3, 3), "pool_size": 3}, 2),
    ("1x6 row, pool 2 clipped", {"image_shape": None, "pool_size": 2}, 3),
]


@pytest.mark.parametrize("label, kw, n_classes", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_gradients_match_finite_differences(label, kw, n_classes):
    shape = kw["image_shape"] or (1, 6)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(12, shape[0] * shape[1]))
    y = np.arange(12) % n_classes
    model = ConvClassifier(n_filters=3, alpha=0.1, dtype="float64", epochs=1, random_state=0, **kw)
    model.fit(X, y)
    Y = model._encode(y)
    _, grads, _ = model.loss_and_gradients(X, Y)
    assert set(grads) == set(model.params_)
    for name, theta in model.params_.items():
        numeric = numeric_gradient(lambda: model.loss_and_gradients(X, Y)[0], theta)
        assert rel_error(grads[name], numeric) < RTOL, f"{label}: gradient of {name}"
    # the input gradient (col2im), which saliency uses
    delta = rng.normal(size=(len(X), n_classes))
    analytic = model.input_gradient(X, delta)
    numeric = numeric_gradient(lambda: float(np.sum(model._logits(X) * delta)), X)
    assert rel_error(analytic, numeric) < RTOL, f"{label}: gradient of the input"

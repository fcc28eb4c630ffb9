"""Models: they learn, are deterministic, and survive (spec, arrays) bit for bit."""
import json
import re

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression as SkLinearRegression
from sklearn.linear_model import Ridge

from workbench.data import Standardizer, load_dataset, split
from workbench.models import (LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor,
                              from_spec)


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits")
    X_train, X_test, y_train, y_test = split(data.X, data.y, test_size=0.2, random_state=0)
    scaler = Standardizer().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def test_mlp_reaches_97_percent_on_digits(digits):
    X_train, X_test, y_train, y_test = digits
    model = MLPClassifier((128,), batch_size=64, epochs=50, random_state=0).fit(X_train, y_train)
    assert model.score(X_test, y_test) >= 0.97
    assert model.n_iter_ == 50 and len(model.history_["loss"]) == 50
    assert model.history_["loss"][-1] < model.history_["loss"][0]


def test_same_random_state_gives_same_weights(digits):
    X_train, _, y_train, _ = digits
    a = MLPClassifier((32,), epochs=3, random_state=7).fit(X_train, y_train)
    b = MLPClassifier((32,), epochs=3, random_state=7).fit(X_train, y_train)
    c = MLPClassifier((32,), epochs=3, random_state=8).fit(X_train, y_train)
    for name in a.params_:
        np.testing.assert_array_equal(a.params_[name], b.params_[name])
    assert not np.array_equal(a.params_["W0"], c.params_["W0"])


def _fitted_models():
    iris, diabetes = load_dataset("iris"), load_dataset("diabetes")
    named = np.array(["setosa", "versicolor", "virginica"])[iris.y]
    return [
        (LinearRegression().fit(diabetes.X, diabetes.y), diabetes.X),
        (LinearRegression(solver="gd", epochs=5, random_state=0).fit(diabetes.X, np.c_[diabetes.y, -diabetes.y]), diabetes.X),
        (LogisticRegression(epochs=5, random_state=0).fit(iris.X, named), iris.X),
        (LogisticRegression(epochs=5, random_state=0).fit(iris.X, iris.y > 0), iris.X),
        (MLPClassifier((8, 4), activation="tanh", epochs=5, random_state=0).fit(iris.X, iris.y), iris.X),
        (MLPClassifier((8,), epochs=5, dtype="float64", random_state=0).fit(iris.X, named), iris.X),
        (MLPRegressor((8,), activation="sigmoid", epochs=5, random_state=0).fit(diabetes.X, diabetes.y), diabetes.X),
    ]


@pytest.mark.parametrize("model, X", _fitted_models(), ids=lambda v: type(v).__name__)
def test_spec_round_trip_is_exact(model, X):
    spec, arrays = model.to_spec()
    spec = json.loads(json.dumps(spec))  # only JSON values
    assert all(isinstance(a, np.ndarray) and a.dtype != object for a in arrays.values())
    rebuilt = from_spec(spec, arrays)
    assert type(rebuilt) is type(model)
    assert rebuilt.get_params() == model.get_params()
    np.testing.assert_array_equal(rebuilt.predict(X), model.predict(X))
    if hasattr(model, "predict_proba"):
        np.testing.assert_array_equal(rebuilt.predict_proba(X), model.predict_proba(X))
        np.testing.assert_array_equal(rebuilt.classes_, model.classes_)
    assert rebuilt.signature() == model.signature()


def test_from_spec_rejects_bad_specs():
    model = LogisticRegression(epochs=1).fit(np.eye(4), [0, 1, 0, 1])
    spec, arrays = model.to_spec()
    with pytest.raises(ValueError, match="unknown model class"):
        from_spec({**spec, "class": "Evil"}, arrays)
    with pytest.raises(ValueError, match="format"):
        from_spec({**spec, "format": "other"}, arrays)
    with pytest.raises(ValueError, match="missing"):
        from_spec(spec, {"W0": arrays["W0"]})
    with pytest.raises(ValueError, match="shape"):
        from_spec(spec, {**arrays, "W0": np.zeros((3, 1))})


def test_signature_describes_inputs_and_outputs():
    iris = load_dataset("iris")
    sig = MLPClassifier((4,), epochs=1).fit(iris.X, iris.y).signature()
    assert sig == {"task": "classification", "n_features": 4, "feature_names": None,
                   "dtype": "float32", "n_outputs": 3, "classes": [0, 1, 2]}


def test_forward_gives_probabilities_and_values():
    iris = load_dataset("iris")
    clf = LogisticRegression(epochs=20, random_state=0).fit(iris.X, iris.y)
    P = clf.forward(iris.X.astype(np.float32))
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(P, clf.predict_proba(iris.X))
    reg = MLPRegressor((4,), epochs=2, random_state=0).fit(iris.X, iris.y)
    assert reg.forward(iris.X.astype(np.float32)).shape == (150, 1)


def test_closed_form_matches_scikit_learn():
    data = load_dataset("diabetes")
    ours = LinearRegression(dtype="float64").fit(data.X, data.y)
    theirs = SkLinearRegression().fit(data.X, data.y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-8)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-8)
    ridge = LinearRegression(alpha=2.0, dtype="float64").fit(data.X, data.y)
    np.testing.assert_allclose(ridge.coef_, Ridge(alpha=2.0).fit(data.X, data.y).coef_, rtol=1e-8)


def test_gradient_descent_finds_the_closed_form():
    data = load_dataset("linear", n_samples=500, noise=0.1)
    exact = LinearRegression().fit(data.X, data.y)
    gd = LinearRegression(solver="gd", epochs=200, learning_rate=0.05, random_state=0).fit(data.X, data.y)
    np.testing.assert_allclose(gd.coef_, exact.coef_, atol=0.02)


def test_logistic_regression_binary_uses_one_sigmoid_output():
    data = load_dataset("breast_cancer")
    X = Standardizer().fit_transform(data.X)
    model = LogisticRegression(random_state=0).fit(X, data.y)
    assert model.params_["W0"].shape == (30, 1) and model.coef_.shape == (1, 30)
    assert model.score(X, data.y) > 0.97


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "rmsprop", "adam"])
def test_every_optimizer_trains_the_mlp(optimizer):
    data = load_dataset("moons")
    lr = 0.1 if optimizer in ("sgd", "momentum") else 0.01
    model = MLPClassifier((16,), optimizer=optimizer, learning_rate=lr, epochs=150,
                          random_state=0).fit(data.X, data.y)
    assert model.score(data.X, data.y) > 0.9


def test_mlp_learns_spirals_which_a_linear_model_cannot():
    data = load_dataset("spirals")
    linear = LogisticRegression(epochs=50, random_state=0).fit(data.X, data.y)
    mlp = MLPClassifier((64, 64), learning_rate=0.01, epochs=150, random_state=0).fit(data.X, data.y)
    assert linear.score(data.X, data.y) < 0.7 < 0.95 < mlp.score(data.X, data.y)


def test_partial_fit_continues_training():
    data = load_dataset("iris")
    model = MLPClassifier((16,), learning_rate=0.01, random_state=0)
    model.partial_fit(data.X, data.y, classes=[0, 1, 2])
    first = model.history_["loss"][-1]
    for _ in range(30):
        model.partial_fit(data.X, data.y)
    assert model.n_iter_ == 31 and model.history_.epochs[-1] == 31
    assert model.history_["loss"][-1] < first


def test_partial_fit_after_rebuilding_from_spec():
    data = load_dataset("diabetes")
    model = from_spec(*LinearRegression().fit(data.X, data.y).to_spec())
    model.partial_fit(data.X, data.y)  # gradient steps continue from the closed-form weights
    assert model.n_iter_ == 1


def test_standardizer_can_be_folded_into_the_model():
    data = load_dataset("wine")
    scaler = Standardizer().fit(data.X)
    model = MLPClassifier((16,), epochs=30, dtype="float64", random_state=0).fit(scaler.transform(data.X), data.y)
    expected = model.predict_proba(scaler.transform(data.X))
    scaler.fold_into(model)
    np.testing.assert_allclose(model.predict_proba(data.X), expected, rtol=1e-8, atol=1e-12)


def test_repr_shows_hyperparameters():
    assert repr(MLPClassifier((32,), epochs=5)) == "MLPClassifier(epochs=5, hidden_layer_sizes=(32,))"


def test_partial_fit_ignores_early_stopping_as_scikit_learn_does():
    data = load_dataset("iris")
    model = MLPClassifier((8,), early_stopping=True, random_state=0)
    for _ in range(3):
        model.partial_fit(data.X, data.y, classes=[0, 1, 2])
    assert model.n_iter_ == 3 and "val_loss" not in model.history_


@pytest.mark.parametrize("change, phrase", [
    (lambda spec: spec["params"].update(evil=1), "parameters ['evil'] that LogisticRegression does not take"),
    (lambda spec: spec["attributes"].update(_binary_as_single_output=False), "attributes ['_binary_as_single_output']"),
    (lambda spec: spec["attributes"].pop("n_features_in_"), "lacks the attributes ['n_features_in_']"),
])
def test_from_spec_accepts_only_what_the_class_stores(change, phrase):
    spec, arrays = LogisticRegression(epochs=1).fit(np.eye(4), [0, 1, 0, 1]).to_spec()
    change(spec)
    with pytest.raises(ValueError, match=re.escape(phrase)):
        from_spec(spec, arrays)

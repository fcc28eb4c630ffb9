"""The newer families against their baselines, explained and optimised; defaults that converge."""
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC as SkLinearSVC

from workbench.data import Standardizer, load_dataset, split
from workbench.explain import permutation_importance, saliency
from workbench.models import (
    ConvClassifier,
    DecisionTreeClassifier,
    LinearSVC,
    LogisticRegression,
    MLPClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
    from_spec,
)
from workbench.optimize import prune, quantize


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits")
    X_train, X_test, y_train, y_test = split(data.X, data.y, test_size=0.25, random_state=0)
    return X_train / 16, X_test / 16, y_train, y_test


def test_cnn_beats_the_mlp_on_digits(digits):
    X_train, X_test, y_train, y_test = digits
    cnn = ConvClassifier(random_state=0).fit(X_train, y_train)
    mlp = MLPClassifier(random_state=0).fit(X_train, y_train)
    assert cnn.converged_ and cnn.n_iter_ < cnn.epochs
    assert cnn.score(X_test, y_test) > mlp.score(X_test, y_test)
    assert cnn.score(X_test, y_test) >= 0.98
    again = from_spec(*cnn.to_spec())
    np.testing.assert_array_equal(again.predict_proba(X_test), cnn.predict_proba(X_test))


def test_linear_svc_is_within_a_point_of_scikit_learn():
    data = load_dataset("breast_cancer")
    X_train, X_test, y_train, y_test = split(data.X, data.y, test_size=0.25, random_state=0)
    scaler = Standardizer().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    ours = LinearSVC(random_state=0).fit(X_train, y_train)
    theirs = SkLinearSVC().fit(X_train, y_train)
    assert ours.converged_
    assert ours.score(X_test, y_test) >= theirs.score(X_test, y_test) - 0.01
    assert not hasattr(ours, "predict_proba")
    assert ours.decision_function(X_test).shape == (len(X_test),)
    np.testing.assert_array_equal(ours.predict(X_test),
                                  ours.classes_[(ours.decision_function(X_test) > 0).astype(int)])


def test_logistic_regression_defaults_converge_like_scikit_learn_on_iris():
    data = load_dataset("iris")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)   # the defaults must converge
        scores = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression(random_state=0)),
                                 data.X, data.y, cv=5)
    assert scores.mean() >= 0.955   # scikit-learn's LogisticRegression(): 0.960


def test_too_few_epochs_warn_and_say_so_in_the_model():
    data = load_dataset("iris")
    with pytest.warns(ConvergenceWarning, match="did not converge.*epochs=3"):
        model = LogisticRegression(epochs=3, random_state=0).fit(data.X, data.y)
    assert model.converged_ is False and model.n_iter_ == 3
    assert from_spec(*model.to_spec()).converged_ is False
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model = MLPClassifier((8,), epochs=2000, learning_rate=0.01, random_state=0).fit(data.X, data.y)
    assert model.converged_ is True and model.n_iter_ < 2000


@pytest.mark.parametrize("model", [
    DecisionTreeClassifier(max_depth=4), RandomForestClassifier(n_estimators=10, random_state=0),
    LinearSVC(random_state=0), ConvClassifier(image_shape=(2, 2), n_filters=4, random_state=0),
], ids=lambda m: type(m).__name__)
def test_permutation_importance_ranks_the_petals_first(model):
    data = load_dataset("iris")
    X = Standardizer().fit(data.X).transform(data.X)
    model.fit(X, data.y)
    result = permutation_importance(model, X, data.y, n_repeats=5, random_state=0)
    assert set(np.argsort(result.importances_mean)[-1:]) <= {2, 3}


def test_tree_importances_point_at_the_informative_feature():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = X[:, 2] * 3 + 0.1 * rng.normal(size=300)
    forest = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y)
    assert forest.feature_importances_.argmax() == 2 and forest.feature_importances_[2] > 0.8


def test_saliency_of_the_cnn_and_svm_matches_finite_differences():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 16))
    y = (X[:, 5] > 0).astype(int) + (X[:, 10] > 0)
    for model in (ConvClassifier(image_shape=(4, 4), n_filters=3, epochs=5, dtype="float64",
                                 random_state=0),
                  LinearSVC(epochs=5, dtype="float64", random_state=0)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
        s = saliency(model, X[:3], of="logit")
        assert s.shape == (3, 16)
        row = X[:1].copy()
        target = int(np.argmax(model.forward(row)))
        eps, numeric = 1e-6, np.zeros(16)
        for j in range(16):
            up, down = row.copy(), row.copy()
            up[0, j] += eps
            down[0, j] -= eps
            numeric[j] = (model._logits(up)[0, target] - model._logits(down)[0, target]) / (2 * eps)
        np.testing.assert_allclose(s[0], numeric, rtol=1e-5, atol=1e-7)


def test_trees_are_not_differentiable_or_quantizable_and_say_so():
    data = load_dataset("iris")
    tree = DecisionTreeClassifier(max_depth=2).fit(data.X, data.y)
    with pytest.raises(TypeError, match="trees and forests use permutation_importance"):
        saliency(tree, data.X[:2])
    with pytest.raises(TypeError, match="max_depth"):
        quantize(tree)
    with pytest.raises(TypeError, match="max_depth"):
        prune(tree)


def test_quantize_refuses_svm_and_cnn_but_prune_works():
    data = load_dataset("iris")
    X = Standardizer().fit(data.X).transform(data.X)
    for model in (LinearSVC(random_state=0), ConvClassifier(image_shape=(2, 2), n_filters=4,
                                                            random_state=0)):
        model.fit(X, data.y)
        with pytest.raises(TypeError, match="prune it instead"):
            quantize(model)
        pruned = prune(model, sparsity=0.5, X=X, y=data.y, epochs=3)
        assert np.mean(pruned.params_["W0"] == 0) >= 0.5
        assert pruned.score(X, data.y) >= 0.8

"""Decision trees and random forests: known splits, limits, importances, persistence, oracles."""
import numpy as np
import pytest
from sklearn import ensemble as sk_ensemble
from sklearn import tree as sk_tree

from workbench.data import load_dataset, split
from workbench.models import (
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
    from_spec,
)
from workbench.models.cart import best_split, node_impurity


@pytest.mark.parametrize("criterion", ["gini", "entropy"])
def test_tree_finds_the_known_optimal_split(criterion):
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(200, 3))
    y = (X[:, 1] > 0.6).astype(int)        # feature 1 at 0.6 separates the classes perfectly
    tree = DecisionTreeClassifier(criterion=criterion, max_depth=1).fit(X, y)
    p = tree.params_
    assert p["feature"][0] == 1
    below, above = X[X[:, 1] <= 0.6, 1].max(), X[X[:, 1] > 0.6, 1].min()
    assert below <= p["threshold"][0] < above
    np.testing.assert_allclose(p["threshold"][0], (below + above) / 2, rtol=1e-6)
    assert tree.score(X, y) == 1.0 and tree.get_depth() == 1 and tree.get_n_leaves() == 2


def test_regression_tree_finds_the_step():
    X = np.arange(20.0).reshape(-1, 1)
    y = np.where(X[:, 0] < 7, 1.0, 5.0)
    tree = DecisionTreeRegressor(max_depth=1).fit(X, y)
    assert tree.params_["threshold"][0] == pytest.approx(6.5)
    np.testing.assert_allclose(tree.predict([[3.0], [15.0]]), [1.0, 5.0])


def test_best_split_cost_matches_a_brute_force_search():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 2))
    Y = np.eye(3)[rng.integers(0, 3, 30)]
    _, _, cost = best_split(X, Y, np.arange(2), "gini", 1)
    best = np.inf
    for j in range(2):
        for t in np.unique(X[:, j])[:-1]:
            left = X[:, j] <= t
            c = left.sum() * node_impurity(Y[left], "gini") + (~left).sum() * node_impurity(Y[~left], "gini")
            best = min(best, c)
    assert cost == pytest.approx(best)


@pytest.mark.parametrize("criterion", ["gini", "entropy"])
def test_fully_grown_tree_matches_scikit_learn_on_iris(criterion):
    data = load_dataset("iris")
    ours = DecisionTreeClassifier(criterion=criterion, dtype="float64").fit(data.X, data.y)
    theirs = sk_tree.DecisionTreeClassifier(criterion=criterion, random_state=0).fit(data.X, data.y)
    assert ours.score(data.X, data.y) == theirs.score(data.X, data.y) == 1.0
    assert abs(ours.node_count_ - theirs.tree_.node_count) <= 4
    np.testing.assert_allclose(ours.feature_importances_.sum(), 1.0)
    # the petal features (2, 3) tie at the root, so only the top two are compared
    top2 = set(np.argsort(ours.feature_importances_)[-2:])
    assert top2 == set(np.argsort(theirs.feature_importances_)[-2:]) == {2, 3}


def test_depth_and_leaf_limits_are_respected():
    data = load_dataset("breast_cancer")
    tree = DecisionTreeClassifier(max_depth=3, min_samples_leaf=20).fit(data.X, data.y)
    p = tree.params_
    assert tree.get_depth() <= 3
    assert p["n_node_samples"][p["children_left"] == -1].min() >= 20
    small = DecisionTreeClassifier(min_samples_split=100).fit(data.X, data.y)
    inner = small.params_["children_left"] != -1
    assert small.params_["n_node_samples"][inner].min() >= 100


def test_regression_tree_matches_scikit_learn_on_diabetes():
    data = load_dataset("diabetes")
    X_train, X_test, y_train, y_test = split(data.X, data.y, test_size=0.25, random_state=0)
    ours = DecisionTreeRegressor(max_depth=4, dtype="float64").fit(X_train, y_train)
    theirs = sk_tree.DecisionTreeRegressor(max_depth=4, random_state=0).fit(X_train, y_train)
    # equal-cost splits may be broken differently (scikit-learn visits features in random order)
    same = np.isclose(ours.predict(X_test), theirs.predict(X_test), rtol=1e-6)
    assert same.mean() >= 0.9
    ours_mse = np.mean((ours.predict(X_test) - y_test) ** 2)
    theirs_mse = np.mean((theirs.predict(X_test) - y_test) ** 2)
    assert ours_mse == pytest.approx(theirs_mse, rel=0.1)


def test_forest_is_reproducible_and_beats_one_tree():
    data = load_dataset("breast_cancer")
    X_train, X_test, y_train, y_test = split(data.X, data.y, test_size=0.25, random_state=0)
    forest = RandomForestClassifier(n_estimators=30, random_state=0).fit(X_train, y_train)
    again = RandomForestClassifier(n_estimators=30, random_state=0).fit(X_train, y_train)
    np.testing.assert_array_equal(forest.predict_proba(X_test), again.predict_proba(X_test))
    tree = DecisionTreeClassifier(random_state=0).fit(X_train, y_train)
    sk = sk_ensemble.RandomForestClassifier(n_estimators=30, random_state=0).fit(X_train, y_train)
    assert forest.score(X_test, y_test) >= tree.score(X_test, y_test)
    assert forest.score(X_test, y_test) >= sk.score(X_test, y_test) - 0.03
    assert len(forest.params_["roots"]) == 30 and forest.apply(X_test).shape == (len(X_test), 30)


def test_forest_regressor_with_two_targets():
    data = load_dataset("diabetes")
    Y = np.c_[data.y, -2 * data.y]
    forest = RandomForestRegressor(n_estimators=5, max_depth=6, random_state=0).fit(data.X, Y)
    pred = forest.predict(data.X)
    assert pred.shape == (len(data.X), 2)
    np.testing.assert_allclose(pred[:, 1], -2 * pred[:, 0], rtol=1e-5)


@pytest.mark.parametrize("model", [
    DecisionTreeClassifier(max_depth=4), RandomForestClassifier(n_estimators=4, random_state=1),
    DecisionTreeRegressor(max_depth=3), RandomForestRegressor(n_estimators=3, random_state=1),
], ids=lambda m: type(m).__name__)
def test_spec_round_trip_gives_the_same_predictions(model):
    data = load_dataset("wine")
    model.fit(data.X, data.y)
    spec, arrays = model.to_spec()
    assert arrays["children_left"].dtype == np.int64 and arrays["threshold"].dtype == np.float32
    again = from_spec(spec, arrays)
    np.testing.assert_array_equal(again.predict(data.X), model.predict(data.X))
    np.testing.assert_allclose(again.feature_importances_, model.feature_importances_)


@pytest.mark.parametrize("params, phrase", [
    ({"criterion": "mse"}, "criterion must be one of"),
    ({"max_depth": 0}, "max_depth must be a positive integer"),
    ({"min_samples_split": 1}, "min_samples_split must be an integer >= 2"),
    ({"min_samples_leaf": 0}, "min_samples_leaf must be an integer >= 1"),
    ({"max_features": "half"}, "max_features must be"),
    ({"n_estimators": 0}, "n_estimators must be a positive integer"),
])
def test_bad_hyperparameters_are_named(params, phrase):
    data = load_dataset("iris")
    with pytest.raises(ValueError, match=phrase):
        RandomForestClassifier(**params).fit(data.X, data.y)

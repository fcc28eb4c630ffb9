"""Explanations: permutation importance (against scikit-learn) and saliency (finite differences)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.inspection import permutation_importance as sk_permutation_importance

from workbench.data import load_dataset
from workbench.explain import (PermutationImportance, permutation_importance,
                               plot_importance, plot_saliency, saliency)
from workbench.models import (LinearRegression, LogisticRegression, MLPClassifier,
                              MLPRegressor)
from workbench.optimize import quantize


def one_informative_feature(n=400, d=6, informative=3, seed=0):
    X = np.random.default_rng(seed).normal(size=(n, d))
    return X, (X[:, informative] > 0).astype(int)


# -- permutation importance -----------------------------------------------------------------------
@pytest.mark.parametrize("make_model", [
    lambda: LogisticRegression(epochs=50, random_state=0),
    lambda: MLPClassifier((16,), epochs=40, random_state=0),
    lambda: RandomForestClassifier(n_estimators=30, random_state=0),  # any model with score
], ids=["logistic", "mlp", "sklearn-forest"])
def test_finds_the_one_informative_feature(make_model):
    X, y = one_informative_feature()
    model = make_model().fit(X, y)
    result = permutation_importance(model, X, y, n_repeats=5, random_state=0)
    assert isinstance(result, PermutationImportance)
    assert result.ranking()[0] == "x3"
    assert result.importances_mean[3] > 0.3
    others = np.delete(result.importances_mean, 3)
    assert np.all(np.abs(others) < 0.05)
    assert result.importances.shape == (6, 5) and result.importances_std.shape == (6,)


def test_regression_importance_matches_scikit_learn():
    data = load_dataset("diabetes")
    model = LinearRegression().fit(data.X, data.y)
    ours = permutation_importance(model, data.X, data.y, n_repeats=30, random_state=0,
                                  feature_names=data.feature_names)
    theirs = sk_permutation_importance(model, data.X, data.y, n_repeats=30, random_state=0)
    # different shuffles, same estimator: the means agree within their sampling error
    tolerance = 4 * np.hypot(ours.importances_std, theirs.importances_std) / np.sqrt(30) + 1e-3
    assert np.all(np.abs(ours.importances_mean - theirs.importances_mean) <= tolerance)
    assert ours.ranking()[:3] == [ours.feature_names[j] for j in
                                  np.argsort(-theirs.importances_mean)[:3]]
    assert ours.feature_names == tuple(data.feature_names)
    assert ours.baseline_score == pytest.approx(model.score(data.X, data.y))


def test_importance_is_reproducible_and_leaves_X_alone():
    X, y = one_informative_feature()
    model = LogisticRegression(epochs=20, random_state=0).fit(X, y)
    before = X.copy()
    a = permutation_importance(model, X, y, n_repeats=3, random_state=7)
    b = permutation_importance(model, X, y, n_repeats=3, random_state=7)
    np.testing.assert_array_equal(a.importances, b.importances)
    np.testing.assert_array_equal(X, before)
    assert "x3" in repr(a) and "<table" in a._repr_html_()


def test_importance_uses_dataframe_columns_and_custom_scoring():
    pd = pytest.importorskip("pandas")
    X, y = one_informative_feature()
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(6)])
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(frame, y)
    result = permutation_importance(model, frame, y, n_repeats=3,
                                    scoring=lambda m, X_, y_: -np.mean(m.predict(X_) != y_))
    assert result.feature_names[0] == "f0" and result.ranking()[0] == "f3"


@pytest.mark.parametrize("kwargs, phrase", [
    ({"n_repeats": 0}, "n_repeats must be a positive integer"),
    ({"feature_names": ["a"]}, "feature_names has 1 names for 6 features"),
])
def test_importance_bad_inputs(kwargs, phrase):
    X, y = one_informative_feature()
    model = LogisticRegression(epochs=5, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=phrase):
        permutation_importance(model, X, y, **kwargs)
    with pytest.raises(ValueError, match="rows"):
        permutation_importance(model, X, y[:-1])
    with pytest.raises(TypeError, match="no score method"):
        permutation_importance(object(), X, y)


# -- saliency -------------------------------------------------------------------------------------
def finite_difference(f, X, eps=1e-6):
    grads = np.zeros_like(X)
    for j in range(X.shape[1]):
        step = np.zeros(X.shape[1])
        step[j] = eps
        grads[:, j] = (f(X + step) - f(X - step)) / (2 * eps)
    return grads


def _cases():
    iris, diabetes = load_dataset("iris"), load_dataset("diabetes")
    mlp = MLPClassifier((8, 5), activation="tanh", epochs=30, dtype="float64", random_state=0)
    return [
        ("mlp-tanh", mlp.fit(iris.X, iris.y), iris.X[:7]),
        ("mlp-sigmoid", MLPClassifier((6,), activation="sigmoid", epochs=30, dtype="float64",
                                      random_state=1).fit(iris.X, iris.y), iris.X[50:57]),
        ("logistic-binary", LogisticRegression(epochs=30, dtype="float64", random_state=0)
         .fit(iris.X, iris.y > 0), iris.X[45:55]),
        ("regressor", MLPRegressor((6,), activation="tanh", epochs=10, dtype="float64",
                                   random_state=0).fit(diabetes.X, diabetes.y), diabetes.X[:5]),
        ("quantized", quantize(MLPClassifier((8,), activation="tanh", epochs=30, dtype="float64",
                                             random_state=0).fit(iris.X, iris.y), bits=4),
         iris.X[100:106]),
    ]


_SALIENCY = [(name, model, X, of) for name, model, X in _cases() for of in (None, "logit")
             if not (of == "logit" and name == "regressor")]  # regressors have only values


@pytest.mark.parametrize("name, model, X, of", _SALIENCY, ids=[f"{c[0]}-{c[3]}" for c in _SALIENCY])
def test_saliency_matches_finite_differences(name, model, X, of):
    classifier = hasattr(model, "classes_")
    rows = np.arange(len(X))
    if classifier:
        idx = model.predict_proba(X).argmax(axis=1)
        if of == "logit":
            def f(Xs):
                Z = model._logits(Xs)
                return (np.where(idx == 1, 1, -1) * Z[:, 0]) if Z.shape[1] == 1 else Z[rows, idx]
        else:
            def f(Xs):
                return model.predict_proba(Xs)[rows, idx]
    else:
        def f(Xs):
            return model.predict(Xs)
    np.testing.assert_allclose(saliency(model, X, of=of), finite_difference(f, X),
                               rtol=1e-5, atol=1e-7)


def test_saliency_for_a_fixed_class_and_digits_shape():
    digits = load_dataset("digits")
    model = MLPClassifier((32,), epochs=5, random_state=0).fit(digits.X / 16, digits.y)
    values = saliency(model, digits.X[:4] / 16)
    assert values.shape == (4, 64)
    fixed = saliency(model, digits.X[:4] / 16, target=3)
    fixed_again = saliency(model, digits.X[:4] / 16, target=[3, 3, 3, 3])
    np.testing.assert_array_equal(fixed, fixed_again)
    fig = plot_saliency(values, digits.X[:4], titles=["a", "b", "c", "d"])
    assert len(fig.axes) == 8 and fig.axes[4].images[0].get_array().shape == (8, 8)
    plt.close(fig)
    ax = plot_importance(permutation_importance(model, digits.X[:100] / 16, digits.y[:100],
                                                n_repeats=1), top=5)
    assert len(ax.patches) == 5
    plt.close(ax.figure)


def test_saliency_bad_inputs():
    iris = load_dataset("iris")
    model = MLPClassifier((4,), epochs=2, random_state=0).fit(iris.X, iris.y)
    with pytest.raises(ValueError, match="not among the classes"):
        saliency(model, iris.X[:2], target=7)
    with pytest.raises(ValueError, match="of must be one of"):
        saliency(model, iris.X[:2], of="value")
    with pytest.raises(TypeError, match="workbench network"):
        saliency(RandomForestClassifier(n_estimators=2).fit(iris.X, iris.y), iris.X[:2])
    with pytest.raises(ValueError, match="shape"):
        plot_saliency(np.zeros((2, 10)))
    reg = LinearRegression().fit(iris.X, iris.X[:, 0])
    with pytest.raises(ValueError, match="output index"):
        saliency(reg, iris.X[:2], target=1)

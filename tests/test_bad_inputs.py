"""Every wrong input a learner is likely to give gets an error that says what to fix."""
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from workbench.data import Standardizer, load_dataset, split
from workbench.models import LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor

X = np.random.default_rng(0).normal(size=(20, 3))
y = np.arange(20) % 2
X_nan = X.copy()
X_nan[3, 1] = np.nan


def fitted():
    return MLPClassifier((4,), epochs=1, random_state=0).fit(X, y)


# (what the learner did, the call, the exception, a phrase the message must contain)
BAD_INPUTS = [
    ("NaN in X", lambda: MLPClassifier().fit(X_nan, y), ValueError, "Input X contains NaN"),
    ("infinity in X", lambda: MLPRegressor().fit(np.where(X > 1, np.inf, X), y), ValueError, "infinity"),
    ("1-D X", lambda: MLPClassifier().fit(X[:, 0], y), ValueError, "Expected 2D array"),
    ("X and y of different lengths", lambda: MLPClassifier().fit(X, y[:-1]), ValueError,
     "inconsistent numbers of samples"),
    ("empty X", lambda: MLPClassifier().fit(X[:0], y[:0]), ValueError, "0 sample"),
    ("continuous y for a classifier", lambda: LogisticRegression().fit(X, X[:, 0]), ValueError,
     "Unknown label type"),
    ("one class only", lambda: MLPClassifier().fit(X, np.zeros(20)), ValueError, "at least two classes"),
    ("label unseen at fit time", lambda: fitted().partial_fit(X, np.full(20, 7)), ValueError,
     "not seen at fit time"),
    ("wrong number of features at predict", lambda: fitted().predict(X[:, :2]), ValueError,
     "X has 2 features, but MLPClassifier is expecting 3 features"),
    ("predict before fit", lambda: MLPClassifier().predict(X), NotFittedError,
     "This MLPClassifier instance is not fitted yet"),
    ("unknown optimizer name", lambda: MLPClassifier(optimizer="adamw").fit(X, y), ValueError,
     "optimizer must be one of ['adam', 'momentum', 'rmsprop', 'sgd'] or an Optimizer instance, got 'adamw'"),
    ("unknown activation", lambda: MLPClassifier(activation="gelu").fit(X, y), ValueError,
     "activation must be one of"),
    ("zero-width hidden layer", lambda: MLPClassifier(hidden_layer_sizes=(128, 0)).fit(X, y), ValueError,
     "hidden_layer_sizes must be positive integers, got (128, 0)"),
    ("negative learning rate", lambda: MLPClassifier(learning_rate=-0.1).fit(X, y), ValueError,
     "learning_rate must be a positive number"),
    ("batch size zero", lambda: MLPClassifier(batch_size=0).fit(X, y), ValueError,
     "batch_size must be a positive integer, got 0"),
    ("epochs as a float", lambda: MLPClassifier(epochs=2.5).fit(X, y), ValueError,
     "epochs must be a positive integer, got 2.5"),
    ("negative L2 penalty", lambda: LogisticRegression(alpha=-1).fit(X, y), ValueError,
     "alpha (the L2 penalty) must be a number >= 0"),
    ("unknown dtype", lambda: MLPClassifier(dtype="float16").fit(X, y), ValueError,
     "dtype must be 'float32' or 'float64'"),
    ("unknown solver", lambda: LinearRegression(solver="magic").fit(X, y), ValueError,
     "solver must be 'closed_form' or 'gd'"),
    ("only X_val given", lambda: MLPClassifier().fit(X, y, X_val=X), ValueError, "give both X_val and y_val"),
    ("unknown data set", lambda: load_dataset("mnist"), ValueError, "unknown data set 'mnist'"),
    ("options for a fixed data set", lambda: load_dataset("iris", n_samples=5), ValueError,
     "takes no options"),
    ("Standardizer used before fit", lambda: Standardizer().transform(X), ValueError, "not fitted yet"),
    ("Standardizer on the wrong width", lambda: Standardizer().fit(X).transform(X[:, :2]), ValueError,
     "must have shape (n_samples, 3)"),
    ("bad callback", lambda: MLPClassifier(epochs=1).fit(X, y, callbacks=[42]), TypeError,
     "a callback must be a Callback or a function"),
]


@pytest.mark.parametrize("what, call, error, phrase", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_gets_a_clear_message(what, call, error, phrase):
    with pytest.raises(error) as info:
        call()
    assert phrase in str(info.value), f"{what}: message was {info.value}"


def test_split_is_reproducible_and_stratified():
    data = load_dataset("iris")
    a = split(data.X, data.y, random_state=3)
    b = split(data.X, data.y, random_state=3)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert np.bincount(a[3]).tolist() == [10, 10, 10]

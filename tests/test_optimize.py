"""Quantization and pruning: smaller variants that keep their accuracy and persist and serve."""
import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from workbench.data import Standardizer, load_dataset, split
from workbench.models import (LinearRegression, LogisticRegression, MLPClassifier, MLPRegressor,
                              QuantizedClassifier, QuantizedRegressor, from_spec)
from workbench.models.quantized import _pack, _unpack, quantize_weights
from workbench.optimize import (OptimizationReport, prune, quantize, report, size_on_disk,
                                sparsity)
from workbench.registry import Registry


@pytest.fixture(scope="module")
def digits():
    data = load_dataset("digits")
    X_train, X_test, y_train, y_test = split(data.X, data.y, test_size=0.2, random_state=0)
    scaler = Standardizer().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    model = MLPClassifier((128,), epochs=50, random_state=0).fit(X_train, y_train)
    return model, X_train, X_test, y_train, y_test


# -- the "not done until" figures -----------------------------------------------------------------
def test_int8_is_3_5_times_smaller_in_the_registry_and_loses_at_most_half_a_point(digits, tmp_path):
    model, _, X_test, _, y_test = digits
    q8 = quantize(model, bits=8)
    with Registry(tmp_path) as reg:
        v1 = reg.register("digits", model)
        v2 = reg.register("digits", q8, parent=v1)
    assert v1.size_bytes / v2.size_bytes >= 3.5
    assert v2.size_bytes == size_on_disk(q8) and v1.size_bytes == size_on_disk(model)
    assert model.score(X_test, y_test) - q8.score(X_test, y_test) <= 0.005
    assert v2.parent == ("digits", 1) and v2.model_class == "QuantizedClassifier"


def test_half_pruned_and_fine_tuned_loses_at_most_one_point_and_stays_half_sparse(digits):
    model, X_train, X_test, y_train, y_test = digits
    before = {k: v.copy() for k, v in model.params_.items()}
    pruned = prune(model, sparsity=0.5, X=X_train, y=y_train, epochs=10)
    assert model.score(X_test, y_test) - pruned.score(X_test, y_test) <= 0.01
    for key in ("W0", "W1"):
        W = pruned.params_[key]
        assert np.count_nonzero(W == 0) == round(0.5 * W.size)
    assert sparsity(pruned) == pytest.approx(0.5, abs=1e-12)
    assert len(pruned.history_) == len(model.history_) + 10
    for k, v in before.items():  # the original is untouched
        np.testing.assert_array_equal(model.params_[k], v)


def _served_predictions(home, name, version, X):
    from workbench.serving import deploy

    endpoint = deploy(name, home=home, version=version)
    try:
        return endpoint.predict(X), endpoint.predict_proba(X)
    finally:
        endpoint.stop()
        assert not endpoint.running


@pytest.mark.parametrize("variant", ["int8", "pruned50"])
def test_variant_survives_register_load_serve(digits, tmp_path, variant):
    model, X_train, X_test, y_train, _ = digits
    made = (quantize(model, bits=8) if variant == "int8"
            else prune(model, 0.5, X_train, y_train, epochs=3))
    with Registry(tmp_path) as reg:
        parent = reg.register("digits", model)
        mv = reg.register("digits", made, parent=parent, tags={"optimization": variant})
        loaded = reg.load("digits", version=mv.version)
    assert type(loaded) is type(made)
    np.testing.assert_array_equal(loaded.predict_proba(X_test), made.predict_proba(X_test))
    labels, proba = _served_predictions(tmp_path, "digits", mv.version, X_test)
    np.testing.assert_array_equal(labels, made.predict(X_test))
    np.testing.assert_allclose(proba, made.predict_proba(X_test), rtol=1e-6, atol=1e-7)


# -- the quantized model behaves like any other ---------------------------------------------------
def test_quantized_model_looks_like_its_source_to_serving(digits):
    model, _, X_test, _, _ = digits
    q = quantize(model)
    assert q.signature() == model.signature()
    np.testing.assert_array_equal(q.classes_, model.classes_)
    assert q.n_features_in_ == model.n_features_in_
    Xf = X_test.astype(np.float32)
    assert q.forward(Xf).shape == model.forward(Xf).shape
    np.testing.assert_allclose(q.forward(Xf), model.forward(Xf), atol=0.05)
    assert q.params_["W0_q"].dtype == np.int8 and q.params_["W0_scale"].shape == (128,)
    assert np.abs(q.params_["W0_q"]).max() == 127  # the largest weight of a column uses the range


def _small_models():
    iris, diabetes = load_dataset("iris"), load_dataset("diabetes")
    named = np.array(["setosa", "versicolor", "virginica"])[iris.y]
    return [
        (MLPClassifier((8, 4), activation="tanh", epochs=20, random_state=0).fit(iris.X, named), iris.X),
        (LogisticRegression(epochs=20, random_state=0).fit(iris.X, iris.y > 0), iris.X),
        (MLPClassifier((8,), epochs=20, dtype="float64", random_state=0).fit(iris.X, iris.y), iris.X),
        (MLPRegressor((8,), epochs=20, random_state=0).fit(diabetes.X, diabetes.y), diabetes.X),
        (LinearRegression().fit(diabetes.X, np.c_[diabetes.y, -diabetes.y]), diabetes.X),
    ]


@pytest.mark.parametrize("bits", [2, 4, 8, 16])
@pytest.mark.parametrize("per_channel", [True, False])
@pytest.mark.parametrize("model, X", _small_models(), ids=lambda v: type(v).__name__)
def test_spec_round_trip_is_exact_for_every_width(model, X, bits, per_channel):
    q = quantize(model, bits=bits, per_channel=per_channel)
    spec, arrays = q.to_spec()
    spec = json.loads(json.dumps(spec))
    assert set(arrays) <= {"codes", "floats", "mask"}
    rebuilt = from_spec(spec, arrays)
    assert type(rebuilt) is type(q)
    np.testing.assert_array_equal(rebuilt.predict(X), q.predict(X))
    np.testing.assert_array_equal(rebuilt.forward(X.astype(q.dtype)), q.forward(X.astype(q.dtype)))
    for key, value in q.params_.items():
        np.testing.assert_array_equal(rebuilt.params_[key], value)
        assert rebuilt.params_[key].dtype == value.dtype
    assert rebuilt.signature() == model.signature()


def test_dequantisation_error_is_at_most_half_a_step():
    W = np.random.default_rng(0).normal(size=(30, 7))
    for bits in (2, 4, 8, 16):
        codes, scale = quantize_weights(W, bits=bits, per_channel=True)
        assert np.all(np.abs(codes * scale.astype(np.float64) - W) <= scale * 0.5 + 1e-12)


@pytest.mark.parametrize("bits", [2, 4])
def test_sub_byte_packing_round_trips(bits):
    qmax = 2 ** (bits - 1) - 1
    codes = np.random.default_rng(1).integers(-qmax, qmax + 1, size=1001).astype(np.int8)
    packed = _pack(codes, bits)
    assert packed.dtype == np.uint8 and packed.size == -(-codes.size * bits // 8)
    np.testing.assert_array_equal(_unpack(packed, bits, codes.size), codes)


def test_pruned_then_quantized_is_stored_sparse_and_smaller(digits):
    model, *_ = digits
    dense, sparse = quantize(model), quantize(prune(model, 0.75))
    assert "mask" in sparse.to_spec()[1] and "mask" not in dense.to_spec()[1]
    assert size_on_disk(sparse) < 0.6 * size_on_disk(dense)
    assert sparsity(sparse) >= 0.75


def test_quantized_follows_estimator_conventions(digits):
    model, X_train, _, y_train, _ = digits
    q = quantize(model, bits=4, per_channel=False)
    assert q.get_params() == {"bits": 4, "per_channel": False, "dtype": "float32"}
    fresh = clone(q)
    assert not hasattr(fresh, "params_") and fresh.get_params() == q.get_params()
    assert "4-bit weights 64→128→10" in repr(q) and "from MLPClassifier" in repr(q)
    with pytest.raises(TypeError, match="inference only.*quantize"):
        q.fit(X_train, y_train)
    with pytest.raises(NotFittedError):
        fresh.predict(X_train)
    reg = quantize(MLPRegressor((4,), epochs=2, random_state=0).fit(X_train, y_train * 1.0))
    assert isinstance(reg, QuantizedRegressor) and reg.predict(X_train[:3]).shape == (3,)
    assert isinstance(q, QuantizedClassifier) and q.score(X_train, y_train) > 0.9


def test_report_puts_the_figures_side_by_side(digits):
    model, _, X_test, _, y_test = digits
    r = report(model, quantize(model), X_test, y_test, repeats=3)
    assert isinstance(r, OptimizationReport) and r.metric == "accuracy"
    assert r.size_ratio == pytest.approx(size_on_disk(model) / size_on_disk(quantize(model)))
    assert r.original.score == pytest.approx(model.score(X_test, y_test))
    for fig in (r.original, r.variant):
        assert fig.single_row_ms > 0 and fig.batch_ms > 0 and fig.batch_rows == len(X_test)
    assert "smaller" in r._repr_html_() and "accuracy" in repr(r)
    with pytest.raises(AttributeError):
        r.metric = "r2"  # frozen
    diabetes = load_dataset("diabetes")
    lin = LinearRegression().fit(diabetes.X, diabetes.y)
    assert report(lin, quantize(lin), diabetes.X, diabetes.y, repeats=1).metric == "r2"


# -- bad inputs -----------------------------------------------------------------------------------
X_small = np.random.default_rng(0).normal(size=(20, 3))
y_small = np.arange(20) % 2


def _fitted():
    return MLPClassifier((4,), epochs=1, random_state=0).fit(X_small, y_small)


BAD_INPUTS = [
    ("unsupported bits", lambda: quantize(_fitted(), bits=3), ValueError, r"bits must be one of \(2, 4, 8, 16\)"),
    ("bits as float", lambda: quantize(_fitted(), bits=8.0), ValueError, "bits must be one of"),
    ("bits as bool", lambda: quantize(_fitted(), bits=True), ValueError, "bits must be one of"),
    ("per_channel not bool", lambda: quantize(_fitted(), per_channel="yes"), TypeError, "per_channel"),
    ("quantize unfitted", lambda: quantize(MLPClassifier()), NotFittedError, "not fitted"),
    ("quantize a quantized", lambda: quantize(quantize(_fitted())), TypeError, "already quantized"),
    ("quantize sklearn model", lambda: quantize(object()), TypeError, "workbench networks"),
    ("sparsity 1", lambda: prune(_fitted(), 1.0), ValueError, r"sparsity must be a number in \[0, 1\)"),
    ("negative sparsity", lambda: prune(_fitted(), -0.1), ValueError, "sparsity"),
    ("sparsity as string", lambda: prune(_fitted(), "0.5"), ValueError, "sparsity"),
    ("X without y", lambda: prune(_fitted(), 0.5, X=X_small, epochs=2), ValueError, "X and y together"),
    ("y without X", lambda: prune(_fitted(), 0.5, y=y_small, epochs=2), ValueError, "X and y together"),
    ("epochs without data", lambda: prune(_fitted(), 0.5, epochs=2), ValueError, "needs training data"),
    ("data without epochs", lambda: prune(_fitted(), 0.5, X_small, y_small), ValueError, "epochs > 0"),
    ("negative epochs", lambda: prune(_fitted(), 0.5, epochs=-1), ValueError, "epochs must be"),
    ("prune unfitted", lambda: prune(MLPClassifier()), NotFittedError, "not fitted"),
    ("prune a quantized", lambda: prune(quantize(_fitted())), TypeError, "already quantized"),
    ("report repeats 0", lambda: report(_fitted(), _fitted(), X_small, y_small, repeats=0),
     ValueError, "repeats"),
]


@pytest.mark.parametrize("what, call, error, phrase", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_inputs_raise_clear_errors(what, call, error, phrase):
    with pytest.raises(error, match=phrase):
        call()


def test_damaged_quantized_spec_is_refused():
    spec, arrays = quantize(_fitted()).to_spec()
    with pytest.raises(ValueError, match="missing"):
        from_spec(spec, {"floats": arrays["floats"]})
    with pytest.raises(ValueError, match="hold"):
        from_spec(spec, {**arrays, "codes": arrays["codes"][:-2]})
    with pytest.raises(ValueError, match="bits"):
        from_spec({**spec, "params": {**spec["params"], "bits": 5}}, arrays)


@pytest.mark.parametrize("model, X", _small_models(), ids=lambda v: type(v).__name__)
def test_quantized_forward_has_the_shape_of_the_float_forward(model, X):
    # the contract: forward gives one column per class, also for a binary sigmoid model
    q = quantize(model, bits=8)
    Xf = X.astype(np.float32)
    assert q.forward(Xf).shape == model.forward(Xf).shape
    if hasattr(model, "classes_"):
        assert q.forward(Xf).shape == (len(X), len(model.classes_))
        np.testing.assert_array_equal(q.predict_proba(X), q.forward(X.astype(q.dtype)))

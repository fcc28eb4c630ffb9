"""ONNX out (every numpy model → onnxruntime gives our outputs) and in (register, load, serve)."""
import subprocess
import sys
import warnings

import httpx
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from serving_helpers import Server, auth, make_home, v2_body
from sklearn.exceptions import ConvergenceWarning

from workbench import export_onnx
from workbench.data import load_dataset
from workbench.models import (
    ConvClassifier,
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    LinearRegression,
    LinearSVC,
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from workbench.onnx import OnnxModel, OnnxModelError
from workbench.optimize import quantize
from workbench.registry import IntegrityError, InvalidInputError, Registry

RTOL, ATOL = 1e-5, 1e-5   # float32


def _data(kind):
    if kind == "iris":
        d = load_dataset("iris")
        return (d.X - d.X.mean(0)) / d.X.std(0), d.y
    if kind == "cancer":
        d = load_dataset("breast_cancer")
        return (d.X - d.X.mean(0)) / d.X.std(0), d.y
    if kind == "digits":
        d = load_dataset("digits")
        return d.X[:300] / 16, d.y[:300]
    d = load_dataset("diabetes")
    return d.X, (np.c_[d.y, -d.y] if kind == "diabetes2" else d.y)


MODELS = [
    ("LinearRegression", lambda: LinearRegression(), "diabetes"),
    ("LinearRegression float64", lambda: LinearRegression(dtype="float64"), "diabetes2"),
    ("LogisticRegression binary", lambda: LogisticRegression(epochs=30), "cancer"),
    ("LogisticRegression softmax", lambda: LogisticRegression(epochs=30), "iris"),
    ("MLPClassifier tanh", lambda: MLPClassifier((8, 4), activation="tanh", epochs=20), "iris"),
    ("MLPClassifier binary sigmoid", lambda: MLPClassifier((8,), activation="sigmoid", epochs=20), "cancer"),
    ("MLPRegressor", lambda: MLPRegressor((8,), epochs=10), "diabetes2"),
    ("DecisionTreeClassifier", lambda: DecisionTreeClassifier(max_depth=5), "cancer"),
    ("DecisionTreeRegressor", lambda: DecisionTreeRegressor(), "diabetes"),
    ("RandomForestClassifier", lambda: RandomForestClassifier(n_estimators=8), "iris"),
    ("RandomForestRegressor 2 targets", lambda: RandomForestRegressor(n_estimators=4), "diabetes2"),
    ("LinearSVC binary", lambda: LinearSVC(epochs=20), "cancer"),
    ("LinearSVC 3 classes", lambda: LinearSVC(loss="squared_hinge", epochs=20), "iris"),
    ("ConvClassifier", lambda: ConvClassifier(n_filters=4, epochs=3), "digits"),
    ("QuantizedClassifier", lambda: "quantized", "iris"),
]


@pytest.mark.parametrize("label, make, kind", MODELS, ids=[m[0] for m in MODELS])
def test_export_gives_onnxruntime_our_outputs(label, make, kind, tmp_path):
    X, y = _data(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = make()
        if model == "quantized":
            model = quantize(MLPClassifier((8,), epochs=20, random_state=0).fit(X, y), bits=8)
        else:
            model.set_params(random_state=0)
            model.fit(X, y)
    path = tmp_path / "model.onnx"
    data = export_onnx(model, path)
    assert path.read_bytes() == data
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    X_in = X.astype(model.dtype)
    (out,) = session.run(None, {"X": X_in})
    ours = model.forward(X_in)
    np.testing.assert_allclose(out, ours.reshape(out.shape), rtol=RTOL, atol=ATOL)
    back = OnnxModel.from_bytes(data)      # metadata carries the task and classes
    if hasattr(model, "classes_"):
        np.testing.assert_array_equal(back.predict(X), model.predict(X))
    else:
        np.testing.assert_allclose(back.predict(X), model.predict(X), rtol=RTOL, atol=ATOL)


def test_export_refuses_what_it_cannot_export():
    with pytest.raises(TypeError, match="export_onnx works on workbench models"):
        export_onnx(object())


# -- ONNX in --------------------------------------------------------------------------------------
def _sklearn_pipeline_onnx(zipmap=True):
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression as SkLR
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_dataset("iris")
    pipe = make_pipeline(StandardScaler(), SkLR(max_iter=500)).fit(data.X, data.y)
    options = None if zipmap else {id(pipe[-1]): {"zipmap": False}}
    return pipe, to_onnx(pipe, data.X[:1].astype(np.float32), options=options).SerializeToString()


def _helper_graph():
    """y = X @ W + b, built node by node with onnx.helper (a 3-feature, 2-target regressor)."""
    W = np.array([[1.0, -1.0], [2.0, 0.5], [0.0, 3.0]], dtype=np.float32)
    b = np.array([0.5, -0.25], dtype=np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])],
        "affine", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])],
        initializer=[numpy_helper.from_array(W, "W"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.mark.parametrize("zipmap", [True, False])
def test_skl2onnx_pipeline_registers_and_loads(tmp_path, zipmap):
    pipe, data = _sklearn_pipeline_onnx(zipmap)
    iris = load_dataset("iris")
    reg = Registry(tmp_path / "home")
    mv = reg.register_onnx("iris-sk", data, metrics={"accuracy": 0.97})
    assert mv.model_class == "OnnxModel"
    assert mv.signature == {"task": "classification", "n_features": 4, "feature_names": None,
                            "dtype": "float32", "n_outputs": 3, "classes": [0, 1, 2]}
    model = reg.load("iris-sk")
    np.testing.assert_array_equal(model.predict(iris.X), pipe.predict(iris.X))
    np.testing.assert_allclose(model.predict_proba(iris.X), pipe.predict_proba(iris.X), atol=1e-5)
    assert reg.verify() == []


def test_helper_graph_registers_as_a_regressor_from_a_path(tmp_path):
    path = tmp_path / "affine.onnx"
    path.write_bytes(_helper_graph())
    reg = Registry(tmp_path / "home")
    mv = reg.register_onnx("affine", path)
    assert mv.signature["task"] == "regression" and mv.signature["n_outputs"] == 2
    X = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(reg.load("affine").predict(X),
                               X @ [[1.0, -1.0], [2.0, 0.5], [0.0, 3.0]] + [0.5, -0.25], rtol=1e-6)


def _custom_op_graph():
    graph = helper.make_graph([helper.make_node("Evil", ["x"], ["y"], domain="com.example")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.example", 1)])
    model.ir_version = 8
    return model.SerializeToString()


def _external_data_graph():
    model = onnx.load_from_string(_helper_graph())
    weight = model.graph.initializer[0]
    weight.data_location = TensorProto.EXTERNAL
    entry = weight.external_data.add()
    entry.key, entry.value = "location", "weights.bin"
    weight.ClearField("raw_data")
    return model.SerializeToString()


def _two_inputs_graph():
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["y"])], "g",
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 2]),
                               helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


REFUSED = [
    ("garbage bytes", lambda: b"\x08\x07not an onnx model at all", "not a valid ONNX model"),
    ("truncated model", lambda: _helper_graph()[:40], "not a valid ONNX model"),
    ("empty", lambda: b"", "non-empty bytes"),
    ("custom operator", _custom_op_graph, "custom operators"),
    ("external data", _external_data_graph, "external data"),
    ("two inputs", _two_inputs_graph, "exactly one input"),
    ("classes do not fit the outputs", lambda: _helper_graph(), "2 columns but 3 classes"),
]


@pytest.mark.parametrize("label, make, phrase", REFUSED, ids=[r[0] for r in REFUSED])
def test_bad_graphs_are_refused_with_a_clear_message(tmp_path, label, make, phrase):
    reg = Registry(tmp_path / "home")
    classes = [0, 1, 2] if label.startswith("classes") else None
    with pytest.raises(InvalidInputError, match=phrase):
        reg.register_onnx("bad", make(), classes=classes)
    with pytest.raises(OnnxModelError, match=phrase):
        OnnxModel.from_bytes(make(), classes=classes)
    assert reg.models() == []   # nothing half-stored


def test_tampered_onnx_blob_is_refused_by_the_checksum(tmp_path):
    reg = Registry(tmp_path / "home")
    mv = reg.register_onnx("affine", _helper_graph())
    blob = reg.home / "blobs" / mv.sha256
    raw = bytearray(blob.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    blob.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match="SHA-256"):
        reg.load("affine")
    assert any(mv.sha256 in p for p in reg.verify())


def test_cli_import_onnx(tmp_path):
    path = tmp_path / "affine.onnx"
    path.write_bytes(_helper_graph())
    home = tmp_path / "home"
    run = [sys.executable, "-m", "workbench.cli", "registry", "--home", str(home)]
    ok = subprocess.run(run + ["import-onnx", "affine", str(path)], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert "registered" in ok.stdout and "affine v1" in ok.stdout and "regression" in ok.stdout
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(_custom_op_graph())
    refused = subprocess.run(run + ["import-onnx", "bad", str(bad)], capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and "custom operators" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.slow
def test_served_onnx_models_answer_as_onnxruntime_in_memory(tmp_path):
    home = tmp_path / "home"
    keys = make_home(home)
    pipe, sk_bytes = _sklearn_pipeline_onnx()
    with Registry(home) as reg:
        reg.register_onnx("sk-iris", sk_bytes)
        reg.register_onnx("affine", _helper_graph())
    iris = load_dataset("iris").X[:7].astype(np.float32)
    X3 = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    sk_session = ort.InferenceSession(_sklearn_pipeline_onnx(zipmap=False)[1])
    expected_proba = sk_session.run(None, {"X": iris})[1]
    expected_affine = ort.InferenceSession(_helper_graph()).run(None, {"x": X3})[0]
    with Server(home) as server:
        with httpx.Client(base_url=server.url, headers=auth(keys["predictor"]), timeout=30) as http:
            answer = http.post("/v2/models/sk-iris/infer", json=v2_body(iris, "FP32")).json()
            out = {o["name"]: o for o in answer["outputs"]}
            np.testing.assert_allclose(np.reshape(out["probabilities"]["data"], (7, 3)),
                                       expected_proba, rtol=1e-6)
            assert out["label"]["data"] == pipe.predict(iris).tolist()
            answer = http.post("/v2/models/affine/infer", json=v2_body(X3, "FP32")).json()
            (pred,) = answer["outputs"]
            np.testing.assert_allclose(np.reshape(pred["data"], (5, 2)), expected_affine, rtol=1e-6)
            v1 = http.post("/v1/models/affine:predict", json={"instances": X3.tolist()}).json()
            np.testing.assert_allclose(v1["predictions"], expected_affine, rtol=1e-6)


def test_mutated_graphs_load_or_are_refused_never_crash():
    """Hostile bytes: 300 random corruptions of a valid graph (flipped, cut, spliced bytes) either
    still load as a valid model or raise OnnxModelError — never another exception."""
    good = _helper_graph()
    rng = np.random.default_rng(0)
    refused = 0
    for _ in range(300):
        data = bytearray(good)
        how = rng.integers(3)
        if how == 0:
            for i in rng.integers(0, len(data), size=int(rng.integers(1, 4))):
                data[i] = int(rng.integers(256))
        elif how == 1:
            data = data[:int(rng.integers(1, len(data)))]
        else:
            i = int(rng.integers(len(data)))
            data = data[:i] + rng.bytes(int(rng.integers(1, 16))) + data[i:]
        try:
            model = OnnxModel.from_bytes(bytes(data))
        except OnnxModelError:
            refused += 1
            continue
        model.predict(np.zeros((2, model.n_features_in_), dtype=np.float32))
    assert refused > 100

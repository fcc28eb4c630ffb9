"""The inference-only load path: a spec + arrays as a numpy forward pass, bit-identical to the
estimator's, and a serving worker that never imports scikit-learn, SciPy or the notebook stack."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from workbench.models import (
    ConvClassifier,
    DecisionTreeClassifier,
    DecisionTreeRegressor,
    LinearSVC,
    RandomForestClassifier,
    RandomForestRegressor,
    LinearRegression,
    LogisticRegression,
    MLPClassifier,
    MLPRegressor,
    from_spec,
)
from workbench.models.forward import (
    FORWARD_BUILDERS,
    InferenceModel,
    build_forward,
    load_for_inference,
)
from workbench.optimize import prune, quantize
from workbench.registry import Registry
from workbench.serving.endpoint import free_port


def _data(n=120, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, rng


def _models():
    X, rng = _data()
    y3 = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    y2 = np.where(X[:, 2] > 0, "yes", "no")
    yr = X @ rng.normal(size=(6, 2))
    mlp = MLPClassifier(hidden_layer_sizes=(8, 5), epochs=3, random_state=0).fit(X, y3)
    out = {
        "mlp3": mlp,
        "mlp2-tanh-f64": MLPClassifier(hidden_layer_sizes=(4,), activation="tanh",
                                       dtype="float64", epochs=2, random_state=1).fit(X, y2),
        "mlp-reg": MLPRegressor(hidden_layer_sizes=(7,), activation="sigmoid", epochs=2,
                                random_state=0).fit(X, yr),
        "logistic2": LogisticRegression(epochs=3, random_state=0).fit(X, y2),
        "logistic3": LogisticRegression(epochs=3, random_state=0).fit(X, y3),
        "linear": LinearRegression().fit(X, yr[:, 0]),
        "linear-gd": LinearRegression(solver="gd", epochs=2, random_state=0).fit(X, yr),
        "q8": quantize(mlp, bits=8),
        "q4-sparse": quantize(prune(mlp, sparsity=0.8), bits=4, per_channel=False),
        "q-logistic2": quantize(LogisticRegression(epochs=2, random_state=0).fit(X, y2), bits=2),
        "q-reg16": quantize(MLPRegressor(hidden_layer_sizes=(5,), epochs=2,
                                         random_state=0).fit(X, yr), bits=16),
        "tree3": DecisionTreeClassifier(max_depth=5).fit(X, y3),
        "forest2-f64": RandomForestClassifier(n_estimators=3, dtype="float64",
                                              random_state=0).fit(X, y2),
        "tree-reg": DecisionTreeRegressor(max_depth=4).fit(X, yr),
        "forest-reg": RandomForestRegressor(n_estimators=2, random_state=0).fit(X, yr[:, 0]),
        "svc2": LinearSVC(epochs=2, random_state=0).fit(X, y2),
        "svc3": LinearSVC(loss="squared_hinge", epochs=2, random_state=0).fit(X, y3),
        "cnn3": ConvClassifier(image_shape=(2, 3), n_filters=3, epochs=2, random_state=0).fit(X, y3),
    }
    return X, out


@pytest.fixture(scope="module")
def models():
    return _models()


@pytest.mark.parametrize("key", ["mlp3", "mlp2-tanh-f64", "mlp-reg", "logistic2", "logistic3",
                                 "linear", "linear-gd", "q8", "q4-sparse", "q-logistic2",
                                 "q-reg16", "tree3", "forest2-f64", "tree-reg", "forest-reg",
                                 "svc2", "svc3", "cnn3"])
def test_forward_is_bit_identical_to_the_estimator(models, key):
    X, found = models
    model = found[key]
    spec, arrays = model.to_spec()
    spec, arrays = json.loads(json.dumps(spec)), {k: np.array(v) for k, v in arrays.items()}
    light = build_forward(spec, arrays)
    assert isinstance(light, InferenceModel)
    assert light.spec_class == type(model).__name__
    for rows in (X[:1], X[:17], X):
        rows = rows.astype(model.dtype)
        expected = from_spec(spec, arrays).forward(rows)
        got = light.forward(rows)
        assert got.dtype == expected.dtype and got.shape == expected.shape
        assert np.array_equal(got, expected)
        assert np.array_equal(got, model.forward(rows))
    assert light.signature() == model.signature()
    if hasattr(model, "classes_"):
        assert np.array_equal(light.classes_, model.classes_)
        assert light.classes_.dtype == model.classes_.dtype


def test_every_estimator_class_has_a_builder():
    from workbench.models import MODEL_CLASSES

    assert set(MODEL_CLASSES) <= set(FORWARD_BUILDERS)


def test_bad_specs_are_refused_with_a_reason(models):
    _, found = models
    spec, arrays = found["mlp3"].to_spec()
    with pytest.raises(ValueError, match="W1"):
        build_forward(spec, {k: v for k, v in arrays.items() if k != "W1"})
    with pytest.raises(ValueError, match="shape"):
        build_forward(spec, {**arrays, "W0": arrays["W0"][:3]})
    with pytest.raises(ValueError, match="format"):
        build_forward({**spec, "format": "other/1"}, arrays)
    with pytest.raises(ValueError, match="builder"):
        build_forward({**spec, "class": "NoSuchModel"}, arrays)
    with pytest.raises(ValueError, match="dtype"):
        build_forward({**spec, "params": {**spec["params"], "dtype": "int8"}}, arrays)
    qspec, qarrays = found["q8"].to_spec()
    with pytest.raises(ValueError, match="codes"):
        build_forward(qspec, {**qarrays, "codes": qarrays["codes"][:-5]})


def test_a_class_without_builder_falls_back_to_the_estimator(models, monkeypatch):
    X, found = models
    spec, arrays = found["mlp3"].to_spec()
    monkeypatch.delitem(FORWARD_BUILDERS, "MLPClassifier")
    model = load_for_inference(spec, arrays)
    assert type(model) is MLPClassifier
    assert np.array_equal(model.forward(X), found["mlp3"].forward(X))


_WORKER = textwrap.dedent("""
    import json, sys, threading, time, urllib.request
    import uvicorn
    from workbench.serving.app import create_app, tune_worker_process

    tune_worker_process()          # as a `workbench serve` worker does

    home, port = sys.argv[1], int(sys.argv[2])
    server = uvicorn.Server(uvicorn.Config(create_app(home, auth=False), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            if time.monotonic() > deadline:
                raise SystemExit("server did not start")
            time.sleep(0.05)
        body = json.dumps({"inputs": [{"name": "x", "shape": [2, 6], "datatype": "FP32",
                                       "data": [0.5] * 12}]}).encode()
        answers = []
        for path in ("/v2/models/light/infer", "/v2/models/light/versions/1/infer",
                     "/v2/models/quant/infer"):
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                answers.append(json.loads(response.read()))
        heavy = sorted(m for m in sys.modules
                       if m.split(".")[0] in ("sklearn", "scipy", "matplotlib", "ipywidgets",
                                              "pandas", "IPython", "workbench.models.base"))
        heavy += [m for m in ("workbench.models.base", "workbench.training") if m in sys.modules]
        print(json.dumps({"heavy": heavy, "answers": answers}))
    finally:
        server.should_exit = True
        thread.join(timeout=30)
""")


def test_a_serving_worker_never_imports_the_heavy_stack(tmp_path, models):
    """After loading models and answering requests, the worker has not imported scikit-learn,
    SciPy, matplotlib, ipywidgets, pandas (nor the estimator classes), and its answers equal
    the estimators' predictions."""
    _, found = models
    with Registry(tmp_path) as reg:
        reg.register("light", found["mlp3"])
        reg.register("quant", found["q4-sparse"])
    proc = subprocess.run([sys.executable, "-c", _WORKER, str(tmp_path), str(free_port())],
                          capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []
    rows = np.full((2, 6), 0.5, dtype=np.float32)
    for answer, model in zip(report["answers"], (found["mlp3"], found["mlp3"],
                                                  found["q4-sparse"])):
        outputs = {o["name"]: o for o in answer["outputs"]}
        assert outputs["label"]["data"] == model.predict(rows).tolist()
        proba = np.asarray(outputs["probabilities"]["data"], dtype=np.float32).reshape(2, -1)
        assert np.array_equal(proba, model.predict_proba(rows))

"""ONNX out: every numpy model as an ONNX graph that onnxruntime runs to the same outputs.

The graph takes one input ``X`` (float, shape ``[N, n_features]``) and gives one output with
what :meth:`forward` gives: ``probabilities`` (class shares or, for :class:`LinearSVC`, scores;
shape ``[N, n_classes]``) or ``predictions`` (``[N, n_outputs]``). The classes and task are kept
in the model's metadata (``workbench.task``, ``workbench.classes``) so that
:meth:`Registry.register_onnx` reads them back.

* dense networks (linear, logistic, MLPs, quantized ones dequantised): ``MatMul`` + ``Add`` per
  layer, ``Relu``/``Tanh``/``Sigmoid`` between, ``Softmax``/``Sigmoid`` at the end;
* trees and forests: ``ai.onnx.ml`` ``TreeEnsembleClassifier`` / ``TreeEnsembleRegressor``
  (each leaf weighted by 1/n_trees and summed: the mean over trees);
* :class:`ConvClassifier`: ``Reshape`` → ``Conv`` → ``Relu`` → ``MaxPool`` → ``Transpose`` →
  ``Reshape`` → ``MatMul`` → ``Softmax``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted

OPSET = 17
ML_OPSET = 3
IR_VERSION = 8


def _helpers():
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as exc:  # pragma: no cover - onnx is a runtime dependency
        raise ImportError("export_onnx needs the 'onnx' package: pip install onnx") from exc
    return onnx, TensorProto, helper, numpy_helper


class _Graph:
    """Collects nodes and initializers with unique names."""

    def __init__(self, dtype):
        self.onnx, self.TensorProto, self.helper, self.numpy_helper = _helpers()
        self.dtype = np.dtype(dtype)
        self.nodes, self.inits, self._n = [], [], 0

    def name(self, stem: str) -> str:
        self._n += 1
        return f"{stem}_{self._n}"

    def const(self, array, stem="c", dtype=None) -> str:
        name = self.name(stem)
        arr = np.asarray(array, dtype=dtype or self.dtype)
        self.inits.append(self.numpy_helper.from_array(arr, name))
        return name

    def op(self, op_type, inputs, stem=None, domain="", n_outputs=1, **attrs):
        outs = [self.name(stem or op_type.lower()) for _ in range(n_outputs)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs, domain=domain, **attrs))
        return outs[0] if n_outputs == 1 else outs


def _elem_type(dtype) -> int:
    _, TensorProto, _, _ = _helpers()
    return TensorProto.DOUBLE if np.dtype(dtype) == np.float64 else TensorProto.FLOAT


# -- the graph of each family -------------------------------------------------------------------
def _dense(g: _Graph, x: str, weights, activation: str, output: str) -> str:
    acts = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "identity": None}
    h = x
    for i, (W, b) in enumerate(weights):
        h = g.op("Add", [g.op("MatMul", [h, g.const(W, "W")]), g.const(b, "b")])
        if i < len(weights) - 1 and acts[activation]:
            h = g.op(acts[activation], [h])
    if output == "softmax":
        return g.op("Softmax", [h], axis=1)
    if output == "sigmoid":  # one column p -> (1 - p, p)
        p = g.op("Sigmoid", [h])
        return g.op("Concat", [g.op("Sub", [g.const(np.ones((1, 1)), "one"), p]), p], axis=1)
    if output == "scores" and weights[-1][0].shape[1] == 1:  # LinearSVC, two classes: (-z, z)
        return g.op("Concat", [g.op("Neg", [h]), h], axis=1)
    return h


def _network(g: _Graph, x: str, model) -> str:
    if callable(getattr(model, "dequantized_params", None)):
        p, activation, output = model.dequantized_params(), model.activation_, model.output_
    else:
        p, activation = model.params_, model._activation_name()
        output = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid", "mse": "identity",
                  "hinge": "scores", "squared_hinge": "scores"}[model._loss().name]
    weights = [(p[f"W{i}"], p[f"b{i}"]) for i in range(len(p) // 2)]
    return _dense(g, x, weights, activation, output)


def _trees(g: _Graph, x: str, model) -> str:
    p = model.params_
    roots = [int(r) for r in p["roots"]]
    ends = roots[1:] + [len(p["feature"])]
    n_trees = len(roots)
    attrs = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values",
                             "nodes_modes", "nodes_truenodeids", "nodes_falsenodeids",
                             "nodes_missing_value_tracks_true")}
    leaf_tree, leaf_node, leaf_id, leaf_weight = [], [], [], []
    for t, (start, end) in enumerate(zip(roots, ends)):
        for node in range(start, end):
            leaf = p["children_left"][node] < 0
            attrs["nodes_treeids"].append(t)
            attrs["nodes_nodeids"].append(node - start)
            attrs["nodes_featureids"].append(0 if leaf else int(p["feature"][node]))
            attrs["nodes_values"].append(0.0 if leaf else float(p["threshold"][node]))
            attrs["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            attrs["nodes_truenodeids"].append(0 if leaf else int(p["children_left"][node]) - start)
            attrs["nodes_falsenodeids"].append(0 if leaf else int(p["children_right"][node]) - start)
            attrs["nodes_missing_value_tracks_true"].append(0)
            if leaf:
                for k, v in enumerate(p["value"][node]):
                    leaf_tree.append(t)
                    leaf_node.append(node - start)
                    leaf_id.append(k)
                    leaf_weight.append(float(v) / n_trees)
    x32 = g.op("Cast", [x], to=g.TensorProto.FLOAT) if g.dtype != np.float32 else x
    if is_classifier(model):
        _, proba = g.op("TreeEnsembleClassifier", [x32], domain="ai.onnx.ml", n_outputs=2,
                        classlabels_int64s=list(range(len(model.classes_))), class_treeids=leaf_tree,
                        class_nodeids=leaf_node, class_ids=leaf_id, class_weights=leaf_weight,
                        post_transform="NONE", **attrs)
        out = proba
    else:
        out = g.op("TreeEnsembleRegressor", [x32], domain="ai.onnx.ml", n_targets=model.n_outputs_,
                   target_treeids=leaf_tree, target_nodeids=leaf_node, target_ids=leaf_id,
                   target_weights=leaf_weight, aggregate_function="SUM", post_transform="NONE",
                   **attrs)
    return g.op("Cast", [out], to=_elem_type(g.dtype)) if g.dtype != np.float32 else out


def _conv(g: _Graph, x: str, model) -> str:
    (H, W), (ph, pw), F, p = model._shape(), model._pool(), int(model.n_filters), model.params_
    img = g.op("Reshape", [x, g.const([-1, 1, H, W], "shape", np.int64)])
    kernels = p["W0"].T.reshape(F, 1, 3, 3)
    z1 = g.op("Conv", [img, g.const(kernels, "K"), g.const(p["b0"], "c")], kernel_shape=[3, 3],
              pads=[1, 1, 1, 1])
    pooled = g.op("MaxPool", [g.op("Relu", [z1])], kernel_shape=[ph, pw], strides=[ph, pw])
    nhwc = g.op("Transpose", [pooled], perm=[0, 2, 3, 1])   # our flattening order: (h, w, filter)
    flat = g.op("Reshape", [nhwc, g.const([0, -1], "shape", np.int64)])
    z2 = g.op("Add", [g.op("MatMul", [flat, g.const(p["W1"], "W")]), g.const(p["b1"], "b")])
    return g.op("Softmax", [z2], axis=1)


def _builder(model):
    from ..models.conv import ConvClassifier
    from ..models.network import Network
    from ..models.quantized import _QuantizedNetwork
    from ..models.trees import _TreeEnsemble

    if isinstance(model, ConvClassifier):
        return _conv
    if isinstance(model, (Network, _QuantizedNetwork)):
        return _network
    if isinstance(model, _TreeEnsemble):
        return _trees
    raise TypeError(f"export_onnx works on workbench models (linear, logistic, MLP, quantized, "
                    f"trees, forests, LinearSVC, ConvClassifier), got {type(model).__name__}")


def export_onnx(model, path=None) -> bytes:
    """Return ``model`` as a serialized ONNX model (and write it to ``path`` when given).

    Parameters
    ----------
    model : fitted workbench model
    path : path-like, optional

    Returns
    -------
    bytes
        An ONNX ``ModelProto`` (opset 17, ``ai.onnx.ml`` 3) with input ``X`` and output
        ``probabilities`` (classifiers) or ``predictions`` (regressors).

    Examples
    --------
    >>> import onnxruntime as ort                                           # doctest: +SKIP
    >>> session = ort.InferenceSession(export_onnx(model))                  # doctest: +SKIP
    >>> session.run(None, {"X": X.astype("float32")})[0]                    # doctest: +SKIP
    """
    build = _builder(model)
    check_is_fitted(model, "params_")
    dtype = np.dtype(str(getattr(model, "dtype", "float32")))
    g = _Graph(dtype)
    classifier = is_classifier(model)
    out = build(g, "X", model)
    out_name = "probabilities" if classifier else "predictions"
    g.nodes.append(g.helper.make_node("Identity", [out], [out_name]))
    width = len(model.classes_) if classifier else int(model.n_outputs_)
    graph = g.helper.make_graph(
        g.nodes, f"workbench_{type(model).__name__}",
        [g.helper.make_tensor_value_info("X", _elem_type(dtype), [None, int(model.n_features_in_)])],
        [g.helper.make_tensor_value_info(out_name, _elem_type(dtype), [None, width])],
        initializer=g.inits)
    proto = g.helper.make_model(graph, producer_name="workbench", opset_imports=[
        g.helper.make_opsetid("", OPSET), g.helper.make_opsetid("ai.onnx.ml", ML_OPSET)])
    proto.ir_version = IR_VERSION
    meta = {"workbench.task": "classification" if classifier else "regression",
            "workbench.class": type(model).__name__}
    if classifier:
        meta["workbench.classes"] = json.dumps(np.asarray(model.classes_).tolist())
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        meta["workbench.feature_names"] = json.dumps([str(n) for n in names])
    g.helper.set_model_props(proto, meta)
    g.onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    if path is not None:
        Path(path).write_bytes(data)
    return data

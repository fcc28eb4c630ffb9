"""Forward builders (numpy only) for trees, forests, LinearSVC and ConvClassifier.

Registered with :func:`workbench.models.forward.forward_builder` when :mod:`.forward` is
imported, so a serving worker runs these families without scikit-learn. Each builder casts the
arrays exactly as the estimator's ``_from_spec`` does, so the outputs are bit-identical.
"""
from __future__ import annotations

import numpy as np

from .cart import TREE_ARRAYS, apply
from .conv_ops import KERNEL, conv_forward
from .forward import _layers, _output, check_dtype, forward_builder, softmax


def _array(name: str, arrays: dict, key: str, shape: tuple, dtype) -> np.ndarray:
    if key not in arrays:
        raise ValueError(f"{name} spec needs array {key!r}, which is missing")
    a = np.asarray(arrays[key])
    if a.shape != shape:
        raise ValueError(f"array {key!r} has shape {a.shape}, expected {shape}")
    return a.astype(dtype, copy=True)


@forward_builder("DecisionTreeClassifier", "DecisionTreeRegressor", "RandomForestClassifier",
                 "RandomForestRegressor")
def _tree_forward(spec: dict, arrays: dict):
    name, params, attrs = spec["class"], spec.get("params") or {}, spec["attributes"]
    dtype = check_dtype(params.get("dtype", "float32"))
    classifier = name.endswith("Classifier")
    width = _output(name, attrs, classifier, False)
    try:
        n_nodes = int(attrs["node_count_"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{name} spec lacks the attribute node_count_") from None
    n_trees = int(params.get("n_estimators", 1)) if name.startswith("RandomForest") else 1
    tree = {key: _array(name, arrays, key, (n_nodes, width) if key == "value" else (n_nodes,),
                        np.int64 if integer else dtype)
            for key, integer in TREE_ARRAYS.items()}
    roots = _array(name, arrays, "roots", (n_trees,), np.int64)
    inner = tree["children_left"] >= 0
    children = np.concatenate([tree["children_left"][inner], tree["children_right"][inner]])
    if (children.size and (children.min() < 0 or children.max() >= n_nodes)) or \
            (roots.size and (roots.min() < 0 or roots.max() >= n_nodes)):
        raise ValueError(f"{name} spec has child or root indices outside its {n_nodes} nodes")
    if np.any(tree["feature"][inner] >= int(attrs["n_features_in_"])):
        raise ValueError(f"{name} spec splits on a feature beyond n_features_in_")
    return lambda X: tree["value"][apply(X, tree, roots)].mean(axis=1)


@forward_builder("LinearSVC")
def _svc_forward(spec: dict, arrays: dict):
    name, params, attrs = spec["class"], spec.get("params") or {}, spec["attributes"]
    dtype = check_dtype(params.get("dtype", "float32"))
    n_logits = _output(name, attrs, True, True)
    weights = _layers(name, arrays, [int(attrs["n_features_in_"]), n_logits], dtype)

    def forward(X):
        Z = X @ weights["W0"]
        Z += weights["b0"]
        return np.hstack([-Z, Z]) if Z.shape[1] == 1 else Z
    return forward


@forward_builder("ConvClassifier")
def _conv_forward(spec: dict, arrays: dict):
    name, params, attrs = spec["class"], spec.get("params") or {}, spec["attributes"]
    dtype = check_dtype(params.get("dtype", "float32"))
    n = int(attrs["n_features_in_"])
    image_shape = params.get("image_shape", (8, 8))
    H, W = (1, n) if image_shape is None else (int(image_shape[0]), int(image_shape[1]))
    if H * W != n:
        raise ValueError(f"{name} spec has image_shape {image_shape} for {n} features")
    pool = int(params.get("pool_size", 2))
    ph, pw, F = min(pool, H), min(pool, W), int(params.get("n_filters", 16))
    n_logits = _output(name, attrs, True, False)
    shapes = {"W0": (KERNEL * KERNEL, F), "b0": (F,), "W1": ((H // ph) * (W // pw) * F, n_logits),
              "b1": (n_logits,)}
    weights = {key: _array(name, arrays, key, shape, dtype) for key, shape in shapes.items()}
    return lambda X: softmax(conv_forward(X, weights, (H, W), (ph, pw)))

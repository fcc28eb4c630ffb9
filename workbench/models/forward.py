"""The inference-only load path: a registered ``(spec, arrays)`` as a plain numpy forward pass.

Serving needs only each model's forward pass, not the estimator class (which subclasses
scikit-learn's ``BaseEstimator`` and would pull in scikit-learn and SciPy: ~100 MB and a slow
start per worker). :func:`build_forward` reads a spec with **numpy only** and returns an
:class:`InferenceModel` whose ``forward(X)`` is bit-identical to the estimator's
``model.forward(X)`` (the same arrays, cast the same way, through the same functions).

Each model family registers one *forward builder* keyed by the spec's ``"class"``::

    @forward_builder("MyClassifier")
    def _my_forward(spec, arrays):
        W = np.asarray(arrays["W"], dtype=np.float32)
        return lambda X: softmax(X @ W)          # X (n, n_features) -> outputs (n, k)

A builder validates what it reads (``ValueError`` naming the problem) and returns the function.
Its outputs follow ``model.forward``: class probabilities (n, n_classes) for a classifier
(``classes_`` in the spec's attributes), values (n, n_outputs) for a regressor. A class
without a builder is still served, through :func:`workbench.models.from_spec` (the full
estimator) — see :func:`load_for_inference`.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .activations import get_activation, sigmoid
from .losses import softmax

#: the ``format`` of every workbench model spec
SPEC_FORMAT = "workbench.model/1"
#: the model float types (a model's ``dtype`` hyperparameter)
DTYPES = ("float32", "float64")

#: spec class name -> builder ``(spec, arrays) -> forward(X)``
FORWARD_BUILDERS: dict[str, Callable] = {}


def check_dtype(dtype) -> np.dtype:
    """The model's float type from its ``dtype`` hyperparameter."""
    if str(dtype) not in DTYPES:
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return np.dtype(str(dtype))


def dense_forward(X, params: dict, activation: str, keep: bool = False):
    """The forward pass of fully-connected layers ``W0, b0, W1, b1, …``: the last layer's logits
    (and, with ``keep``, the list ``[X, Z0, A1, Z1, A2, …]`` the backward pass needs)."""
    f, _ = get_activation(activation)
    n_layers = sum(1 for k in params if k.startswith("W"))
    A, cache = X, [X]
    for i in range(n_layers):
        Z = A @ params[f"W{i}"]
        Z += params[f"b{i}"]
        if i < n_layers - 1:
            A = f(Z)
            if keep:
                cache += [Z, A]
    return (Z, cache) if keep else Z


def forward_builder(*class_names: str):
    """Register the decorated ``builder(spec, arrays) -> forward`` for these spec classes."""
    def register(builder):
        for name in class_names:
            FORWARD_BUILDERS[name] = builder
        return builder
    return register


class InferenceModel:
    """A registered model reduced to what serving needs: ``forward`` and its signature.

    Attributes
    ----------
    spec_class : str
        The estimator class the spec was saved from (``"MLPClassifier"``, …).
    classes_ : ndarray or absent
        Class labels, as the estimator's ``classes_`` (classifiers only).
    n_features_in_ : int
    dtype : str
    """

    def __init__(self, spec: dict, forward: Callable):
        attrs = spec.get("attributes") or {}
        self.spec_class = str(spec.get("class"))
        self._forward = forward
        self.dtype = str((spec.get("params") or {}).get("dtype", "float32"))
        self.n_features_in_ = int(attrs["n_features_in_"])
        self._feature_names = attrs.get("feature_names_in_")
        self._n_outputs = attrs.get("n_outputs_")
        if "classes_" in attrs:
            dtype = attrs.get("classes_dtype")
            values = attrs["classes_"]
            self.classes_ = (np.array(values, dtype=object) if dtype in (None, "object")
                             else np.array(values, dtype=np.dtype(dtype)))

    def __repr__(self) -> str:
        return f"<InferenceModel {self.spec_class} n_features={self.n_features_in_}>"

    def forward(self, X: np.ndarray) -> np.ndarray:
        """Outputs for an already-validated 2-D float array (as the estimator's ``forward``)."""
        return self._forward(X)

    def signature(self) -> dict:
        """As the estimator's ``signature()``: task, n_features, feature_names, dtype, …"""
        classifier = hasattr(self, "classes_")
        names = self._feature_names
        return {
            "task": "classification" if classifier else "regression",
            "n_features": self.n_features_in_,
            "feature_names": None if names is None else [str(n) for n in names],
            "dtype": self.dtype,
            "n_outputs": int(len(self.classes_) if classifier else self._n_outputs),
            "classes": self.classes_.tolist() if classifier else None,
        }


def build_forward(spec: dict, arrays: dict) -> InferenceModel:
    """Return the :class:`InferenceModel` of a spec whose class has a forward builder.

    Raises
    ------
    ValueError
        When the spec is not a workbench spec, its class has no builder, or its arrays do not fit.
    """
    if not isinstance(spec, dict):
        raise ValueError(f"a model spec must be a dict, got {type(spec).__name__}")
    if spec.get("format") != SPEC_FORMAT:
        raise ValueError(f"unknown model spec format {spec.get('format')!r}; expected {SPEC_FORMAT!r}")
    builder = FORWARD_BUILDERS.get(spec.get("class"))
    if builder is None:
        raise ValueError(f"no inference builder for model class {spec.get('class')!r}; known: "
                         f"{sorted(FORWARD_BUILDERS)}")
    attrs = spec.get("attributes")
    if not isinstance(attrs, dict) or "n_features_in_" not in attrs:
        raise ValueError(f"{spec.get('class')} spec lacks the attribute n_features_in_")
    return InferenceModel(spec, builder(spec, arrays))


def load_for_inference(spec: dict, arrays: dict):
    """The cheapest model object that answers ``forward`` for a spec: an :class:`InferenceModel`
    when its class has a builder, else the full estimator from :func:`~workbench.models.from_spec`
    (which imports scikit-learn)."""
    if isinstance(spec, dict) and spec.get("class") in FORWARD_BUILDERS:
        return build_forward(spec, arrays)
    from . import from_spec

    return from_spec(spec, arrays)


# -- the builders of the workbench's own families ---------------------------------------------
def _layers(name: str, arrays: dict, sizes: list[int], dtype: np.dtype, suffix="") -> dict:
    """``W0, b0, …`` cast to ``dtype`` exactly as the estimator's ``_from_spec`` does."""
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        for key, shape in ((f"W{i}{suffix}", (fan_in, fan_out)), (f"b{i}", (fan_out,))):
            if key not in arrays:
                raise ValueError(f"{name} spec needs array {key!r}, which is missing")
            a = np.asarray(arrays[key])
            if a.shape != shape:
                raise ValueError(f"array {key!r} has shape {a.shape}, expected {shape}")
            params[key] = a.astype(dtype, copy=True)
    return params


def _output(name: str, attrs: dict, classifier: bool, single_binary: bool) -> int:
    if classifier:
        n_classes = len(attrs.get("classes_") or ())
        if n_classes < 2:
            raise ValueError(f"{name} spec needs classes_ with at least two classes")
        return 1 if (n_classes == 2 and single_binary) else n_classes
    try:
        return int(attrs["n_outputs_"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{name} spec lacks the attribute n_outputs_") from None


def _probabilities(logits_of, n_logits: int):
    """Classifier forward: softmax, or sigmoid p as the two columns (1 - p, p)."""
    if n_logits == 1:
        def forward(X):
            P = sigmoid(logits_of(X))
            return np.hstack([1 - P, P])
        return forward
    return lambda X: softmax(logits_of(X))


@forward_builder("MLPClassifier", "MLPRegressor", "LogisticRegression", "LinearRegression")
def _network_forward(spec: dict, arrays: dict):
    name, params, attrs = spec["class"], spec.get("params") or {}, spec["attributes"]
    dtype = check_dtype(params.get("dtype", "float32"))
    if name.startswith("MLP"):
        hidden = params.get("hidden_layer_sizes", (100,))
        hidden = [hidden] if isinstance(hidden, int) else list(hidden)
        activation = params.get("activation", "relu")
    else:
        hidden, activation = [], "identity"
    get_activation(activation)
    classifier = name.endswith("Classifier") or name == "LogisticRegression"
    n_logits = _output(name, attrs, classifier, name == "LogisticRegression")
    sizes = [int(attrs["n_features_in_"]), *(int(h) for h in hidden), n_logits]
    weights = _layers(name, arrays, sizes, dtype)

    def logits(X):
        return dense_forward(X, weights, activation)
    return _probabilities(logits, n_logits) if classifier else logits


@forward_builder("QuantizedClassifier", "QuantizedRegressor")
def _quantized_forward(spec: dict, arrays: dict):
    from .quantized_codes import _code_dtype, unpack_layers

    name, attrs = spec["class"], spec["attributes"]
    unpacked, sizes, bits = unpack_layers(name, spec, arrays)
    dtype = check_dtype((spec.get("params") or {}).get("dtype", "float32"))
    activation, output = attrs.get("activation_"), attrs.get("output_")
    get_activation(activation)
    if output not in ("softmax", "sigmoid", "identity"):
        raise ValueError(f"{name} spec has output_ {output!r}; expected softmax, sigmoid or "
                         "identity")
    if sizes[0] != int(attrs["n_features_in_"]):
        raise ValueError(f"{name} spec has {sizes[0]} inputs in layer_sizes_ but "
                         f"n_features_in_ = {attrs['n_features_in_']}")
    weights = {}
    for i in range(len(sizes) - 1):                   # as dequantized_params
        codes = unpacked[f"W{i}_q"].astype(_code_dtype(bits))
        scale = unpacked[f"W{i}_scale"].astype(dtype, copy=True)
        weights[f"W{i}"] = codes.astype(dtype) * scale.astype(dtype)
        weights[f"b{i}"] = unpacked[f"b{i}"].astype(dtype, copy=True).astype(dtype)

    def logits(X):
        return dense_forward(X, weights, activation)
    if output == "identity":
        return logits
    link = softmax if output == "softmax" else sigmoid
    if name == "QuantizedClassifier":
        def forward(X):
            P = link(logits(X))
            return np.hstack([1 - P, P]) if P.shape[1] == 1 else P
        return forward
    return lambda X: link(logits(X))


# the other families' builders (numpy only); imported last, as they use the helpers above
from . import forward_families  # noqa: E402, F401

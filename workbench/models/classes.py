"""Every estimator class by name, and :func:`from_spec` that rebuilds one from its spec."""
from __future__ import annotations

from .base import SPEC_FORMAT, WorkbenchModel
from .linear import LinearRegression, LogisticRegression
from .mlp import MLPClassifier, MLPRegressor
from .quantized import QuantizedClassifier, QuantizedRegressor
from .conv import ConvClassifier
from .svm import LinearSVC
from .trees import (DecisionTreeClassifier, DecisionTreeRegressor, RandomForestClassifier,
                    RandomForestRegressor)

#: class name -> class, for :func:`from_spec`
MODEL_CLASSES = {cls.__name__: cls for cls in (LinearRegression, LogisticRegression,
                                               MLPClassifier, MLPRegressor,
                                               QuantizedClassifier, QuantizedRegressor,
                                               DecisionTreeClassifier, DecisionTreeRegressor,
                                               RandomForestClassifier, RandomForestRegressor,
                                               LinearSVC, ConvClassifier)}


def from_spec(spec: dict, arrays: dict) -> WorkbenchModel:
    """Rebuild a model from what :meth:`~WorkbenchModel.to_spec` gave.

    Raises
    ------
    ValueError
        When the spec is of an unknown format or class, or an array is missing or misshapen.
    """
    if not isinstance(spec, dict):
        raise ValueError(f"a model spec must be a dict, got {type(spec).__name__}")
    if spec.get("format") != SPEC_FORMAT:
        raise ValueError(f"unknown model spec format {spec.get('format')!r}; expected {SPEC_FORMAT!r}")
    if spec.get("class") == "OnnxModel":  # a graph made elsewhere, run by onnxruntime
        from .onnx_model import OnnxModel

        return OnnxModel._from_spec(spec, arrays)
    cls = MODEL_CLASSES.get(spec.get("class"))
    if cls is None:
        raise ValueError(f"unknown model class {spec.get('class')!r}; expected one of {sorted(MODEL_CLASSES)}")
    return cls._from_spec(spec, arrays)

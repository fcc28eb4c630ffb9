"""numpy models with scikit-learn's conventions, persisted as ``(spec, arrays)`` — never pickled.

Each name is imported on first use: the estimators subclass scikit-learn's base classes, and a
serving worker that only needs a forward pass (:mod:`.forward`, numpy only) never imports them.

>>> from workbench.models import MLPClassifier, from_spec
>>> spec, arrays = model.to_spec()          # doctest: +SKIP
>>> same = from_spec(spec, arrays)          # doctest: +SKIP
"""
from __future__ import annotations

from .._lazy import lazy_exports

#: public name -> module that defines it
_EXPORTS = {
    "LinearRegression": ".linear", "LogisticRegression": ".linear",
    "MLPClassifier": ".mlp", "MLPRegressor": ".mlp",
    "QuantizedClassifier": ".quantized", "QuantizedRegressor": ".quantized",
    "Optimizer": ".optimizers", "SGD": ".optimizers", "Momentum": ".optimizers",
    "RMSprop": ".optimizers", "Adam": ".optimizers", "make_optimizer": ".optimizers",
    "from_spec": ".classes", "MODEL_CLASSES": ".classes", "WorkbenchModel": ".base",
    "SPEC_FORMAT": ".forward", "build_forward": ".forward", "load_for_inference": ".forward",
    "InferenceModel": ".forward",
    "DecisionTreeClassifier": ".trees", "DecisionTreeRegressor": ".trees",
    "RandomForestClassifier": ".trees", "RandomForestRegressor": ".trees",
    "LinearSVC": ".svm", "ConvClassifier": ".conv", "OnnxModel": ".onnx_model",
}

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
__all__ = ['ConvClassifier', 'DecisionTreeClassifier', 'DecisionTreeRegressor', 'LinearSVC',
           'OnnxModel', 'RandomForestClassifier', 'RandomForestRegressor', 'MODEL_CLASSES', 'SGD', 'SPEC_FORMAT', 'Adam', 'InferenceModel', 'LinearRegression', 'LogisticRegression', 'MLPClassifier', 'MLPRegressor', 'Momentum', 'Optimizer', 'QuantizedClassifier', 'QuantizedRegressor', 'RMSprop', 'WorkbenchModel', 'build_forward', 'from_spec', 'load_for_inference', 'make_optimizer']

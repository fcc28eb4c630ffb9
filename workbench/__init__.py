"""MaaS Workbench: train numpy models, keep them in a registry, serve them, watch them.

The few names a notebook needs are importable from here; each is loaded on first use, so
``import workbench`` stays fast (a dashboard kernel does not pay for the web stack).

>>> from workbench import load_dataset, split, MLPClassifier
"""
from __future__ import annotations

from ._lazy import lazy_exports

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS = {
    "load_dataset": "workbench.data",
    "split": "workbench.data",
    "Standardizer": "workbench.data",
    "Dataset": "workbench.data",
    "LinearRegression": "workbench.models",
    "LogisticRegression": "workbench.models",
    "MLPClassifier": "workbench.models",
    "MLPRegressor": "workbench.models",
    "from_spec": "workbench.models",
    "DecisionTreeClassifier": "workbench.models",
    "DecisionTreeRegressor": "workbench.models",
    "RandomForestClassifier": "workbench.models",
    "RandomForestRegressor": "workbench.models",
    "LinearSVC": "workbench.models",
    "ConvClassifier": "workbench.models",
    "export_onnx": "workbench.onnx",
    "History": "workbench.training",
    "Callback": "workbench.training",
    "EarlyStopping": "workbench.training",
    "resolve_home": "workbench.home",
    "Registry": "workbench.registry",
    "deploy": "workbench.serving",
    "Monitor": "workbench.monitoring",
    "quantize": "workbench.optimize",
    "prune": "workbench.optimize",
    "permutation_importance": "workbench.explain",
    "saliency": "workbench.explain",
}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
__all__ = sorted(_EXPORTS)

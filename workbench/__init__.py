"""MaaS Workbench: train numpy models, keep them in a registry, serve them, watch them.

The few names a notebook needs are importable from here; each is loaded on first use, so
``import workbench`` stays fast (a dashboard kernel does not pay for the web stack).

>>> from workbench import load_dataset, split, MLPClassifier
"""
from __future__ import annotations

import importlib

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


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted([*globals(), *_EXPORTS])


__all__ = sorted(_EXPORTS)

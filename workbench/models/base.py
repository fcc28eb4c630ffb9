"""What every workbench model shares: validation, persistence as (spec, arrays), signature.

Models follow scikit-learn's conventions (``__init__`` stores hyperparameters unchanged, ``fit``
validates and returns ``self``, learned state ends in ``_``), so they subclass its ``BaseEstimator``
and reuse its input checks, whose messages already tell a learner what to fix.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, is_classifier
from sklearn.utils.validation import check_is_fitted, validate_data

from .forward import DTYPES, SPEC_FORMAT, check_dtype  # noqa: F401 - also this module's API

#: fitted attributes a spec may carry besides a class's ``_spec_attributes``
_SPECIAL_ATTRIBUTES = {"classes_", "classes_dtype", "feature_names_in_", "history_"}
#: entries of ``_spec_attributes`` a spec may leave out (not every fit records them)
_OPTIONAL_ATTRIBUTES = {"n_iter_", "loss_", "converged_"}


def _to_json(value):
    """Hyperparameter value -> JSON value (tuples become lists)."""
    if isinstance(value, (tuple, list)):
        return [_to_json(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "config") and callable(value.config):  # an Optimizer instance
        return {"__optimizer__": value.config()}
    return value


def _from_json(value):
    if isinstance(value, list):
        return tuple(_from_json(v) for v in value)
    if isinstance(value, dict) and "__optimizer__" in value:
        from .optimizers import optimizer_from_config

        return optimizer_from_config(value["__optimizer__"])
    return value


class WorkbenchModel(BaseEstimator):
    """Mixin-style base: persistence, signature and the raw ``forward`` pass.

    Subclasses keep their learned weights in ``params_`` (a dict of arrays) and list in
    ``_spec_attributes`` the other fitted attributes that are plain JSON values.
    """

    _spec_attributes: tuple[str, ...] = ("n_features_in_", "n_outputs_")

    # -- the model maths ---------------------------------------------------------------------
    def forward(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """Raw outputs for an already-validated 2-D float array: probabilities or values."""
        raise NotImplementedError

    def _check_X(self, X) -> np.ndarray:
        """Validate X for prediction: fitted, 2-D, finite, the right number of features."""
        check_is_fitted(self, "params_")
        return validate_data(self, X, reset=False, dtype=check_dtype(self.dtype))

    # -- persistence -------------------------------------------------------------------------
    def to_spec(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Describe the fitted model as JSON values plus numeric arrays (no pickle involved).

        Returns
        -------
        spec : dict
            ``{"format", "class", "params", "attributes"}``, every value JSON-serialisable.
        arrays : dict of str to ndarray
            The learned weights, by name.
        """
        check_is_fitted(self, "params_")
        attributes = {name: _to_json(getattr(self, name)) for name in self._spec_attributes
                      if hasattr(self, name)}
        if hasattr(self, "classes_"):
            attributes["classes_"] = self.classes_.tolist()
            attributes["classes_dtype"] = self.classes_.dtype.str if self.classes_.dtype != object else "object"
        if hasattr(self, "feature_names_in_"):
            attributes["feature_names_in_"] = [str(f) for f in self.feature_names_in_]
        if getattr(self, "history_", None) is not None:
            attributes["history_"] = self.history_.as_dict()
        spec = {
            "format": SPEC_FORMAT,
            "class": type(self).__name__,
            "params": {k: _to_json(v) for k, v in self.get_params(deep=False).items()},
            "attributes": attributes,
        }
        arrays = {name: np.ascontiguousarray(a) for name, a in self.params_.items()}
        return spec, arrays

    @classmethod
    def _from_spec(cls, spec: dict, arrays: dict) -> "WorkbenchModel":
        from ..training import History

        params = {k: _from_json(v) for k, v in spec.get("params", {}).items()}
        unknown = sorted(set(params) - set(cls._get_param_names()))
        if unknown:
            raise ValueError(f"{cls.__name__} spec has parameters {unknown} that {cls.__name__} "
                             f"does not take")
        model = cls(**params)
        attrs = dict(spec.get("attributes", {}))
        stray = sorted(set(attrs) - set(cls._spec_attributes) - _SPECIAL_ATTRIBUTES)
        if stray:
            raise ValueError(f"{cls.__name__} spec has attributes {stray} that {cls.__name__} "
                             f"does not store")
        required = [a for a in cls._spec_attributes if a not in _OPTIONAL_ATTRIBUTES and a not in attrs]
        if required:
            raise ValueError(f"{cls.__name__} spec lacks the attributes {required}")
        if "classes_" in attrs:
            dtype = attrs.pop("classes_dtype", None)
            values = attrs.pop("classes_")
            model.classes_ = (np.array(values, dtype=object) if dtype in (None, "object")
                              else np.array(values, dtype=np.dtype(dtype)))
        if "feature_names_in_" in attrs:
            model.feature_names_in_ = np.array(attrs.pop("feature_names_in_"), dtype=object)
        history = attrs.pop("history_", None)
        model.history_ = History.from_dict(history) if history is not None else None
        for name, value in attrs.items():
            setattr(model, name, value)
        expected = model._param_shapes()
        missing = sorted(set(expected) - set(arrays))
        if missing:
            raise ValueError(f"{cls.__name__} spec needs arrays {missing}, which are missing")
        dtype = check_dtype(model.dtype)
        model.params_ = {}
        for name, shape in expected.items():
            a = np.asarray(arrays[name])
            if a.shape != shape:
                raise ValueError(f"array {name!r} has shape {a.shape}, expected {shape}")
            model.params_[name] = a.astype(model._param_dtype(name) or dtype, copy=True)
        return model

    def signature(self) -> dict:
        """The inputs the model expects and the outputs it gives (JSON values)."""
        check_is_fitted(self, "params_")
        names = getattr(self, "feature_names_in_", None)
        classifier = is_classifier(self)
        return {
            "task": "classification" if classifier else "regression",
            "n_features": int(self.n_features_in_),
            "feature_names": None if names is None else [str(n) for n in names],
            "dtype": str(self.dtype),
            "n_outputs": int(len(self.classes_) if classifier else self.n_outputs_),
            "classes": self.classes_.tolist() if classifier else None,
        }

    def _param_shapes(self) -> dict[str, tuple]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _param_dtype(self, name: str):
        """The dtype array ``name`` is stored in; None means the model's ``dtype``."""
        return None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


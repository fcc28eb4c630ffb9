"""TF-Serving / KServe v1 ``:predict`` requests: ``{"instances": [...]}``.

Same checks and statuses as :mod:`.protocol` (which re-exports these names).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ApiError


@dataclass
class V1Request:
    """A validated v1 (``:predict``) request."""

    X: np.ndarray
    probabilities: bool


def parse_v1(payload, signature: dict, limits) -> V1Request:
    """Validate ``{"instances": [[...], ...]}`` (rows as arrays, or objects keyed by feature name).

    ``"inputs"`` is accepted as a synonym of ``"instances"``. Set ``"probabilities": true`` to
    get class probabilities next to the predicted labels.
    """
    from . import protocol as _p

    if not isinstance(payload, dict):
        raise ApiError(400, f"request body must be a JSON object with an 'instances' array, "
                            f"got {_p._jtype(payload)}")
    key = "instances" if "instances" in payload or "inputs" not in payload else "inputs"
    rows = _p._field(payload, key, list, "request")
    want_proba = payload.get("probabilities", False)
    if not isinstance(want_proba, bool):
        raise ApiError(400, f"request.probabilities must be true or false, "
                            f"got {_p._jtype(want_proba)}")
    _p.check_rows(len(rows), limits, f"request.{key}")
    if isinstance(rows[0], dict):
        names = signature.get("feature_names")
        if not names:
            raise ApiError(422, f"request.{key} holds objects but the model has no feature names; "
                                f"send each row as an array of {signature['n_features']} numbers")
        try:
            rows = [[row[n] for n in names] for row in rows]
        except (KeyError, TypeError):
            raise ApiError(422, f"every object in request.{key} must have the keys "
                                f"{', '.join(names)}") from None
    arr = _p._numbers(rows, "FP64", f"request.{key}")
    if arr.ndim != 2:
        raise ApiError(422, f"request.{key} must be an array of rows, each an array of "
                            f"{signature['n_features']} numbers")
    return V1Request(_p.finish_matrix(arr, signature, f"request.{key}"), want_proba)

"""A stand-in model for registry tests that need no training: it only has to_spec/signature."""
from __future__ import annotations

import numpy as np


class FakeModel:
    """Holds one weight matrix; ``to_spec`` and ``signature`` follow docs/CONTRACTS.md."""

    def __init__(self, seed: int = 0, n_features: int = 4, size: int = 4):
        rng = np.random.default_rng(seed)
        self.seed = seed
        self.n_features = n_features
        self.coef_ = rng.normal(size=(n_features, size))

    def to_spec(self):
        spec = {"class": "FakeModel", "format": "workbench.model/1", "seed": self.seed}
        return spec, {"coef": self.coef_, "steps": np.array([self.seed], dtype=np.int64)}

    def signature(self):
        return {"task": "regression", "n_features": self.n_features, "feature_names": None,
                "dtype": "float64", "n_outputs": self.coef_.shape[1], "classes": None}


def expected_coef(seed: int, n_features: int = 4, size: int = 4) -> np.ndarray:
    """Return the weights ``FakeModel(seed, ...)`` holds."""
    return FakeModel(seed, n_features, size).coef_

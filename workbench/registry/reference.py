"""The drift reference: what monitoring needs later to compare live inputs with training data.

From the rows of ``X`` given at register time we keep, per feature:

- ``edges`` ``(n_features, n_bins + 1)``: quantile bin edges (equal-frequency bins on the
  training data; a feature with few distinct values gets repeated edges, i.e. empty bins);
- ``counts`` ``(n_features, n_bins)``: training rows per bin, counted with
  :func:`histogram_counts` (monitoring must count live data with the same function);
- ``quantiles`` ``(len(quantile_levels), n_features)`` at ``quantile_levels``;
- ``mean`` and ``std`` ``(n_features,)``;
- ``sample`` ``(<= 1000, n_features)``: a random subset of rows, the same for the same data
  (``np.random.default_rng(seed)``), for tests such as Kolmogorov-Smirnov.

It is stored as its own content-addressed blob (see :mod:`.codec`).
"""
from __future__ import annotations

import numpy as np

from .errors import InvalidInputError

QUANTILE_LEVELS = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
FORMAT = "workbench.reference/1"


def histogram_counts(X, edges) -> np.ndarray:
    """Count the rows of ``X`` falling in each bin of each feature.

    Bins are closed on the right: bin ``j`` of feature ``i`` holds
    ``edges[i, j] < x <= edges[i, j + 1]``; values at or below the first inner edge count in the
    first bin and values above the last inner edge in the last. Closing on the right keeps the
    values of a feature with few distinct values apart: for a 0/1 feature that is 0 in 90 % of
    the rows, every inner edge is 0, so 0 falls in the first bin and 1 in the last. Every row is
    counted once per feature.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    edges : ndarray of shape (n_features, n_bins + 1)

    Returns
    -------
    counts : ndarray of int64, shape (n_features, n_bins)

    Examples
    --------
    >>> histogram_counts([[0.0], [1.0], [2.0]], np.array([[0.0, 1.0, 2.0]]))
    array([[2, 1]])
    """
    X = np.asarray(X, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    n_bins = edges.shape[1] - 1
    counts = np.empty((edges.shape[0], n_bins), dtype=np.int64)
    for i in range(edges.shape[0]):
        idx = np.searchsorted(edges[i, 1:-1], X[:, i], side="left")
        counts[i] = np.bincount(idx, minlength=n_bins)
    return counts


def build_reference(X, feature_names=None, *, n_bins: int = 10, max_sample: int = 1000,
                    seed: int = 0) -> tuple[dict, dict[str, np.ndarray]]:
    """Compute the reference statistics of ``X``; return them as ``(spec, arrays)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training inputs, finite numbers.
    feature_names : list of str or None
        Names of the columns; ``x0, x1, ...`` when None.
    n_bins : int, default 10
        Quantile bins per feature.
    max_sample : int, default 1000
        Largest number of rows kept in ``sample``.
    seed : int, default 0
        Seed of the generator that picks the sample rows.
    """
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInputError("reference must be rows of numeric features (a 2-D array)") from None
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise InvalidInputError(f"reference must be a non-empty 2-D array (n_samples, n_features), "
                                f"got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise InvalidInputError("reference must hold finite numbers; it contains NaN or infinity")
    n, d = X.shape
    if feature_names is None:
        feature_names = [f"x{i}" for i in range(d)]
    feature_names = [str(f) for f in feature_names]
    if len(feature_names) != d:
        raise InvalidInputError(f"reference has {d} features but {len(feature_names)} feature names")
    edges = np.quantile(X, np.linspace(0.0, 1.0, n_bins + 1), axis=0).T.copy()
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=min(n, max_sample), replace=False))
    arrays = {
        "edges": edges,
        "counts": histogram_counts(X, edges),
        "quantiles": np.quantile(X, QUANTILE_LEVELS, axis=0),
        "mean": X.mean(axis=0),
        "std": X.std(axis=0),
        "sample": X[rows],
    }
    spec = {"format": FORMAT, "feature_names": feature_names, "n_rows": int(n),
            "n_features": int(d), "quantile_levels": list(QUANTILE_LEVELS), "seed": int(seed)}
    return spec, arrays


def as_dict(spec: dict, arrays: dict[str, np.ndarray]) -> dict:
    """Merge a stored reference ``(spec, arrays)`` into the dict :meth:`Registry.reference` returns."""
    out = dict(spec)
    out["quantile_levels"] = np.asarray(spec.get("quantile_levels", QUANTILE_LEVELS))
    out.update(arrays)
    return out

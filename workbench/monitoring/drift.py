"""Data drift: how far live inputs have moved from the training data a version was registered with.

Two measures per feature, against the reference the registry stored at register time
(:mod:`workbench.registry.reference`):

- **PSI**, the population stability index, over the reference's quantile bins:

  .. math::

      \\mathrm{PSI} = \\sum_b (a_b - e_b) \\ln \\frac{a_b}{e_b}

  where :math:`e_b` and :math:`a_b` are the shares of reference and live rows in bin :math:`b`
  (an empty bin is given a share of ``EPS`` so the logarithm stays finite). The usual reading:
  below 0.1 *stable*, 0.1 to 0.25 *moderate* shift, 0.25 and above *major* shift.
- the two-sample **Kolmogorov–Smirnov** test (:func:`scipy.stats.ks_2samp`) between the
  reference sample and the live rows: the largest gap between the two cumulative distributions
  and its p-value.

A feature counts as *drifted* when its PSI is in the major band **and** the KS test finds the
difference significant: with a few hundred live rows, PSI alone over-reads noise in features
with few distinct values (pixels that are almost always 0, say). Significance is at ``ALPHA``
shared over all features (Bonferroni: p < ALPHA / n_features), so a model with 64 inputs does
not raise a false alarm on some feature nearly every refresh. The *drift share* is the fraction
of drifted features.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: smallest share given to an empty bin, so that ln(a / e) stays finite
EPS = 1e-4
#: PSI band limits: [0, MODERATE) stable, [MODERATE, MAJOR) moderate, [MAJOR, inf) major
MODERATE, MAJOR = 0.1, 0.25
#: significance level of the KS test for calling a feature drifted
ALPHA = 0.05


def psi(expected_counts, actual_counts) -> float:
    """Population stability index between two histograms over the same bins.

    >>> psi([50, 50], [50, 50])
    0.0
    >>> round(psi([50, 50], [90, 10]), 4)   # (0.9-0.5)ln(0.9/0.5) + (0.1-0.5)ln(0.1/0.5)
    0.8789
    """
    e = np.asarray(expected_counts, dtype=np.float64)
    a = np.asarray(actual_counts, dtype=np.float64)
    if e.shape != a.shape or e.ndim != 1:
        raise ValueError(f"both histograms need the same bins, got shapes {e.shape} and {a.shape}")
    if e.sum() <= 0 or a.sum() <= 0:
        raise ValueError("PSI needs at least one row on each side")
    e = np.maximum(e / e.sum(), EPS)
    a = np.maximum(a / a.sum(), EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_band(value: float) -> str:
    """'stable', 'moderate' or 'major' for a PSI value."""
    return "stable" if value < MODERATE else ("moderate" if value < MAJOR else "major")


@dataclass(frozen=True)
class FeatureDrift:
    """Drift of one input feature."""

    feature: str
    psi: float
    band: str
    ks_statistic: float
    ks_pvalue: float
    reference_mean: float
    live_mean: float
    alpha: float = ALPHA  # the significance level for this feature (Bonferroni-corrected)

    @property
    def significant(self) -> bool:
        """Whether the KS test finds the live values unlikely under the reference."""
        return self.ks_pvalue < self.alpha

    @property
    def drifted(self) -> bool:
        return self.band == "major" and self.significant


@dataclass(frozen=True)
class DriftReport:
    """Drift of every feature of one model version over one window of live inputs."""

    model: str
    version: int
    n_live_rows: int
    features: tuple  # of FeatureDrift

    @property
    def drift_share(self) -> float:
        return sum(f.drifted for f in self.features) / len(self.features) if self.features else 0.0

    @property
    def status(self) -> str:
        """The worst band over the features whose shift is significant ('no data' when no live
        inputs were sampled)."""
        if not self.n_live_rows:
            return "no data"
        bands = {f.band for f in self.features if f.significant}
        return "major" if "major" in bands else ("moderate" if "moderate" in bands else "stable")

    def top(self, n: int = 10) -> list:
        """The ``n`` features with the largest PSI, largest first."""
        return sorted(self.features, key=lambda f: f.psi, reverse=True)[:n]


def drift_report(reference: dict, X_live, *, model: str = "", version: int = 0) -> DriftReport:
    """Compare live input rows with a version's stored reference.

    Parameters
    ----------
    reference : dict
        As returned by ``Registry.reference(name, version)``: ``feature_names``, ``edges``
        (n_features, n_bins + 1), ``counts`` (n_features, n_bins), ``sample`` (m, n_features).
    X_live : array-like of shape (n_rows, n_features)
    """
    from workbench.registry.reference import histogram_counts

    X = np.asarray(X_live, dtype=np.float64)
    names = list(reference["feature_names"])
    if X.size == 0:
        return DriftReport(model, version, 0, ())
    if X.ndim != 2 or X.shape[1] != len(names):
        raise ValueError(f"live inputs must have shape (n_rows, {len(names)}), got {X.shape}")
    # imported here, not with the module: a dashboard's first paint does without SciPy
    from scipy import stats

    live_counts = histogram_counts(X, reference["edges"])
    sample = np.asarray(reference["sample"], dtype=np.float64)
    features = []
    alpha = ALPHA / len(names)
    for i, name in enumerate(names):
        value = psi(reference["counts"][i], live_counts[i])
        ks = stats.ks_2samp(sample[:, i], X[:, i])
        features.append(FeatureDrift(name, value, psi_band(value), float(ks.statistic),
                                     float(ks.pvalue), float(reference["mean"][i]),
                                     float(X[:, i].mean()), alpha))
    return DriftReport(model, int(version), int(X.shape[0]), tuple(features))

"""Live quality per version: the logged predictions joined with the labels posted later.

For each version that answered in the window:

- classification: **accuracy** with a Wilson 95 % interval (good even near 0 or 1 and with few
  labels) and **macro-F1** (the mean over classes of F1) with a percentile bootstrap interval;
- regression: **RMSE** (interval from the normal approximation of the mean squared error,
  square-rooted) and **MAE** (normal approximation of the mean absolute error);
- ``labelled_rows`` and ``labelled_fraction`` (labelled rows / rows answered): quality measured
  on 3 % of the traffic is not the quality of all of it — always show the fraction;
- **prediction drift**: the version's live outputs against its outputs on its own training rows
  (the sample kept in the registry's drift reference), a chi-square test on class shares
  (classification) or a two-sample Kolmogorov-Smirnov test (regression).

The figures need no labels except the quality ones; a version with no labels has NaN there.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

Z95 = 1.959963984540054


@dataclass(frozen=True)
class PredictionDrift:
    """Live outputs against the version's outputs on its training sample."""

    test: str           # "chi-square" or "ks"
    statistic: float
    p_value: float
    n_live: int
    n_reference: int

    @property
    def drifted(self) -> bool:
        return self.p_value < 0.01


@dataclass(frozen=True)
class VersionQuality:
    """One version's quality over the window (NaN where there are no labels)."""

    version: int
    task: str
    labelled_rows: int
    served_rows: int
    accuracy: float = math.nan
    accuracy_ci: tuple = (math.nan, math.nan)
    macro_f1: float = math.nan
    macro_f1_ci: tuple = (math.nan, math.nan)
    rmse: float = math.nan
    rmse_ci: tuple = (math.nan, math.nan)
    mae: float = math.nan
    mae_ci: tuple = (math.nan, math.nan)
    prediction_drift: PredictionDrift | None = None
    timeline: tuple = ()   # (start, labelled rows, accuracy or rmse) per step

    @property
    def labelled_fraction(self) -> float:
        return self.labelled_rows / self.served_rows if self.served_rows else math.nan


@dataclass(frozen=True)
class QualityReport:
    """:meth:`Monitor.quality` of one model: ``versions`` newest first."""

    model: str
    window_s: float | None
    versions: tuple = field(default_factory=tuple)

    def get(self, version: int) -> VersionQuality | None:
        return next((v for v in self.versions if v.version == version), None)


def wilson(successes: int, n: int, z: float = Z95) -> tuple:
    """Wilson score interval of a proportion."""
    if n == 0:
        return (math.nan, math.nan)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def macro_f1(y_true, y_pred) -> float:
    """Mean over the classes seen (in truth or prediction) of F1 = 2TP / (2TP + FP + FN)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    scores = []
    for c in np.union1d(y_true, y_pred):
        tp = np.sum((y_true == c) & (y_pred == c))
        denominator = np.sum(y_true == c) + np.sum(y_pred == c)
        scores.append(2 * tp / denominator if denominator else 0.0)
    return float(np.mean(scores)) if scores else math.nan


def bootstrap_ci(fn, y_true, y_pred, n_boot: int = 200, seed: int = 0) -> tuple:
    """Percentile bootstrap 95 % interval of ``fn(y_true, y_pred)`` (resampling rows)."""
    n = len(y_true)
    if n < 2:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    values = [fn(y_true[idx], y_pred[idx]) for idx in rng.integers(0, n, size=(n_boot, n))]
    return (float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5)))


def mean_ci(values) -> tuple:
    """Normal-approximation 95 % interval of a mean."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2:
        return (math.nan, math.nan)
    half = Z95 * values.std(ddof=1) / math.sqrt(len(values))
    return (float(values.mean() - half), float(values.mean() + half))


def same_label(a, b) -> bool:
    """Whether a predicted and a true label are the same class (``3`` equals ``3.0``)."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return str(a) == str(b)


def _key(x):
    return float(x) if isinstance(x, (int, float)) else str(x)


def version_quality(version: int, task: str, pairs, served: int, drift=None,
                    timeline=()) -> VersionQuality:
    """Quality figures of ``pairs`` = [(prediction, label), ...] of one version."""
    n = len(pairs)
    base = {"version": version, "task": task, "labelled_rows": n, "served_rows": served,
            "prediction_drift": drift, "timeline": tuple(timeline)}
    if not n:
        return VersionQuality(**base)
    if task == "classification":
        hits = sum(same_label(p, t) for p, t in pairs)
        keys = [(_key(p), _key(t)) for p, t in pairs]
        kinds = {type(k) for pair in keys for k in pair}
        if len(kinds) > 1:                      # mixed numbers and strings: compare as text
            keys = [(str(p), str(t)) for p, t in keys]
        y_pred, y_true = np.array([k[0] for k in keys]), np.array([k[1] for k in keys])
        return VersionQuality(**base, accuracy=hits / n, accuracy_ci=wilson(hits, n),
                              macro_f1=macro_f1(y_true, y_pred),
                              macro_f1_ci=bootstrap_ci(macro_f1, y_true, y_pred))
    errors = np.array([float(np.ravel(p)[0]) - float(t) for p, t in pairs])
    squared, absolute = errors ** 2, np.abs(errors)
    lo, hi = mean_ci(squared)
    return VersionQuality(**base, rmse=float(math.sqrt(squared.mean())),
                          rmse_ci=(math.sqrt(max(lo, 0.0)), math.sqrt(max(hi, 0.0)))
                          if not math.isnan(lo) else (math.nan, math.nan),
                          mae=float(absolute.mean()), mae_ci=mean_ci(absolute))


def prediction_drift(task: str, reference_outputs, live_outputs) -> PredictionDrift | None:
    """Chi-square (classes) or KS (values) test of live outputs against reference outputs."""
    if not len(live_outputs) or not len(reference_outputs):
        return None
    if task == "classification":
        ref, live = Counter(map(_key, reference_outputs)), Counter(map(_key, live_outputs))
        classes = sorted(set(ref) | set(live), key=str)
        expected = np.array([ref.get(c, 0) + 0.5 for c in classes], dtype=np.float64)
        observed = np.array([live.get(c, 0) for c in classes], dtype=np.float64)
        expected *= observed.sum() / expected.sum()
        if len(classes) < 2:
            return PredictionDrift("chi-square", 0.0, 1.0, int(observed.sum()), sum(ref.values()))
        stat, p = stats.chisquare(observed, expected)
        return PredictionDrift("chi-square", float(stat), float(p), int(observed.sum()),
                               sum(ref.values()))
    ref = np.asarray(reference_outputs, dtype=np.float64).ravel()
    live = np.asarray(live_outputs, dtype=np.float64).ravel()
    result = stats.ks_2samp(live, ref)
    return PredictionDrift("ks", float(result.statistic), float(result.pvalue), len(live), len(ref))


def quality_report(tables, registry, model: str, lo: float, hi: float, *, step: float | None,
                   reference_outputs) -> QualityReport:
    """Join labels and predictions of ``model`` answered in [lo, hi] (see module docstring).

    ``reference_outputs(version)`` returns the version's outputs on its training sample, or None.
    """
    rows = tables.labelled_rows(model, lo, hi)
    served = tables.served_rows(model, lo, hi)
    by_version: dict = {}
    for version, at, _row, output, label in rows:
        by_version.setdefault(int(version), []).append((at, output, label))
    out = []
    for version in sorted(set(served) | set(by_version), reverse=True):
        try:
            task = (registry.get_version(model, version).signature or {}).get("task",
                                                                              "classification")
        except LookupError:
            task = "classification"
        items = by_version.get(version, [])
        pairs = [(o, t) for _, o, t in items]
        timeline = _timeline(task, items, step) if step else ()
        ref = reference_outputs(version)
        drift = None
        if ref is not None:
            drift = prediction_drift(task, ref, tables.served_outputs(model, version, lo, hi))
        out.append(version_quality(version, task, pairs, served.get(version, 0), drift, timeline))
    return QualityReport(model, None if math.isinf(hi - lo) else hi - lo, tuple(out))


def _timeline(task, items, step) -> list:
    """``(start, n, accuracy or rmse)`` per ``step`` seconds (only steps with labels)."""
    groups: dict = {}
    for at, output, label in items:
        groups.setdefault(int(at // step) * step, []).append((output, label))
    out = []
    for start in sorted(groups):
        q = version_quality(0, task, groups[start], 0)
        out.append((float(start), q.labelled_rows,
                    q.accuracy if task == "classification" else q.rmse))
    return out


def reference_outputs(registry, model: str, version: int, cache: dict):
    """The version's outputs on the training sample of its drift reference (None without one,
    or when the model cannot be loaded here), kept in ``cache``."""
    if (model, version) not in cache:
        outputs = None
        try:
            reference = registry.reference(model, version)
            if reference is not None and len(reference.get("sample", ())):
                outputs = np.asarray(registry.load(model, version).predict(
                    np.asarray(reference["sample"], dtype=np.float64))).tolist()
        except Exception:  # noqa: BLE001 - a model that cannot be loaded here: no drift, no error
            outputs = None
        cache[(model, version)] = outputs
    return cache[(model, version)]


"""Monitoring: the prediction log and what is computed from it — traffic, latency, errors, drift
and alerts. (The traffic simulator is :mod:`workbench.loadgen`, a client of the service.)

Never imports the web framework, so a dashboard kernel starts fast.
"""
from .._lazy import lazy_exports

# every name is loaded on first use: a serving worker writes the log (numpy + sqlite) without
# paying for SciPy (drift), and a dashboard's first paint does without it too
_EXPORTS = {
    **{name: ".alerts" for name in ("AlertRule", "AlertStatus", "DEFAULT_RULES")},
    **{name: ".drift" for name in ("DriftReport", "FeatureDrift", "drift_report", "psi")},
    **{name: ".log" for name in ("FILENAME", "PredictionLog", "PredictionRecord",
                                 "read_predictions", "wait_until_written")},
    **{name: ".monitor" for name in ("ModelHealth", "Monitor", "Snapshot", "TimeSeries",
                                     "VersionHealth")},
    **{name: ".versions" for name in ("VersionComparison", "VersionStats")},
}
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)

__all__ = ["FILENAME", "PredictionLog", "PredictionRecord", "read_predictions", "wait_until_written",
           "Monitor", "Snapshot", "ModelHealth", "VersionHealth", "TimeSeries", "VersionComparison",
           "VersionStats",
           "DriftReport", "FeatureDrift", "drift_report", "psi",
           "AlertRule", "AlertStatus", "DEFAULT_RULES"]

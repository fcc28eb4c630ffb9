"""Monitoring: the prediction log and what is computed from it — traffic, latency, errors, drift
and alerts — plus a traffic simulator.

Never imports the web framework, so a dashboard kernel starts fast.
"""
from .alerts import AlertRule, AlertStatus, DEFAULT_RULES
from .drift import DriftReport, FeatureDrift, drift_report, psi
from .log import FILENAME, PredictionLog, PredictionRecord, read_predictions, wait_until_written
from .monitor import ModelHealth, Monitor, Snapshot, TimeSeries, VersionHealth
from .versions import VersionComparison, VersionStats

from .._lazy import lazy_exports

# the simulator needs an HTTP client (httpx): loaded on first use, not by every dashboard kernel
__getattr__, __dir__ = lazy_exports(__name__, globals(), {
    name: ".simulator" for name in ("SimulationResult", "TrafficSimulator", "simulate")})


__all__ = ["FILENAME", "PredictionLog", "PredictionRecord", "read_predictions", "wait_until_written",
           "Monitor", "Snapshot", "ModelHealth", "VersionHealth", "TimeSeries", "VersionComparison",
           "VersionStats",
           "DriftReport", "FeatureDrift", "drift_report", "psi",
           "AlertRule", "AlertStatus", "DEFAULT_RULES",
           "TrafficSimulator", "SimulationResult", "simulate"]

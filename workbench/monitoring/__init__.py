"""Monitoring: the prediction log and what is computed from it — traffic, latency, errors, drift
and alerts. (The traffic simulator is :mod:`workbench.loadgen`, a client of the service.)

Never imports the web framework, so a dashboard kernel starts fast.
"""
from .alerts import AlertRule, AlertStatus, DEFAULT_RULES
from .drift import DriftReport, FeatureDrift, drift_report, psi
from .log import FILENAME, PredictionLog, PredictionRecord, read_predictions, wait_until_written
from .monitor import ModelHealth, Monitor, Snapshot, TimeSeries, VersionHealth
from .versions import VersionComparison, VersionStats

__all__ = ["FILENAME", "PredictionLog", "PredictionRecord", "read_predictions", "wait_until_written",
           "Monitor", "Snapshot", "ModelHealth", "VersionHealth", "TimeSeries", "VersionComparison",
           "VersionStats",
           "DriftReport", "FeatureDrift", "drift_report", "psi",
           "AlertRule", "AlertStatus", "DEFAULT_RULES"]

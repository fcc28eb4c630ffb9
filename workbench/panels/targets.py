"""The targets the dashboard's tiles are coloured against: green on target, amber watch, red act.

Every tile compares one figure with two stated thresholds: a *target* (green at or better than
it) and an *alert* level (red beyond it, the level at which the alert rule of the same metric
fires). Between the two the tile is amber. The alert levels follow the home's alert rules
(:meth:`Targets.following`), so a red tile and a firing alert always say the same thing.

>>> t = Targets(p99_ms=100, p99_ms_alert=250)
>>> [t.tone("p99", v) for v in (80, 180, 300)]
['good', 'warn', 'bad']
>>> Targets().tone("accuracy", 0.95), Targets().tone("accuracy", 0.5)
('good', 'bad')
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

#: tone of each colour as the tiles and tables use it
TONE_WORDS = {"good": "on target", "warn": "watch", "bad": "act now", "neutral": "for information"}


@dataclass(frozen=True)
class Targets:
    """Thresholds of the dashboard's tiles (configurable: ``MonitoringDashboard(targets=...)``).

    Parameters
    ----------
    p50_ms : float, default=50
        Median latency at or below which the p50 tile is green (amber above: the p99 tile
        carries the alert).
    p99_ms, p99_ms_alert : float, default=100, 250
        The p99 latency tile is green at or below ``p99_ms``, red above ``p99_ms_alert``.
    error_rate, error_rate_alert : float, default=0.01, 0.05
        Share of requests refused or failed: green at or below, red above.
    drift_share_alert : float, default=0.25
        Share of drifted input features above which the drift tile is red. The target is no
        drifted or shifting feature at all (green); anything in between is amber.
    accuracy, accuracy_alert : float, default=0.90, 0.80
        Live accuracy from posted labels: green at or above ``accuracy``, red below the alert.
    quiet_s : float, default=60
        Seconds without a request after which the request-rate tile turns amber.
    """

    p50_ms: float = 50.0
    p99_ms: float = 100.0
    p99_ms_alert: float = 250.0
    error_rate: float = 0.01
    error_rate_alert: float = 0.05
    drift_share_alert: float = 0.25
    accuracy: float = 0.90
    accuracy_alert: float = 0.80
    quiet_s: float = 60.0

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value < 0:
                raise ValueError(f"target {f.name} must be a finite number >= 0, got {value!r}")
        for good, bad in (("p99_ms", "p99_ms_alert"), ("error_rate", "error_rate_alert")):
            if getattr(self, good) > getattr(self, bad):
                raise ValueError(f"target {good}={getattr(self, good)!r} is worse than its alert "
                                 f"level {bad}={getattr(self, bad)!r}; the target must be the stricter one")
        if self.accuracy < self.accuracy_alert:
            raise ValueError(f"target accuracy={self.accuracy!r} is below its alert level "
                             f"accuracy_alert={self.accuracy_alert!r}")

    def following(self, rules, model: str | None = None) -> "Targets":
        """These targets with the alert levels of ``rules`` (for ``model`` or every model): the
        strictest rule of each metric; a target stricter than the rule is kept, a laxer one is
        tightened to the rule, so green never sits beyond a firing alert."""
        above = {"p99_latency_ms": "p99_ms", "error_rate": "error_rate", "drift_share": "drift_share"}
        changes: dict = {}
        for rule in rules:
            if rule.model not in (None, model):
                continue
            if rule.metric in above:
                key = above[rule.metric] + "_alert"
                changes[key] = min(changes.get(key, math.inf), float(rule.threshold))
            elif rule.metric == "accuracy":
                changes["accuracy_alert"] = max(changes.get("accuracy_alert", -math.inf), float(rule.threshold))
            elif rule.metric == "seconds_since_request":
                changes["quiet_s"] = min(changes.get("quiet_s", math.inf), float(rule.threshold))
        if "p99_ms_alert" in changes:
            changes["p99_ms"] = min(self.p99_ms, changes["p99_ms_alert"])
        if "error_rate_alert" in changes:
            changes["error_rate"] = min(self.error_rate, changes["error_rate_alert"])
        if "accuracy_alert" in changes:
            changes["accuracy"] = max(self.accuracy, changes["accuracy_alert"])
        return replace(self, **changes)

    def tone(self, metric: str, value) -> str:
        """'good', 'warn', 'bad' for ``value`` of ``metric`` ('p50', 'p99', 'errors', 'drift',
        'accuracy'); 'neutral' when there is no value."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "neutral"
        if metric == "p50":
            return "good" if value <= self.p50_ms else "warn"
        if metric == "p99":
            return upper_tone(value, self.p99_ms, self.p99_ms_alert)
        if metric == "errors":
            return upper_tone(value, self.error_rate, self.error_rate_alert)
        if metric == "drift":
            return upper_tone(value, 0.0, self.drift_share_alert)
        if metric == "accuracy":
            return lower_tone(value, self.accuracy, self.accuracy_alert)
        raise ValueError(f"no target for {metric!r}; choose p50, p99, errors, drift or accuracy")


def upper_tone(value: float, good: float, bad: float) -> str:
    """Lower is better: green at or below ``good``, red above ``bad``, amber between."""
    return "good" if value <= good else ("bad" if value > bad else "warn")


def lower_tone(value: float, good: float, bad: float) -> str:
    """Higher is better: green at or above ``good``, red below ``bad``, amber between."""
    return "good" if value >= good else ("bad" if value < bad else "warn")

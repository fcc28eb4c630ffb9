"""Alert rules: declared as data, evaluated on every refresh, their state shared through the home.

A rule names a metric of a model's health, a threshold, and fires while the metric is above it:

=========================  ==============================================================
metric                     meaning
=========================  ==============================================================
``p99_latency_ms``         99th percentile of server-side latency over the window
``error_rate``             share of requests answered with a 4xx or 5xx status (0–1)
``drift_share``            share of input features that drifted: PSI in the major band and a
                           significant KS test (0–1)
``seconds_since_request``  seconds since the model last answered a request
``accuracy``               live accuracy of the served version from posted labels (fires
                           while BELOW the threshold)
``rmse``                   live RMSE of the served version from posted labels (regressors)
``label_coverage``         labelled rows / rows answered by the served version (fires while
                           BELOW the threshold: labels stopped arriving)
=========================  ==============================================================

Transitions (a rule starts firing, or is resolved) are returned with ``changed=True`` by
:func:`evaluate`, exactly once across every process sharing the home (the state update is one
``BEGIN IMMEDIATE`` transaction); :meth:`Monitor.snapshot` hands them to the webhooks of
:mod:`.webhooks`, configured in the same ``alerts.json`` (``{"rules": [...], "webhooks": [...]}``).

State (``firing`` or ``resolved``, since when, last value) lives in the ``alert_state`` table of
the store (``<home>/predictions.db`` or PostgreSQL), so every viewer of every dashboard sees the same alerts. Rules may be
declared in Python or in ``<home>/alerts.json`` (a list of rule objects as in :meth:`AlertRule.as_dict`).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

METRICS = ("p99_latency_ms", "error_rate", "drift_share", "seconds_since_request")
#: metrics from posted labels (:meth:`Monitor.quality`)
QUALITY_METRICS = ("accuracy", "rmse", "label_coverage")
ALL_METRICS = METRICS + QUALITY_METRICS
#: metrics whose rules fire while the value is below the threshold
BELOW = frozenset({"accuracy", "label_coverage"})

@dataclass(frozen=True)
class AlertRule:
    """Fire while ``metric`` of ``model`` (every model when None) is above ``threshold``."""

    name: str
    metric: str
    threshold: float
    model: str | None = None

    def __post_init__(self):
        if self.metric not in ALL_METRICS:
            raise ValueError(f"unknown alert metric {self.metric!r}; choose one of "
                             f"{list(ALL_METRICS)}")
        if not isinstance(self.threshold, (int, float)) or not math.isfinite(self.threshold):
            raise ValueError(f"alert threshold must be a finite number, got {self.threshold!r}")
        if not self.name:
            raise ValueError("an alert rule needs a name")

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        unit = {"p99_latency_ms": " ms", "seconds_since_request": " s"}.get(self.metric, "")
        value = (f"{self.threshold:.0%}" if self.metric in ("error_rate", "drift_share", "accuracy",
                                                            "label_coverage")
                 else f"{self.threshold:g}{unit}")
        return f"{self.metric} {'<' if self.metric in BELOW else '>'} {value}"


def latency_above(ms: float, model=None) -> AlertRule:
    return AlertRule(f"p99 latency above {ms:g} ms", "p99_latency_ms", ms, model)


def error_rate_above(fraction: float, model=None) -> AlertRule:
    return AlertRule(f"error rate above {fraction:.0%}", "error_rate", fraction, model)


def drift_share_above(fraction: float, model=None) -> AlertRule:
    return AlertRule(f"drift share above {fraction:.0%}", "drift_share", fraction, model)


def accuracy_below(fraction: float, model=None) -> AlertRule:
    return AlertRule(f"accuracy below {fraction:.0%}", "accuracy", fraction, model)


def no_traffic_for(seconds: float, model=None) -> AlertRule:
    return AlertRule(f"no traffic for {seconds:g} s", "seconds_since_request", seconds, model)


DEFAULT_RULES = (latency_above(250), error_rate_above(0.05), drift_share_above(0.25),
                 no_traffic_for(60))


def load_rules(home) -> tuple:
    """Rules from ``<home>/alerts.json`` when it exists, else :data:`DEFAULT_RULES`."""
    path = Path(home) / "alerts.json"
    if not path.exists():
        return DEFAULT_RULES
    try:
        items = json.loads(path.read_text())
        if isinstance(items, dict):          # {"rules": [...], "webhooks": [...]}
            items = items.get("rules", [])
            if not items:
                return DEFAULT_RULES
        return tuple(AlertRule(**item) for item in items)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path} must be a JSON list of rules like "
                         f"{json.dumps(DEFAULT_RULES[0].as_dict())}: {exc}") from None


@dataclass(frozen=True)
class AlertStatus:
    """Where one rule stands for one model."""

    rule: AlertRule
    model: str
    state: str  # "firing", "resolved" or "ok"
    since: float
    value: float | None
    changed: bool = False   # this evaluation moved it to firing or resolved

    @property
    def firing(self) -> bool:
        return self.state == "firing"


def evaluate(tables, rules, values: dict, now: float | None = None) -> list:
    """Check every rule against ``values`` (model -> {metric: value}) and update the shared state
    in ``tables`` (a :class:`workbench.store.PredictionTables`), in one transaction.

    A rule starts firing when its metric goes above the threshold and is *resolved* when it
    comes back; ``since`` is when that last happened. A metric that is missing or NaN (no data)
    leaves the rule's state as it was.
    """
    now = time.time() if now is None else now
    out = []
    with tables.alert_transaction() as state_table:
        for model, metrics in sorted(values.items()):
            for rule in rules:
                if rule.model not in (None, model):
                    continue
                value = metrics.get(rule.metric)
                row = state_table.get(rule.name, model)
                old_state, since, old_value = row if row else ("ok", now, None)
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    out.append(AlertStatus(rule, model, old_state, since, old_value))
                    continue
                above = value < rule.threshold if rule.metric in BELOW else value > rule.threshold
                state = "firing" if above else ("resolved" if old_state in ("firing", "resolved") else "ok")
                if state != old_state and not (old_state == "resolved" and state == "resolved"):
                    since = now
                state_table.put(rule.name, model, state, since, float(value), now)
                out.append(AlertStatus(rule, model, state, since, float(value),
                                       changed=state != old_state and state != "ok"))
    return out

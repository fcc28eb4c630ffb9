"""``Monitor(home)``: the health of every served model, read from the prediction log's roll-ups
and the registry, as frozen dataclasses that panels draw.

All traffic figures come from the per-second roll-ups (:mod:`.rollup`), so a refresh reads a
few thousand rows whatever the size of the log; drift reads only the sampled input rows of the
window (at most ``drift_rows`` of them, newest first, through a partial index).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import orjson

from ..home import resolve_home
from . import alerts as _alerts
from . import upkeep as _upkeep
from .drift import DriftReport, drift_report
from .log import FILENAME, open_tables
from .rollup import percentile_from_buckets
from .traffic import TimeSeries, read_window, step_seconds, timeseries_of
from .versions import VersionComparison, compare_versions

#: seconds over which the current request rate is measured
RECENT_S = 60


def window_seconds(now: float, window: float) -> tuple[int, int]:
    """The whole seconds ``(lo, hi)`` of the roll-ups that make up the last ``window`` seconds
    before ``now``: ``hi`` is the second ``now`` falls in and the range holds ``window`` of them."""
    if not window > 0:
        raise ValueError(f"window must be a positive number of seconds, got {window!r}")
    hi = int(math.floor(now))
    return hi - max(1, int(round(window))) + 1, hi


@dataclass(frozen=True)
class VersionHealth:
    """Traffic of one model version over the window."""

    version: int
    requests: int
    share: float
    p50_ms: float
    p99_ms: float
    error_rate: float


@dataclass(frozen=True)
class ModelHealth:
    """Everything the dashboard shows about one model."""

    model: str
    window_s: float
    requests: int
    requests_per_s: float
    rows: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    error_rate: float
    errors_by_status: dict
    versions: tuple
    predictions: dict
    last_request: float | None
    aliases: dict
    live_version: int | None
    drift: DriftReport | None
    timeseries: TimeSeries | None = None
    recent_requests_per_s: float = 0.0  # over the last minute of the window (the current rate)
    comparison: VersionComparison | None = None  # versions side by side (canary, shadow)

    def metric_values(self, now: float) -> dict:
        """The values alert rules read (NaN where there is no data)."""
        return {
            "p99_latency_ms": self.p99_ms,
            "error_rate": self.error_rate if self.requests else math.nan,
            "drift_share": self.drift.drift_share if self.drift and self.drift.n_live_rows else math.nan,
            "seconds_since_request": (now - self.last_request) if self.last_request else math.nan,
        }


@dataclass(frozen=True)
class Snapshot:
    """One refresh: the health of each model and the alerts, at ``time``."""

    time: float
    window_s: float
    models: dict
    alerts: tuple

    @property
    def firing(self) -> list:
        return [a for a in self.alerts if a.firing]


class Monitor:
    """Read-side of monitoring for one workbench home.

    Parameters
    ----------
    home : path-like, optional
        The workbench home (``$WORKBENCH_HOME`` or ``artifacts/`` by default).
    rules : sequence of AlertRule, optional
        Alert rules; by default those in ``<home>/alerts.json``, else the defaults.
    store : str or None
        Store URL (``postgresql://…``); ``$WORKBENCH_STORE`` or SQLite in the home when None.

    Examples
    --------
    >>> mon = Monitor(home)                         # doctest: +SKIP
    >>> snap = mon.snapshot(window=300)             # doctest: +SKIP
    >>> snap.models["digits"].p99_ms                # doctest: +SKIP
    """

    def __init__(self, home=None, *, rules=None, store: str | None = None):
        from ..registry import Registry

        self.home = resolve_home(home)
        self.registry = Registry(self.home, store=store)
        self.rules = tuple(rules) if rules is not None else _alerts.load_rules(self.home)
        self.store = open_tables(self.home / FILENAME, store)
        self._tables = self.store.predictions

    def __repr__(self) -> str:
        return f"Monitor({str(self.home)!r}, {len(self.rules)} alert rules)"

    def close(self) -> None:
        self.store.close()
        self.registry.close()

    # -- which models ------------------------------------------------------------------------
    def models(self) -> list[str]:
        """Registered models, and any other model the log has answered for."""
        logged = self._tables.logged_models()
        return sorted(set(self.registry.models()) | set(logged))

    def live_version(self, model: str) -> int | None:
        """The version a request naming only the model gets: ``production``, else the latest."""
        try:
            aliases = self.registry.aliases(model)
            return aliases.get("production") or self.registry.resolve(model)
        except LookupError:
            return None

    def log_health(self, *, window: float = 3600.0, now: float | None = None) -> dict:
        """Whether the prediction log is complete: ``{"healthy", "dropped", "last_reason",
        "last_drop_at", "status"}``; unhealthy when a record was dropped in the last ``window``
        seconds (``status`` is "log healthy" or "N records dropped (last: reason)")."""
        return _upkeep.read_health(self._tables, window=window, now=now)

    # -- traffic -----------------------------------------------------------------------------
    def health(self, model: str, *, window: float = 300, now: float | None = None,
               step: float | None = None, drift_rows: int = 2000,
               with_drift: bool = True) -> ModelHealth:
        """Health of ``model`` over the last ``window`` seconds before ``now``
        (``with_drift=False``: without the drift report, which is then None)."""
        now = time.time() if now is None else float(now)
        lo, hi = window_seconds(now, window)
        t = self._tables
        rollups = read_window(t, model, lo, hi, step_seconds(window, step))
        status_rows = rollups.status_by_version
        lat_rows = rollups.latency_by_version
        outputs = dict(rollups.output_counts)
        last = t.last_second(model)
        recent_span = int(min(RECENT_S, window))
        recent = t.requests_between(model, hi - recent_span, hi - 1)  # complete seconds only

        requests = sum(r[2] for r in status_rows)
        errors = {}
        for _, status, n, _ in status_rows:
            if status >= 400:
                errors[int(status)] = errors.get(int(status), 0) + int(n)
        n_errors = sum(errors.values())
        buckets = np.array([r[1] for r in lat_rows])
        counts = np.array([r[2] for r in lat_rows])
        def pct(b, c, p):
            return percentile_from_buckets(b, c, p) if len(c) else math.nan
        versions = []
        for v in sorted({r[0] for r in status_rows} - {0}):
            v_req = sum(r[2] for r in status_rows if r[0] == v)
            v_err = sum(r[2] for r in status_rows if r[0] == v and r[1] >= 400)
            mask = np.array([r[0] == v for r in lat_rows], dtype=bool)
            versions.append(VersionHealth(int(v), int(v_req), v_req / requests if requests else 0.0,
                                          pct(buckets[mask], counts[mask], 50),
                                          pct(buckets[mask], counts[mask], 99),
                                          v_err / v_req if v_req else 0.0))
        try:
            aliases = self.registry.aliases(model)
        except LookupError:
            aliases = {}
        live = self.live_version(model)
        return ModelHealth(
            model=model, window_s=float(window), requests=int(requests),
            requests_per_s=requests / window if window else 0.0,
            recent_requests_per_s=recent / recent_span if recent_span else 0.0,
            rows=int(sum(r[3] for r in status_rows)),
            p50_ms=pct(buckets, counts, 50), p95_ms=pct(buckets, counts, 95), p99_ms=pct(buckets, counts, 99),
            error_rate=n_errors / requests if requests else 0.0, errors_by_status=errors,
            versions=tuple(versions), predictions={k: int(v) for k, v in outputs.items()},
            last_request=float(last) if last is not None else None, aliases=aliases, live_version=live,
            drift=(self.drift(model, live, window=window, now=now, max_rows=drift_rows)
                   if live and with_drift else None),
            timeseries=timeseries_of(rollups),
            comparison=compare_versions(self._tables, self.registry, model, lo=lo, hi=hi,
                                        rollups=rollups),
        )

    def compare_versions(self, model: str, *, window: float = 300, now: float | None = None,
                         alias: str = "production") -> VersionComparison:
        """Every version of ``model`` side by side over the window, for a canary or shadow of
        ``alias``: traffic share, latency, errors, agreement, prediction distribution."""
        now = time.time() if now is None else float(now)
        lo, hi = window_seconds(now, window)
        return compare_versions(self._tables, self.registry, model, alias=alias, lo=lo, hi=hi)

    def timeseries(self, model: str, *, window: float = 300, now: float | None = None,
                   step: float | None = None) -> TimeSeries:
        """Requests per second, p50/p99 latency and error rate in steps of ``step`` seconds
        (about 60 steps over the window by default)."""
        now = time.time() if now is None else float(now)
        step = step_seconds(window, step)
        lo, hi = window_seconds(now, window)
        return timeseries_of(read_window(self._tables, model, lo, hi, step))

    # -- drift -------------------------------------------------------------------------------
    def live_inputs(self, model: str, *, version: int | None = None, window: float = 300,
                    now: float | None = None, max_rows: int = 2000,
                    n_features: int | None = None) -> np.ndarray:
        """The newest sampled input rows of ``model`` (answered by ``version``, when given) in the
        window, at most ``max_rows``. Rows of another width than ``n_features`` (default: that of
        the newest row) are left out."""
        now = time.time() if now is None else float(now)
        rows: list = []
        for (blob,) in self._tables.sampled_inputs(model, now - window, now, version,
                                                   page=max(1, int(max_rows))):
            batch = orjson.loads(blob)
            if n_features is None and batch:
                n_features = len(batch[0])
            rows.extend(r for r in batch if len(r) == n_features)
            if len(rows) >= max_rows:
                break
        if n_features is not None and not rows:
            return np.empty((0, n_features))
        return np.asarray(rows[:max_rows], dtype=np.float64)

    def drift(self, model: str, version: int | None = None, *, window: float = 300,
              now: float | None = None, max_rows: int = 2000) -> DriftReport | None:
        """Drift of the window's sampled inputs against ``version``'s reference (default: live).
        None when that version was registered without a reference."""
        version = version or self.live_version(model)
        if version is None:
            return None
        reference = self._reference(model, version)
        if reference is None:
            return None
        X = self.live_inputs(model, version=version, window=window, now=now, max_rows=max_rows,
                             n_features=len(reference["feature_names"]))
        return drift_report(reference, X, model=model, version=version)

    def _reference(self, model: str, version: int) -> dict | None:
        """The version's drift reference, decoded once per content hash (a stored reference
        never changes: the hash names its bytes)."""
        sha = self.registry.get_version(model, version).reference_sha256
        if sha is None:
            return None
        cache = self.__dict__.setdefault("_references", {})
        if sha not in cache:
            cache[sha] = self.registry.reference(model, version)
        return cache[sha]

    # -- quality from labels (see .quality) ----------------------------------------------------
    def quality(self, model: str, window: float | None = None, *, now: float | None = None,
                step: float | None = None):
        """Accuracy/macro-F1 or RMSE/MAE per version from posted labels over the last ``window``
        seconds (all time when None), with 95 % intervals, labelled fraction and prediction
        drift; ``step`` adds a timeline. Returns a :class:`~.quality.QualityReport`.

        Right after a snapshot, the same question for the snapshot's instant (the dashboard's
        quality table) gets the report the snapshot's alert values were computed from, once;
        every other call computes afresh, so labels posted in between are never missed."""
        from .quality import quality_report

        now = time.time() if now is None else float(now)
        key = (model, window, now, step)
        last = self.__dict__.pop("_last_quality", None)
        if last is not None and last[0] == key:
            return last[1]
        lo = -math.inf if window is None else now - float(window)
        return quality_report(self.store.loop, self.registry, model, lo, now, step=step,
                              reference_outputs=lambda v: self._reference_outputs(model, v))

    def _reference_outputs(self, model: str, version: int):
        from .quality import reference_outputs

        return reference_outputs(self.registry, model, version,
                                 self.__dict__.setdefault("_ref_outputs", {}))

    def quality_values(self, model: str, *, window: float, now: float) -> dict:
        """The label-based alert metrics of the live version (NaN without labels)."""
        if not self.store.database("loop").table_exists("labels"):
            return {}                        # no label was ever posted to this home
        live = self.live_version(model)
        report = self.quality(model, window, now=now)
        self._last_quality = ((model, window, float(now), None), report)  # for the next question
        q = report.get(live) if live else None
        if q is None:
            return {}
        return {"accuracy": q.accuracy, "rmse": q.rmse,
                "label_coverage": q.labelled_fraction if q.served_rows else math.nan}

    # -- one refresh -------------------------------------------------------------------------
    def snapshot(self, *, window: float = 300, now: float | None = None, models=None,
                 step: float | None = None) -> Snapshot:
        """Health of every model (or of ``models``) and the alert states after this refresh."""
        now = time.time() if now is None else float(now)
        names = list(models) if models is not None else self.models()
        healths = {m: self.health(m, window=window, now=now, step=step) for m in names}
        values = {m: {**h.metric_values(now), **self.quality_values(m, window=window, now=now)}
                  for m, h in healths.items()}
        states = _alerts.evaluate(self._tables, self.rules, values, now=now)
        changed = [s for s in states if s.changed]
        if changed:
            from .webhooks import alert_event, deliver_in_background, load_webhooks
            deliver_in_background(self.home, load_webhooks(self.home),
                                  [alert_event(s) for s in changed])
        return Snapshot(now, float(window), healths, tuple(states))


"""The monitoring dashboard: is the service up and fast, which version is live, is the data drifting.

It draws what :class:`workbench.monitoring.Monitor` computes; it computes nothing itself.
``refresh()`` redraws everything once; ``start()`` refreshes every few seconds from an asyncio
task on the kernel's event loop, which works in JupyterLab and in Voila alike (a blocking loop
would stop the page from loading). Charts are swapped in as whole PNG outputs and the other
parts are updated under ``hold_sync()``, so a refresh never flickers.
"""
from __future__ import annotations

import asyncio
import math
import time
from html import escape

import ipywidgets as widgets
import numpy as np

from ..monitoring import Monitor
from ..monitoring.usage import usage_report
from .plots import figure_to_output
from .dashboard_html import (alerts_html, drift_table_html, history_html, kpi_tile, versions_html)
from .rollback_control import RollbackControl
from .usage_view import usage_html
from ..rollout.state import load_state
from .loop_html import quality_html, rollout_html

#: header naming the client that acts with a key (the audit log shows ``dashboard (key NAME)``)
ACTOR_HEADER = "X-Workbench-Actor"
WINDOWS = {"last minute": 60, "last 5 minutes": 300, "last 15 minutes": 900, "last hour": 3600}


class MonitoringDashboard(widgets.VBox):
    """A live dashboard over one workbench home.

    Parameters
    ----------
    home : path-like, optional
        The workbench home (``$WORKBENCH_HOME`` by default).
    model : str, optional
        The model to show first (default: the first registered one).
    window : int, default=300
        Seconds of traffic each refresh looks at.
    interval : float, default=3
        Seconds between refreshes once :meth:`start` is called.
    url, maintainer_key : str, optional
        The service's URL and a ``maintainer`` API key, needed to roll back.
    allow_rollback : bool, default=False
        Show the *Roll back* control (it asks for confirmation naming the versions, then calls
        the service's management API as ``dashboard (key NAME)`` in the audit log). Off unless
        asked for, so a page shown to stakeholders holds no production lever by accident.

    Examples
    --------
    >>> dash = MonitoringDashboard(home, model="digits")   # doctest: +SKIP
    >>> dash.refresh(); dash.kpis["p99"]                    # doctest: +SKIP
    """

    def __init__(self, home=None, *, model=None, window: int = 300, interval: float = 3.0,
                 url: str | None = None, maintainer_key: str | None = None, monitor=None,
                 allow_rollback: bool = False):
        self.monitor = monitor if monitor is not None else Monitor(home)
        self.interval = float(interval)
        self.url, self._maintainer_key = url, maintainer_key
        self.allow_rollback = bool(allow_rollback)
        self._task = None
        self.snapshot = None
        self.kpis: dict = {}
        models = self.monitor.models()
        self._model = widgets.Dropdown(description="model", options=models or ["(no models yet)"],
                                       value=model if model in models else (models[0] if models else "(no models yet)"))
        self._window = widgets.Dropdown(description="window", options=list(WINDOWS.items()), value=window
                                        if window in WINDOWS.values() else 300)
        self._updated = widgets.HTML()
        self._tiles = {key: widgets.HTML(layout=widgets.Layout(min_width="130px", flex="1 1 0"))
                       for key in ("version", "rps", "requests", "p50", "p99", "errors", "drift")}
        for key, tile in self._tiles.items():
            tile.add_class("wb-kpi")
            tile.add_class(f"wb-kpi-{key}")
        self._charts = widgets.Output()
        self._charts.add_class("wb-charts")
        self._versions = widgets.HTML()
        self._versions.add_class("wb-versions")
        self._drift = widgets.HTML()
        self._drift.add_class("wb-drift")
        self._alerts = widgets.HTML()
        self._alerts.add_class("wb-alerts")
        self._history = widgets.HTML()
        self._history.add_class("wb-history")
        self._usage = widgets.HTML()
        self._usage.add_class("wb-usage-view")
        self._quality = widgets.HTML()      # live quality from labels (issue 14)
        self._quality.add_class("wb-quality-panel")
        self._rollout = widgets.HTML()      # automatic rollout state (issue 14)
        self._rollout.add_class("wb-rollout-panel")
        self._rollback_control = RollbackControl(self._rollback_plan, self.rollback)
        self._rollback_button = self._rollback_control.button
        self._message = widgets.HTML()
        self._message.add_class("wb-message")
        self._refreshing = False
        self._model.observe(self._on_control_change, names="value")
        self._window.observe(self._on_control_change, names="value")
        controls = [self._rollback_control] if self.can_roll_back else []
        super().__init__([
            widgets.HBox([self._model, self._window, self._updated]),
            widgets.HBox(list(self._tiles.values()), layout=widgets.Layout(flex_flow="row wrap")),
            self._alerts,
            self._charts,
            widgets.HBox([self._versions, self._drift], layout=widgets.Layout(flex_flow="row wrap")),
            widgets.VBox([widgets.HTML("<h4>Usage per consumer (this window)</h4>"), self._usage]),
            widgets.HBox([self._quality, self._rollout], layout=widgets.Layout(flex_flow="row wrap")),
            widgets.VBox([widgets.HTML("<h4>Version history</h4>"), self._history, *controls, self._message]),
        ])
        self.add_class("wb-dashboard")

    # -- public actions ----------------------------------------------------------------------
    @property
    def model(self) -> str | None:
        value = self._model.value
        return None if value == "(no models yet)" else value

    @property
    def can_roll_back(self) -> bool:
        return bool(self.allow_rollback and self.url and self._maintainer_key)

    def _rollback_plan(self, alias: str = "production"):
        registry = self.monitor.registry
        return (self.model, alias, registry.aliases(self.model).get(alias),
                registry.rollback_target(self.model, alias))

    def _on_control_change(self, _change):
        if not self._refreshing:  # a refresh that updates the model list must not recurse
            self.refresh()

    def refresh(self, now: float | None = None, *, quick: bool = False):
        """Recompute the snapshot and redraw every part; returns the snapshot.

        ``quick=True`` is a first paint: the tiles, versions and history from the roll-ups
        only — no drift, alerts or charts (nor the SciPy and matplotlib imports they need, nor
        an alert evaluation); returns None. The next full refresh draws the rest.
        """
        self._refreshing = True
        try:
            return self._quick_refresh(now) if quick else self._refresh(now)
        finally:
            self._refreshing = False

    def _quick_refresh(self, now):
        name = self.model
        if name is None:
            self._updated.value = "<i>no model is registered in this home yet</i>"
            return
        health = self.monitor.health(name, window=self._window.value, now=now, with_drift=False)
        self.kpis = _kpis(health)
        tiles = self.kpis_display(health)
        tiles["drift"] = ("data drift", "…", "computing", "neutral")
        with self.hold_sync():
            for key, tile in self._tiles.items():
                tile.value = kpi_tile(*tiles[key])
            self._versions.value = versions_html(health)
            self._history.value = history_html(self.monitor.registry.history(name)[-8:])
            self._updated.value = "<span class='wb-updated'>loading drift and charts…</span>"

    def _threshold(self, metric: str, default: float) -> float:
        """The lowest threshold the alert rules set on ``metric`` for this model (tile colours
        follow the same rules as the alerts)."""
        limits = [r.threshold for r in self.monitor.rules if r.metric == metric and r.model in (None, self.model)]
        return min(limits) if limits else default

    def _refresh(self, now):
        models = self.monitor.models()
        if models and list(self._model.options) != models:
            current = self._model.value
            self._model.options = models
            self._model.value = current if current in models else models[0]
        name = self.model
        if name is None:
            self._updated.value = "<i>no model is registered in this home yet</i>"
            return None
        snap = self.monitor.snapshot(window=self._window.value, now=now, models=[name])
        health = snap.models[name]
        self.snapshot = snap
        self.kpis = _kpis(health)
        with self.hold_sync():
            for key, tile in self._tiles.items():
                tile.value = kpi_tile(*self.kpis_display(health)[key])
            self._alerts.value = alerts_html([a for a in snap.alerts if a.model == name])
            self._versions.value = versions_html(health)
            self._drift.value = drift_table_html(health.drift)
            self._history.value = history_html(self.monitor.registry.history(name)[-8:])
            self._usage.value = usage_html(self.usage(snap.time))
            self._quality.value = quality_html(self.monitor.quality(name, self._window.value, now=now))
            self._rollout.value = rollout_html(load_state(self.monitor.home, name))
            self._updated.value = f"<span class='wb-updated'>updated {time.strftime('%H:%M:%S', time.localtime(snap.time))}</span>"
        self._charts.outputs = (figure_to_output(_charts_figure(health)),)
        return snap

    def usage(self, now: float | None = None) -> list:
        """Usage per consumer (every model) over the current window, as :class:`UsageRow` s."""
        now = time.time() if now is None else now
        return usage_report(self.monitor.home, by="model", since=now - self._window.value,
                            until=now + 1, period="all")

    def kpis_display(self, health) -> dict:
        """Each tile as (label, value text, note, tone)."""
        k = self.kpis
        live = health.live_version
        others = " · ".join(f"{a} v{v}" for a, v in sorted(health.aliases.items()) if a != "production")
        alias = ("production" if "production" in health.aliases else "latest") + (f" · {others}" if others else "")
        drift = health.drift
        return {
            "version": ("live version", f"v{live}" if live else "–", alias, "neutral"),
            "rps": ("requests / s", _fmt(k["rps"], 2), f"last {int(min(60, health.window_s))} s", "neutral"),
            "requests": ("requests", str(k["requests"]), "in the window", "neutral"),
            "p50": ("p50 latency", _fmt(k["p50"], 1, " ms"), "median", "neutral"),
            "p99": ("p99 latency", _fmt(k["p99"], 1, " ms"), "tail",
                    "bad" if k["p99"] > self._threshold("p99_latency_ms", math.inf) else "neutral"),
            "errors": ("errors", _fmt(100 * k["error_rate"], 1, " %"),
                       ", ".join(f"{s}: {n}" for s, n in sorted(health.errors_by_status.items())) or "none",
                       "bad" if k["error_rate"] > self._threshold("error_rate", math.inf) else "good"),
            "drift": ("data drift", drift.status if drift else "no reference",
                      f"{drift.drift_share:.0%} of features" if drift and drift.n_live_rows else "",
                      {"major": "bad", "moderate": "warn", "stable": "good"}.get(drift.status if drift else "", "neutral")),
        }

    def rollback(self, alias: str = "production"):
        """Ask the service to move ``alias`` back to its previous version (maintainer key)."""
        if not self.can_roll_back:
            raise PermissionError("rolling back needs allow_rollback=True, the service URL and a "
                                  "maintainer key")
        import httpx

        response = httpx.post(f"{self.url.rstrip('/')}/v2/models/{self.model}/aliases/{alias}/rollback",
                              headers={"Authorization": f"Bearer {self._maintainer_key}",
                                       ACTOR_HEADER: "dashboard"}, timeout=10)
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if response.status_code >= 400:
            self._message.value = f"<span style='color:#b00'>roll back refused: {escape(str(body.get('error', response.text)))}</span>"
        else:
            self._message.value = f"<span>{alias} rolled back to v{escape(str(body.get('model_version', '?')))}</span>"
            self.refresh()
        return response.status_code

    def start(self, interval: float | None = None, *, delay: float = 0.0):
        """Refresh every ``interval`` seconds from a task on the running event loop, the first
        time after ``delay`` seconds (after a quick first paint, this lets the page show first)."""
        if interval is not None:
            self.interval = float(interval)
        self.stop()

        async def loop():
            if delay > 0:
                await asyncio.sleep(delay)
            while True:
                try:
                    self.refresh()
                    if "refresh failed" in self._message.value:
                        self._message.value = ""  # recovered
                except Exception as exc:  # noqa: BLE001 - keep the dashboard alive; show what went wrong
                    self._message.value = f"<span style='color:#b00'>refresh failed: {escape(str(exc))}</span>"
                await asyncio.sleep(self.interval)

        self._task = asyncio.ensure_future(loop())
        return self._task

    def stop(self):
        """Stop the periodic refresh."""
        if self._task is not None:
            self._task.cancel()
            self._task = None


def _fmt(value, digits, unit=""):
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}{unit}"


def _kpis(health) -> dict:
    return {"live_version": health.live_version, "rps": health.recent_requests_per_s, "requests": health.requests,
            "p50": health.p50_ms, "p99": health.p99_ms, "error_rate": health.error_rate,
            "drift_share": health.drift.drift_share if health.drift else None,
            "drift_status": health.drift.status if health.drift else None}


def _charts_figure(health):
    """Throughput and latency over time, and the prediction distribution, side by side."""
    # imported here, not with the module: the first paint of a dashboard does without it
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 2.8), layout="constrained")
    ax_rps, ax_lat, ax_pred = fig.subplots(1, 3, width_ratios=[1.2, 1.2, 1])
    ts = health.timeseries
    if ts is not None and len(ts.start):
        t = ts.start - ts.start[-1]
        ax_rps.plot(t, ts.requests_per_s, color="#1f77b4")
        ax_rps.fill_between(t, ts.requests_per_s * np.nan_to_num(ts.error_rate), color="#d62728", alpha=0.5,
                            label="errors")
        ax_lat.plot(t, ts.p50_ms, label="p50")
        ax_lat.plot(t, ts.p99_ms, label="p99")
        ax_lat.legend(loc="upper left", fontsize="small")
    ax_rps.set(title="requests / s", xlabel="seconds ago")
    ax_lat.set(title="latency (ms)", xlabel="seconds ago")
    items = list(health.predictions.items())[:12]
    if items:
        ax_pred.bar([k for k, _ in items], [v for _, v in items], color="#7f7f7f")
    ax_pred.set(title="predictions")
    ax_pred.tick_params(axis="x", labelsize="small")
    return fig

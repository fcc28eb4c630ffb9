"""The monitoring dashboard: is the service up and fast, which version is live, is the data drifting.

It draws what :class:`workbench.monitoring.Monitor` computes; it computes nothing itself.
``refresh()`` redraws everything once; ``start()`` refreshes every few seconds from an asyncio
task on the kernel's event loop, which works in JupyterLab and in Voila alike (a blocking loop
would stop the page from loading). Charts are swapped in as whole PNG outputs and the other
parts are updated under ``hold_sync()``, so a refresh never flickers.
"""
from __future__ import annotations

import asyncio
import logging
import time
from html import escape

import ipywidgets as widgets

from ..monitoring import Monitor
from ..monitoring.usage import usage_report
from ..rollout.state import load_state
from .actions import error_html
from .dashboard_html import alerts_html, history_html, kpi_tile, versions_html
from .drift_html import drift_summary_html, drift_table_html
from .loop_html import quality_html, rollout_html
from .plots import figure_to_output, traffic_figure
from .rollback_control import RollbackControl
from .targets import Targets
from .tiles import build_tiles
from .usage_view import usage_html

#: header naming the client that acts with a key (the audit log shows ``dashboard (key NAME)``)
ACTOR_HEADER = "X-Workbench-Actor"
log = logging.getLogger("workbench.panels")
WINDOWS = {"last minute": 60, "last 5 minutes": 300, "last 15 minutes": 900, "last hour": 3600}
TILE_KEYS = ("version", "rps", "requests", "p50", "p99", "errors", "drift", "quality")
PAGE_NOTE = (
    "<div class='wb-page-note' style='font-family:sans-serif;font-size:13px;max-width:900px;"
    "background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:6px 10px'>"
    "<b>How to read it.</b> One model, refreshed every few seconds. Each tile gives one figure, "
    "what it means and its target: <b style='color:#1a7f37'>green</b> on target, "
    "<b style='color:#b08800'>amber</b> watch, <b style='color:#cf222e'>red</b> act now (the red "
    "levels are the alert rules'). Alerts and drift say what to do; the figures behind the "
    "drift tile are under <i>Details</i>.</div>")


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
    targets : Targets, optional
        The thresholds the tiles are coloured against (defaults: :class:`~.targets.Targets`);
        the red levels follow the monitor's alert rules for the model.

    Examples
    --------
    >>> dash = MonitoringDashboard(home, model="digits")   # doctest: +SKIP
    >>> dash.refresh(); dash.kpis["p99"]                    # doctest: +SKIP
    """

    def __init__(self, home=None, *, model=None, window: int = 300, interval: float = 3.0,
                 url: str | None = None, maintainer_key: str | None = None, monitor=None,
                 allow_rollback: bool = False, targets: Targets | None = None):
        if targets is not None and not isinstance(targets, Targets):
            raise TypeError(f"targets must be a workbench.panels.targets.Targets, got {type(targets).__name__}")
        self.monitor = monitor if monitor is not None else Monitor(home)
        self.base_targets = targets if targets is not None else Targets()
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
        self._tiles = {key: widgets.HTML(layout=widgets.Layout(flex="1 1 150px", max_width="300px"))
                       for key in TILE_KEYS}
        for key, tile in self._tiles.items():
            tile.add_class("wb-kpi")
            tile.add_class(f"wb-kpi-{key}")
        self._charts = widgets.Output()
        self._charts.add_class("wb-charts")
        self._versions = widgets.HTML()
        self._versions.add_class("wb-versions")
        self._drift = widgets.HTML()            # the drift sentence and what to do
        self._drift.add_class("wb-drift")
        self._drift_table = widgets.HTML()      # per feature, folded into the details
        self._details = widgets.Accordion(children=[self._drift_table], selected_index=None,
                                          titles=("Details: drift per feature (PSI and KS test) "
                                                  "and the rule behind the drift tile",))
        self._details.add_class("wb-details")
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
        self._rollback_button.layout.width = "auto"   # the whole label, never cut off
        self._message = widgets.HTML()
        self._message.add_class("wb-message")
        self._refreshing = False
        self._model.observe(self._on_control_change, names="value")
        self._window.observe(self._on_control_change, names="value")
        controls = [self._rollback_control] if self.can_roll_back else []
        super().__init__([
            widgets.HTML(PAGE_NOTE),
            widgets.HBox([self._model, self._window, self._updated]),
            widgets.HBox(list(self._tiles.values()), layout=widgets.Layout(flex_flow="row wrap")),
            self._alerts,
            self._charts,
            widgets.HBox([self._versions, self._drift], layout=widgets.Layout(flex_flow="row wrap")),
            self._details,
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

    @property
    def targets(self) -> Targets:
        """The targets in force for the current model: ``targets`` with the alert rules' levels."""
        return self.base_targets.following(self.monitor.rules, self.model)

    def _rollback_plan(self, alias: str = "production"):
        registry = self.monitor.registry
        return (self.model, alias, registry.aliases(self.model).get(alias),
                registry.rollback_target(self.model, alias))

    def _on_control_change(self, _change):
        if not self._refreshing:  # a refresh that updates the model list must not recurse
            try:
                self.refresh()
            except Exception as exc:  # noqa: BLE001 - a dropdown callback must not raise; say what failed
                self._show_failure(f"show {self._model.value}", exc)

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
        tiles = self.tiles(health, pending=True)
        with self.hold_sync():
            for key, tile in self._tiles.items():
                tile.value = kpi_tile(tiles[key])
            self._versions.value = versions_html(health)
            self._history.value = history_html(self.monitor.registry.history(name)[-8:])
            self._updated.value = "<span class='wb-updated'>loading drift and charts…</span>"

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
        quality = self.monitor.quality(name, self._window.value, now=snap.time)
        targets = self.targets
        tiles = self.tiles(health, quality)
        with self.hold_sync():
            for key, tile in self._tiles.items():
                tile.value = kpi_tile(tiles[key])
            self._alerts.value = alerts_html([a for a in snap.alerts if a.model == name])
            self._versions.value = versions_html(health)
            self._drift.value = drift_summary_html(health.drift, targets)
            self._drift_table.value = drift_table_html(health.drift)
            self._history.value = history_html(self.monitor.registry.history(name)[-8:])
            self._usage.value = usage_html(self.usage(snap.time))
            self._quality.value = quality_html(quality)
            self._rollout.value = rollout_html(load_state(self.monitor.home, name))
            self._updated.value = f"<span class='wb-updated'>updated {time.strftime('%H:%M:%S', time.localtime(snap.time))}</span>"
        self._charts.outputs = (figure_to_output(traffic_figure(
            health, now=snap.time, window=self._window.value, targets=targets)),)
        return snap

    def usage(self, now: float | None = None) -> list:
        """Usage per consumer (every model) over the current window, as :class:`UsageRow` s."""
        now = time.time() if now is None else now
        return usage_report(self.monitor.home, by="model", since=now - self._window.value,
                            until=now + 1, period="all")

    def tiles(self, health, quality=None, *, pending: bool = False) -> dict:
        """Each tile as a :class:`~.tiles.Tile` (label, value, note, caption, target, tone);
        ``quality`` is a :class:`QualityReport` (its live version's row feeds the accuracy tile)."""
        live = quality.get(health.live_version) if quality is not None and health.live_version else None
        return build_tiles(health, self.targets, live, pending=pending)

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
                    self._show_failure("refresh", exc)
                await asyncio.sleep(self.interval)

        self._task = asyncio.ensure_future(loop())
        return self._task

    def _show_failure(self, action: str, exc: Exception):
        """What failed and what to do, in the page's status line (no traceback: stakeholders
        read this page, and a traceback names the server's files; it goes to the log)."""
        log.warning("%s failed", action, exc_info=True)
        self._message.value = error_html(action, exc, with_traceback=False)

    def stop(self):
        """Stop the periodic refresh."""
        if self._task is not None:
            self._task.cancel()
            self._task = None


def _kpis(health) -> dict:
    return {"live_version": health.live_version, "rps": health.recent_requests_per_s, "requests": health.requests,
            "p50": health.p50_ms, "p99": health.p99_ms, "error_rate": health.error_rate,
            "drift_share": health.drift.drift_share if health.drift else None,
            "drift_status": health.drift.status if health.drift else None}

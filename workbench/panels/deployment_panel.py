"""The deployment panel: start and stop an endpoint, see the live version, send a sample
request, promote and roll back; manage API keys (:attr:`DeploymentPanel.keys_panel`).

Every button only calls a public method (:meth:`DeploymentPanel.start`, :meth:`~DeploymentPanel.stop`,
:meth:`~DeploymentPanel.send_sample`, :meth:`~DeploymentPanel.promote`,
:meth:`~DeploymentPanel.rollback`, :meth:`~DeploymentPanel.refresh`), so the panel works the same
from plain Python and in tests.
"""
from __future__ import annotations

import json
from html import escape

import ipywidgets as widgets
import numpy as np

from ..registry import Registry
from ..serving import deploy
from .actions import button, labelled, row, run_action
from .keys_panel import KeysPanel

DEFAULT = "(production, else latest)"


class DeploymentPanel(widgets.VBox):
    """Deploy a registered model and manage it while it serves.

    Parameters
    ----------
    home : path-like, optional
        Workbench home.
    deploy_kwargs : dict, optional
        Extra arguments of :func:`workbench.serving.deploy` (``workers``, ``port`` ...).

    Examples
    --------
    >>> panel = DeploymentPanel(home=tmp_home)     # doctest: +SKIP
    >>> panel.start("iris"); panel.send_sample()   # doctest: +SKIP
    >>> panel.promote(2); panel.stop()             # doctest: +SKIP
    """

    def __init__(self, *, home=None, deploy_kwargs: dict | None = None, **kwargs):
        self.registry = Registry(home)
        self.home = self.registry.home
        self.deploy_kwargs = dict(deploy_kwargs or {})
        self.endpoint = None
        self._model = labelled(widgets.Dropdown, "model", options=[])
        self._alias = labelled(widgets.Dropdown, "serve", options=[DEFAULT])
        self._start = button("start", button_style="success", icon="play")
        self._stop = button("stop", button_style="danger", icon="stop")
        self._status = widgets.HTML()
        self._sample = button("send sample request", icon="paper-plane")
        self._answer = widgets.HTML()
        self._version = labelled(widgets.Dropdown, "version", options=[])
        self._promote = button("promote to production", button_style="info")
        self._rollback = button("roll back production", button_style="warning", icon="undo")
        self._refresh = button("refresh", icon="refresh")
        self._message = widgets.HTML()
        self._message.add_class("workbench-deployment-message")
        self._start.on_click(lambda _b: self._safely("start", self.start))
        self._stop.on_click(lambda _b: self._safely("stop", self.stop))
        self._sample.on_click(lambda _b: self._safely("send sample request", self.send_sample))
        self._promote.on_click(lambda _b: self._safely("promote to production", self.promote,
                                                       self._version.value))
        self._rollback.on_click(lambda _b: self._safely("roll back production", self.rollback))
        self._refresh.on_click(lambda _b: self._safely("refresh", self.refresh))
        self._model.observe(lambda _c: self._safely("show model", self._fill_model), names="value")
        #: API keys: scopes, expiry, rotation, quotas (see :class:`~.keys_panel.KeysPanel`)
        self.keys_panel = KeysPanel(home=self.home)
        keys_section = widgets.Accordion(children=[self.keys_panel], titles=("API keys",))
        super().__init__(children=[
            widgets.HTML("<b>Deployment</b>"),
            row(self._model, self._alias, self._start, self._stop, self._refresh),
            self._status,
            row(self._sample), self._answer,
            row(self._version, self._promote, self._rollback),
            self._message, keys_section], **kwargs)
        self.add_class("workbench-deployment-panel")
        self.refresh()

    def __repr__(self) -> str:
        where = self.endpoint.url if self.endpoint is not None and self.endpoint.running else "-"
        return f"<DeploymentPanel home={self.home} model={self._model.value!r} endpoint={where}>"

    # -- actions ---------------------------------------------------------------------------
    def refresh(self) -> dict:
        """Re-read models, aliases and versions; update the status line; return :meth:`status`."""
        with self.hold_sync():
            models = self.registry.models()
            current = self._model.value
            self._model.options = models
            if models:
                self._model.value = current if current in models else models[0]
            self._fill_model()
        return self.status()

    def start(self, name: str | None = None, *, alias: str | None = None):
        """Deploy ``name`` (the selected model) serving ``alias`` (or the bare name)."""
        if name is not None:
            self._model.value = name
        if alias is not None:
            self._alias.value = alias
        if not self._model.value:
            raise ValueError("no model is registered in this home yet; register one first")
        self.stop()
        chosen = self._alias.value
        self.endpoint = deploy(self._model.value, home=self.home,
                               alias=None if chosen == DEFAULT else chosen, **self.deploy_kwargs)
        self._show_status()
        return self.endpoint

    def stop(self) -> None:
        """Stop the running endpoint, if any."""
        if self.endpoint is not None:
            self.endpoint.stop()
            self.endpoint = None
        self._show_status()

    def send_sample(self, X=None) -> dict:
        """Send ``X`` (default: rows of the version's drift reference, else zeros) and show the
        answer; return the v2 answer."""
        endpoint = self._running()
        if X is None:
            X = self._sample_rows()
        answer = endpoint.infer(X)
        self._answer.value = ("<pre class='workbench-deployment-answer' style='font-size:12px'>"
                              + escape(json.dumps(answer, indent=1)[:2000]) + "</pre>")
        self._show_status()
        return answer

    def promote(self, version: int, alias: str = "production") -> dict:
        """Point ``alias`` at ``version`` (through the endpoint when it runs)."""
        name = self._model.value
        if self.endpoint is not None and self.endpoint.running:
            result = self.endpoint.set_alias(alias, int(version))
        else:
            self.registry.set_alias(name, alias, int(version))
            result = {"name": name, "alias": alias, "model_version": str(version)}
        self._message.value = f"{escape(name)}: {escape(alias)} → v{escape(str(version))}"
        self._fill_model()
        return result

    def rollback(self, alias: str = "production") -> dict:
        """Move ``alias`` back to its previous version (through the endpoint when it runs)."""
        name = self._model.value
        if self.endpoint is not None and self.endpoint.running:
            result = self.endpoint.rollback(alias)
        else:
            result = {"name": name, "alias": alias,
                      "model_version": str(self.registry.rollback(name, alias))}
        self._message.value = (f"{escape(name)}: {escape(alias)} rolled back to "
                               f"v{escape(result['model_version'])}")
        self._fill_model()
        return result

    def status(self) -> dict:
        """``{"running", "url", "model", "live_version"}`` of the endpoint."""
        running = self.endpoint is not None and self.endpoint.running
        live = None
        if running:
            try:
                live = self.endpoint.live_version()
            except Exception:  # noqa: BLE001 - shown as unknown
                live = None
        return {"running": running, "url": self.endpoint.url if running else None,
                "model": self._model.value, "live_version": live}

    # -- internals -------------------------------------------------------------------------
    def _running(self):
        if self.endpoint is None or not self.endpoint.running:
            raise RuntimeError("no endpoint is running; press start (or call .start()) first")
        return self.endpoint

    def _sample_rows(self) -> np.ndarray:
        name = self._model.value
        version = self.registry.get_version(name)
        reference = self.registry.reference(name, version.version)
        if reference is not None and reference.get("sample") is not None:
            return np.asarray(reference["sample"], dtype=float)[:2]
        return np.zeros((1, version.signature["n_features"]))

    def _fill_model(self) -> None:
        name = self._model.value
        if not name:
            return
        aliases = self.registry.aliases(name)
        versions = [v.version for v in self.registry.versions(name) if not v.archived]
        with self.hold_sync():
            self._alias.options = [DEFAULT, *sorted(aliases)]
            self._version.options = versions
            if versions:
                self._version.value = versions[-1]
        self._show_status(aliases)

    def _show_status(self, aliases=None) -> None:
        state = self.status()
        if aliases is None and state["model"]:
            aliases = self.registry.aliases(state["model"])
        alias_text = ", ".join(f"{a} → v{v}" for a, v in sorted((aliases or {}).items())) or "none"
        if state["running"]:
            text = (f"<span style='color:#1a7f37'>● running</span> at "
                    f"<code>{escape(state['url'])}</code>; live version "
                    f"<b>v{state['live_version']}</b>")
        else:
            text = "<span style='color:#999'>● stopped</span>"
        self._status.value = (f"<div class='workbench-deployment-status'>{text}; aliases: "
                              f"{escape(alias_text)}</div>")

    def _safely(self, action: str, func, *args):
        """Run a button's action; show any error under it (what failed, what to do)."""
        return run_action(action, func, *args, show=self._show_error)

    def _show_error(self, html: str) -> None:
        self._message.value = html

"""The registry panel: versions with metrics and aliases, model cards, promote, roll back, compare.

Every button only calls a public method (:meth:`RegistryPanel.promote`, :meth:`~RegistryPanel.rollback`,
:meth:`~RegistryPanel.compare` ...), so the panel works the same from plain Python and in tests.
"""
from __future__ import annotations

from html import escape

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from ..registry import Registry
from ..registry.records import format_time
from .actions import button, labelled, row, run_action

PROMOTE_ALIASES = ("staging", "production")
_CELL = "padding: 2px 8px; text-align: right; border-bottom: 1px solid #eee"


def versions_table_html(versions, selected=None) -> str:
    """Return an HTML table of ``versions`` (metrics as columns, aliases, author, time)."""
    if not versions:
        return "<i>no versions</i>"
    keys = []
    for v in versions:
        keys += [k for k in v.metrics if k not in keys]
    head = "".join(f"<th style='{_CELL}'>{escape(h)}</th>"
                   for h in ["version", *keys, "aliases", "author", "registered"])
    rows = []
    for v in versions:
        style = " style='background:#e8f0fe'" if v.version == selected else ""
        aliases = ", ".join(v.aliases) + (" (archived)" if v.archived else "")
        cells = [f"v{v.version}", *(f"{v.metrics[k]:.4g}" if k in v.metrics else "-" for k in keys),
                 aliases or "-", v.author, format_time(v.created_at)]
        rows.append(f"<tr{style}>" + "".join(f"<td style='{_CELL}'>{escape(c)}</td>" for c in cells)
                    + "</tr>")
    return ("<table class='workbench-versions' style='border-collapse: collapse; font-size: 13px'>"
            f"<tr>{head}</tr>{''.join(rows)}</table>")


def traffic_html(routes) -> str:
    """One line per alias: its versions and shares, and its shadow."""
    if not routes:
        return "<i>no aliases</i>"
    lines = []
    for alias, route in routes.items():
        split = " + ".join(f"{w:.0%} v{v}" for v, w in route.weights.items())
        shadow = f" &nbsp;(shadow v{route.shadow})" if route.shadow else ""
        lines.append(f"<b>{escape(alias)}</b>: {split}{shadow}")
    return "<div class='workbench-traffic' style='font-size: 13px'>" + "<br>".join(lines) + "</div>"


class RegistryPanel(widgets.VBox):
    """Browse and manage the registry in a notebook.

    Parameters
    ----------
    registry : Registry or None
        The registry to show; a ``Registry(home)`` when None.
    home : path-like or None
        Home of that registry when ``registry`` is None.

    Examples
    --------
    >>> panel = RegistryPanel(home=tmp_home)       # doctest: +SKIP
    >>> panel.promote("production", version=2)     # doctest: +SKIP
    >>> panel                                      # doctest: +SKIP
    """

    def __init__(self, registry: Registry | None = None, *, home=None, **kwargs):
        self.registry = registry if registry is not None else Registry(home)
        self._model = labelled(widgets.Dropdown, "model", options=[])
        self._table = widgets.HTML()
        self._version = labelled(widgets.Dropdown, "version", options=[])
        self._card = widgets.HTML()
        self._promote_buttons = {a: button(f"promote to {a}",
                                           button_style="success" if a == "production" else "info")
                                 for a in PROMOTE_ALIASES}
        self._rollback_alias = labelled(widgets.Dropdown, "alias", options=list(PROMOTE_ALIASES),
                                        value="production")
        self._rollback_button = button("roll back", button_style="warning", icon="undo")
        self._v1 = labelled(widgets.Dropdown, "compare", options=[])
        self._v2 = labelled(widgets.Dropdown, "with", options=[])
        self._canary_percent = labelled(widgets.IntSlider, "canary %", value=10, min=1, max=50)
        self._canary_button = button("canary selected", button_style="info")
        self._canary_promote = button("promote canary", button_style="success")
        self._canary_abort = button("abort canary", button_style="danger")
        self._shadow_button = button("shadow selected")
        self._unshadow_button = button("stop shadow")
        self._traffic = widgets.HTML()
        self._rollout = widgets.HTML()      # the automatic rollout of the model, if any
        self._compare_button = button("compare", icon="columns")
        self._comparison = widgets.HTML()
        self._plot = widgets.Output()
        self._status = widgets.HTML()
        self._status.add_class("workbench-registry-status")
        for alias, b in self._promote_buttons.items():
            b.on_click(lambda _b, a=alias: self._safely(f"promote to {a}", self.promote, a))
        self._rollback_button.on_click(lambda _b: self._safely(
            f"roll back {self._rollback_alias.value}", self.rollback, self._rollback_alias.value))
        self._compare_button.on_click(lambda _b: self._safely("compare", self.compare))
        alias = lambda: self._rollback_alias.value  # noqa: E731 - the alias the row acts on
        self._canary_button.on_click(lambda _b: self._safely(
            "canary", self.canary, self._canary_percent.value, alias()))
        self._canary_promote.on_click(lambda _b: self._safely(
            "promote canary", self.promote_canary, alias()))
        self._canary_abort.on_click(lambda _b: self._safely("abort canary", self.abort_canary, alias()))
        self._shadow_button.on_click(lambda _b: self._safely("shadow", self.shadow, alias()))
        self._unshadow_button.on_click(lambda _b: self._safely("stop shadow", self.shadow, alias(), None))
        self._model.observe(lambda ch: self._safely("show model", self.select_model, ch["new"]),
                            names="value")
        self._version.observe(lambda ch: self._safely("show version", self.select_version, ch["new"]),
                              names="value")
        super().__init__(children=[
            widgets.HTML("<b>Model registry</b>"), self._model, self._table,
            row(self._version, *self._promote_buttons.values()),
            row(self._rollback_alias, self._rollback_button),
            row(self._canary_percent, self._canary_button, self._canary_promote,
                self._canary_abort, self._shadow_button, self._unshadow_button),
            self._traffic, self._rollout, self._status, self._card,
            row(self._v1, self._v2, self._compare_button), self._comparison, self._plot,
        ], **kwargs)
        self.add_class("workbench-registry-panel")
        self.refresh()

    def __repr__(self) -> str:
        return f"RegistryPanel(home={str(self.registry.home)!r}, model={self.model!r})"

    # ------------------------------------------------------------------ state readers
    @property
    def model(self) -> str | None:
        """The selected model name."""
        return self._model.value

    @property
    def version(self) -> int | None:
        """The selected version number."""
        return self._version.value

    @property
    def status(self) -> str:
        """The last message shown (HTML)."""
        return self._status.value

    @property
    def table_html(self) -> str:
        """The versions table (HTML)."""
        return self._table.value

    @property
    def traffic_html(self) -> str:
        """How each alias of the selected model splits its traffic (HTML)."""
        return self._traffic.value

    @property
    def card_html(self) -> str:
        """The model card of the selected version (HTML)."""
        return self._card.value

    # ------------------------------------------------------------------ actions
    def refresh(self) -> None:
        """Re-read the registry, keeping the selection when it still exists."""
        names = self.registry.models()
        keep = self._model.value if self._model.value in names else (names[0] if names else None)
        with self.hold_sync():
            self._model.options = names
            self._model.value = keep
            self.select_model(keep, keep_version=True)

    def select_model(self, name, keep_version: bool = False) -> None:
        """Show the versions of model ``name`` and select its latest (or keep the current one)."""
        if name is None:
            self._table.value, self._card.value = "<i>the registry is empty</i>", ""
            self._version.options = self._v1.options = self._v2.options = []
            return
        versions = self.registry.versions(name)
        numbers = [v.version for v in versions]
        current = self._version.value if keep_version and self._version.value in numbers else None
        with self.hold_sync():
            if self._model.value != name:
                self._model.value = name
            self._version.options = [(f"v{n}", n) for n in numbers]
            self._version.value = current if current is not None else numbers[-1]
            self._v1.options = self._v2.options = [(f"v{n}", n) for n in numbers]
            self._v1.value = numbers[-2] if len(numbers) > 1 else numbers[-1]
            self._v2.value = numbers[-1]
            self.select_version(self._version.value)
            self._rollout.value = rollout_panel_html(self.registry, name)

    def select_version(self, version) -> None:
        """Show the model card of ``version`` of the selected model."""
        if version is None or self.model is None:
            self._card.value = ""
            return
        if self._version.value != version:
            self._version.value = version
        mv = self.registry.get_version(self.model, version)
        self._table.value = versions_table_html(self.registry.versions(self.model), version)
        self._traffic.value = traffic_html(self.registry.routes(self.model))
        self._card.value = mv._repr_html_()

    def promote(self, alias: str, version: int | None = None):
        """Point ``alias`` of the selected model at ``version`` (the selected one when None)."""
        version = self.version if version is None else version
        mv = self.registry.set_alias(self.model, alias, version)
        self.refresh()
        self._say(f"{self.model}: {alias} -> v{mv.version}")
        return mv

    def rollback(self, alias: str = "production") -> int:
        """Move ``alias`` of the selected model back one step; return the version it now names."""
        version = self.registry.rollback(self.model, alias)
        self.refresh()
        self._say(f"{self.model}: {alias} rolled back to v{version}")
        return version

    def canary(self, percent: float = 10, alias: str = "production", version: int | None = None):
        """Send ``percent`` % of ``alias``'s traffic to ``version`` (the selected one when None),
        the rest to the version the alias names now; return the AliasRoute."""
        version = self.version if version is None else version
        primary = self.registry.route(self.model, alias).version
        if not 0 < percent < 100:
            raise ValueError(f"percent must be between 0 and 100, got {percent!r}")
        if version == primary:
            raise ValueError(f"v{version} already answers {alias!r}; select another version")
        route = self.registry.set_split(self.model, alias,
                                        {primary: 100 - percent, version: percent})
        self.refresh()
        self._say(f"{self.model}: {alias} -> {percent:g} % v{version}, rest v{primary}")
        return route

    def promote_canary(self, alias: str = "production") -> int:
        """End ``alias``'s split in favour of its canary; return that version."""
        version = self.registry.promote(self.model, alias)
        self.refresh()
        self._say(f"{self.model}: {alias} canary v{version} promoted")
        return version

    def abort_canary(self, alias: str = "production") -> int:
        """End ``alias``'s split: all traffic back to its primary; return that version."""
        version = self.registry.abort(self.model, alias)
        self.refresh()
        self._say(f"{self.model}: {alias} canary aborted, back to v{version}")
        return version

    def shadow(self, alias: str = "production", version: int | None = -1):
        """Copy ``alias``'s traffic to ``version`` (default: the selected one; None stops)."""
        version = self.version if version == -1 else version
        route = self.registry.set_shadow(self.model, alias, version)
        self.refresh()
        self._say(f"{self.model}: {alias} shadow " + ("off" if version is None else f"v{version}"))
        return route

    def compare(self, v1: int | None = None, v2: int | None = None):
        """Show two versions side by side (table and bar chart); return the Comparison."""
        v1 = self._v1.value if v1 is None else v1
        v2 = self._v2.value if v2 is None else v2
        cmp = self.registry.compare(self.model, v1, v2)
        self._v1.value, self._v2.value = cmp.v1, cmp.v2
        self._comparison.value = cmp._repr_html_()
        with self._plot:
            self._plot.clear_output(wait=True)
            fig = self.comparison_figure(cmp)
            plt.show()
            plt.close(fig)
        return cmp

    @staticmethod
    def comparison_figure(cmp):
        """Return a bar chart of the metrics two versions share."""
        keys = [k for k, (a, b) in cmp.metrics.items() if a is not None and b is not None]
        fig, ax = plt.subplots(figsize=(1.6 + 1.2 * max(len(keys), 1), 3))
        x = np.arange(len(keys))
        ax.bar(x - 0.2, [cmp.metrics[k][0] for k in keys], 0.4, label=f"v{cmp.v1}")
        ax.bar(x + 0.2, [cmp.metrics[k][1] for k in keys], 0.4, label=f"v{cmp.v2}")
        ax.set_xticks(x, keys)
        ax.set_title(f"{cmp.name}: v{cmp.v1} vs v{cmp.v2}")
        ax.legend()
        fig.tight_layout()
        return fig

    # ------------------------------------------------------------------ helpers
    def _say(self, message: str, error: bool = False) -> None:
        color = "#b00020" if error else "#2b7a2b"
        self._status.value = f"<span style='color:{color}'>{escape(message)}</span>"

    def _safely(self, action: str, func, *args):
        """Run a button's action; show any error in the status line (what failed, what to do)."""
        return run_action(action, func, *args, show=self._show_error)

    def _show_error(self, html: str) -> None:
        self._status.value = html


def rollout_panel_html(registry, name: str) -> str:
    """Where the automatic rollout of ``name`` stands (see ``workbench rollout``)."""
    from ..rollout.state import load_state
    from .loop_html import rollout_html

    return rollout_html(load_state(registry.home, name))

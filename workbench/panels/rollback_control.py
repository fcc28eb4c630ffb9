"""The dashboard's *Roll back* control: a button that first asks, naming the versions.

Pressing *Roll back production…* does nothing yet: it shows "Roll back production of digits
from v2 → v1?" with *Yes, roll back* and *Cancel*. Only *Yes* acts. The control is shown only
when the dashboard is told to (``allow_rollback=True``); a stakeholder page never holds a
production lever by accident. When reading the plan or acting fails (the registry was closed, the
service does not answer), the control says so in its own message line.
"""
from __future__ import annotations

from html import escape

import ipywidgets as widgets

from .actions import button, run_action

#: environment variable that turns the control on in the Voila app (``workbench demo --allow-rollback``)
ROLLBACK_ENV = "WORKBENCH_DASHBOARD_ROLLBACK"


class RollbackControl(widgets.VBox):
    """Button -> confirmation (from → to) -> action.

    Parameters
    ----------
    plan : callable () -> (model, alias, from_version, to_version or None)
        What a roll back would do now (read from the registry, nothing changed).
    act : callable (alias) -> None
        Does it (the dashboard calls the service).
    """

    def __init__(self, plan, act, alias: str = "production"):
        self._plan, self._act, self.alias = plan, act, alias
        self.button = button(f"Roll back {alias}…", icon="undo", button_style="warning")
        self.button.add_class("wb-rollback")
        self.question = widgets.HTML()
        self.question.add_class("wb-rollback-question")
        self.confirm = button("Yes, roll back", button_style="danger")
        self.confirm.add_class("wb-rollback-confirm")
        self.cancel = button("Cancel")
        self.cancel.add_class("wb-rollback-cancel")
        self.box = widgets.VBox([self.question, widgets.HBox([self.confirm, self.cancel])],
                                layout=widgets.Layout(display="none"))
        self.box.add_class("wb-rollback-box")
        #: what went wrong with the last click (what failed and what to do), else empty
        self.message = widgets.HTML()
        self.message.add_class("wb-rollback-message")
        self.pending = None
        self.button.on_click(lambda _: self._safely(f"roll back {alias}", self.ask))
        self.confirm.on_click(lambda _: self._safely(f"roll back {alias}", self.go))
        self.cancel.on_click(lambda _: self.close())
        super().__init__([self.button, self.box, self.message],
                         layout=widgets.Layout(align_items="flex-start"))  # buttons keep their width

    def ask(self) -> str:
        """Show the question naming the versions; return its text."""
        self.message.value = ""
        model, alias, current, target = self._plan()
        if target is None:
            self.pending = None
            text = f"{alias} of {model} has no earlier version to roll back to (it is at v{current})."
            self.confirm.disabled = True
        else:
            self.pending = (model, alias, current, target)
            text = f"Roll back {alias} of {model} from v{current} → v{target}?"
            self.confirm.disabled = False
        self.question.value = f"<b>{escape(text)}</b>"
        self.box.layout.display = "flex"
        return text

    def go(self):
        """The confirmation: act on what was asked, then hide the question."""
        pending, self.pending = self.pending, None
        self.message.value = ""
        self.close()
        if pending is not None:
            return self._act(pending[1])
        return None

    def close(self):
        self.box.layout.display = "none"

    def _safely(self, action: str, func):
        return run_action(action, func, show=self._show_error)

    def _show_error(self, html: str) -> None:
        self.close()
        self.message.value = html

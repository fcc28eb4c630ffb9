"""The API-keys part of the deployment panel: create scoped, expiring, limited keys; rotate,
limit and revoke them; see when each was last used and its quotas.

Every button calls a public method (:meth:`KeysPanel.create`, :meth:`~KeysPanel.rotate`,
:meth:`~KeysPanel.limit`, :meth:`~KeysPanel.revoke`, :meth:`~KeysPanel.refresh`), so it works the
same from plain Python and in tests. A new secret is shown once, in the panel, and never kept.
"""
from __future__ import annotations

import datetime as _dt
from html import escape

import ipywidgets as widgets

from ..serving.key_options import parse_duration, parse_expiry
from ..serving.keys import ROLES, KeyStore
from .actions import button, labelled, row, run_action


def _when(at) -> str:
    if at is None:
        return "-"
    return _dt.datetime.fromtimestamp(at, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


def _optional_int(text: str):
    text = (text or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(f"expected a whole number, got {text!r:.30}")
    return int(text)


class KeysPanel(widgets.VBox):
    """Manage the API keys of a workbench home.

    Examples
    --------
    >>> panel = KeysPanel(home=tmp_home)                                   # doctest: +SKIP
    >>> key = panel.create("app", "predictor", models="iris-*", rate="5/s")  # doctest: +SKIP
    >>> panel.rotate("app", grace="1h"); panel.revoke("app")               # doctest: +SKIP
    """

    def __init__(self, *, home, **kwargs):
        self.home = home
        self._name = labelled(widgets.Text, "name", placeholder="holder of the key")
        self._role = labelled(widgets.Dropdown, "role", options=list(ROLES), value="predictor")
        self._models = labelled(widgets.Text, "models", placeholder="all, or digits,iris-*")
        self._expires = labelled(widgets.Text, "expires in", placeholder="never, or 30d")
        self._rate = labelled(widgets.Text, "rate", placeholder="none, or 50/s")
        self._burst = labelled(widgets.Text, "burst", placeholder="default: 1 s of rate")
        self._rows = labelled(widgets.Text, "rows/day", placeholder="no quota")
        self._grace = labelled(widgets.Text, "grace", value="1h")
        self._create = button("create key", button_style="success", icon="key")
        self._rotate = button("rotate", button_style="info")
        self._limit = button("set limits")
        self._revoke = button("revoke", button_style="danger")
        self._table = widgets.HTML()
        self._secret = widgets.HTML()
        self._message = widgets.HTML()
        self._message.add_class("workbench-keys-message")
        self._create.on_click(lambda _b: self._safely("create key", self._create_from_form))
        self._rotate.on_click(lambda _b: self._safely(
            "rotate key", lambda: self.rotate(self._name.value, grace=self._grace.value or "0s")))
        self._limit.on_click(lambda _b: self._safely("set limits", self._limit_from_form))
        self._revoke.on_click(lambda _b: self._safely("revoke key", lambda: self.revoke(self._name.value)))
        super().__init__(children=[
            widgets.HTML("<b>API keys</b>"),
            row(self._name, self._role, self._models),
            row(self._expires, self._rate, self._burst, self._rows),
            row(self._create, self._grace, self._rotate, self._limit, self._revoke),
            self._secret, self._message, self._table], **kwargs)
        self.add_class("workbench-keys-panel")
        self.refresh()

    def __repr__(self) -> str:
        return f"<KeysPanel home={self.home}>"

    def _store(self) -> KeyStore:
        return KeyStore(self.home)

    # -- actions ---------------------------------------------------------------------------
    def refresh(self) -> list:
        """Re-read the keys and redraw the table; return them (:class:`ApiKey` s)."""
        store = self._store()
        try:
            keys = store.list()
        finally:
            store.close()
        rows = "".join(
            f"<tr><td>{escape(k.name)}</td><td><code>{k.id}</code></td><td>{k.role}</td>"
            f"<td>{escape(','.join(k.models) if k.models else 'all')}</td>"
            f"<td>{_when(k.expires_at)}</td><td>{_when(k.last_used_at)}</td>"
            f"<td>{'' if k.rate is None else f'{k.rate:g}/s (burst {k.burst})'}"
            f"{'' if k.daily_rows is None else f' {k.daily_rows} rows/day'}</td>"
            f"<td>{'revoked ' + _when(k.revoked_at) if k.revoked else 'active'}</td></tr>"
            for k in keys)
        self._table.value = (
            "<table class='workbench-keys'><thead><tr><th>name</th><th>id</th><th>role</th>"
            "<th>models</th><th>expires (UTC)</th><th>last used</th><th>limits</th>"
            f"<th>state</th></tr></thead><tbody>{rows}</tbody></table>")
        return keys

    def create(self, name: str, role: str = "predictor", *, models=None, expires_in=None,
               rate=None, burst=None, daily_rows=None) -> str:
        """Create a key, show it once in the panel and return it."""
        store = self._store()
        try:
            key = store.create(name, role, models=models or None,
                               expires_at=parse_expiry(None, expires_in or None), rate=rate or None,
                               burst=burst, daily_rows=daily_rows)
        finally:
            store.close()
        self._show_secret(name, key, "created")
        self.refresh()
        return key

    def rotate(self, name: str, *, grace="0s") -> str:
        """Give ``name`` a new secret (shown once); the old one works for ``grace``."""
        seconds = parse_duration(grace)
        store = self._store()
        try:
            key = store.rotate(name, grace=seconds)
        finally:
            store.close()
        self._show_secret(name, key, f"rotated (old secret valid {seconds:g} s more)")
        self.refresh()
        return key

    def limit(self, name: str, *, rate=None, burst=None, daily_rows=None):
        """Replace the quotas of ``name``."""
        store = self._store()
        try:
            key = store.limit(name, rate=rate or None, burst=burst, daily_rows=daily_rows)
        finally:
            store.close()
        self._message.value = f"limits of {escape(key.name)} updated"
        self.refresh()
        return key

    def revoke(self, name: str):
        """Revoke ``name``; running servers refuse it within a second."""
        store = self._store()
        try:
            key = store.revoke(name)
        finally:
            store.close()
        self._secret.value = ""
        self._message.value = f"{escape(key.name)} revoked"
        self.refresh()
        return key

    # -- internals -------------------------------------------------------------------------
    def _create_from_form(self):
        return self.create(self._name.value, self._role.value, models=self._models.value,
                           expires_in=self._expires.value, rate=self._rate.value,
                           burst=_optional_int(self._burst.value),
                           daily_rows=_optional_int(self._rows.value))

    def _limit_from_form(self):
        return self.limit(self._name.value, rate=self._rate.value,
                          burst=_optional_int(self._burst.value),
                          daily_rows=_optional_int(self._rows.value))

    def _show_secret(self, name, key, what) -> None:
        self._message.value = ""
        self._secret.value = (f"<div class='workbench-key-secret'>Key <b>{escape(name)}</b> {what}. "
                              f"Copy it now, it is not shown again:<br><code>{escape(key)}</code>"
                              f"</div>")

    def _safely(self, action: str, func):
        """Run a button's action; show any error in the panel (what failed, what to do)."""
        return run_action(action, func, show=self._show_error, store="the key store")

    def _show_error(self, html: str) -> None:
        self._message.value = html

"""What a panel does when one of its actions fails: say in the panel what failed and what to do.

Every button and dropdown of the panels runs its action through :func:`run_action`. Nothing
escapes into the notebook's log console (where a learner never looks): the panel's own status line
gets "<action> failed: <what went wrong> — <what to do>", with the traceback folded underneath
and logged at debug level (logger ``workbench.panels``).

>>> import sqlite3
>>> failure_message("promote", sqlite3.ProgrammingError("Cannot operate on a closed database."))
'promote failed: the registry is closed — run the first cells again to reopen it'
>>> failure_message("train", KeyError("x0"))
"train failed: KeyError: 'x0'"

The same module makes widgets whose labels are never cut short (:func:`button`, :func:`labelled`).
"""
from __future__ import annotations

import errno
import logging
import sqlite3
import traceback
from html import escape

import ipywidgets as widgets

log = logging.getLogger("workbench.panels")

#: colour of an error in a status line
ERROR_COLOR = "#b00020"
#: frames of the traceback shown under the message (the innermost ones)
TRACEBACK_FRAMES = 8


def _class_names(exc: BaseException) -> set:
    """``module.Name`` of every class of ``exc`` (httpx and psycopg are recognised by name,
    so a panel never imports them just to read an error)."""
    return {f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__}


def _service_url(exc: BaseException) -> str:
    try:
        url = exc.request.url
    except (AttributeError, RuntimeError):   # httpx raises RuntimeError when no request is set
        return "the service"
    return f"the service at {url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")


def _http_advice(status: int) -> str:
    if status in (401, 403):
        return "use a key whose role may do this (a maintainer key for aliases and roll backs)"
    if status == 404:
        return "check the model name, version or alias (press refresh)"
    if status == 429:
        return "the key's rate or daily quota is used up; wait, or raise its limits"
    if status >= 500:
        return "the service failed; look at its log (endpoint.logs())"
    return "check the values you chose"


def explain(exc: BaseException, store: str = "the registry") -> str:
    """What went wrong in plain words, and what to do about it.

    ``store`` names the store the panel works on ("the registry", "the key store"), for errors
    of its database.
    """
    names = _class_names(exc)
    text = str(exc)
    if isinstance(exc, sqlite3.ProgrammingError) and "closed" in text:
        return f"{store} is closed — run the first cells again to reopen it"
    if isinstance(exc, sqlite3.OperationalError):
        if "readonly" in text or "unable to open" in text:
            return (f"{store}'s database file is gone or read-only (did a clean-up cell delete the "
                    f"home?) — run the first cells again")
        if "locked" in text:
            return f"{store} is busy (another process is writing) — try again in a moment"
    if any(n.startswith("psycopg") and n.endswith(("OperationalError", "PoolClosed")) for n in names):
        return f"the database server does not answer ({text.strip()}) — is PostgreSQL running?"
    if "httpx.ConnectError" in names:
        return f"{_service_url(exc)} does not answer — is it running? (start or deploy it again)"
    if "httpx.TimeoutException" in names:
        return f"{_service_url(exc)} took too long to answer — it may be busy; try again"
    if "httpx.HTTPError" in names:
        return f"{_service_url(exc)} could not be reached ({type(exc).__name__}: {text})"
    if isinstance(exc, RuntimeError) and "client has been closed" in text:
        return "the endpoint was stopped — press start (or deploy it again)"
    if any(n.endswith(".ServingError") for n in names) and isinstance(getattr(exc, "status", None), int):
        return f"the service refused: {text} — {_http_advice(exc.status)}"
    if isinstance(exc, OSError) and not isinstance(exc, ConnectionError) \
            and (exc.errno is not None or exc.filename is not None):
        where = f" ({exc.filename})" if exc.filename else ""
        if isinstance(exc, (FileNotFoundError, NotADirectoryError, FileExistsError)):
            return (f"a file or folder is missing or in the way{where} — did a clean-up cell delete "
                    f"the home? run the first cells again")
        if isinstance(exc, PermissionError):
            return f"no permission to write{where} — choose a home you can write to"
        if exc.errno == errno.ENOSPC:
            return f"the disk is full{where} — free some space and try again"
        return f"{type(exc).__name__}: {exc.strerror or text}{where}"
    if isinstance(exc, ConnectionError):
        return f"the connection failed ({type(exc).__name__}: {text}) — is the service running?"
    if any(n.startswith("workbench.") for n in names):
        return text                          # our own errors already say what to do
    return f"{type(exc).__name__}: {text}"


def failure_message(action: str, exc: BaseException, store: str = "the registry") -> str:
    """``"<action> failed: <what went wrong> — <what to do>"``."""
    return f"{action} failed: {explain(exc, store)}"


def error_html(action: str, exc: BaseException, store: str = "the registry", *,
               with_traceback: bool = True) -> str:
    """The status-line HTML of a failed action: the message, and the traceback folded under it
    (``with_traceback=False`` for a page stakeholders read: a traceback names the server's files)."""
    message = (f"<span class='workbench-action-error' style='color:{ERROR_COLOR}'>"
               f"{escape(failure_message(action, exc, store))}</span>")
    if not with_traceback:
        return message
    frames = traceback.format_exception(type(exc), exc, exc.__traceback__,
                                        limit=-TRACEBACK_FRAMES)
    return (f"{message}"
            f"<details class='workbench-action-traceback' style='font-size:11px'>"
            f"<summary>details</summary><pre style='white-space:pre-wrap'>"
            f"{escape(''.join(frames))}</pre></details>")


def run_action(action: str, func, *args, show, store: str = "the registry", **kwargs):
    """Run ``func(*args, **kwargs)`` for a button or dropdown; return its result.

    On an error, ``show(html)`` puts :func:`error_html` in the panel's status line, the traceback
    goes to the debug log, and None is returned: a widget callback never raises.
    """
    try:
        return func(*args, **kwargs)
    except Exception as exc:  # every error is shown in the panel and logged, none swallowed
        log.debug("%s failed", action, exc_info=True)
        show(error_html(action, exc, store))
        return None


def button(description: str, **kwargs) -> widgets.Button:
    """A button as wide as its label (ipywidgets' default width cuts long labels short)."""
    layout = {"width": "auto", "min_width": "fit-content", **kwargs.pop("layout", {})}
    return widgets.Button(description=description, layout=layout, **kwargs)


def labelled(kind, description: str, **kwargs):
    """A control whose description label is as wide as its text (never "expires i…")."""
    return kind(description=description, style={"description_width": "initial"}, **kwargs)


def row(*children, **kwargs) -> widgets.HBox:
    """An HBox that wraps onto a second line instead of squeezing or hiding its children."""
    return widgets.HBox(list(children), layout=widgets.Layout(flex_flow="row wrap"), **kwargs)

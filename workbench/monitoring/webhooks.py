"""Alert delivery: alert transitions and rollout decisions POSTed to webhooks.

Configured as data next to the alert rules, in ``<home>/alerts.json``::

    {"rules": [{"name": "slow", "metric": "p99_latency_ms", "threshold": 250}],
     "webhooks": [{"url": "https://hooks.example/ops", "secret_env": "OPS_HOOK_SECRET"},
                  {"url": "https://hooks.slack.com/services/...", "format": "slack",
                   "events": ["rollout"]}]}

Each POST carries the JSON body and, when the hook has a secret (``secret`` or, better, the
name of an environment variable in ``secret_env``), the headers ``X-Workbench-Timestamp: <unix
seconds>`` and ``X-Workbench-Signature: sha256=<hex>``: HMAC-SHA256 with the secret over
``"<timestamp>.<body>"``; :func:`verify_signature` is what a receiver runs. ``format: "slack"``
sends ``{"text": ...}`` (Slack's incoming-webhook body) instead of the full event.

A delivery that fails (no answer, 429 or 5xx) is retried after ``backoff_s``, then twice that,
and so on, ``max_attempts`` times in all; the outcome of each event on each hook is written to
table ``webhook_deliveries`` (``Store(home).loop.deliveries()`` reads it). Other 4xx answers are
not retried: the receiver said the request itself is wrong.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

EVENTS = ("alert", "rollout")
logger = logging.getLogger("workbench.webhooks")


@dataclass(frozen=True)
class Webhook:
    """One receiver of events (see the module docstring for the fields)."""

    url: str
    format: str = "json"
    events: tuple = EVENTS
    secret: str | None = field(default=None, repr=False)
    secret_env: str | None = None
    max_attempts: int = 4
    backoff_s: float = 0.5
    timeout_s: float = 5.0

    def __post_init__(self):
        if not isinstance(self.url, str) or not self.url.startswith(("http://", "https://")):
            raise ValueError(f"a webhook url must start with http:// or https://, got {self.url!r:.80}")
        if self.format not in ("json", "slack"):
            raise ValueError(f"webhook format must be 'json' or 'slack', got {self.format!r}")
        object.__setattr__(self, "events", tuple(self.events))
        if not set(self.events) <= set(EVENTS):
            raise ValueError(f"webhook events must be among {list(EVENTS)}, got {list(self.events)}")
        if not (isinstance(self.max_attempts, int) and 1 <= self.max_attempts <= 20):
            raise ValueError(f"max_attempts must be an int in [1, 20], got {self.max_attempts!r}")
        if not (isinstance(self.backoff_s, (int, float)) and 0 <= self.backoff_s <= 60):
            raise ValueError(f"backoff_s must be in [0, 60] seconds, got {self.backoff_s!r}")

    def key(self) -> bytes | None:
        secret = self.secret if self.secret is not None else (
            os.environ.get(self.secret_env) if self.secret_env else None)
        return None if not secret else secret.encode()


def load_webhooks(home) -> tuple:
    """The webhooks of ``<home>/alerts.json`` (none when it is a plain list of rules)."""
    path = Path(home) / "alerts.json"
    if not path.exists():
        return ()
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        return ()
    try:
        return tuple(Webhook(**item) for item in data.get("webhooks", []))
    except TypeError as exc:
        raise ValueError(f"{path}: a webhook is an object like {{\"url\": \"https://...\", "
                         f"\"secret_env\": \"VAR\"}}: {exc}") from None


def sign(key: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Workbench-Signature`` value of ``body`` sent at ``timestamp``."""
    return "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: bytes, timestamp: str, signature: str,
                     *, max_age_s: float | None = 300, now: float | None = None) -> bool:
    """Whether ``signature`` is ours for ``body`` (constant-time), and not older than
    ``max_age_s`` (a replayed old delivery is refused)."""
    key = secret.encode() if isinstance(secret, str) else secret
    if max_age_s is not None:
        try:
            if abs((time.time() if now is None else now) - float(timestamp)) > max_age_s:
                return False
        except ValueError:
            return False
    return hmac.compare_digest(sign(key, timestamp, body), signature or "")


def body_for(hook: Webhook, event: dict) -> bytes:
    """The bytes POSTed to ``hook`` for ``event`` (a dict with ``kind`` and ``text``)."""
    if hook.format == "slack":
        return json.dumps({"text": event.get("text", event.get("kind", "event"))}).encode()
    return json.dumps(event, default=str, sort_keys=True).encode()


def deliver(hooks, event: dict, *, tables=None, sleep=time.sleep, client=None) -> list[dict]:
    """POST ``event`` to every hook that wants its ``kind``, with retries; log and return
    ``[{"target", "ok", "attempts", "status", "error"}, ...]``."""
    results = []
    own = client is None
    client = client or httpx.Client(follow_redirects=False)
    try:
        for hook in hooks:
            if event.get("kind") not in hook.events:
                continue
            result = _deliver_one(client, hook, event, sleep)
            results.append(result)
            if tables is not None:
                tables.log_delivery(target=hook.url, event=event.get("kind", "?"),
                                      ok=result["ok"], attempts=result["attempts"],
                                      status=result["status"], error=result["error"])
    finally:
        if own:
            client.close()
    return results


def _deliver_one(client, hook: Webhook, event: dict, sleep) -> dict:
    body, key = body_for(hook, event), hook.key()
    status = error = None
    for attempt in range(1, hook.max_attempts + 1):
        timestamp = str(int(time.time()))
        headers = {"content-type": "application/json", "user-agent": "workbench-webhook/1",
                   "x-workbench-event": event.get("kind", "event")}
        if key:
            headers["x-workbench-timestamp"] = timestamp
            headers["x-workbench-signature"] = sign(key, timestamp, body)
        try:
            response = client.post(hook.url, content=body, headers=headers, timeout=hook.timeout_s)
            status, error = response.status_code, None
            if status < 300:
                return {"target": hook.url, "ok": True, "attempts": attempt, "status": status,
                        "error": None}
            error = f"HTTP {status}"
            if status < 500 and status != 429:
                break                              # the receiver refuses this request itself
        except httpx.HTTPError as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"[:300]
        if attempt < hook.max_attempts:
            sleep(hook.backoff_s * 2 ** (attempt - 1))
    return {"target": hook.url, "ok": False, "attempts": attempt, "status": status, "error": error}


_queues: dict = {}
_queues_lock = threading.Lock()


def deliver_in_background(home, hooks, events) -> None:
    """Queue ``events`` for delivery by this process's delivery thread of ``home`` (a dashboard
    refresh or a controller look never waits for a receiver). Events are delivered one at a
    time, in the order they were queued; :func:`wait_for_deliveries` waits for the queue."""
    if not hooks or not events:
        return
    key = str(Path(home).resolve())
    with _queues_lock:
        q = _queues.get(key)
        if q is None:
            q = _queues[key] = queue.Queue()
            threading.Thread(target=_worker, args=(Path(key), q), name="webhooks",
                             daemon=True).start()
    for event in events:
        q.put((tuple(hooks), event))


def wait_for_deliveries(home, timeout: float = 30.0) -> bool:
    """Wait until every queued delivery of ``home`` is done; False on time-out."""
    q = _queues.get(str(Path(home).resolve()))
    deadline = time.monotonic() + timeout
    while q is not None and q.unfinished_tasks:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _worker(home: Path, q) -> None:
    from .log import FILENAME, open_tables

    tables = open_tables(home / FILENAME).loop
    while True:
        hooks, event = q.get()
        try:
            deliver(hooks, event, tables=tables)
        except Exception:
            logger.exception("webhook delivery failed")
        finally:
            q.task_done()


def alert_event(status) -> dict:
    """The event of one alert transition (an :class:`~.alerts.AlertStatus` with ``changed``)."""
    rule = status.rule
    verb = "FIRING" if status.firing else "resolved"
    return {"kind": "alert", "state": status.state, "model": status.model, "rule": rule.name,
            "metric": rule.metric, "threshold": rule.threshold, "value": status.value,
            "since": status.since,
            "text": f"[{verb}] {status.model}: {rule.name} ({rule.describe()}; now "
                    f"{status.value:.4g})"}

"""A traffic simulator: realistic requests from a data set, through the real HTTP API.

Rows are drawn from a data set and sent as Open Inference Protocol v2 requests at a steady rate.
Optionally the inputs *drift*: from ``drift_start`` (a fraction of the run) on, a growing shift
of up to ``drift`` standard deviations is added to half of the features, chosen by the seed; and a
fraction of requests is deliberately *bad* (malformed JSON, a wrong shape, a missing key, an
unknown model), so a dashboard has true errors to show.

With ``labels`` (the true answer of every row of ``X``) it also plays the people who find out
later what was right: every good request carries an ``id``, and its true labels are posted to
``/v2/models/{model}/feedback`` some seconds after the answer (``label_delay``), in batches and
out of order, as real ground truth arrives.

The run is bounded: it stops after ``duration`` seconds (or ``max_requests``), whatever happens.
"""
from __future__ import annotations

import asyncio
import heapq
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import numpy as np
import orjson

BAD_KINDS = ("malformed_json", "wrong_shape", "missing_key", "unknown_model")


@dataclass(frozen=True)
class SimulationResult:
    """What was sent and how the service answered."""

    sent: int
    statuses: dict
    bad_sent: int
    duration_s: float
    failures: int = 0  # requests that got no HTTP answer at all (connection refused, time-out)
    by_kind: dict = field(default_factory=dict)
    labels_sent: int = 0     # rows whose true label was posted as feedback
    labels_matched: int = 0  # of those, rows the service matched to a logged request

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    def __str__(self) -> str:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items())) or "none"
        labels = (f"; labels sent {self.labels_sent}, matched {self.labels_matched}"
                  if self.labels_sent else "")
        return (f"sent {self.sent} requests in {self.duration_s:.1f} s ({self.bad_sent} bad on purpose); "
                f"answers {codes}; no answer: {self.failures}{labels}")


def drifted(X: np.ndarray, amount: float, features: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``X`` with ``amount`` standard deviations added to the chosen ``features``."""
    out = np.array(X, dtype=np.float64, copy=True)
    out[:, features] += amount * scale[features]
    return out


class TrafficSimulator:
    """Send requests for ``model`` to a running service at ``url``.

    Parameters
    ----------
    url : str
        Base URL of the service, e.g. ``"http://127.0.0.1:8000"``.
    model : str
    X : ndarray of shape (n_samples, n_features)
        Rows to draw requests from (raw features, as the served model expects them).
    key : str
        A ``predictor`` API key (not needed when the server runs with ``--no-auth``).
    rps : float, default=20
    duration : float, default=30
        Seconds to run.
    drift : float, default=0
        Largest shift, in standard deviations, reached at the end of the run.
    drift_start : float, default=0.3
        Fraction of the run after which the shift starts growing.
    bad_fraction : float, default=0
        Share of requests that are bad on purpose.
    batch_rows : int, default=1
        Rows per request.
    random_state : int, default=0
    labels : array-like of shape (n_samples,), optional
        The true label (or value) of each row of ``X``: sent later as feedback.
    label_delay : (float, float), default=(1.0, 10.0)
        Each request's labels arrive a uniform random number of seconds in this range after its
        answer (whatever is still pending when the run ends is sent then).
    version : int or str, optional
        Call this version number or alias (``/v2/models/{model}/versions/{version}/infer``)
        instead of the bare name (production, else the latest).
    """

    def __init__(self, url, model, X, *, key=None, rps=20.0, duration=30.0, drift=0.0,
                 drift_start=0.3, bad_fraction=0.0, batch_rows=1, max_requests=None,
                 concurrency=8, random_state=0, verify=True, labels=None, label_delay=(1.0, 10.0),
                 version=None):
        if not (isinstance(rps, (int, float)) and 0 < rps <= 10_000):
            raise ValueError(f"rps must be a number in (0, 10000], got {rps!r}")
        if not (isinstance(duration, (int, float)) and 0 < duration <= 24 * 3600):
            raise ValueError(f"duration must be a number of seconds in (0, 86400], got {duration!r}")
        if not 0 <= bad_fraction <= 1:
            raise ValueError(f"bad_fraction must be in [0, 1], got {bad_fraction!r}")
        if not 0 <= drift_start < 1:
            raise ValueError(f"drift_start must be in [0, 1), got {drift_start!r}")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or not len(X):
            raise ValueError(f"X must be a non-empty 2-D array of rows, got shape {X.shape}")
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape[:1] != (len(X),):
                raise ValueError(f"labels must have one entry per row of X ({len(X)}), "
                                 f"got shape {labels.shape}")
        lo, hi = label_delay
        if not 0 <= lo <= hi:
            raise ValueError(f"label_delay must be (low, high) seconds with 0 <= low <= high, "
                             f"got {label_delay!r}")
        self.labels, self.label_delay = labels, (float(lo), float(hi))
        self.url, self.model, self.X, self.key = url.rstrip("/"), model, X, key
        self.version = None if version is None else str(version)
        self.rps, self.duration, self.drift, self.drift_start = float(rps), float(duration), float(drift), drift_start
        self.bad_fraction, self.batch_rows, self.concurrency = bad_fraction, int(batch_rows), int(concurrency)
        self.max_requests = max_requests if max_requests is not None else int(rps * duration) + 1
        self.verify = verify
        self._rng = np.random.default_rng(random_state)
        self._run_id = f"{random_state}-{int(time.time() * 1000) % 10**9}"
        d = X.shape[1]
        self.drift_features = np.sort(self._rng.choice(d, size=max(1, d // 2), replace=False))
        std = X.std(axis=0)
        self._scale = np.where(std > 0, std, 1.0)

    def __repr__(self) -> str:
        at = "" if self.version is None else f" {self.version}"
        return (f"TrafficSimulator({self.model!r}{at} at {self.url}, {self.rps:g} req/s for {self.duration:g} s, "
                f"drift={self.drift:g}, bad_fraction={self.bad_fraction:g})")

    def shift_at(self, progress: float) -> float:
        """The drift (in standard deviations) at ``progress`` in [0, 1] of the run."""
        if progress <= self.drift_start or not self.drift:
            return 0.0
        return self.drift * min(1.0, (progress - self.drift_start) / (1 - self.drift_start))

    def _request(self, progress: float, seq: int = 0):
        """One request as (kind, path, body bytes, headers, true labels or None)."""
        index = self._rng.integers(0, len(self.X), self.batch_rows)
        rows = self.X[index]
        rows = drifted(rows, self.shift_at(progress), self.drift_features, self._scale)
        headers = {"content-type": "application/json"}
        if self.key:
            headers["authorization"] = f"Bearer {self.key}"
        path = f"/v2/models/{self.model}/infer"
        if self.version is not None:
            path = f"/v2/models/{self.model}/versions/{self.version}/infer"
        kind = "good"
        if self.bad_fraction and self._rng.random() < self.bad_fraction:
            kind = BAD_KINDS[int(self._rng.integers(len(BAD_KINDS)))]
        shape = list(rows.shape)
        if kind == "wrong_shape":
            rows, shape = rows[:, :-1], [rows.shape[0], rows.shape[1] - 1]
        if kind == "missing_key":
            headers.pop("authorization", None)
        if kind == "unknown_model":
            path = f"/v2/models/{self.model}-no-such-model/infer"
        request = {"inputs": [{"name": "input-0", "shape": shape, "datatype": "FP64",
                               "data": rows.ravel()}]}
        truth = None
        if self.labels is not None and kind == "good":
            request["id"] = f"sim-{self._run_id}-{seq}"
            truth = (request["id"], self.labels[index].tolist())
        body = orjson.dumps(request, option=orjson.OPT_SERIALIZE_NUMPY)
        if kind == "malformed_json":
            body = body[: len(body) // 2]
        return kind, path, body, headers, truth

    async def _post_labels(self, client, due: list, labels: Counter, *, until: float | None) -> None:
        """Post the labels that are due by ``until`` (all with None), in random order."""
        ready = []
        while due and (until is None or due[0][0] <= until):
            ready.append(heapq.heappop(due)[1:])
        self._rng.shuffle(ready)            # ground truth arrives out of order
        headers = {"authorization": f"Bearer {self.key}"} if self.key else {}
        for start in range(0, len(ready), 500):
            chunk = ready[start:start + 500]
            body = {"feedback": [{"id": rid, "labels": rows} for rid, rows in chunk]}
            labels["sent"] += sum(len(rows) for _, rows in chunk)
            try:
                response = await client.post(f"/v2/models/{self.model}/feedback", json=body,
                                             headers=headers)
                if response.status_code == 200:
                    labels["matched"] += int(response.json().get("matched", 0))
            except (httpx.HTTPError, ValueError):
                pass                         # the service is gone or answered nonsense: counted as sent only

    async def _run(self) -> SimulationResult:
        statuses, kinds, labels = Counter(), Counter(), Counter()
        failures, sent = 0, 0
        start = time.monotonic()
        sem = asyncio.Semaphore(self.concurrency)
        pending: set = set()  # requests in flight (finished ones remove themselves)
        due: list = []        # heap of (when, request id, true labels) still to post
        lo, hi = self.label_delay

        async with httpx.AsyncClient(base_url=self.url, timeout=10.0, verify=self.verify) as client:
            async def send(kind, path, body, headers, truth):
                nonlocal failures
                async with sem:
                    try:
                        response = await client.post(path, content=body, headers=headers)
                        statuses[response.status_code] += 1
                        if truth is not None and response.status_code == 200:
                            when = time.monotonic() + float(self._rng.uniform(lo, hi))
                            heapq.heappush(due, (when, *truth))
                    except httpx.HTTPError:
                        failures += 1

            next_labels = start + 0.5

            while sent < self.max_requests:
                elapsed = time.monotonic() - start
                if elapsed >= self.duration:
                    break
                kind, path, body, headers, truth = self._request(elapsed / self.duration, sent)
                kinds[kind] += 1
                task = asyncio.create_task(send(kind, path, body, headers, truth))
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent += 1
                self._bar.update(1)
                if due and time.monotonic() >= next_labels:
                    next_labels = time.monotonic() + 0.5
                    await self._post_labels(client, due, labels, until=time.monotonic())
                # keep a steady rate: sleep until the next request is due
                delay = start + sent / self.rps - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            if pending:
                _, unanswered = await asyncio.wait(set(pending), timeout=15)
                for task in unanswered:  # no answer within 15 s: counted as failures
                    task.cancel()
                failures += len(unanswered)
            if due:                             # the rest of the ground truth, late
                await self._post_labels(client, due, labels, until=None)
        bad = sum(n for k, n in kinds.items() if k != "good")
        return SimulationResult(sent, dict(statuses), bad, time.monotonic() - start, failures,
                                dict(kinds), labels["sent"], labels["matched"])

    def run(self, progress: bool = False) -> SimulationResult:
        """Run to the end (blocking) and return the summary.

        Works inside Jupyter too, where an event loop is already running: the simulation then
        gets its own loop in a helper thread. ``progress=True`` shows a tqdm bar of requests sent.
        """
        from tqdm.auto import tqdm

        self._bar = tqdm(total=self.max_requests, desc=f"simulating {self.model}", unit="req",
                         disable=not progress)
        try:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return asyncio.run(self._run())
            box = {}

            def run_in_thread():
                try:
                    box["result"] = asyncio.run(self._run())
                except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread below
                    box["error"] = exc

            thread = threading.Thread(target=run_in_thread, name="traffic-simulator")
            thread.start()
            thread.join()
            if "error" in box:
                raise box["error"]
            return box["result"]
        finally:
            self._bar.close()


def simulate(url, model, X, *, progress: bool = False, **kwargs) -> SimulationResult:
    """Run a :class:`TrafficSimulator` to the end; see its parameters."""
    return TrafficSimulator(url, model, X, **kwargs).run(progress=progress)

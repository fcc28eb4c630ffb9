"""A traffic simulator: realistic requests from a data set, through the real HTTP API.

Rows are drawn from a data set and sent as Open Inference Protocol v2 requests at a steady rate.
Optionally the inputs *drift*: from ``drift_start`` (a fraction of the run) on, a growing shift
of up to ``drift`` standard deviations is added to half of the features, chosen by the seed; and a
fraction of requests is deliberately *bad* (malformed JSON, a wrong shape, a missing key, an
unknown model), so a dashboard has true errors to show.

The run is bounded: it stops after ``duration`` seconds (or ``max_requests``), whatever happens.
"""
from __future__ import annotations

import asyncio
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

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    def __str__(self) -> str:
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(self.statuses.items())) or "none"
        return (f"sent {self.sent} requests in {self.duration_s:.1f} s ({self.bad_sent} bad on purpose); "
                f"answers {codes}; no answer: {self.failures}")


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
    """

    def __init__(self, url, model, X, *, key=None, rps=20.0, duration=30.0, drift=0.0,
                 drift_start=0.3, bad_fraction=0.0, batch_rows=1, max_requests=None,
                 concurrency=8, random_state=0, verify=True):
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
        self.url, self.model, self.X, self.key = url.rstrip("/"), model, X, key
        self.rps, self.duration, self.drift, self.drift_start = float(rps), float(duration), float(drift), drift_start
        self.bad_fraction, self.batch_rows, self.concurrency = bad_fraction, int(batch_rows), int(concurrency)
        self.max_requests = max_requests if max_requests is not None else int(rps * duration) + 1
        self.verify = verify
        self._rng = np.random.default_rng(random_state)
        d = X.shape[1]
        self.drift_features = np.sort(self._rng.choice(d, size=max(1, d // 2), replace=False))
        std = X.std(axis=0)
        self._scale = np.where(std > 0, std, 1.0)

    def __repr__(self) -> str:
        return (f"TrafficSimulator({self.model!r} at {self.url}, {self.rps:g} req/s for {self.duration:g} s, "
                f"drift={self.drift:g}, bad_fraction={self.bad_fraction:g})")

    def shift_at(self, progress: float) -> float:
        """The drift (in standard deviations) at ``progress`` in [0, 1] of the run."""
        if progress <= self.drift_start or not self.drift:
            return 0.0
        return self.drift * min(1.0, (progress - self.drift_start) / (1 - self.drift_start))

    def _request(self, progress: float):
        """One request as (kind, path, body bytes, headers)."""
        rows = self.X[self._rng.integers(0, len(self.X), self.batch_rows)]
        rows = drifted(rows, self.shift_at(progress), self.drift_features, self._scale)
        headers = {"content-type": "application/json"}
        if self.key:
            headers["authorization"] = f"Bearer {self.key}"
        path = f"/v2/models/{self.model}/infer"
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
        body = orjson.dumps({"inputs": [{"name": "input-0", "shape": shape, "datatype": "FP64",
                                         "data": rows.ravel()}]}, option=orjson.OPT_SERIALIZE_NUMPY)
        if kind == "malformed_json":
            body = body[: len(body) // 2]
        return kind, path, body, headers

    async def _run(self) -> SimulationResult:
        statuses, kinds = Counter(), Counter()
        failures, sent = 0, 0
        start = time.monotonic()
        sem = asyncio.Semaphore(self.concurrency)
        pending: set = set()  # requests in flight (finished ones remove themselves)

        async with httpx.AsyncClient(base_url=self.url, timeout=10.0, verify=self.verify) as client:
            async def send(kind, path, body, headers):
                nonlocal failures
                async with sem:
                    try:
                        response = await client.post(path, content=body, headers=headers)
                        statuses[response.status_code] += 1
                    except httpx.HTTPError:
                        failures += 1

            while sent < self.max_requests:
                elapsed = time.monotonic() - start
                if elapsed >= self.duration:
                    break
                kind, path, body, headers = self._request(elapsed / self.duration)
                kinds[kind] += 1
                task = asyncio.create_task(send(kind, path, body, headers))
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent += 1
                self._bar.update(1)
                # keep a steady rate: sleep until the next request is due
                delay = start + sent / self.rps - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            if pending:
                _, unanswered = await asyncio.wait(set(pending), timeout=15)
                for task in unanswered:  # no answer within 15 s: counted as failures
                    task.cancel()
                failures += len(unanswered)
        bad = sum(n for k, n in kinds.items() if k != "good")
        return SimulationResult(sent, dict(statuses), bad, time.monotonic() - start, failures, dict(kinds))

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

"""Shadow traffic: a copy of a live request, answered by a candidate version nobody sees.

After the answering version's response has been sent, :meth:`ShadowRunner.submit` starts a task
that runs the shadow version on the same validated rows in a worker thread and logs its outputs,
latency and agreement with the answer the client got (``role="shadow"`` rows of the prediction
log). The client's answer never waits for it. When too many shadow calls are pending (the
candidate is slower than the live traffic), new copies are dropped and counted, so a slow
candidate cannot grow memory or starve the primary.
"""
from __future__ import annotations

import asyncio
import logging
import time

import numpy as np

logger = logging.getLogger("workbench.serving")


def agreement(primary, shadow) -> float:
    """Fraction of rows where two outputs agree: equal labels, or regression values within
    1 % (relative, at least 1e-6 absolute)."""
    a, b = np.asarray(primary), np.asarray(shadow)
    if a.shape != b.shape or a.size == 0:
        return 0.0
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        same = np.abs(a - b) <= np.maximum(1e-6, 0.01 * np.abs(a))
        same = same.reshape(len(a), -1).all(axis=1)
    else:
        same = a == b
    return float(np.mean(same))


def outputs_of(loaded, result):
    """What the log keeps of a result: labels for classifiers, values for regressors."""
    if loaded.classifier:
        return result["label"]
    values = result["predictions"]
    return values[:, 0] if values.shape[1] == 1 else values


class ShadowRunner:
    """Runs shadow copies off the request path, at most ``max_pending`` at a time.

    Parameters
    ----------
    log : PredictionLog
    metrics : ServingMetrics
    max_pending : int, default=64
    """

    def __init__(self, log, metrics, max_pending: int = 64):
        self.log, self.metrics, self.max_pending = log, metrics, max_pending
        self._tasks: set = set()

    def __repr__(self) -> str:
        return f"<ShadowRunner pending={len(self._tasks)} max_pending={self.max_pending}>"

    def submit(self, shadow, X, answered, answer, *, request_id=None, protocol="v2") -> None:
        """Start the shadow call of one answered request (returns at once)."""
        if len(self._tasks) >= self.max_pending:
            self.metrics.shadow_done(shadow.name, shadow.version, "dropped")
            return
        task = asyncio.get_running_loop().create_task(
            self._run(shadow, X, answered.version, answer, request_id, protocol))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, shadow, X, answered_version, answer, request_id, protocol) -> None:
        loop = asyncio.get_running_loop()
        arrived, start = time.time(), time.perf_counter()
        outputs = error = None
        status, share = 200, None
        try:
            dtype = shadow.signature.get("dtype") or X.dtype
            result = await loop.run_in_executor(None, shadow.run, X.astype(dtype, copy=False))
            outputs = outputs_of(shadow, result)
            share = agreement(answer, outputs)
        except Exception as exc:  # noqa: BLE001 - a failing candidate is data, not an outage
            status, error = 500, f"shadow version failed: {type(exc).__name__}: {exc}"[:500]
        elapsed = time.perf_counter() - start
        self.metrics.shadow_done(shadow.name, shadow.version, "ok" if status == 200 else "error")
        self.log.record(model=shadow.name, version=shadow.version, status=status,
                        latency_ms=1000.0 * elapsed, rows=len(X), outputs=outputs, error=error,
                        request_id=request_id, protocol=protocol, time_=arrived, role="shadow",
                        shadow_of=answered_version, agreement=share)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait (up to ``timeout`` seconds) for pending shadow calls, at shutdown."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

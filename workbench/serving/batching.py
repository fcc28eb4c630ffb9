"""Adaptive batching: concurrent requests for one model version share one forward pass.

A :class:`Batcher` belongs to one loaded version in one worker and lives on that worker's event
loop. Each request is validated on its own first (a bad request is refused before it could join
a batch), then :meth:`Batcher.run` queues its rows. A batch is closed when it holds
``max_batch_rows`` rows or when its oldest request has waited ``max_delay_ms``, whichever comes
first; while one batch runs (in a thread, so the loop keeps reading requests) the next one fills.

- Batch size is counted in **rows**, not requests. A request with more rows than the limit is
  never dropped or split across callers: it runs alone.
- Each caller gets exactly its own rows back (results are sliced by row offsets).
- If a merged forward pass raises, every request of that batch is run again on its own, so
  only the request that really fails gets an error.

Configuration is a :class:`BatchConfig`: server-wide (``workbench serve --batch-max-rows 64
--batch-max-delay-ms 2``) and per model version through registry tags
``serving.batch_max_rows`` / ``serving.batch_max_delay_ms`` (``0`` rows turns batching off).
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np

#: registry tags that override the server's batching for one version
TAG_ROWS, TAG_DELAY = "serving.batch_max_rows", "serving.batch_max_delay_ms"


@dataclass(frozen=True)
class BatchConfig:
    """How requests are merged.

    Attributes
    ----------
    max_batch_rows : int, default=0
        Close a batch at this many rows; ``0`` disables batching.
    max_delay_ms : float, default=2.0
        Close a batch when its oldest request has waited this long.
    """

    max_batch_rows: int = 0
    max_delay_ms: float = 2.0

    def __post_init__(self):
        rows, delay = self.max_batch_rows, self.max_delay_ms
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise ValueError(f"max_batch_rows must be a non-negative int (0 = off), got {rows!r}")
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= 1000:
            raise ValueError(f"max_delay_ms must be a number in [0, 1000], got {delay!r}")

    @property
    def enabled(self) -> bool:
        return self.max_batch_rows > 0

    def for_tags(self, tags: dict | None) -> "BatchConfig":
        """This configuration with a version's registry tags applied (bad tags are refused)."""
        tags = tags or {}
        rows = tags.get(TAG_ROWS, self.max_batch_rows)
        delay = tags.get(TAG_DELAY, self.max_delay_ms)
        if isinstance(rows, str) and rows.isdigit():
            rows = int(rows)
        if isinstance(delay, str):
            try:
                delay = float(delay)
            except ValueError:
                pass
        return BatchConfig(rows, delay)


class Batcher:
    """Queue of requests for one model version; see the module docstring.

    Parameters
    ----------
    run : callable(X) -> dict of str -> array or list
        The model's forward pass over a validated matrix (``LoadedModel.run``).
    config : BatchConfig
    observe : callable(rows, waits), optional
        Called after each batch with its row count and each request's queue wait (seconds).
    """

    def __init__(self, run, config: BatchConfig, observe=None):
        if not config.enabled:
            raise ValueError("a Batcher needs max_batch_rows > 0")
        self._run, self.config, self._observe = run, config, observe
        self.max_rows, self.delay = config.max_batch_rows, config.max_delay_ms / 1000.0
        self._queue: list = []          # (X, future, arrival)
        self._rows = 0
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self.batches_ = 0

    def __repr__(self) -> str:
        return (f"<Batcher max_rows={self.max_rows} delay={self.config.max_delay_ms} ms "
                f"waiting={len(self._queue)} batches={self.batches_}>")

    async def run(self, X: np.ndarray) -> dict:
        """Return the model's outputs for ``X`` (only these rows), computed in some batch."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.append((X, future, time.perf_counter()))
        self._rows += len(X)
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._drain())
        elif self._rows >= self.max_rows:
            self._wake.set()
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            deadline = self._queue[0][2] + self.delay
            while self._rows < self.max_rows:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except asyncio.TimeoutError:
                    break
            batch, rows = [self._queue[0]], len(self._queue[0][0])
            for item in self._queue[1:]:
                if rows + len(item[0]) > self.max_rows:
                    break
                batch.append(item)
                rows += len(item[0])
            del self._queue[:len(batch)]
            self._rows -= rows
            started = time.perf_counter()
            await self._run_batch(loop, batch)
            self.batches_ += 1
            if self._observe is not None:
                self._observe(rows, [started - item[2] for item in batch])

    async def _run_batch(self, loop, batch) -> None:
        arrays = [item[0] for item in batch]
        try:
            X = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
            result = await loop.run_in_executor(None, self._run, X)
        except Exception as exc:  # noqa: BLE001 - retry one by one: only the culprit fails
            if len(batch) == 1:
                _settle(batch[0][1], exc=exc)
                return
            for X, future, _ in batch:
                try:
                    _settle(future, await loop.run_in_executor(None, self._run, X))
                except Exception as exc:  # noqa: BLE001 - this request's own failure
                    _settle(future, exc=exc)
            return
        start = 0
        for X, future, _ in batch:
            stop = start + len(X)
            _settle(future, {k: v[start:stop] for k, v in result.items()}
                    if len(batch) > 1 else result)
            start = stop


def _settle(future, value=None, exc=None) -> None:
    if future.done():       # the caller went away (cancelled)
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(value)

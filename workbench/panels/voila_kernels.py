"""The kernel manager the dashboard's Voila server runs with: bounded and culled.

Voila starts one kernel (~200 MB) per page load, even for a ``curl /``. Two rules keep that
bounded:

- **At most** ``max_kernels`` kernels live at once, Voila's pre-heated pool included; a page
  load beyond that is answered 503 ("too many dashboard pages are open") instead of starting
  another kernel. A pool refill refused at the cap is retried when there is room again.
- **A kernel no page is connected to is shut down** once it has been unwatched for
  ``cull_idle_timeout`` seconds (checked every ``cull_interval`` seconds), even while its
  dashboard keeps refreshing: a refresh loop is activity, so jupyter-server's own idle culling
  alone would never stop a closed page's kernel. A kernel executing a cell (Voila rendering
  the page, before the browser connects) or waiting pre-heated in the pool counts as watched. Kernels with a page connected are culled by
  jupyter-server's usual rule (idle for ``cull_idle_timeout``; ``cull_connected`` decides).

Voila is told to use it with
``--VoilaConfiguration.multi_kernel_manager_class=workbench.panels.voila_kernels.DashboardKernelManager``
(see :func:`workbench.dashboard.voila_command`).
"""
from __future__ import annotations

import time

from jupyter_core.utils import ensure_async
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer


class DashboardKernelManager(AsyncMappingKernelManager):
    """``AsyncMappingKernelManager`` with a cap on live kernels and culling of unwatched ones."""

    max_kernels = Integer(8, config=True, help="Most kernels (open dashboard pages) at once.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._watched_at: dict[str, float] = {}
        self._starting = 0

    async def start_kernel(self, *args, kernel_id=None, **kwargs):
        new = kernel_id is None or kernel_id not in self
        if new and len(self.list_kernel_ids()) + self._starting >= self.max_kernels:
            raise web.HTTPError(503, f"{self.max_kernels} kernels are running, the most allowed",
                                reason="Too many dashboard pages are open; try again in a minute")
        self._starting += 1
        try:
            kernel_id = await super().start_kernel(*args, kernel_id=kernel_id, **kwargs)
        finally:
            self._starting -= 1
        self._watched_at[kernel_id] = time.monotonic()  # rendering counts as watched
        return kernel_id

    def _pooled(self) -> set:
        """Kernels pre-heated by Voila's pool (``preheat_kernel``), waiting for a page."""
        ids = set()
        for pool in getattr(self, "_pools", {}).values():
            for task in pool:
                if task.done() and not task.cancelled() and task.exception() is None:
                    ids.add(task.result().get("kernel_id"))
        return ids

    async def cull_kernels(self):
        await super().cull_kernels()
        # a pool refill refused at the cap leaves a failed task: drop it and refill when there
        # is room again, so the pool does not stay empty
        for name, pool in getattr(self, "_pools", {}).items():
            pool[:] = [t for t in pool if not (t.done() and (t.cancelled() or t.exception()))]
            if not pool and len(self.list_kernel_ids()) + self._starting < self.max_kernels:
                self.fill_if_needed(delay=0, notebook_name=name)

    async def cull_kernel_if_idle(self, kernel_id):
        now = time.monotonic()
        state = getattr(self._kernels.get(kernel_id), "execution_state", None)
        if (self._kernel_connections.get(kernel_id, 0) or state in ("busy", "starting")
                or kernel_id in self._pooled()):
            # a page is connected, Voila is still rendering the page (executing its cells), or
            # the kernel waits pre-heated in the pool
            self._watched_at[kernel_id] = now
        elif now - self._watched_at.setdefault(kernel_id, now) > self.cull_idle_timeout:
            self.log.warning("Culling kernel %s: no page has been connected to it for %d s",
                             kernel_id, now - self._watched_at[kernel_id])
            self._watched_at.pop(kernel_id, None)
            await ensure_async(self.shutdown_kernel(kernel_id))
            return
        await super().cull_kernel_if_idle(kernel_id)

    def remove_kernel(self, kernel_id):
        self._watched_at.pop(kernel_id, None)
        return super().remove_kernel(kernel_id)

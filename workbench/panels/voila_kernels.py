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

With pre-heating on, Voila subclasses this class to keep a pool of kernels that have already
run the notebook; this class then logs ``Pre-heated kernel ... has rendered ...`` once such a
kernel's page is complete, so an operator (and ``benchmarks/monitoring.py``) can tell when a page
request will be answered at once, without waiting for any cell.

Voila is told to use it with
``--VoilaConfiguration.multi_kernel_manager_class=workbench.panels.voila_kernels.DashboardKernelManager``
(see :func:`workbench.dashboard.voila_command`).
"""
from __future__ import annotations

import functools
import time

from jupyter_core.utils import ensure_async
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer, List, Unicode


class DashboardKernelManager(AsyncMappingKernelManager):
    """``AsyncMappingKernelManager`` with a cap on live kernels and culling of unwatched ones."""

    max_kernels = Integer(8, config=True, help="Most kernels (open dashboard pages) at once.")
    preload = List(Unicode(), config=True,
                   help="Modules a pre-heated kernel imports as it starts, before it runs the "
                        "notebook (ipykernel's exec_lines), so that the page's first refresh does "
                        "not keep the kernel from answering the page that attaches to it.")

    def __init_subclass__(cls, **kwargs):
        # Voila's pre-heating subclass (voila.voila_kernel_manager) renders the notebook in each
        # pooled kernel from ``_initialize``; wrap it to log when that page is complete
        super().__init_subclass__(**kwargs)
        initialize = cls.__dict__.get("_initialize")
        if initialize is None:
            return

        @functools.wraps(initialize)
        async def _initialize(self, notebook_path, kernel_id=None, **kw):
            try:
                content = await initialize(self, notebook_path, kernel_id, **kw)
            except Exception:  # Voila keeps it in the pool's task, unseen: say it here
                self.log.exception("Could not pre-heat a kernel for %s", notebook_path)
                raise
            if isinstance(content, dict) and "task" in content:
                content["task"].add_done_callback(functools.partial(
                    self._pre_rendered, content.get("kernel_id"), notebook_path,
                    content.get("renderer")))
            return content

        cls._initialize = _initialize

    def _pre_rendered(self, kernel_id, notebook_path, renderer, task):
        if task.cancelled() or getattr(renderer, "stop_generator", False):
            return  # a page took the kernel before its page was complete: nothing to announce
        if task.exception() is not None:
            self.log.warning("Pre-heated kernel %s could not render %s: %s", kernel_id,
                             notebook_path, task.exception())
        else:
            self.log.info("Pre-heated kernel %s has rendered %s: the next page is served at once",
                          kernel_id, notebook_path)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._watched_at: dict[str, float] = {}
        self._starting = 0

    async def start_kernel(self, *args, kernel_id=None, **kwargs):
        new = kernel_id is None or kernel_id not in self
        if new and len(self.list_kernel_ids()) + self._starting >= self.max_kernels:
            raise web.HTTPError(503, f"{self.max_kernels} kernels are running, the most allowed",
                                reason="Too many dashboard pages are open; try again in a minute")
        if new and self.preload and kwargs.get("env", {}).get("VOILA_PREHEAT") == "True":
            kwargs["extra_arguments"] = [*kwargs.get("extra_arguments", []),
                                         preload_argument(self.preload)]
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


def preload_argument(modules) -> str:
    """The ipykernel command-line option importing ``modules`` at start, leaving no name behind
    in the notebook's namespace."""
    for name in modules:
        if not all(part.isidentifier() for part in name.split(".")):
            raise ValueError(f"not a module name: {name!r}")
    return ("--IPKernelApp.exec_lines=import importlib as _wb_il; "
            f"[_wb_il.import_module(m) for m in {tuple(modules)!r}]; del _wb_il")

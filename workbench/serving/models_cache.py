"""The model versions one worker holds in memory, and the hot swap of aliases.

An alias may send its requests to several versions by weight (a canary) or copy them to a
shadow version; it is then cached as a :class:`SplitRoute`, and the request path asks it which
version answers (:meth:`SplitRoute.pick`).

A request names a model and a *selector*: ``None`` (the ``production`` alias, else the latest
version), a version number, or an alias name. :meth:`ModelCache.lookup` answers from memory;
only a first request for a selector goes to the registry (:meth:`ModelCache.resolve`, run in a
thread). A watcher calls :meth:`ModelCache.poll` a few times a second: when
``Registry.generation()`` has moved, every selector is resolved again and a selector whose
version changed gets its new version **loaded first**, then swapped in with one dict
assignment. A request holds the :class:`LoadedModel` it looked up, so requests in flight
finish on the version they started with; the old version is freed when the last one ends.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque

import numpy as np

from ..models.forward import load_for_inference
from ..registry import AliasRoute, Registry
from .batching import BatchConfig, Batcher
from .protocol import v2_datatype
from .routing import SplitRoute, key_of, route_key

logger = logging.getLogger("workbench.serving")

#: alias a bare model name resolves to when it exists
DEFAULT_ALIAS = "production"


class LoadedModel:
    """One model version in memory, with what the protocol needs to answer for it.

    Attributes
    ----------
    name, version : str, int
    model : object with ``forward``
        What :func:`workbench.models.forward.load_for_inference` gives: a numpy-only
        :class:`~workbench.models.forward.InferenceModel` (or an estimator).
    model_class : str
        The estimator class the version was saved from.
    signature : dict
        As ``model.signature()``: task, n_features, feature_names, dtype, n_outputs, classes.
    output_names : tuple of str
        ``("label", "probabilities")`` for classifiers, ``("predictions",)`` for regressors.
    batcher : Batcher or None
        Merges concurrent requests when batching is on for this version (see :mod:`.batching`).
    """

    def __init__(self, name: str, version: int, model, signature: dict | None = None):
        self.name, self.version, self.model = name, int(version), model
        self.model_class = getattr(model, "spec_class", None) or type(model).__name__
        self.batcher = None
        self.signature = dict(signature or model.signature())
        self.classifier = self.signature.get("task") == "classification"
        self.float_datatype = v2_datatype(self.signature.get("dtype") or "float64")
        if self.classifier:
            classes = self.signature.get("classes")
            if classes is None:
                classes = np.asarray(model.classes_).tolist()
            self.classes = list(classes)
            self.label_datatype, self._labels = _label_table(self.classes)
            self.output_names = ("label", "probabilities")
        else:
            self.output_names = ("predictions",)

    def __repr__(self) -> str:
        return f"<LoadedModel {self.name} v{self.version} {self.model_class}>"

    def run(self, X: np.ndarray) -> dict[str, np.ndarray | list]:
        """Return ``{output name: array}`` for a validated matrix ``X``."""
        y = np.asarray(self.model.forward(X))
        if y.ndim == 1:
            y = y[:, None]
        if not self.classifier:
            return {"predictions": np.ascontiguousarray(y)}
        if y.shape[1] == 1 and len(self.classes) == 2:  # one sigmoid column: P(classes[1])
            y = np.hstack([1.0 - y, y])
        idx = y.argmax(axis=1)
        labels = self._labels[idx] if self._labels is not None else [self.classes[i] for i in idx]
        return {"label": labels, "probabilities": np.ascontiguousarray(y)}


def _label_table(classes):
    kinds = {type(c) for c in classes}
    if kinds <= {bool}:
        return "BOOL", np.asarray(classes, dtype=bool)
    if kinds <= {int}:
        return "INT64", np.asarray(classes, dtype=np.int64)
    if kinds <= {int, float}:
        return "FP64", np.asarray(classes, dtype=np.float64)
    return "BYTES", None


class ArchivedVersionRequested(LookupError):
    """A request named an archived version by number (answered 404)."""


class ColdLoadLimitError(RuntimeError):
    """Too many versions addressed by number had to be loaded lately (answered 429)."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class ModelCache:
    """Per-worker cache of loaded versions and of what each selector resolves to.

    Parameters
    ----------
    home : path-like
        Workbench home holding ``registry.db``.
    max_versions : int, default=8
        Versions addressed by number kept loaded (least recently used dropped first); versions
        an alias or a bare name resolves to are always kept.
    on_load : callable(name, version, ok), optional
        Called after every load attempt (metrics).
    batching : BatchConfig, optional
        Server-wide batching; each version's registry tags may override it.
    on_batch : callable(name, version, rows, waits), optional
        Called after every merged batch (metrics).
    max_cold_loads : int, default=30
        Versions addressed by number that are not loaded may be loaded at most this many times
        per ``cold_load_window`` seconds; beyond that a request gets
        :class:`ColdLoadLimitError` (429 with ``Retry-After``), so cycling through more
        versions than ``max_versions`` cannot make the worker load weights without end. Loads
        run one at a time (a lock), so at most one is in progress per worker.
    cold_load_window : float, default=60
    store : str, optional
        Store URL (``postgresql://…``); ``$WORKBENCH_STORE`` or SQLite in the home when None.
    """

    def __init__(self, home, *, max_versions: int = 8, on_load=None,
                 batching: BatchConfig | None = None, on_batch=None, max_cold_loads: int = 30,
                 cold_load_window: float = 60.0, store: str | None = None):
        self.registry = Registry(home, author="workbench-serving", store=store)
        self.store = self.registry.store.url
        self.home = self.registry.home
        self.max_versions = max_versions
        self.on_load = on_load
        self.batching = batching or BatchConfig()
        self.on_batch = on_batch
        self._routes: dict[tuple, LoadedModel] = {}     # (name, None | alias) -> model
        self._pinned: OrderedDict = OrderedDict()       # (name, version) -> model, LRU
        self._load_lock = threading.RLock()
        self._generation = self.registry.generation()
        self.max_cold_loads, self.cold_load_window = max_cold_loads, cold_load_window
        self._cold_loads: deque = deque()           # times of loads by version number

    def __repr__(self) -> str:
        live = {f"{n}{'' if s is None else '@' + s}": m.version for (n, s), m in self._routes.items()}
        return f"<ModelCache {self.home} live={live} by_version={len(self._pinned)}>"

    # -- request path --------------------------------------------------------------------
    def lookup(self, name: str, selector) -> LoadedModel | None:
        """Return the loaded model for a selector from memory, or None (then call resolve)."""
        if isinstance(selector, int):
            return self._pinned.get((name, selector))
        return self._routes.get((name, selector))

    def resolve(self, name: str, selector) -> LoadedModel:
        """Resolve a selector in the registry and load its version (blocking; run in a thread).

        Raises the registry's ``LookupError``/``ValueError`` subclasses for unknown names,
        versions and aliases, and ``IntegrityError`` for a weight file that fails its check.
        """
        with self._load_lock:
            found = self.lookup(name, selector)
            if found is not None:
                return found
            if isinstance(selector, int):
                record = self.registry.get_version(name, version=selector)
                if record.archived:
                    raise ArchivedVersionRequested(
                        f"{name} v{selector} is archived: it is no longer served; ask for "
                        f"the model's bare name or an alias")
                self._count_cold_load(name, selector)
                return self._load(name, record.version)
            loaded = self._build(name, self._resolve_route(name, selector))
            self._routes[(name, selector)] = loaded
            return loaded

    def _count_cold_load(self, name: str, version: int) -> None:
        if (name, version) in self._pinned or any(
                (m.name, m.version) == (name, version) for m in self._route_models()):
            return              # already in memory: not a load
        now = time.monotonic()
        while self._cold_loads and now - self._cold_loads[0] > self.cold_load_window:
            self._cold_loads.popleft()
        if len(self._cold_loads) >= self.max_cold_loads:
            wait = int(self.cold_load_window - (now - self._cold_loads[0])) + 1
            raise ColdLoadLimitError(
                f"too many model versions were loaded by number in the last "
                f"{self.cold_load_window:g} s (limit {self.max_cold_loads}); retry in {wait} s "
                f"or address the model by its name or an alias", wait)
        self._cold_loads.append(now)

    def _route_models(self):
        for entry in list(self._routes.values()):
            yield from entry.models() if isinstance(entry, SplitRoute) else (entry,)

    # -- watcher -------------------------------------------------------------------------
    def poll(self) -> bool:
        """Re-resolve every selector if the registry's generation moved; True if it did."""
        generation = self.registry.generation()
        if generation == self._generation:
            return False
        self.refresh(generation)
        return True

    def refresh(self, generation: int | None = None) -> None:
        """Re-resolve every known selector, loading each new version before swapping it in."""
        with self._load_lock:
            self._generation = self.registry.generation() if generation is None else generation
            for key in list(self._pinned):      # archived since: no longer served by number
                try:
                    if self.registry.get_version(*key).archived:
                        self._pinned.pop(key, None)
                except LookupError:
                    self._pinned.pop(key, None)
            for key, current in list(self._routes.items()):
                name, selector = key
                try:
                    route = self._resolve_route(name, selector)
                except LookupError:
                    self._routes.pop(key, None)   # alias or model gone: next request gets 404
                    continue
                if route_key(route.version, route.weights, route.shadow) != key_of(current):
                    try:
                        self._routes[key] = self._build(name, route)   # old one still serves
                    except Exception:
                        logger.exception("could not load %s %r; still serving %r", name,
                                         route, current)
                        continue
                    logger.info("%s%s now served by %r (was %r)", name,
                                "" if selector is None else "@" + selector, self._routes[key],
                                current)

    def preload(self) -> None:
        """Load what every registered model's bare name resolves to."""
        for name in self.registry.models():
            try:
                self.resolve(name, None)
            except LookupError:
                continue          # a model whose versions are all archived
            except Exception:
                logger.exception("could not preload model %s", name)

    def live(self) -> dict[str, int]:
        """Return ``{model name: version}`` its bare name is served by, for loaded names."""
        return {n: m.version for (n, s), m in self._routes.items() if s is None}

    def close(self) -> None:
        """Drop every loaded model and close the registry connection."""
        self._routes.clear()
        self._pinned.clear()
        self.registry.close()

    # -- internals -----------------------------------------------------------------------
    def _batcher(self, loaded: LoadedModel, tags: dict) -> Batcher | None:
        try:
            config = self.batching.for_tags(tags)
        except ValueError as exc:
            logger.warning("%s v%s: ignoring its batching tags (%s)", loaded.name,
                           loaded.version, exc)
            config = self.batching
        if not config.enabled:
            return None
        if self.on_batch is None:
            return Batcher(loaded.run, config)
        on_batch, name, version = self.on_batch, loaded.name, loaded.version
        return Batcher(loaded.run, config,
                       lambda rows, waits: on_batch(name, version, rows, waits))

    def _resolve_route(self, name: str, selector) -> AliasRoute:
        if selector is None:
            route = self.registry.routes(name).get(DEFAULT_ALIAS)
            if route is None:
                version = self.registry.resolve(name)
                return AliasRoute("", version, {version: 1.0})
            return route
        return self.registry.route(name, selector)

    def _build(self, name: str, route: AliasRoute):
        """Load every version of a route: a LoadedModel when it is plain, else a SplitRoute."""
        if not route.is_split and route.shadow is None:
            return self._load(name, route.version)
        targets = [(self._load(name, v), w) for v, w in route.weights.items()]
        shadow = None if route.shadow is None else self._load(name, route.shadow)
        return SplitRoute(name, route.version, targets, shadow)

    def _load(self, name: str, version: int) -> LoadedModel:
        key = (name, version)
        found = self._pinned.get(key)
        if found is None:
            for entry in self._routes.values():
                for model in entry.models() if isinstance(entry, SplitRoute) else (entry,):
                    if (model.name, model.version) == key:
                        found = model
                        break
        if found is None:
            start = time.perf_counter()
            try:
                record = self.registry.get_version(name, version=version)
                spec, arrays = self.registry.load_spec(name, version=version)
                found = LoadedModel(name, version, load_for_inference(spec, arrays),
                                    record.signature)
                found.batcher = self._batcher(found, record.tags)
            except Exception:
                if self.on_load:
                    self.on_load(name, version, False)
                raise
            if self.on_load:
                self.on_load(name, version, True)
            logger.info("loaded %s v%s in %.1f ms", name, version,
                        1000 * (time.perf_counter() - start))
        self._pinned[key] = found
        self._pinned.move_to_end(key)
        while len(self._pinned) > self.max_versions:
            self._pinned.popitem(last=False)
        return found

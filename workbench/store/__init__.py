"""The store layer: every SQL statement of the workbench, behind named methods.

``Store(home, url)`` opens (lazily, and migrating each to the newest schema) the tables of

- :attr:`Store.registry` — models, versions, aliases, audit log (:mod:`.registry`);
- :attr:`Store.keys` — hashed API keys (:mod:`.keys`);
- :attr:`Store.predictions` — prediction log, roll-ups and alert state (:mod:`.predictions`);
- :attr:`Store.quotas` — per-key quota state shared by worker processes (:mod:`.quotas`);
- :attr:`Store.loop` — feedback labels, rollouts, controller lease, webhook deliveries
  (:mod:`.loop`).

Backends: SQLite files in the home (``registry.db`` holds registry and keys, ``predictions.db``
the log; the default) or one PostgreSQL database for everything, chosen by a store URL
(``postgresql://user@host/db``; the ``WORKBENCH_STORE`` environment variable when none is given).
Weight files stay content-addressed files in the home either way.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from . import keys as _keys
from . import loop as _loop
from . import predictions as _predictions
from . import quotas as _quotas
from . import registry as _registry
from .keys import ConflictError, KeyTables
from .loop import LoopTables
from .migrations import Migration, SchemaError, migrate
from .predictions import PredictionTables
from .quotas import QuotaTables
from .registry import RegistryTables

__all__ = [
    "COMPONENTS",
    "ENV",
    "ConflictError",
    "KeyTables",
    "LoopTables",
    "Migration",
    "PredictionTables",
    "QuotaTables",
    "RegistryTables",
    "SchemaError",
    "Store",
    "resolve_url",
]

#: environment variable naming the store when no URL is given
ENV = "WORKBENCH_STORE"

#: component -> (SQLite file in the home, migrations)
COMPONENTS = {
    "registry": ("registry.db", _registry.MIGRATIONS),
    "keys": ("registry.db", _keys.MIGRATIONS),
    "predictions": ("predictions.db", _predictions.MIGRATIONS),
    "quotas": ("quota.db", _quotas.MIGRATIONS),
    "loop": ("predictions.db", _loop.MIGRATIONS),
}


def resolve_url(url=None) -> str | None:
    """The store URL to use: ``url``, else ``$WORKBENCH_STORE``, else None (SQLite in the home).

    Accepts ``postgresql://…`` (or ``postgres://…``) and ``sqlite`` / ``sqlite://`` for the
    default; anything else is a ``ValueError`` naming what is accepted.
    """
    if url is None:
        url = os.environ.get(ENV) or None
    if url is None:
        return None
    if not isinstance(url, str):
        raise TypeError(f"store must be a URL string, got {type(url).__name__}")
    url = url.strip()
    if url in ("", "sqlite", "sqlite://"):
        return None
    if url.startswith(("postgresql://", "postgres://")):
        return url
    raise ValueError(f"store URL must start with postgresql:// (or be 'sqlite' for files in the "
                     f"home), got {url.split('://')[0]!r}://…")


def redact(url: str | None) -> str:
    """``url`` without user and password, for messages and logs (``sqlite`` for None)."""
    if not url:
        return "sqlite"
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


#: help text of ``--store`` on every command that takes ``--home``
STORE_HELP = ("store URL, e.g. postgresql://user@host/db for many nodes (default: "
              "$WORKBENCH_STORE, else SQLite files in the home)")


def add_store_option(parser, **kwargs) -> None:
    """Add ``--store URL`` to an argparse parser (next to its ``--home``)."""
    parser.add_argument("--store", metavar="URL", help=STORE_HELP, **kwargs)


def use_store_option(args) -> str | None:
    """Apply a parsed ``--store``: check it and make it this process's store
    (``$WORKBENCH_STORE``, so every layer and every server process it starts uses it); return
    the store URL in force (None: SQLite in the home)."""
    url = getattr(args, "store", None)
    if url:
        resolved = resolve_url(url)
        if resolved:
            os.environ[ENV] = resolved
        else:
            os.environ.pop(ENV, None)
        return resolved
    return resolve_url(None)


class Store:
    """The tables of one workbench home (see the module).

    Parameters
    ----------
    home : path-like
        The workbench home (SQLite files live here; blobs always do).
    url : str or None
        Store URL; ``$WORKBENCH_STORE`` or SQLite in the home when None.
    predictions_path : path-like, optional
        SQLite only: the prediction log file, when not ``<home>/predictions.db``.
    readonly : bool, default=False
        SQLite only: open existing files read-only, without migrating them.
    """

    def __init__(self, home, url=None, *, predictions_path=None, readonly: bool = False):
        self.home = Path(home)
        self.url = resolve_url(url)
        self.readonly = readonly
        self._paths = {"registry.db": self.home / "registry.db",
                       "predictions.db": Path(predictions_path or self.home / "predictions.db"),
                       "quota.db": self.home / "quota.db"}
        self._dbs: dict = {}
        self._tables: dict = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        where = redact(self.url) if self.url else f"SQLite in {self.home}"
        return f"<Store {where} open={sorted(self._tables)}>"

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return "postgresql" if self.url else "sqlite"

    @property
    def registry(self) -> RegistryTables:
        return self._open("registry", RegistryTables)

    @property
    def keys(self) -> KeyTables:
        return self._open("keys", KeyTables)

    @property
    def predictions(self) -> PredictionTables:
        return self._open("predictions", PredictionTables)

    @property
    def quotas(self) -> QuotaTables:
        return self._open("quotas", QuotaTables)

    @property
    def loop(self) -> LoopTables:
        """Feedback labels, rollouts, the controller lease, webhook deliveries (issue 14)."""
        _ = self.predictions        # the loop's migration indexes the prediction log
        return self._open("loop", LoopTables)

    def exists(self, component: str) -> bool:
        """SQLite: whether the component's file exists; PostgreSQL: always True."""
        return self.url is not None or self._paths[COMPONENTS[component][0]].exists()

    def database(self, component: str):
        """The backend connection a component lives in (opened on first use)."""
        filename, _ = COMPONENTS[component]
        key = "postgresql" if self.url else filename
        if key not in self._dbs:
            if self.url:
                from .postgres import PostgresDatabase

                self._dbs[key] = PostgresDatabase(self.url)
            else:
                from .sqlite import SQLiteDatabase

                synchronous = "NORMAL" if filename in ("predictions.db", "quota.db") else "FULL"
                self._dbs[key] = SQLiteDatabase(self._paths[filename], synchronous=synchronous,
                                                readonly=self.readonly)
        return self._dbs[key]

    def _open(self, component, cls):
        with self._lock:
            if component not in self._tables:
                db = self.database(component)
                if not (self.readonly and self.url is None):   # read-only applies to SQLite
                    import time

                    migrate(db, component, COMPONENTS[component][1], now=time.time())
                self._tables[component] = cls(db)
            return self._tables[component]

    def schema_versions(self) -> dict:
        """``{component: version}`` of the components opened so far."""
        out = {}
        for component in self._tables:
            with self.database(component).read() as conn:
                from .migrations import current_version

                out[component] = current_version(conn, component)
        return out

    def close(self) -> None:
        """Close every connection."""
        with self._lock:
            for db in self._dbs.values():
                db.close()
            self._dbs.clear()
            self._tables.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

"""What the registry hands out: frozen records of versions, audit events and comparisons."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field


def format_time(ts: float) -> str:
    """Return UNIX seconds as a local ``YYYY-MM-DD HH:MM:SS`` string."""
    return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model: metadata only, the weights stay on disk.

    Shows itself in a notebook as a model card (``_repr_html_``).

    Attributes
    ----------
    name, version : str, int
        Model name and its version number (1, 2, 3 ... never reused).
    sha256, size_bytes : str, int
        Hash and size of the weight blob under ``blobs/``.
    created_at : float
        UNIX seconds when the version was registered in this home.
    author : str
        Who registered it.
    metrics, params, tags : dict
        Numbers, training parameters and free-form labels given at register time.
    description : str
    parent : tuple (name, version) or None
        The version this one was derived from (lineage).
    signature : dict or None
        Input/output signature, as ``model.signature()``.
    model_class : str
        ``spec["class"]`` of the stored model.
    aliases : tuple of str
        Aliases pointing at this version when the record was read.
    archived : bool
    reference_sha256 : str or None
        Blob of the drift reference, when one was given.
    origin : dict or None
        Where an imported version came from (source name, version, author, time).
    """

    name: str
    version: int
    sha256: str
    size_bytes: int
    created_at: float
    author: str
    metrics: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)
    description: str = ""
    parent: tuple | None = None
    signature: dict | None = None
    model_class: str = ""
    aliases: tuple = ()
    archived: bool = False
    reference_sha256: str | None = None
    origin: dict | None = None

    def __repr__(self) -> str:
        extra = f" aliases={list(self.aliases)}" if self.aliases else ""
        extra += " archived" if self.archived else ""
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in list(self.metrics.items())[:3])
        return (f"<ModelVersion {self.name} v{self.version} {self.model_class} "
                f"sha256={self.sha256[:10]} {metrics}{extra}>")

    def _repr_html_(self) -> str:
        from .card import render_card

        return render_card(self)


@dataclass(frozen=True)
class AliasRoute:
    """Where requests for one alias go.

    Attributes
    ----------
    alias : str
    version : int
        The primary target (what :meth:`Registry.aliases` reports).
    weights : dict of int -> float
        Share of requests per version; ``{version: 1.0}`` for a plain alias.
    shadow : int or None
        A version that gets a copy of every request without answering it.
    """

    alias: str
    version: int
    weights: dict
    shadow: int | None = None

    @property
    def is_split(self) -> bool:
        return len(self.weights) > 1

    def __repr__(self) -> str:
        split = " + ".join(f"{w:.0%} v{v}" for v, w in self.weights.items())
        shadow = f", shadow v{self.shadow}" if self.shadow else ""
        return f"<AliasRoute {self.alias} = {split}{shadow}>"


@dataclass(frozen=True)
class AuditEvent:
    """One line of the append-only audit log.

    ``action`` is one of ``registered``, ``imported``, ``aliased``, ``rolled back``, ``archived``,
    ``split`` (``detail["weights"]``), ``promoted``, ``aborted``, ``shadowed``, ``unshadowed``.
    For alias events ``alias`` names the alias, ``version`` the new target and ``previous``
    the old one (None when the alias was new).
    """

    id: int
    name: str
    action: str
    version: int | None
    alias: str | None
    previous: int | None
    author: str
    at: float
    detail: dict = field(default_factory=dict)

    def __str__(self) -> str:
        what = f"v{self.version}" if self.version is not None else ""
        if self.alias:
            before = f" (was v{self.previous})" if self.previous is not None else ""
            what = f"{self.alias} -> v{self.version}{before}"
        return f"{format_time(self.at)}  {self.author:<10} {self.action:<11} {self.name} {what}"


@dataclass(frozen=True)
class Comparison:
    """Two versions of a model side by side.

    ``metrics`` maps each metric name to ``(value in v1, value in v2)`` (None where missing);
    ``params`` holds only the parameters that differ.
    """

    name: str
    v1: int
    v2: int
    metrics: dict
    params: dict
    same_signature: bool

    def delta(self, metric: str) -> float | None:
        """Return ``v2 - v1`` for ``metric``, or None when either is missing."""
        a, b = self.metrics[metric]
        return None if a is None or b is None else b - a

    def _repr_html_(self) -> str:
        from .card import render_comparison

        return render_comparison(self)

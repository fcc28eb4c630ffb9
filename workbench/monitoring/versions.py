"""Versions side by side during a canary or a shadow: traffic share, latency, errors, agreement
with the answering version and prediction distribution, as frozen dataclasses.

Client traffic comes from the roll-ups (per version); shadow answers, which are not client
traffic, from the ``role = 'shadow'`` rows of the prediction log (a partial index keeps that read
small), at most ``max_shadow_rows`` of the newest.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import orjson

from .rollup import output_key, percentile_from_buckets


@dataclass(frozen=True)
class VersionStats:
    """One version's figures over the window.

    ``role`` is ``"primary"`` (answers most of the alias's traffic), ``"canary"`` (answers a
    share of it), ``"shadow"`` (gets a copy, answers nobody) or ``"other"`` (addressed by number
    or another alias). ``weight`` is the configured share (None when not in the split);
    ``share`` the measured share of client requests (0 for a shadow); ``agreement`` the mean
    fraction of rows where a shadow's output equalled the answering version's (None otherwise).
    """

    version: int
    role: str
    weight: float | None
    requests: int
    share: float
    p50_ms: float
    p99_ms: float
    error_rate: float
    agreement: float | None
    predictions: dict


@dataclass(frozen=True)
class VersionComparison:
    """How one alias (``production`` by default) splits and copies traffic, and each version's
    figures (``versions``: primary first, then canaries, the shadow, the others)."""

    model: str
    alias: str
    weights: dict
    shadow: int | None
    versions: tuple

    @property
    def active(self) -> bool:
        """Whether a canary or a shadow runs now."""
        return len(self.weights) > 1 or self.shadow is not None

    def get(self, version: int) -> VersionStats | None:
        return next((v for v in self.versions if v.version == version), None)


_ORDER = {"primary": 0, "canary": 1, "shadow": 2, "other": 3}


def compare_versions(tables, registry, model: str, *, lo: int, hi: int, alias: str = "production",
                     max_shadow_rows: int = 20_000, rollups=None) -> VersionComparison:
    """Figures of every version of ``model`` seen in seconds ``[lo, hi]`` (see the module).
    ``rollups``: the window's roll-ups already read (a :class:`~.traffic.WindowRollups` of the
    same seconds), so a refresh reads them once."""
    try:
        route = registry.routes(model).get(alias)
    except LookupError:
        route = None
    weights = dict(route.weights) if route is not None else {}
    shadow = route.shadow if route is not None else None
    primary = route.version if route is not None else None
    if rollups is None:
        from .traffic import read_window

        rollups = read_window(tables, model, lo, hi, max(1, hi - lo + 1))
    status = [r for r in rollups.status_by_version if r[0] != 0]
    latency = rollups.latency_by_version
    outputs = rollups.outputs_by_version
    total = sum(r[2] for r in status)
    stats = []
    for v in sorted({int(r[0]) for r in status} | set(weights)):
        req = sum(r[2] for r in status if r[0] == v)
        err = sum(r[2] for r in status if r[0] == v and r[1] >= 400)
        lat = [(b, n) for ver, b, n in latency if ver == v]
        # the "shadow" role belongs to the shadow's own rows (_shadow_stats): a version that is the
        # shadow now but answered clients in the window did so as something else
        role = "primary" if v == primary else "canary" if v in weights else "other"
        stats.append(VersionStats(
            version=v, role=role, weight=weights.get(v), requests=int(req),
            share=req / total if total else 0.0,
            p50_ms=_pct(lat, 50), p99_ms=_pct(lat, 99), error_rate=err / req if req else 0.0,
            agreement=None,
            predictions=dict(sorted(((o, int(n)) for ver, o, n in outputs if ver == v),
                                    key=lambda kv: -kv[1]))))
    stats += _shadow_stats(tables, model, lo, hi, shadow, max_shadow_rows)
    stats.sort(key=lambda s: (_ORDER[s.role], s.version))
    return VersionComparison(model, alias, weights, shadow, tuple(stats))


def _pct(pairs, q) -> float:
    if not pairs:
        return math.nan
    buckets, counts = zip(*pairs)
    return percentile_from_buckets(buckets, counts, q)


def _shadow_stats(tables, model, lo, hi, current, max_rows) -> list:
    rows = tables.shadow_rows(model, lo, hi, max_rows)
    out = []
    for v in sorted({int(r[0]) for r in rows} | ({current} if current else set())):
        mine = [r for r in rows if r[0] == v]
        lat = np.array([r[2] for r in mine], dtype=float)
        agree = [r[3] for r in mine if r[3] is not None]
        counts: Counter = Counter()
        for r in mine:
            for value in orjson.loads(r[4]) if r[4] else ():
                counts[output_key(value)] += 1
        out.append(VersionStats(
            version=v, role="shadow", weight=None, requests=len(mine), share=0.0,
            p50_ms=float(np.percentile(lat, 50)) if len(lat) else math.nan,
            p99_ms=float(np.percentile(lat, 99)) if len(lat) else math.nan,
            error_rate=sum(r[1] >= 400 for r in mine) / len(mine) if mine else 0.0,
            agreement=float(np.mean(agree)) if agree else None,
            predictions=dict(counts.most_common())))
    return out

"""Traffic splits of an alias: canary weights, promote / abort, and a shadow version.

An alias normally points at one version. :meth:`TrafficOps.set_split` points it at several with
weights (``production`` = 90 % v3 + 10 % v4); the alias's ``version`` stays the primary target
(the largest weight), so :meth:`~workbench.registry.Registry.aliases` and everything that reads
one version per alias keep working. Splits go on the same rollback stack as plain moves and are
written to the audit log. :meth:`TrafficOps.set_shadow` adds a version that receives a copy of
the alias's traffic; only the targets of the split answer clients.
"""
from __future__ import annotations

import json
import math
import numbers
import time

from .errors import AliasNotFoundError, InvalidInputError, check_name, check_version
from .records import AliasRoute


def check_weights(weights) -> dict[int, float]:
    """Return ``{version: weight}`` normalised to sum 1; weights must be positive numbers."""
    if not isinstance(weights, dict) or not weights:
        raise InvalidInputError(f"weights must be a non-empty dict {{version: weight}}, "
                                f"got {weights!r:.80}")
    out = {}
    for version, weight in weights.items():
        if isinstance(version, str) and version.isdigit():
            version = int(version)
        version = check_version(version)
        if (isinstance(weight, bool) or not isinstance(weight, numbers.Real)
                or not math.isfinite(weight) or weight <= 0):
            raise InvalidInputError(f"the weight of v{version} must be a positive number, "
                                    f"got {weight!r}")
        out[version] = out.get(version, 0.0) + float(weight)
    total = sum(out.values())
    if abs(total - 1.0) > 1e-6 and abs(total - 100.0) > 1e-6:
        raise InvalidInputError(f"weights must add up to 1 (or 100 %), got {total:g} from "
                                f"{weights!r:.80}")
    return {v: w / total for v, w in sorted(out.items())}


class TrafficOps:
    """Traffic splits of :class:`~workbench.registry.Registry` over its store tables (no SQL
    here); needs :class:`.aliases.AliasOps`."""

    def set_split(self, name, alias, weights) -> AliasRoute:
        """Point ``alias`` at several versions with weights, e.g. ``{3: 0.9, 4: 0.1}``.

        The version with the largest weight (the older one on a tie) is the primary target.
        One version with weight 1 is a plain :meth:`set_alias`. Rollback returns to the
        alias's previous target, split or not.
        """
        check_name(name)
        check_name(alias, "alias name")
        weights = check_weights(weights)
        primary = max(weights, key=lambda v: (weights[v], -v))
        split = None if len(weights) == 1 else json.dumps({str(v): w for v, w in weights.items()})
        with self._tables.write() as tx:
            for version in weights:
                self._check_target(tx, name, alias, version)
            self._move(tx, name, alias, primary, split, "split" if split else "aliased",
                       {"weights": {str(v): w for v, w in weights.items()}} if split else None)
        return self.route(name, alias)

    def promote(self, name, alias, version=None) -> int:
        """End a split by sending all of ``alias``'s traffic to ``version`` (default: the
        canary, the version with the largest weight after the primary); return it."""
        route = self._split_route(name, alias)
        if version is None:
            others = [v for v in route.weights if v != route.version]
            version = max(others, key=lambda v: (route.weights[v], v))
        version = check_version(version)
        if version not in route.weights:
            raise InvalidInputError(f"v{version} is not part of the split of {alias!r} "
                                    f"({route!r}); promote one of its versions")
        return self._end_split(name, alias, version, "promoted", route)

    def abort(self, name, alias) -> int:
        """End a split by sending all of ``alias``'s traffic back to its primary version."""
        route = self._split_route(name, alias)
        return self._end_split(name, alias, route.version, "aborted", route)

    def _end_split(self, name, alias, version, action, route) -> int:
        with self._tables.write() as tx:
            self._check_target(tx, name, alias, version)
            self._move(tx, name, alias, version, None, action,
                       {"weights": {str(v): w for v, w in route.weights.items()}})
        return version

    def _split_route(self, name, alias) -> AliasRoute:
        route = self.route(name, alias)
        if not route.is_split:
            raise InvalidInputError(f"alias {alias!r} of {name!r} is not split (it points at "
                                    f"v{route.version} only); nothing to promote or abort")
        return route

    def set_shadow(self, name, alias, version) -> AliasRoute:
        """Give ``alias`` a shadow ``version`` (None removes it): it receives a copy of every
        request the alias answers, its outputs and latency are logged, no client sees them."""
        check_name(name)
        check_name(alias, "alias name")
        if version is not None:
            version = check_version(version)
        with self._tables.write() as tx:
            self._model_exists(tx, name)
            current = self._alias_target(tx, name, alias)
            if current is None:
                raise AliasNotFoundError(self._no_alias_message(tx, name, alias))
            if version is not None:
                self._check_target(tx, name, alias, version)
            before = tx.alias_row(name, alias)["shadow"]
            if before != version:
                tx.set_shadow(name, alias, version)
                tx.add_audit(name=name, action="shadowed" if version else "unshadowed",
                             author=self.author, at=time.time(), alias=alias,
                             version=version if version else before, previous=before)
                tx.bump_generation()
        return self.route(name, alias)

    def routes(self, name) -> dict[str, AliasRoute]:
        """Return ``{alias: AliasRoute}`` for model ``name`` (weights and shadow of each)."""
        check_name(name)
        with self._tables.read() as tx:
            self._model_exists(tx, name)
            rows = tx.alias_rows(name)
        return {r["alias"]: _route(r) for r in rows}

    def route(self, name, alias) -> AliasRoute:
        """Return the :class:`AliasRoute` of one alias (``AliasNotFoundError`` if none)."""
        check_name(alias, "alias name")
        found = self.routes(name).get(alias)
        if found is None:
            with self._tables.read() as tx:
                raise AliasNotFoundError(self._no_alias_message(tx, name, alias))
        return found


def _route(row) -> AliasRoute:
    version = int(row["version"])
    weights = ({int(v): float(w) for v, w in json.loads(row["split"]).items()} if row["split"]
               else {version: 1.0})
    shadow = None if row["shadow"] is None else int(row["shadow"])
    return AliasRoute(row["alias"], version, weights, shadow)

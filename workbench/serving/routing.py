"""Aliases whose traffic is split between versions (a canary) or copied to a shadow version.

:class:`~.models_cache.ModelCache` keeps a plain alias as its :class:`~.models_cache.LoadedModel`
and anything else as a :class:`SplitRoute`, which the request path asks which version answers.
"""
from __future__ import annotations

import random
import zlib


class SplitRoute:
    """An alias whose requests go to several versions by weight (a canary) and/or are copied to
    a shadow version. Plain aliases are cached as a :class:`LoadedModel` instead.

    :meth:`pick` chooses the version that answers: with a client id the choice is a hash of it
    (the same client always reaches the same version, in every worker and on every replica);
    without one it is random with the configured weights.
    """

    def __init__(self, name: str, primary: int, targets, shadow=None):
        self.name = name
        self.targets = [(m, float(w)) for m, w in targets]
        self.primary = next(m for m, _ in self.targets if m.version == primary)
        self.version = self.primary.version
        self.shadow = shadow
        self.key = route_key(primary, {m.version: w for m, w in self.targets},
                              None if shadow is None else shadow.version)
        total, self._cumulative = 0.0, []
        for _, w in self.targets:
            total += w
            self._cumulative.append(total)

    def __repr__(self) -> str:
        split = " + ".join(f"{w:.0%} v{m.version}" for m, w in self.targets)
        shadow = "" if self.shadow is None else f", shadow v{self.shadow.version}"
        return f"<SplitRoute {self.name} = {split}{shadow}>"

    def models(self) -> list:
        return [m for m, _ in self.targets] + ([] if self.shadow is None else [self.shadow])

    def pick(self, client_id: str | None = None):
        """The :class:`~.models_cache.LoadedModel` that answers this request."""
        if len(self.targets) == 1:
            return self.targets[0][0]
        if client_id is None:
            u = random.random()
        else:
            u = zlib.crc32(client_id.encode("utf-8", "replace")) / 2**32
        u *= self._cumulative[-1]
        for (model, _), edge in zip(self.targets, self._cumulative):
            if u < edge:
                return model
        return self.targets[-1][0]


def route_key(version, weights, shadow) -> tuple:
    return (int(version), tuple(sorted(weights.items())), shadow)


def key_of(entry) -> tuple:
    if isinstance(entry, SplitRoute):
        return entry.key
    return route_key(entry.version, {entry.version: 1.0}, None)

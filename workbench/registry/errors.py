"""Errors raised by the registry, and the checks that raise them.

Every error subclasses :class:`RegistryError`; each concrete error is also a ``ValueError``
(something given was wrong) or a ``LookupError`` (something asked for does not exist), so
``except ValueError`` / ``except LookupError`` keep working for callers that do not know us.
"""
from __future__ import annotations

import json
import math
import numbers
import re

#: what a model name and an alias name may look like (matched in full: no trailing newline)
NAME_PATTERN = re.compile(r"[a-z0-9_-][a-z0-9._-]{0,63}")
NAME_RULE = ("1-64 characters from lower-case letters a-z, digits 0-9, '.', '_' and '-', "
             "not starting with '.'")
#: what a tag key may look like (matched in full)
TAG_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._:/-]{0,63}")
TAG_KEY_RULE = ("1-64 characters from letters, digits, '.', '_', '-', ':' and '/', "
                "not starting with '.'")


class RegistryError(Exception):
    """Base class of every registry error."""


class InvalidNameError(RegistryError, ValueError):
    """A model or alias name breaks the naming rule."""


class InvalidInputError(RegistryError, ValueError):
    """An argument (metrics, params, reference data, version number, model ...) is unusable."""


class ModelNotFoundError(RegistryError, LookupError):
    """No model of that name is registered."""


class VersionNotFoundError(RegistryError, LookupError):
    """The model exists but not that version (or no version can be chosen)."""


class AliasNotFoundError(RegistryError, LookupError):
    """The model exists but has no alias of that name."""


class AliasInUseError(RegistryError, ValueError):
    """A version cannot be archived while an alias points at it."""


class ArchivedVersionError(RegistryError, ValueError):
    """An alias cannot be moved to an archived version."""


class NothingToRollBackError(RegistryError, LookupError):
    """The alias has no earlier target to go back to."""


class DuplicateVersionError(RegistryError, ValueError):
    """An import would add weights that a version of the model already holds.

    ``name`` and ``version`` say which version holds them; nothing was added.
    """

    def __init__(self, message: str, name: str, version: int):
        super().__init__(message)
        self.name, self.version = name, version


class IntegrityError(RegistryError, ValueError):
    """A stored or imported file does not match its SHA-256 or cannot be read safely."""


def check_name(name, what: str = "model name") -> str:
    """Return ``name`` if it follows :data:`NAME_RULE`, else raise :class:`InvalidNameError`.

    Examples
    --------
    >>> check_name("digits-mlp")
    'digits-mlp'
    """
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidNameError(f"{what} must be {NAME_RULE}; got {name!r}")
    return name


def check_tags(tags) -> dict:
    """Return ``tags`` (a dict of JSON values) if every key follows :data:`TAG_KEY_RULE`."""
    tags = check_json_dict(tags, "tags")
    for key in tags:
        if not TAG_KEY_PATTERN.fullmatch(key):
            raise InvalidNameError(f"tag names must be {TAG_KEY_RULE}; got {key!r}")
    return tags


def check_version(version) -> int:
    """Return ``version`` as an int if it is a positive integer, else raise."""
    if isinstance(version, bool) or not isinstance(version, numbers.Integral):
        raise InvalidInputError(f"version must be a positive integer, got {version!r}")
    version = int(version)
    if not 1 <= version < 2**63:            # a database integer holds no more
        raise InvalidInputError(f"version must be a positive integer below 2**63, got {version}")
    return version


def check_metrics(metrics) -> dict:
    """Return ``metrics`` as ``{str: float}``; each value must be a finite real number."""
    if metrics is None:
        return {}
    if not isinstance(metrics, dict):
        raise InvalidInputError(f"metrics must be a dict of name -> number, got {type(metrics).__name__}")
    out = {}
    for key, value in metrics.items():
        if not isinstance(key, str) or not key:
            raise InvalidInputError(f"metric names must be non-empty strings, got {key!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidInputError(f"metric {key!r} must be a number, got {value!r}") from None
        if isinstance(value, bool) or not math.isfinite(number):
            raise InvalidInputError(f"metric {key!r} must be a finite number, got {value!r}")
        out[key] = number
    return out


def check_json_dict(value, what: str) -> dict:
    """Return ``value`` (a dict with string keys) if it survives a JSON round trip, else raise."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise InvalidInputError(f"{what} must be a dict with string keys, got {value!r:.80}")
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} must hold only JSON values (str, number, bool, None, "
                                f"list, dict): {exc}") from None

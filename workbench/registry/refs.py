"""One way to name a version everywhere: ``MODEL [VERSION|ALIAS]``.

A reference is the text a person types after the model's name: a string of digits is a version
number (``3``), anything else an alias (``production``). :func:`find_version` looks it up and,
when there is no such version or alias, says which versions and aliases the model does have.

Examples
--------
>>> parse_ref("3"), parse_ref("production"), parse_ref(None)
((3, None), (None, 'production'), (None, None))
"""
from __future__ import annotations

import re

from .errors import (AliasNotFoundError, InvalidInputError, InvalidNameError, VersionNotFoundError,
                     check_name)

_DIGITS = re.compile(r"[0-9]+")
_V_NUMBER = re.compile(r"v([0-9]+)")


def parse_ref(ref) -> tuple[int | None, str | None]:
    """Return ``(version, alias)`` for a reference: digits are a version, other text an alias."""
    if ref is None:
        return None, None
    if isinstance(ref, bool) or not isinstance(ref, (str, int)):
        raise InvalidInputError(f"a version is a number or an alias name, got {ref!r}")
    if isinstance(ref, int):
        return ref, None
    ref = ref.strip()
    if _DIGITS.fullmatch(ref):
        return int(ref), None
    if not ref:
        raise InvalidInputError("an empty version: give a number (e.g. 3) or an alias "
                                "(e.g. production)")
    return None, ref


def known_text(registry, name) -> str:
    """``versions 1 to 4 (3 archived); aliases production -> v2, staging -> v4``."""
    versions = registry.versions(name)            # raises ModelNotFoundError, naming known models
    numbers = [v.version for v in versions]
    if not numbers:
        listed = "no versions"
    elif len(numbers) <= 8:
        listed = "versions " + ", ".join(str(n) for n in numbers)
    else:
        listed = f"versions {numbers[0]} to {numbers[-1]}"
    archived = [str(v.version) for v in versions if v.archived]
    if archived:
        listed += f" ({', '.join(archived)} archived)"
    aliases = registry.aliases(name)
    held = ", ".join(f"{a} -> v{v}" for a, v in sorted(aliases.items())) or "none yet"
    return f"{listed}; aliases: {held}"


def find_version(registry, name, version=None, alias=None, *, ref=None):
    """The :class:`ModelVersion` meant by ``version``, ``alias`` or the text ``ref``.

    With none of them, the latest version that is not archived. When the model has no such
    version or alias, the error (:class:`VersionNotFoundError` or :class:`AliasNotFoundError`)
    names the model and lists its versions and aliases.
    """
    if ref is not None:
        if version is not None or alias is not None:
            raise InvalidInputError(f"give the version of {name!r} once, not both {ref!r} and "
                                    f"{version if version is not None else alias!r}")
        version, alias = parse_ref(ref)
    check_name(name)
    try:
        return registry.get_version(name, version, alias)
    except VersionNotFoundError:
        if version is None:                       # no version to choose as "latest"
            raise
        raise VersionNotFoundError(f"model {name!r} has no version {version}; it has "
                                   f"{known_text(registry, name)}") from None
    except (AliasNotFoundError, InvalidNameError):
        if alias is None:
            raise
        hint = ""
        numbered = _V_NUMBER.fullmatch(alias)
        if numbered:
            hint = f" (for version {numbered.group(1)}, write just {numbered.group(1)})"
        raise AliasNotFoundError(f"model {name!r} has no version or alias {alias!r}{hint}; it "
                                 f"has {known_text(registry, name)}") from None

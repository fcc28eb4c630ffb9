"""Parsing what an operator types about a key: model scopes, expiry, durations and rates.

Each function takes the text of a command-line option (or a value from JSON) and returns the
stored form, raising ``ValueError`` with a message that shows a correct example.

>>> parse_models("digits, iris-*")
('digits', 'iris-*')
>>> parse_duration("30d")
2592000.0
>>> parse_rate("50/s"), parse_rate("120/min")
(50.0, 2.0)
"""
from __future__ import annotations

import datetime as _dt
import math
import re
import time

_PATTERN = re.compile(r"^[A-Za-z0-9._*?\[\]-]{1,64}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$")
_SECONDS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_PER = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600,
        "hour": 3600, "d": 86400, "day": 86400}


def parse_models(value) -> tuple[str, ...] | None:
    """Model names or fnmatch patterns (``"digits,iris-*"`` or a list); None/``"*"``: all."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"models must be a comma-separated string or a list, got {value!r:.60}")
    patterns = []
    for item in value:
        if not isinstance(item, str):
            raise TypeError(f"model patterns must be strings, got {item!r:.40}")
        item = item.strip()
        if not item:
            continue
        if not _PATTERN.match(item):
            raise ValueError(f"model pattern {item!r:.70} may use letters, digits, ._- and the "
                             f"wildcards * ? [ ] (1-64 characters), e.g. 'digits,iris-*'")
        patterns.append(item)
    if not patterns:
        raise ValueError("models must name at least one model or pattern, e.g. 'digits,iris-*'")
    return None if "*" in patterns else tuple(dict.fromkeys(patterns))


def parse_duration(text) -> float:
    """Seconds in ``"90"``, ``"90s"``, ``"15m"``, ``"1h"``, ``"30d"`` or ``"2w"``."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = _DURATION.match(str(text))
        if match is None:
            raise ValueError(f"a duration is a number with a unit s, m, h, d or w, e.g. '30d' or "
                             f"'1h', got {text!r:.40}")
        seconds = float(match.group(1)) * _SECONDS[match.group(2)]
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"a duration must be a non-negative number of seconds, got {text!r:.40}")
    return seconds


def parse_expiry(expires=None, expires_in=None, *, now: float | None = None) -> float | None:
    """UNIX time of an expiry given as an ISO 8601 instant or as a duration from now."""
    if expires is not None and expires_in is not None:
        raise ValueError("give either an expiry time (--expires) or a lifetime (--expires-in), "
                         "not both")
    if expires_in is not None:
        return (time.time() if now is None else now) + parse_duration(expires_in)
    if expires is None:
        return None
    if isinstance(expires, (int, float)) and not isinstance(expires, bool):
        return float(expires)
    try:
        when = _dt.datetime.fromisoformat(str(expires).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"expiry must be an ISO 8601 time such as 2027-01-31T00:00:00Z, "
                         f"got {expires!r:.40}") from None
    if when.tzinfo is None:
        raise ValueError(f"expiry {expires!r:.40} needs a time zone, e.g. 2027-01-31T00:00:00Z")
    return when.timestamp()


def parse_rate(text) -> float | None:
    """Requests per second in ``"50/s"``, ``"3000/min"``, ``"100/h"`` or ``"20"``; None: none."""
    if text is None:
        return None
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        number, per = float(text), 1
    else:
        amount, _, unit = str(text).strip().partition("/")
        unit = unit.strip().lower() or "s"
        if unit not in _PER:
            raise ValueError(f"a rate is requests per s, min, h or d, e.g. '50/s', "
                             f"got {text!r:.40}")
        try:
            number, per = float(amount), _PER[unit]
        except ValueError:
            raise ValueError(f"a rate starts with a number, e.g. '50/s', got {text!r:.40}") from None
    rate = number / per
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"a rate must be a positive number of requests, got {text!r:.40}")
    return rate


def check_limits(rate, burst, daily_rows) -> tuple:
    """Validate limits; return ``(rate, burst, daily_rows)`` with the default burst filled in
    (one second's worth of requests, at least 1)."""
    rate = parse_rate(rate)
    if burst is not None:
        if rate is None:
            raise ValueError("--burst needs --rate (the bucket refills at that rate)")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ValueError(f"burst must be a positive whole number of requests, got {burst!r}")
    elif rate is not None:
        burst = max(1, math.ceil(rate))
    if daily_rows is not None and (isinstance(daily_rows, bool) or not isinstance(daily_rows, int)
                                   or daily_rows < 1):
        raise ValueError(f"daily rows must be a positive whole number, got {daily_rows!r}")
    return rate, burst, daily_rows

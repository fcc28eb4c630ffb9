"""Usage per consumer: requests, rows, errors and compute time from the prediction log.

Every logged request carries ``key_id`` (the public id of the caller's API key, ``jwt:<sub>``
for a token, never a secret). :func:`usage_report` adds them up per period and per key, model or
version — a file an operator can bill from (``workbench usage --format csv``).

=============  ====================================================================
column         meaning
=============  ====================================================================
period         ``YYYY-MM-DD`` (``--period day``), ``YYYY-MM-DDTHH`` (hour),
               ``YYYY-MM`` (month) or ``all``; UTC
key_id         the caller (``-`` when the server ran without authentication)
key_name       the key's name from ``registry.db`` (the subject for JWTs)
model          model name (``-`` when the request named no known model)
version        model version that answered
requests       every logged request, refused ones included
rows           input rows of the requests that were answered (status < 400)
errors         requests answered with status 400 or more (401/403/404/429 …)
compute_ms     server-side milliseconds spent on the requests
=============  ====================================================================

Shadow copies (``role = 'shadow'``) are not a consumer's traffic and are left out.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ..store import Store
from .reader import FILENAME

BY = ("key", "model", "version")
PERIODS = ("day", "hour", "month", "all")
_GROUP = {"key": ("key_id",), "model": ("model",), "version": ("model", "version")}


@dataclass(frozen=True)
class UsageRow:
    """Usage of one consumer (and model / version) in one period."""

    period: str
    key_id: str
    key_name: str
    model: str
    version: str
    requests: int
    rows: int
    errors: int
    compute_ms: float


def _key_names(holder: Store) -> dict:
    if not holder.exists("keys") or not holder.database("keys").table_exists("serving_api_keys"):
        return {}
    return holder.keys.names()


def usage_report(home, *, by=("key",), since: float | None = None, until: float | None = None,
                 period: str = "day", store: str | None = None) -> list[UsageRow]:
    """Return usage rows, ordered by period then key, model and version.

    Parameters
    ----------
    home : path-like
        Workbench home (or its ``predictions.db``).
    by : str or sequence of {"key", "model", "version"}
        What to break usage down by; ``"key"`` is always included (usage is per consumer).
    since, until : float, optional
        UNIX time bounds on the request's arrival (``since`` inclusive, ``until`` exclusive).
    period : {"day", "hour", "month", "all"}
        Length of the periods (UTC).
    store : str, optional
        Store URL (``postgresql://…``); ``$WORKBENCH_STORE`` or the home's files when None.
    """
    path = Path(home)
    home = path.parent if path.suffix == ".db" else path
    path = home / FILENAME
    by = (by,) if isinstance(by, str) else tuple(by)
    unknown = [b for b in by if b not in BY]
    if unknown:
        raise ValueError(f"usage can be broken down by {', '.join(BY)}, got {unknown[0]!r}")
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    group = list(dict.fromkeys(["key_id"] + [c for b in by for c in _GROUP[b]]))
    holder = Store(home, store, predictions_path=path, readonly=True)
    try:
        if not holder.exists("predictions") or \
                not holder.database("predictions").table_exists("predictions"):
            return []
        rows = holder.predictions.usage(group, period=period, since=since, until=until)
        names = _key_names(holder)
    finally:
        holder.close()
    out = []
    for row in rows:
        values = dict(zip(["period"] + group, row))
        requests, n_rows, errors, compute = row[len(group) + 1:]
        key_id = values["key_id"] or "-"
        name = names.get(key_id) or (key_id[4:] if key_id.startswith("jwt:") else "-")
        version = values.get("version")
        out.append(UsageRow(period=values["period"], key_id=key_id, key_name=name,
                            model=values.get("model") or "-" if "model" in values else "*",
                            version="*" if "version" not in values else
                            ("-" if version is None else str(version)),
                            requests=int(requests), rows=int(n_rows), errors=int(errors),
                            compute_ms=round(float(compute), 3)))
    return out


FIELDS = tuple(UsageRow.__dataclass_fields__)


def format_usage(rows: list[UsageRow], fmt: str = "table") -> str:
    """Render usage rows as ``"table"`` (with a total line), ``"csv"`` or ``"json"``."""
    if fmt == "json":
        return json.dumps([asdict(r) for r in rows], indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(FIELDS)
        for r in rows:
            writer.writerow([getattr(r, f) for f in FIELDS])
        return buffer.getvalue()
    if fmt != "table":
        raise ValueError(f"format must be table, csv or json, got {fmt!r}")
    if not rows:
        return "no requests in the prediction log for this period"
    head = (f"{'period':<14}{'key id':<16}{'key name':<20}{'model':<16}{'version':>8}"
            f"{'requests':>10}{'rows':>10}{'errors':>8}{'compute ms':>13}")
    lines = [head]
    for r in rows:
        lines.append(f"{r.period:<14}{r.key_id[:15]:<16}{r.key_name[:19]:<20}{r.model[:15]:<16}"
                     f"{r.version:>8}{r.requests:>10}{r.rows:>10}{r.errors:>8}"
                     f"{r.compute_ms:>13.1f}")
    total = [sum(getattr(r, f) for r in rows) for f in ("requests", "rows", "errors", "compute_ms")]
    lines.append(f"{'total':<74}{total[0]:>10}{total[1]:>10}{total[2]:>8}{total[3]:>13.1f}")
    return "\n".join(lines)

"""``workbench serve``, ``workbench keys create|list|revoke|rotate|limit|events`` and
``workbench usage`` (requests, rows, errors and compute time per consumer, from the log)."""
from __future__ import annotations

import argparse
import datetime as _dt
import json

from ..store import add_store_option
from .server import add_arguments, run_args


def add_parser(subparsers) -> None:
    """Add the ``serve`` and ``keys`` sub-commands to the ``workbench`` command."""
    serve = subparsers.add_parser(
        "serve", help="serve the registry's models over HTTP (Open Inference Protocol v2)",
        description="Serve every model of a workbench home with uvicorn. Auth is on: create "
                    "keys with 'workbench keys create'.")
    add_arguments(serve)
    serve.set_defaults(func=run_args)

    keys = subparsers.add_parser("keys", help="create, list, rotate, limit and revoke API keys",
                                 description="API keys of the inference service (stored hashed "
                                             "in the store: registry.db or PostgreSQL; every change is in "
                                             "the audit log).")
    keys.add_argument("--home", help="workbench home (default: $WORKBENCH_HOME or artifacts/)")
    add_store_option(keys)
    home = argparse.ArgumentParser(add_help=False)
    home.add_argument("--home", default=None, dest="home_sub", help="workbench home")
    add_store_option(home, default=argparse.SUPPRESS)
    limits = argparse.ArgumentParser(add_help=False)
    limits.add_argument("--rate", default=None, metavar="N/UNIT",
                        help="request rate, e.g. 50/s or 3000/min (token bucket)")
    limits.add_argument("--burst", type=int, default=None,
                        help="requests that may come at once (default: one second's worth)")
    limits.add_argument("--daily-rows", type=int, default=None, metavar="N",
                        help="input rows per UTC day")
    sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", parents=[home, limits], help="create a key and print it once")
    create.add_argument("--role", required=True,
                        choices=["viewer", "predictor", "maintainer", "admin"])
    create.add_argument("--name", required=True, help="a unique name for the key's holder")
    create.add_argument("--models", default=None, metavar="PATTERNS",
                        help="only these models: names or patterns, e.g. 'digits,iris-*' "
                             "(default: every model)")
    create.add_argument("--expires", default=None, metavar="TIME",
                        help="expiry, ISO 8601 with a time zone, e.g. 2027-01-31T00:00:00Z")
    create.add_argument("--expires-in", default=None, metavar="DURATION",
                        help="lifetime from now, e.g. 30d, 12h, 90m")
    create.set_defaults(func=_create)
    listing = sub.add_parser("list", parents=[home], help="list keys (never the keys themselves)")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    listing.set_defaults(func=_list)
    revoke = sub.add_parser("revoke", parents=[home], help="revoke a key by name or id (servers "
                                                           "refuse it within a second)")
    revoke.add_argument("key", metavar="NAME_OR_ID")
    revoke.set_defaults(func=_revoke)
    rotate = sub.add_parser("rotate", parents=[home],
                            help="give a key a new secret (printed once); the old one works "
                                 "for --grace")
    rotate.add_argument("key", metavar="NAME_OR_ID")
    rotate.add_argument("--grace", default="0s", metavar="DURATION",
                        help="how long the old secret keeps working, e.g. 1h (default 0s)")
    rotate.set_defaults(func=_rotate)
    limit = sub.add_parser("limit", parents=[home, limits],
                           help="set a key's rate and daily row quota (no option: remove them)")
    limit.add_argument("key", metavar="NAME_OR_ID")
    limit.set_defaults(func=_limit)
    events = sub.add_parser("events", parents=[home], help="key events from the audit log")
    events.add_argument("key", nargs="?", default=None, metavar="NAME")
    events.set_defaults(func=_events)

    usage = subparsers.add_parser(
        "usage", help="requests, rows, errors and compute time per API key (for billing)",
        description="Add up the prediction log per consumer (API key or token subject) and "
                    "period; --by model or version breaks it down further.")
    usage.add_argument("--home", help="workbench home (default: $WORKBENCH_HOME or artifacts/)")
    add_store_option(usage)
    usage.add_argument("--by", default="key", help="key, model or version; several with commas "
                       "(default key)")
    usage.add_argument("--since", default=None, help="start: ISO time (2026-12-01T00:00:00Z), a "
                       "date (2026-12-01) or a duration ago (7d, 12h)")
    usage.add_argument("--until", default=None, help="end (exclusive), same forms as --since")
    usage.add_argument("--period", choices=["day", "hour", "month", "all"], default="day",
                       help="length of each period, UTC (default day)")
    usage.add_argument("--format", choices=["table", "csv", "json"], default="table")
    usage.set_defaults(func=_usage)


def _store(args):
    from ..home import resolve_home
    from .keys import KeyStore

    return KeyStore(resolve_home(getattr(args, "home_sub", None) or args.home),
                    store=getattr(args, "store", None))


def _time(at) -> str:
    if at is None:
        return "-"
    return _dt.datetime.fromtimestamp(at, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _create(args) -> int:
    from .key_options import parse_expiry

    expires_at = parse_expiry(args.expires, args.expires_in)
    store = _store(args)
    try:
        key = store.create(args.name, args.role, models=args.models, expires_at=expires_at,
                           rate=args.rate, burst=args.burst, daily_rows=args.daily_rows)
    finally:
        store.close()
    scope = f" for models {args.models}" if args.models else ""
    until = f", valid until {_time(expires_at)}" if expires_at else ""
    print(f"Created API key '{args.name}' with role {args.role}{scope}{until}. It is shown only "
          f"now; store it safely (send it as 'Authorization: Bearer <key>'):")
    print(key)
    return 0


def _limits(k) -> str:
    parts = []
    if k.rate is not None:
        parts.append(f"{k.rate:g}/s burst {k.burst}")
    if k.daily_rows is not None:
        parts.append(f"{k.daily_rows} rows/day")
    return ", ".join(parts) or "-"


def _list(args) -> int:
    store = _store(args)
    keys = store.list()
    store.close()
    if args.format == "json":
        print(json.dumps([k.to_json() for k in keys], indent=2))
        return 0
    if not keys:
        print("no API keys yet; create one with: workbench keys create --role predictor --name NAME")
        return 0
    print(f"{'id':<10}{'name':<20}{'role':<11}{'models':<16}{'expires':<22}{'last used':<22}"
          f"{'limits':<24}revoked")
    for k in keys:
        models = ",".join(k.models) if k.models else "*"
        print(f"{k.id:<10}{k.name:<20}{k.role:<11}{models:<16}{_time(k.expires_at):<22}"
              f"{_time(k.last_used_at):<22}{_limits(k):<24}{_time(k.revoked_at)}")
    return 0


def _revoke(args) -> int:
    store = _store(args)
    try:
        key = store.revoke(args.key)
    finally:
        store.close()
    print(f"revoked API key '{key.name}' (id {key.id}); running servers refuse it within a second")
    return 0


def _rotate(args) -> int:
    from .key_options import parse_duration

    grace = parse_duration(args.grace)
    store = _store(args)
    try:
        key = store.rotate(args.key, grace=grace)
        name = store.get(args.key).name
    finally:
        store.close()
    print(f"Rotated API key '{name}'; the old secret works for {grace:g} more seconds. The new "
          f"key is shown only now:")
    print(key)
    return 0


def _limit(args) -> int:
    store = _store(args)
    try:
        key = store.limit(args.key, rate=args.rate, burst=args.burst, daily_rows=args.daily_rows)
    finally:
        store.close()
    print(f"limits of API key '{key.name}': {_limits(key)}")
    return 0


def _events(args) -> int:
    store = _store(args)
    try:
        events = store.events(args.key)
    finally:
        store.close()
    for name, action, author, at, detail in events:
        print(f"{_time(at)}  {action:<12} {name:<20} by {author:<12} {json.dumps(detail)}")
    return 0


def _instant(text):
    """UNIX time of an ISO instant or date, or of now minus a duration."""
    import time

    from .key_options import parse_duration, parse_expiry

    if text is None:
        return None
    try:
        return time.time() - parse_duration(text)
    except ValueError:
        pass
    if len(text) == 10:                       # a bare date: midnight UTC
        text += "T00:00:00Z"
    return parse_expiry(text)


def _usage(args) -> int:
    from ..home import resolve_home
    from ..monitoring.usage import format_usage, usage_report

    by = [b.strip() for b in args.by.split(",") if b.strip()]
    rows = usage_report(resolve_home(args.home), by=by, since=_instant(args.since),
                        until=_instant(args.until), period=args.period)
    print(format_usage(rows, args.format))
    return 0

"""``workbench replay|feedback``: clients of the closed loop (replay logged traffic through a
version; post true labels to a service)."""
from __future__ import annotations

import json
import os
import sys
import time

from ..cli_args import add_model_ref, ref_of


def add_parser(subparsers) -> None:
    r = subparsers.add_parser("replay", help="re-run logged inputs through a version and compare",
                              description="Re-run a model's logged inputs through one version: "
                                          "'replay digits 3' or 'replay digits staging'.")
    add_model_ref(r, model_dest="model", model_option=True, required=True,
                  version_option="--version",
                  help="the version to replay through: a number (e.g. 3) or an alias")
    r.add_argument("--since", type=float, help="UNIX time, or negative: seconds before now")
    r.add_argument("--until", type=float, help="UNIX time, or negative: seconds before now")
    r.add_argument("--url", help="replay through this service instead of in this process")
    r.add_argument("--key", help="API key for --url (default: $WORKBENCH_API_KEY)")
    r.add_argument("--json", action="store_true", help="print the report as JSON")
    r.add_argument("--home")
    r.set_defaults(func=run_replay)

    f = subparsers.add_parser("feedback", help="post true labels (CSV id,row,label) to a service")
    f.add_argument("model", metavar="MODEL", help="model name")
    f.add_argument("--file", required=True, help="CSV with a header id,row,label")
    f.add_argument("--url", default="http://127.0.0.1:8000")
    f.add_argument("--key", help="a predictor key (default: $WORKBENCH_API_KEY)")
    f.set_defaults(func=run_feedback)



def _when(value):
    return None if value is None else (time.time() + value if value < 0 else value)


def run_replay(args) -> int:
    from .. import home as _home
    from ..registry import Registry
    from ..registry.refs import find_version
    from .replay import replay

    version, alias = ref_of(args)
    home = _home.resolve_home(args.home)
    with Registry(home) as registry:
        version = find_version(registry, args.model, version, alias).version
    report = replay(home, args.model, version,
                    since=_when(args.since), until=_when(args.until), url=args.url,
                    key=args.key or os.environ.get("WORKBENCH_API_KEY"))
    print(json.dumps(report.__dict__, default=str, indent=2) if args.json else report)
    return 0


def run_feedback(args) -> int:
    from ..monitoring.feedback import read_labels_csv
    from ..serving.client import Client, ServingError

    body = read_labels_csv(args.file)
    with Client(args.url, args.key or os.environ.get("WORKBENCH_API_KEY")) as client:
        try:
            answer = client.feedback(args.model, body)
        except ServingError as exc:
            print(f"workbench feedback: {exc}", file=sys.stderr)
            return 1
    print(json.dumps(answer))
    return 0

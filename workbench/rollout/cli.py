"""``workbench rollout|sampling``: automatic rollouts and the input sampling rate."""
from __future__ import annotations

import argparse
import json

from ..cli_args import add_model_ref, ref_of


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("rollout", help="automatic step-by-step rollout of a version",
                              description="Start, watch or stop an automatic rollout. The "
                              "controller runs inside every `workbench serve` worker (one acts, "
                              "through a lease); `rollout run` runs it here instead.")
    # --home before or after the action: the leaf's option only overrides when given
    p.add_argument("--home", default=None, help=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    start = sub.add_parser("start", help="start moving an alias to a version",
                           description="Start moving --alias (default production) step by step "
                                       "to a candidate: 'rollout start digits 4', 'rollout "
                                       "start digits staging'.")
    add_model_ref(start, model_dest="model", required=True, version_option="--to",
                  help="the candidate: a version number (e.g. 4) or an alias (e.g. staging)")
    start.add_argument("--alias", default="production", help="the alias that moves "
                                                             "(default: production)")
    start.add_argument("--policy", help="a JSON file of RolloutPolicy fields")
    for name, text in (("status", "where the rollout stands"),
                       ("stop", "stop it and send all traffic back to the baseline")):
        q = sub.add_parser(name, help=text)
        q.add_argument("model", metavar="MODEL", help="model name")
    run = sub.add_parser("run", help="run the controller loop in this process")
    run.add_argument("--interval", type=float, default=1.0)
    run.add_argument("--once", action="store_true", help="one look, then exit")
    for q in (start, run, *sub.choices.values()):
        if not any(a.dest == "home" for a in q._actions):
            q.add_argument("--home", default=argparse.SUPPRESS,
                           help="workbench home (default: $WORKBENCH_HOME or artifacts/)")
    p.set_defaults(func=run_rollout)

    s = subparsers.add_parser("sampling", help="set the share of a model's requests whose "
                              "inputs are logged (1.0 for replay)")
    s.add_argument("model", metavar="MODEL", help="model name")
    s.add_argument("fraction", metavar="FRACTION", help="a number in [0, 1], or 'default'")
    s.add_argument("--home")
    s.set_defaults(func=run_sampling)


def run_rollout(args) -> int:
    from .controller import RolloutController
    from .policy import RolloutPolicy

    with RolloutController(args.home) as ctl:
        if args.action == "start":
            from ..registry.refs import find_version

            policy = RolloutPolicy.load(args.policy) if args.policy else None
            to = find_version(ctl.registry, args.model, *ref_of(args)).version
            print(ctl.start(args.model, alias=args.alias, to=to, policy=policy).describe())
        elif args.action == "status":
            state = ctl.status(args.model)
            if state is None:
                print(f"{args.model} has never had a rollout")
                return 1
            print(json.dumps(state.as_dict(), indent=2, default=str))
        elif args.action == "stop":
            print(ctl.stop(args.model).describe())
        elif args.once:
            for state, _ in ctl.tick():
                print(state.describe())
        else:
            print(f"{ctl!r}: looking every {args.interval:g} s; Ctrl-C stops")
            ctl.run(interval=args.interval)
    return 0


def run_sampling(args) -> int:
    from ..monitoring.sampling import set_input_fraction

    fraction = None if args.fraction == "default" else float(args.fraction)
    print(json.dumps(set_input_fraction(args.home, args.model, fraction)))
    return 0

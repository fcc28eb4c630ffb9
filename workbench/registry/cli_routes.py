"""``workbench registry promote|canary|abort|shadow|rollback``: where an alias sends traffic.

The positional after the model names *what* to send (``VERSION|ALIAS``, as everywhere);
``--alias`` names the alias that moves (default ``production``). ``abort`` and ``rollback``
take that alias positionally too: ``workbench registry rollback digits staging``.
"""
from __future__ import annotations

import argparse

from ..cli_args import add_model_ref, allow_intermixed, ref_of
from .refs import find_version, parse_ref

TARGET_HELP = "the alias that moves (default: production)"


def _registry(args):
    from .registry import Registry

    return Registry(args.home, store=getattr(args, "store", None))


def _weights(pairs) -> dict:
    from .errors import InvalidInputError

    weights = {}
    for pair in pairs:
        version, sep, weight = pair.partition("=")
        try:
            weights[int(version)] = float(weight.rstrip("%"))
        except ValueError:
            raise InvalidInputError(f"weights are VERSION=SHARE, e.g. 3=0.9 4=0.1; got {pair!r}") from None
        if not sep:
            raise InvalidInputError(f"weights are VERSION=SHARE, e.g. 3=0.9 4=0.1; got {pair!r}")
    return weights


def cmd_promote(args) -> int:
    """Point an alias at a version; without one, end a canary split in favour of the canary."""
    reg = _registry(args)
    version, alias = ref_of(args)
    if version is None and alias is None:
        version = reg.promote(args.name, args.alias)
        print(f"{args.name}: {args.alias} promoted to v{version} (split ended)")
        return 0
    version = find_version(reg, args.name, version, alias).version
    route = reg.routes(args.name).get(args.alias)
    if route is not None and route.is_split:
        version = reg.promote(args.name, args.alias, version)
    else:
        version = reg.set_alias(args.name, args.alias, version).version
    print(f"{args.name}: {args.alias} -> v{version}")
    return 0


def cmd_canary(args) -> int:
    """Split an alias between versions by weight."""
    route = _registry(args).set_split(args.name, args.alias, _weights(args.weights))
    print(f"{args.name}: {args.alias} -> " + " + ".join(f"{w:.1%} v{v}"
                                                        for v, w in route.weights.items()))
    return 0


def _target_alias(args) -> str:
    """The alias ``abort``/``rollback`` act on: positional, else ``--alias``, else production."""
    if args.alias_pos is not None and args.alias is not None and args.alias_pos != args.alias:
        args.alias_parser.error(f"give the alias once: {args.alias_pos!r} or --alias {args.alias}")
    alias = args.alias_pos or args.alias or "production"
    version, _ = parse_ref(alias)
    if version is not None:
        args.alias_parser.error(f"{args.registry_command} moves an alias, so name one (e.g. "
                                f"production), not version {version}")
    return alias


def cmd_abort(args) -> int:
    """End a canary split: all traffic back to the primary version."""
    alias = _target_alias(args)
    version = _registry(args).abort(args.name, alias)
    print(f"{args.name}: {alias} canary aborted, back to v{version}")
    return 0


def cmd_shadow(args) -> int:
    """Copy an alias's traffic to a shadow version (``off`` stops it)."""
    reg = _registry(args)
    version = None
    if args.ref != "off":
        version = find_version(reg, args.name, *ref_of(args)).version
    reg.set_shadow(args.name, args.alias, version)
    print(f"{args.name}: {args.alias} shadow " + ("off" if version is None else f"-> v{version}"))
    return 0


def cmd_rollback(args) -> int:
    """Move an alias back to its previous target."""
    alias = _target_alias(args)
    version = _registry(args).rollback(args.name, alias)
    print(f"{args.name}: {alias} rolled back to v{version}")
    return 0


def _alias_positional(p) -> None:
    p.add_argument("name", metavar="MODEL", help="model name")
    p.add_argument("alias_pos", nargs="?", default=None, metavar="ALIAS",
                   help="the alias (default: production)")
    p.add_argument("--alias", default=None, help=argparse.SUPPRESS)
    allow_intermixed(p)
    p.set_defaults(alias_parser=p)


def add_route_parsers(sub, common) -> None:
    """Add the routing actions to the ``registry`` sub-parsers ``sub``."""
    p = sub.add_parser("promote", parents=[common], help="point an alias at a version (no "
                       "version: promote a split's canary)",
                       description="Point --alias (default production) at VERSION, or at the "
                       "version ALIAS points at; e.g. 'promote digits 3', 'promote digits "
                       "staging'. Without one, end the alias's canary split in favour of the "
                       "canary.")
    add_model_ref(p, help="what to promote: a version number (e.g. 3) or an alias (e.g. "
                          "staging); none: the canary of a split")
    p.add_argument("--alias", default="production", help=TARGET_HELP)
    p.set_defaults(func=cmd_promote)

    p = sub.add_parser("canary", parents=[common], help="split an alias between versions, "
                                                        "e.g. 3=0.9 4=0.1")
    p.add_argument("name", metavar="MODEL", help="model name")
    p.add_argument("weights", nargs="+", metavar="VERSION=SHARE")
    p.add_argument("--alias", default="production", help="alias to split (default: production)")
    p.set_defaults(func=cmd_canary)

    p = sub.add_parser("abort", parents=[common], help="end a canary split: back to the primary")
    _alias_positional(p)
    p.set_defaults(func=cmd_abort)

    p = sub.add_parser("shadow", parents=[common], help="copy an alias's traffic to a shadow "
                                                        "version (or 'off')")
    add_model_ref(p, required=True, help="the shadow: a version number, an alias, or 'off'")
    p.add_argument("--alias", default="production", help="the alias whose traffic is copied "
                                                         "(default: production)")
    p.set_defaults(func=cmd_shadow)

    p = sub.add_parser("rollback", parents=[common], help="move an alias back one step")
    _alias_positional(p)
    p.set_defaults(func=cmd_rollback)

"""``workbench registry ...``: list, show, promote, canary, abort, shadow, rollback, history,
verify, export, import.

Every sub-command takes ``--home`` (default: ``$WORKBENCH_HOME``, else the checkout's
``artifacts/``) and ``--store URL`` (default: ``$WORKBENCH_STORE``, else SQLite in the home). ``verify`` exits with status 1 when it finds problems.
"""
from __future__ import annotations

import argparse
import json
import sys

from ..store import STORE_HELP
from .records import format_time


def _registry(args):
    from .registry import Registry

    return Registry(args.home, store=getattr(args, "store", None))


def _metrics_text(metrics: dict, limit: int = 4) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in list(metrics.items())[:limit])


def cmd_list(args) -> int:
    """List models, or the versions of one model."""
    reg = _registry(args)
    if args.name is None:
        rows = []
        for name in reg.models():
            versions = reg.versions(name)
            rows.append({"name": name, "versions": len(versions),
                         "latest": max(v.version for v in versions), "aliases": reg.aliases(name)})
        if args.json:
            print(json.dumps(rows, indent=2))
        elif not rows:
            print(f"no models registered in {reg.home}")
        for r in rows if not args.json else ():
            aliases = ", ".join(f"{a}=v{v}" for a, v in r["aliases"].items()) or "-"
            print(f"{r['name']:<24} {r['versions']:>4} versions  latest v{r['latest']:<4} {aliases}")
        return 0
    versions = reg.versions(args.name)
    if args.json:
        print(json.dumps([_as_json(v) for v in versions], indent=2))
        return 0
    print(f"{'version':>7}  {'registered':<19}  {'author':<10} {'aliases':<20} metrics")
    for v in versions:
        aliases = ",".join(v.aliases) + (" (archived)" if v.archived else "")
        print(f"{v.version:>7}  {format_time(v.created_at)}  {v.author:<10} {aliases or '-':<20} "
              f"{_metrics_text(v.metrics)}")
    return 0


def _as_json(mv) -> dict:
    out = dict(mv.__dict__)
    out["parent"] = list(mv.parent) if mv.parent else None
    out["aliases"] = list(mv.aliases)
    return out


def cmd_show(args) -> int:
    """Show one version's card as text (or JSON)."""
    mv = _registry(args).get_version(args.name, args.version, args.alias)
    if args.json:
        print(json.dumps(_as_json(mv), indent=2))
        return 0
    sig = mv.signature or {}
    lines = [f"{mv.name} v{mv.version}" + (f"  [{', '.join(mv.aliases)}]" if mv.aliases else "")
             + ("  (archived)" if mv.archived else ""),
             f"  class        {mv.model_class}",
             f"  registered   {format_time(mv.created_at)} by {mv.author}",
             f"  sha256       {mv.sha256} ({mv.size_bytes:,} bytes)",
             f"  signature    {sig.get('task', '?')}, {sig.get('n_features', '?')} features -> "
             f"{sig.get('n_outputs', '?')} outputs",
             f"  parent       {mv.parent[0] + ' v' + str(mv.parent[1]) if mv.parent else '-'}",
             f"  metrics      {_metrics_text(mv.metrics, 20) or '-'}",
             f"  params       {json.dumps(mv.params) if mv.params else '-'}"]
    if mv.description:
        lines.append(f"  description  {mv.description}")
    print("\n".join(lines))
    return 0


def cmd_promote(args) -> int:
    """Point an alias at a version; without one, end a canary split in favour of the canary."""
    reg = _registry(args)
    if args.version is None:
        version = reg.promote(args.name, args.alias)
        print(f"{args.name}: {args.alias} promoted to v{version} (split ended)")
        return 0
    route = reg.routes(args.name).get(args.alias)
    if route is not None and route.is_split:
        version = reg.promote(args.name, args.alias, args.version)
    else:
        version = reg.set_alias(args.name, args.alias, args.version).version
    print(f"{args.name}: {args.alias} -> v{version}")
    return 0


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


def cmd_canary(args) -> int:
    """Split an alias between versions by weight."""
    route = _registry(args).set_split(args.name, args.alias, _weights(args.weights))
    print(f"{args.name}: {args.alias} -> " + " + ".join(f"{w:.1%} v{v}"
                                                        for v, w in route.weights.items()))
    return 0


def cmd_abort(args) -> int:
    """End a canary split: all traffic back to the primary version."""
    version = _registry(args).abort(args.name, args.alias)
    print(f"{args.name}: {args.alias} canary aborted, back to v{version}")
    return 0


def cmd_shadow(args) -> int:
    """Copy an alias's traffic to a shadow version (``off`` stops it)."""
    version = None if args.version == "off" else int(args.version)
    _registry(args).set_shadow(args.name, args.alias, version)
    print(f"{args.name}: {args.alias} shadow " + ("off" if version is None else f"-> v{version}"))
    return 0


def cmd_rollback(args) -> int:
    """Move an alias back to its previous target."""
    version = _registry(args).rollback(args.name, args.alias)
    print(f"{args.name}: {args.alias} rolled back to v{version}")
    return 0


def cmd_history(args) -> int:
    """Print the audit log of a model."""
    for event in _registry(args).history(args.name):
        print(event)
    return 0


def cmd_verify(args) -> int:
    """Check every file and row; exit 1 when problems are found."""
    reg = _registry(args)
    problems = reg.verify()
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if problems:
        print(f"{len(problems)} problem(s) found in {reg.home}", file=sys.stderr)
        return 1
    print(f"registry in {reg.home} is sound")
    return 0


def cmd_export(args) -> int:
    """Write one version to an archive file."""
    reg = _registry(args)
    version = reg.resolve(args.name, args.version, args.alias)
    path = reg.export(args.name, version, args.path)
    print(f"exported {args.name} v{version} to {path}")
    return 0


def cmd_import(args) -> int:
    """Add the version in an archive file to this registry."""
    mv = _registry(args).import_(args.path, name=args.name)
    print(f"imported {args.path} as {mv.name} v{mv.version}")
    return 0


def cmd_import_onnx(args) -> int:
    """Register an ONNX model file as the next version of a model."""
    classes = None
    if args.classes:
        classes = [int(c) if c.lstrip("-").isdigit() else c for c in args.classes.split(",")]
    mv = _registry(args).register_onnx(args.name, args.path, classes=classes, task=args.task,
                                       description=args.description)
    print(f"registered {args.path} as {mv.name} v{mv.version} ({mv.signature['task']}, "
          f"{mv.signature['n_features']} features)")
    return 0


def _version_or_alias(parser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--version", type=int, default=None, help="version number (default: latest)")
    group.add_argument("--alias", default=None, help="alias, e.g. production")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``registry`` sub-command to the ``workbench`` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS,
                        help="workbench home (default: $WORKBENCH_HOME or the checkout's artifacts/)")
    parser = subparsers.add_parser("registry", help="list, promote, roll back and verify models",
                                   description="Manage the model registry: list, show, promote, "
                                               "rollback, history, verify, export, import.")
    parser.add_argument("--home", default=None, help=argparse.SUPPRESS)
    common.add_argument("--store", metavar="URL", default=argparse.SUPPRESS, help=STORE_HELP)
    parser.add_argument("--store", default=None, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="registry_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", parents=[common], help="list models, or the versions of one")
    p.add_argument("name", nargs="?", default=None)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", parents=[common], help="show one version")
    p.add_argument("name")
    _version_or_alias(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("promote", parents=[common], help="point an alias at a version (no "
                                                         "version: promote a split's canary)")
    p.add_argument("name")
    p.add_argument("version", type=int, nargs="?", default=None)
    p.add_argument("--alias", default="production", help="alias to move (default: production)")
    p.set_defaults(func=cmd_promote)

    p = sub.add_parser("canary", parents=[common], help="split an alias between versions, "
                                                        "e.g. 3=0.9 4=0.1")
    p.add_argument("name")
    p.add_argument("weights", nargs="+", metavar="VERSION=SHARE")
    p.add_argument("--alias", default="production", help="alias to split (default: production)")
    p.set_defaults(func=cmd_canary)

    p = sub.add_parser("abort", parents=[common], help="end a canary split: back to the primary")
    p.add_argument("name")
    p.add_argument("--alias", default="production", help="alias (default: production)")
    p.set_defaults(func=cmd_abort)

    p = sub.add_parser("shadow", parents=[common], help="copy an alias's traffic to a shadow "
                                                        "version (or 'off')")
    p.add_argument("name")
    p.add_argument("version", help="a version number, or 'off'")
    p.add_argument("--alias", default="production", help="alias (default: production)")
    p.set_defaults(func=cmd_shadow)

    p = sub.add_parser("rollback", parents=[common], help="move an alias back one step")
    p.add_argument("name")
    p.add_argument("--alias", default="production", help="alias to roll back (default: production)")
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser("history", parents=[common], help="print the audit log of a model")
    p.add_argument("name")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("verify", parents=[common], help="check every file and row (exit 1 if not sound)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("export", parents=[common], help="write one version to an archive file")
    p.add_argument("name")
    p.add_argument("path")
    _version_or_alias(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", parents=[common], help="add the version in an archive file")
    p.add_argument("path")
    p.add_argument("--name", default=None, help="register under this name instead")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("import-onnx", parents=[common],
                       help="register an ONNX model file (served with onnxruntime)")
    p.add_argument("name")
    p.add_argument("path")
    p.add_argument("--classes", default=None,
                   help="comma-separated class labels, when the graph does not name them")
    p.add_argument("--task", choices=("classification", "regression"), default=None)
    p.add_argument("--description", default="")
    p.set_defaults(func=cmd_import_onnx)
    return parser

"""``workbench registry ...``: list, show, compare, promote, canary, abort, shadow, rollback,
archive, history, verify, export, import.

A version is named ``MODEL [VERSION|ALIAS]`` in every action: ``show digits 3``,
``show digits production``, ``export digits production out.zip`` (digits are a version number,
anything else an alias; see :mod:`workbench.cli_args`). Every sub-command takes ``--home`` (default: ``$WORKBENCH_HOME``, else the checkout's
``artifacts/``) and ``--store URL`` (default: ``$WORKBENCH_STORE``, else SQLite in the home). ``verify`` exits with status 1 when it finds problems.
"""
from __future__ import annotations

import argparse
import json
import sys

from ..cli_args import add_model_ref, ref_of
from ..store import STORE_HELP
from .cli_routes import add_route_parsers
from .records import format_time
from .refs import find_version


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
        aliases = (",".join(v.aliases) + (" (archived)" if v.archived else "")).strip()
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
    mv = find_version(_registry(args), args.name, *ref_of(args))
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


def cmd_compare(args) -> int:
    """Metrics side by side and the parameters that differ, of two versions."""
    reg = _registry(args)
    a = find_version(reg, args.name, ref=args.first).version
    b = find_version(reg, args.name, ref=args.second).version
    c = reg.compare(args.name, a, b)
    if args.json:
        print(json.dumps({"name": c.name, "v1": c.v1, "v2": c.v2, "metrics": c.metrics,
                          "params": c.params, "same_signature": c.same_signature}, indent=2))
        return 0
    print(f"{c.name}: v{c.v1} -> v{c.v2}" + ("" if c.same_signature else
                                               "  (different input/output signature)"))
    for key, (x, y) in c.metrics.items():
        delta = c.delta(key)
        print(f"  {key:<20} {_num(x):>10} {_num(y):>10}"
              + (f"  ({delta:+.4g})" if delta is not None else ""))
    for key, (x, y) in c.params.items():
        print(f"  param {key:<14} {json.dumps(x):>10} {json.dumps(y):>10}")
    return 0


def _num(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def cmd_archive(args) -> int:
    """Hide a version from "latest" (it stays loadable by number)."""
    reg = _registry(args)
    mv = find_version(reg, args.name, *ref_of(args))
    reg.archive(args.name, mv.version)
    print(f"{args.name} v{mv.version} archived (still loadable by number)")
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
    version = find_version(reg, args.name, *ref_of(args)).version
    path = reg.export(args.name, version, args.path)
    print(f"exported {args.name} v{version} to {path}")
    return 0


def cmd_import(args) -> int:
    """Add the version in an archive file to this registry."""
    mv = _registry(args).import_(args.path, name=args.name, allow_duplicate=args.allow_duplicate)
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


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``registry`` sub-command to the ``workbench`` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS,
                        help="workbench home (default: $WORKBENCH_HOME or the checkout's artifacts/)")
    parser = subparsers.add_parser("registry", help="list, promote, roll back and verify models",
                                   description="Manage the model registry. A version is named "
                                               "MODEL [VERSION|ALIAS] in every action, e.g. "
                                               "'show digits 3' or 'show digits production'.")
    parser.add_argument("--home", default=None, help=argparse.SUPPRESS)
    common.add_argument("--store", metavar="URL", default=argparse.SUPPRESS, help=STORE_HELP)
    parser.add_argument("--store", default=None, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="registry_command", metavar="ACTION", required=True)

    p = sub.add_parser("list", parents=[common], help="list models, or the versions of one")
    p.add_argument("name", nargs="?", default=None, metavar="MODEL")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", parents=[common], help="show one version",
                       description="Show a version's card: 'show digits', 'show digits 3', "
                                   "'show digits production'.")
    add_model_ref(p, old_options=True)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("compare", parents=[common], help="two versions side by side",
                       description="Metrics side by side and the parameters that differ: "
                                   "'compare digits 1 2', 'compare digits production 3'.")
    p.add_argument("name", metavar="MODEL", help="model name")
    p.add_argument("first", metavar="VERSION|ALIAS", help="the first version (number or alias)")
    p.add_argument("second", metavar="VERSION|ALIAS", help="the second version")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_compare)

    add_route_parsers(sub, common)

    p = sub.add_parser("archive", parents=[common], help="hide a version from 'latest'")
    add_model_ref(p, required=True)
    p.set_defaults(func=cmd_archive)

    p = sub.add_parser("history", parents=[common], help="print the audit log of a model")
    p.add_argument("name", metavar="MODEL", help="model name")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("verify", parents=[common], help="check every file and row (exit 1 if not sound)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("export", parents=[common], help="write one version to an archive file",
                       description="Write one version to an archive file: 'export digits 3 "
                                   "digits-v3.zip', 'export digits production out.zip'.")
    add_model_ref(p, old_options=True)
    p.add_argument("path", help="the archive file to write")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", parents=[common], help="add the version in an archive file")
    p.add_argument("path")
    p.add_argument("--name", default=None, help="register under this name instead")
    p.add_argument("--allow-duplicate", action="store_true",
                   help="import even when a version of the model already holds these weights")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("import-onnx", parents=[common],
                       help="register an ONNX model file (served with onnxruntime)")
    p.add_argument("name", metavar="MODEL", help="model name")
    p.add_argument("path")
    p.add_argument("--classes", default=None,
                   help="comma-separated class labels, when the graph does not name them")
    p.add_argument("--task", choices=("classification", "regression"), default=None)
    p.add_argument("--description", default="")
    p.set_defaults(func=cmd_import_onnx)
    return parser

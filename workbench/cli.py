"""The ``workbench`` command: one sub-command per layer.

Each layer that has a command line offers ``add_parser(subparsers)`` in its own ``cli`` module;
the parser it adds sets ``func`` to the function that runs it and returns an exit code.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from .cli_args import SubcommandParser

#: modules that add sub-commands, in the order they are listed in ``workbench --help``
SUBCOMMAND_MODULES = [
    "workbench.demo",
    "workbench.dashboard",
    "workbench.registry.cli",
    "workbench.serving.cli",
    "workbench.loadgen.cli",
    "workbench.walkthroughs",
    "workbench.rollout.cli",
    "workbench.loadgen.loop_cli",
]


def version() -> str:
    """The installed distribution's version (the checkout's, in an editable install)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("maas-workbench")
    except PackageNotFoundError:  # imported from a checkout that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="MaaS Workbench: train, register, serve and monitor numpy models.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=SubcommandParser)
    for module in SUBCOMMAND_MODULES:
        importlib.import_module(module).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from .store import ENV, use_store_option

    before = os.environ.get(ENV)
    try:
        use_store_option(args)      # --store URL: this command's store, and its servers'
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (ValueError, LookupError, OSError) as exc:
        print(f"workbench {args.command}: error: {exc}", file=sys.stderr)
        return 1
    finally:                        # called in-process (tests, notebooks): leave no trace
        if before is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = before


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

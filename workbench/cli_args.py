"""Conventions every ``workbench`` sub-command follows.

* A version is named the same way everywhere: ``MODEL [VERSION|ALIAS]`` (``digits 3``,
  ``digits production``). :func:`add_model_ref` adds those arguments, and the older
  ``--version N`` / ``--alias NAME`` options where a command had them; :func:`ref_of` reads them.
* A mistake in a sub-command's arguments is answered with *that* sub-command's usage
  (:class:`SubcommandParser`), never the top-level one.
"""
from __future__ import annotations

import argparse

#: how the reference after a model's name is shown in usage lines
REF_METAVAR = "VERSION|ALIAS"


class SubcommandParser(argparse.ArgumentParser):
    """A sub-command's parser: arguments it does not know are its own error.

    Plain argparse hands a sub-command's unknown arguments back up to the top-level parser,
    which then prints ``usage: workbench [-h] COMMAND ...`` -- no help for someone who typed
    ``workbench registry show digits 1 2``. Nested sub-commands inherit this class.
    """

    #: set by :func:`allow_intermixed`: options may come between the positionals
    intermixed = False
    _inside = False

    def parse_known_args(self, args=None, namespace=None):
        if self._inside:                  # the two passes of parse_known_intermixed_args
            return super().parse_known_args(args, namespace)
        if self.intermixed:
            self._inside = True
            try:
                namespace, extras = self.parse_known_intermixed_args(args, namespace)
            finally:
                self._inside = False
        else:
            namespace, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return namespace, extras


def allow_intermixed(parser) -> None:
    """Let options come between optional positionals (``show digits --json 3``): plain argparse
    gives up on ``3`` once an option followed ``digits``."""
    if isinstance(parser, SubcommandParser):
        parser.intermixed = True


def add_model_ref(parser, *, model_dest: str = "name", default: str = "the latest version",
                  required: bool = False, old_options: bool = False,
                  model_option: bool = False, version_option: str | None = None,
                  help: str | None = None) -> None:
    """Add ``MODEL`` and ``[VERSION|ALIAS]`` positionals to ``parser``.

    ``old_options`` also accepts ``--version N`` and ``--alias NAME`` (the form older releases
    used); ``version_option`` (e.g. ``"--to"``) accepts a version number under that name;
    ``model_option`` also accepts ``--model NAME``. Read the result with :func:`ref_of`.
    """
    if model_option:
        parser.add_argument("model_pos", nargs="?", metavar="MODEL", default=None,
                            help="model name")
        parser.add_argument("--model", dest="model_opt", default=None, help=argparse.SUPPRESS)
    else:
        parser.add_argument(model_dest, metavar="MODEL", help="model name")
    text = help or ("a version number (e.g. 3) or an alias (e.g. production)"
                    + ("" if required else f"; default: {default}"))
    nargs = None if required and not (old_options or model_option or version_option) else "?"
    parser.add_argument("ref", nargs=nargs, metavar=REF_METAVAR, default=None, help=text)
    if old_options:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--version", dest="ref_version", type=int, default=None,
                           metavar="N", help="the same as giving VERSION (older form)")
        group.add_argument("--alias", dest="ref_alias", default=None, metavar="NAME",
                           help="the same as giving ALIAS (older form)")
    if version_option:
        parser.add_argument(version_option, dest="ref_version", type=int, default=None,
                            metavar="N", help="the same as giving VERSION (older form)")
    allow_intermixed(parser)
    parser.set_defaults(ref_parser=parser, ref_required=required, ref_model_dest=model_dest)


def ref_of(args) -> tuple[int | None, str | None]:
    """``(version, alias)`` named by ``args`` (both None: the command's default).

    Also settles ``args.<model_dest>`` when the model could be given as ``--model``. A missing
    or doubly given argument is a usage error of the sub-command (exit status 2).
    """
    from .registry.errors import InvalidInputError
    from .registry.refs import parse_ref

    parser = args.ref_parser
    if hasattr(args, "model_pos"):
        model = args.model_opt or args.model_pos
        if args.model_opt and args.model_pos and args.model_pos != args.model_opt:
            if args.ref is not None:
                parser.error(f"give the model once: {args.model_pos!r} or --model {args.model_opt}")
            args.ref = args.model_pos             # `--model digits 3`: the positional is VERSION
        if model is None:
            parser.error("the following arguments are required: MODEL")
        setattr(args, args.ref_model_dest, model)
    old = [v for v in (getattr(args, "ref_version", None), getattr(args, "ref_alias", None))
           if v is not None]
    if args.ref is not None and old:
        flag = (f"--version {old[0]}" if getattr(args, "ref_version", None) is not None
                else f"--alias {old[0]}")
        parser.error(f"give the version once: as {args.ref!r} or as {flag}, not both")
    if args.ref is None and not old:
        if args.ref_required:
            parser.error(f"the following arguments are required: {REF_METAVAR}")
        return None, None
    if old:
        if getattr(args, "ref_version", None) is not None:
            return args.ref_version, None
        return None, args.ref_alias
    try:
        return parse_ref(args.ref)
    except InvalidInputError as exc:
        parser.error(str(exc))

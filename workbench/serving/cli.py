"""``workbench serve`` and ``workbench keys create|list|revoke``."""
from __future__ import annotations

import datetime as _dt

from .server import add_arguments, run_args


def add_parser(subparsers) -> None:
    """Add the ``serve`` and ``keys`` sub-commands to the ``workbench`` command."""
    serve = subparsers.add_parser(
        "serve", help="serve the registry's models over HTTP (Open Inference Protocol v2)",
        description="Serve every model of a workbench home with uvicorn. Auth is on: create "
                    "keys with 'workbench keys create'.")
    add_arguments(serve)
    serve.set_defaults(func=run_args)

    keys = subparsers.add_parser("keys", help="create, list and revoke API keys",
                                 description="API keys of the inference service (stored hashed "
                                             "in registry.db).")
    keys.add_argument("--home", help="workbench home (default: $WORKBENCH_HOME or artifacts/)")
    sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create a key and print it once")
    create.add_argument("--role", required=True,
                        choices=["viewer", "predictor", "maintainer", "admin"])
    create.add_argument("--name", required=True, help="a unique name for the key's holder")
    create.add_argument("--home", default=None, dest="home_sub", help="workbench home")
    create.set_defaults(func=_create)
    listing = sub.add_parser("list", help="list keys (never the keys themselves)")
    listing.add_argument("--home", default=None, dest="home_sub", help="workbench home")
    listing.set_defaults(func=_list)
    revoke = sub.add_parser("revoke", help="revoke a key by name or id (servers refuse it "
                                           "within a second)")
    revoke.add_argument("key", metavar="NAME_OR_ID")
    revoke.add_argument("--home", default=None, dest="home_sub", help="workbench home")
    revoke.set_defaults(func=_revoke)


def _store(args):
    from ..home import resolve_home
    from .keys import KeyStore

    return KeyStore(resolve_home(getattr(args, "home_sub", None) or args.home))


def _create(args) -> int:
    store = _store(args)
    key = store.create(args.name, args.role)
    store.close()
    print(f"Created API key '{args.name}' with role {args.role}. It is shown only now; "
          f"store it safely (send it as 'Authorization: Bearer <key>'):")
    print(key)
    return 0


def _list(args) -> int:
    store = _store(args)
    keys = store.list()
    store.close()
    if not keys:
        print("no API keys yet; create one with: workbench keys create --role predictor --name NAME")
        return 0
    print(f"{'id':<10}{'name':<24}{'role':<12}{'created':<21}revoked")
    for k in keys:
        created = _dt.datetime.fromtimestamp(k.created_at).strftime("%Y-%m-%d %H:%M:%S")
        revoked = (_dt.datetime.fromtimestamp(k.revoked_at).strftime("%Y-%m-%d %H:%M:%S")
                   if k.revoked else "-")
        print(f"{k.id:<10}{k.name:<24}{k.role:<12}{created:<21}{revoked}")
    return 0


def _revoke(args) -> int:
    store = _store(args)
    key = store.revoke(args.key)
    store.close()
    print(f"revoked API key '{key.name}' (id {key.id}); running servers refuse it within a second")
    return 0

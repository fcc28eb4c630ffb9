"""``workbench simulate``: send realistic traffic to a running service, for a demo or a test."""
from __future__ import annotations

import os
import sys

from ..cli_args import add_model_ref, ref_of
from ..store import add_store_option

#: data sets the simulator can draw rows from, by the number of features a model takes
_BY_WIDTH = {64: "digits", 4: "iris", 30: "breast_cancer", 13: "wine", 10: "diabetes"}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate", allow_abbrev=False, help="send realistic traffic (optionally drifting, with bad requests) to a service",
        description="Draw rows from a data set and send them to a running service at a steady rate. "
                    "The key comes from $WORKBENCH_API_KEY or --key-file (never from the command "
                    "line, where other users could read it); without either, a temporary "
                    "predictor key is created in the home and revoked at the end.")
    p.add_argument("--home", help="workbench home (default: $WORKBENCH_HOME or artifacts/)")
    add_store_option(p)
    add_model_ref(p, model_dest="model", model_option=True,
                  default="what the bare name is served by: production, else the latest")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="service URL (default %(default)s)")
    p.add_argument("--key-file", default=None, metavar="PATH",
                   help="a file holding a predictor API key (default: $WORKBENCH_API_KEY)")
    p.add_argument("--rps", type=float, default=20.0, help="requests per second (default %(default)s)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds to run (default %(default)s)")
    p.add_argument("--drift", type=float, default=0.0,
                   help="largest input shift, in standard deviations, reached at the end (default 0)")
    p.add_argument("--drift-start", type=float, default=0.3,
                   help="fraction of the run after which the drift starts (default %(default)s)")
    p.add_argument("--bad-fraction", type=float, default=0.0, help="share of bad requests (default 0)")
    p.add_argument("--dataset", default=None, help="data set to draw rows from (default: by the "
                   "model's number of features)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def dataset_for(home, model: str, dataset: str | None, version=None, alias=None):
    """Rows to send: the named data set, or the bundled one whose width fits the version called
    (by default the one a bare model name is served by)."""
    from ..data import load_dataset
    from ..registry import Registry
    from ..registry.refs import find_version

    if dataset is None:
        with Registry(home) as registry:
            if version is None and alias is None:
                alias = "production" if "production" in registry.aliases(model) else None
            signature = find_version(registry, model, version, alias).signature or {}
        width = signature.get("n_features")
        dataset = _BY_WIDTH.get(width)
        if dataset is None:
            raise ValueError(f"model {model!r} takes {width} features and no bundled data set has that "
                             f"many; name one with --dataset")
    return load_dataset(dataset).X


def read_key(key_file: str | None) -> str | None:
    """The API key from ``key_file`` (its first line), else ``$WORKBENCH_API_KEY``, else None."""
    if key_file:
        try:
            with open(key_file, encoding="utf-8") as f:
                key = f.readline().strip()
        except OSError as exc:
            raise ValueError(f"cannot read the key file {key_file}: {exc.strerror}") from None
        if not key:
            raise ValueError(f"the key file {key_file} is empty")
        return key
    return os.environ.get("WORKBENCH_API_KEY") or None


def run(args) -> int:
    from ..home import resolve_home
    from .simulator import TrafficSimulator

    version, alias = ref_of(args)
    home = resolve_home(args.home)
    X = dataset_for(home, args.model, args.dataset, version, alias)
    key, temporary = read_key(args.key_file), None
    if not key:
        from ..serving.keys import KeyStore

        store = KeyStore(home)
        temporary = f"simulator-{os.getpid()}-{os.urandom(3).hex()}"
        key = store.create(temporary, "predictor")
        store.close()
    sim = TrafficSimulator(args.url, args.model, X, key=key, rps=args.rps, duration=args.duration,
                           drift=args.drift, drift_start=args.drift_start,
                           bad_fraction=args.bad_fraction, random_state=args.seed,
                           version=version if version is not None else alias)
    print(f"{sim!r}; Ctrl-C stops it")
    try:
        result = sim.run()
    finally:
        if temporary:
            from ..serving.keys import KeyStore

            store = KeyStore(home)
            store.revoke(temporary)
            store.close()
    print(result)
    if result.failures and not result.statuses:
        print(f"workbench simulate: nothing answered at {args.url}: is the service running there? "
              f"Start it with `workbench serve --home {home}` (or `make demo`), or point --url at it.",
              file=sys.stderr)
    return 0 if result.failures == 0 else 1

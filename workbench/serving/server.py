"""Run the inference service with uvicorn: ``workbench serve`` (or ``python -m
workbench.serving.server``, the same options).

Each uvicorn worker builds its own app through the factory :func:`~.app.app_from_env`, whose
settings travel in ``$WORKBENCH_SERVE_CONFIG``. With ``--workers`` above 1, metrics are shared
through a fresh ``PROMETHEUS_MULTIPROC_DIR`` that is removed when the server stops.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

from ..store import STORE_HELP, redact, resolve_url


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _watch_parent(pid: int) -> None:
    """Stop this server (SIGTERM, a clean shutdown) when process ``pid`` has gone."""
    def run():
        while True:
            time.sleep(0.5)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os.kill(os.getpid(), signal.SIGTERM)
                return
            except PermissionError:  # pragma: no cover - pid reused by another user
                pass
    threading.Thread(target=run, name="parent-watch", daemon=True).start()


def serve(home=None, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          ssl_certfile=None, ssl_keyfile=None, auth: bool = True, input_fraction: float = 0.1,
          max_rows: int = 10_000, max_body_bytes: int = 8 * 1024 * 1024,
          log_level: str = "info", access_log: bool = False,
          exit_with_parent: int | None = None, batch_max_rows: int = 0,
          batch_max_delay_ms: float = 2.0, backend: str = "uvicorn", replicas: int = 1,
          ray_address: str | None = None, jwt: dict | None = None,
          retention_days: float | None = 30.0, retention_max_bytes: int | None = None,
          grpc_port: int | None = None, store: str | None = None,
          log_process: bool = True) -> None:
    """Serve every model of a workbench home until interrupted.

    ``backend="uvicorn"`` runs ``workers`` uvicorn processes; ``backend="ray"`` runs the same app
    as ``replicas`` Ray Serve replicas, on a local Ray bound to ``host`` or on the cluster at
    ``ray_address`` (see :mod:`.ray_backend`). ``jwt`` (the fields of
    :class:`~.jwt_auth.JwtConfig`) also accepts an identity provider's JWTs. ``grpc_port`` also
    serves the v2 gRPC service on ``host`` (each worker of the uvicorn backend binds it with
    ``SO_REUSEPORT``), with the same TLS files (see :mod:`.grpc`).

    Raises
    ------
    ValueError
        ``auth=False`` on a host that is not a loopback address; a bad port, worker count or
        TLS pair.
    """
    import uvicorn

    from ..home import resolve_home

    if not auth and not is_loopback(host):
        raise ValueError(f"--no-auth is only allowed on a loopback host (127.0.0.1, ::1, "
                         f"localhost), not {host!r}: anyone who can reach {host} could call and "
                         f"manage the models")
    if not (isinstance(port, int) and 0 <= port <= 65535):
        raise ValueError(f"port must be in 0..65535, got {port!r}")
    if not (isinstance(workers, int) and workers >= 1):
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise ValueError("TLS needs both --ssl-certfile and --ssl-keyfile")
    for path in (ssl_certfile, ssl_keyfile):
        if path and not os.path.isfile(path):
            raise ValueError(f"TLS file {path} does not exist")
    from .batching import BatchConfig

    from ..monitoring.upkeep import Retention

    BatchConfig(batch_max_rows, batch_max_delay_ms)       # refuse bad values before starting
    if jwt:
        from .jwt_auth import JwtConfig

        if not auth:
            raise ValueError("--jwt-issuer needs authentication on; drop --no-auth")
        jwt = JwtConfig(**jwt).to_json()
    Retention(days=retention_days, max_bytes=retention_max_bytes)
    home = resolve_home(home)
    store = resolve_url(store)
    settings = {
        "home": str(home), "store": store, "auth": auth, "input_fraction": input_fraction,
        "limits": {"max_rows": max_rows, "max_body_bytes": max_body_bytes},
        "batching": {"max_batch_rows": batch_max_rows, "max_delay_ms": batch_max_delay_ms},
        "log_level": log_level, "retention_days": retention_days,
        "retention_max_bytes": retention_max_bytes, "log_process": log_process}
    if jwt:
        settings["jwt"] = jwt
    if grpc_port is not None:
        from dataclasses import asdict

        from .grpc import GrpcConfig

        if grpc_port == port:
            raise ValueError(f"--grpc-port must differ from --port ({port})")
        settings["grpc"] = asdict(GrpcConfig(grpc_port, host, ssl_certfile, ssl_keyfile))
    if backend not in ("uvicorn", "ray"):
        raise ValueError(f"backend must be 'uvicorn' or 'ray', got {backend!r}")
    from .preflight import check_port, home_warnings

    if backend == "uvicorn":
        check_port(host, port)         # before any model is loaded
    for warning in home_warnings(home, auth=auth, store=store):
        print(f"workbench serve: warning: {warning}", file=sys.stderr, flush=True)
    if backend == "ray":
        if grpc_port is not None:
            raise ValueError("--grpc-port needs the uvicorn backend; Ray Serve has its own gRPC "
                             "proxy")
        return _serve_ray(settings, host, port, replicas, ray_address, ssl_certfile,
                          exit_with_parent)
    os.environ["WORKBENCH_SERVE_CONFIG"] = json.dumps(settings)
    metrics_dir = None
    if workers > 1:
        metrics_dir = tempfile.mkdtemp(prefix="workbench-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    if exit_with_parent:
        _watch_parent(exit_with_parent)
    scheme = "https" if ssl_certfile else "http"
    grpc_note = "" if grpc_port is None else f" grpc={host}:{grpc_port}{' (TLS)' * bool(ssl_certfile)}"
    print(f"workbench serve: {scheme}://{host}:{port}{grpc_note} home={home} store={redact(store)} "
          f"workers={workers} "
          f"auth={'on' if auth else 'OFF'}", file=sys.stderr, flush=True)
    try:
        uvicorn.run("workbench.serving.app:app_from_env", factory=True, host=host, port=port,
                    workers=workers, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
                    log_level=log_level, access_log=access_log, lifespan="on",
                    server_header=False, timeout_graceful_shutdown=10,
                    # no X-Forwarded-* rewriting: nothing here reads the client address, and a
                    # middleware less on every request (put a proxy in front for that)
                    proxy_headers=False)
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _serve_ray(settings, host, port, replicas, address, ssl_certfile, exit_with_parent) -> None:
    from . import ray_backend

    if not address:     # before ray is imported: a local Ray uses the loopback address
        ray_backend.use_loopback()
    problem = ray_backend.available()
    if problem:
        raise ValueError(problem)
    if not (isinstance(replicas, int) and replicas >= 1):
        raise ValueError(f"replicas must be a positive integer, got {replicas!r}")
    if ssl_certfile:
        raise ValueError("the ray backend does not terminate TLS; put a TLS proxy in front of it")
    if exit_with_parent:
        _watch_parent(exit_with_parent)
    print(f"workbench serve: starting Ray Serve ({replicas} replicas) home={settings['home']} "
          f"store={redact(settings.get('store'))} auth={'on' if settings['auth'] else 'OFF'}", file=sys.stderr, flush=True)
    ray_backend.serve_ray({**settings, "replicas": replicas}, host=host, port=port,
                          address=address)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``workbench serve`` to ``parser``."""
    parser.add_argument("--home", help="workbench home (default: $WORKBENCH_HOME or artifacts/)")
    parser.add_argument("--store", metavar="URL", help=STORE_HELP)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--grpc-port", type=int, default=None, metavar="PORT",
                        help="also serve the v2 gRPC service (inference.GRPCInferenceService) on "
                             "PORT, same host, keys and TLS files (default: off)")
    parser.add_argument("--ssl-certfile", help="TLS certificate (PEM)")
    parser.add_argument("--ssl-keyfile", help="TLS private key (PEM)")
    parser.add_argument("--no-auth", action="store_true",
                        help="serve without API keys (refused unless the host is loopback)")
    parser.add_argument("--log-inputs", type=float, default=0.1, metavar="FRACTION",
                        help="fraction of requests whose input rows are logged (default 0.1)")
    parser.add_argument("--max-rows", type=int, default=10_000, help="rows per request limit")
    parser.add_argument("--max-body-bytes", type=int, default=8 * 1024 * 1024,
                        help="request body limit in bytes")
    parser.add_argument("--log-level", default="info",
                        choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--batch-max-rows", type=int, default=0, metavar="ROWS",
                        help="merge concurrent requests into batches of up to ROWS rows "
                             "(default 0: off; registry tag serving.batch_max_rows overrides)")
    parser.add_argument("--batch-max-delay-ms", type=float, default=2.0, metavar="MS",
                        help="longest wait of a request for its batch to fill (default 2)")
    parser.add_argument("--backend", choices=["uvicorn", "ray"], default="uvicorn",
                        help="uvicorn worker processes (default) or a Ray Serve deployment")
    parser.add_argument("--replicas", type=int, default=1,
                        help="Ray Serve replicas (--backend ray)")
    parser.add_argument("--ray-address", default=None, metavar="ADDRESS",
                        help="join this Ray cluster (e.g. ray://head:10001 or auto) instead of "
                             "starting a local Ray on --host")
    parser.add_argument("--retention-days", type=float, default=30.0, metavar="DAYS",
                        help="keep prediction-log rows this many days (default 30; 0 keeps "
                             "them forever); older rows are pruned in the background")
    parser.add_argument("--retention-max-mb", type=float, default=0, metavar="MB",
                        help="prune the oldest prediction-log rows when its live data exceeds "
                             "MB megabytes (default 0: no size cap)")
    parser.add_argument("--no-log-process", dest="log_process", action="store_false",
                        help="SQLite store: write the prediction log from a thread of each "
                             "worker instead of a helper process per worker (about 20 MB less "
                             "memory, about 15 %% fewer requests/s under heavy load)")
    parser.add_argument("--access-log", action="store_true", help="log every request line")
    jwt = parser.add_argument_group(
        "OAuth 2.0 / OIDC tokens", "also accept JWTs (RS256/ES256) from an identity provider")
    jwt.add_argument("--jwt-issuer", metavar="ISS", help="required 'iss' of tokens")
    jwt.add_argument("--jwt-audience", metavar="AUD", help="required 'aud' of tokens")
    jwt.add_argument("--jwks-url", metavar="URL", help="the provider's JWKS (fetched, cached)")
    jwt.add_argument("--jwks-file", metavar="FILE", help="a JWKS JSON file instead of a URL")
    jwt.add_argument("--jwt-role-claim", default="role", metavar="CLAIM",
                     help="claim holding the workbench role (dotted path; default 'role')")
    jwt.add_argument("--jwt-models-claim", default=None, metavar="CLAIM",
                     help="claim holding the models a token may use (default: all models)")
    jwt.add_argument("--jwt-leeway", type=float, default=30.0, metavar="SECONDS",
                     help="clock skew allowed on exp/nbf (default 30)")
    parser.add_argument("--exit-with-parent", type=int, default=None, help=argparse.SUPPRESS)


def run_args(args) -> int:
    """Run ``serve`` from parsed arguments; return an exit code."""
    serve(args.home, host=args.host, port=args.port, workers=args.workers,
          ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile, auth=not args.no_auth,
          input_fraction=args.log_inputs, max_rows=args.max_rows,
          max_body_bytes=args.max_body_bytes, log_level=args.log_level,
          access_log=args.access_log, exit_with_parent=args.exit_with_parent,
          batch_max_rows=args.batch_max_rows, batch_max_delay_ms=args.batch_max_delay_ms,
          backend=args.backend, replicas=args.replicas, ray_address=args.ray_address,
          jwt=_jwt_settings(args), retention_days=args.retention_days or None,
          retention_max_bytes=int(args.retention_max_mb * 1024 * 1024) or None,
          grpc_port=args.grpc_port, store=args.store, log_process=args.log_process)
    return 0


def _jwt_settings(args) -> dict | None:
    given = [args.jwt_issuer, args.jwt_audience, args.jwks_url, args.jwks_file]
    if not any(given):
        return None
    if not (args.jwt_issuer and args.jwt_audience):
        raise ValueError("JWT checking needs both --jwt-issuer and --jwt-audience")
    return {"issuer": args.jwt_issuer, "audience": args.jwt_audience, "jwks_url": args.jwks_url,
            "jwks_file": args.jwks_file, "role_claim": args.jwt_role_claim,
            "models_claim": args.jwt_models_claim, "leeway": args.jwt_leeway}


def main(argv=None) -> int:
    """``python -m workbench.serving.server [options]``"""
    parser = argparse.ArgumentParser(prog="workbench serve", description=__doc__.split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_args(args)
    except ValueError as exc:
        print(f"workbench serve: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

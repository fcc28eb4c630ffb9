"""The Open Inference Protocol v2 over gRPC: ``inference.GRPCInferenceService``.

It runs on grpcio's asyncio server inside the same process and event loop as the REST app (it
is started and stopped by the app's ASGI lifespan), so both share the model cache and its hot
swap, batching, canary and shadow routes, API keys, the prediction log and the metrics.
``workbench serve --grpc-port N`` turns it on (off by default); with ``--workers N`` every
worker binds the same port with ``SO_REUSEPORT`` and the kernel spreads connections.

Files
-----
``grpc_predict_v2.proto``
    The KServe Open Inference Protocol definition (Apache-2.0, kserve/open-inference-protocol
    ``specification/protocol/open_inference_grpc.proto``). Triton's ``grpc_service.proto`` is a
    superset with the same package, service, methods and field numbers, so ``tritonclient.grpc``
    works unmodified.
``grpc_predict_v2_pb2.py``, ``grpc_predict_v2_pb2_grpc.py``
    Generated from it and committed; regenerate with ``python -m workbench.serving.grpc.generate``
    (needs ``grpcio-tools``).
``service.py``
    The servicer: auth from ``authorization: Bearer`` metadata, roles as REST.
``tensors.py``
    Typed ``contents`` and ``raw_*_contents`` to and from numpy.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GrpcConfig:
    """Where the gRPC service listens.

    Attributes
    ----------
    port : int
        TCP port (0: any free port; the bound one is in ``app.state.grpc_port``).
    host : str, default="127.0.0.1"
    ssl_certfile, ssl_keyfile : str, optional
        TLS certificate and key (PEM), the same files as the REST server's.
    """

    port: int
    host: str = "127.0.0.1"
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def __post_init__(self):
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not (
                0 <= self.port <= 65535):
            raise ValueError(f"grpc port must be in 0..65535, got {self.port!r}")
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise ValueError("gRPC TLS needs both a certificate and a key file")

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


async def start(state, config: GrpcConfig):
    """Start the gRPC server for a running app's ``state``; return ``(server, bound port)``."""
    import grpc

    from . import grpc_predict_v2_pb2_grpc as pb2_grpc
    from .service import InferenceServicer

    limit = state.limits.max_body_bytes
    server = grpc.aio.server(options=[("grpc.so_reuseport", 1),
                                      ("grpc.max_receive_message_length", limit),
                                      ("grpc.max_send_message_length", -1)])
    pb2_grpc.add_GRPCInferenceServiceServicer_to_server(InferenceServicer(state), server)
    if config.ssl_certfile:
        pair = (Path(config.ssl_keyfile).read_bytes(), Path(config.ssl_certfile).read_bytes())
        credentials = grpc.ssl_server_credentials([pair])
        port = server.add_secure_port(config.address, credentials)
    else:
        port = server.add_insecure_port(config.address)
    if port == 0:
        raise OSError(f"gRPC could not bind {config.address} (pid {os.getpid()})")
    await server.start()
    return server, port

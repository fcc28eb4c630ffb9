"""Regenerate the committed gRPC stubs from ``grpc_predict_v2.proto``.

``python -m workbench.serving.grpc.generate`` (needs ``grpcio-tools``). The generated
``*_pb2_grpc.py`` imports its messages as a top-level module; this rewrites that import to a
relative one so the stubs live inside the package, and builds the messages in a private
descriptor pool (``tritonclient.grpc`` defines the same ``inference.*`` names in the default one).
"""
from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).parent
PROTO = "grpc_predict_v2.proto"


def main() -> None:
    from grpc_tools import protoc

    code = protoc.main(["protoc", f"-I{HERE}", f"--python_out={HERE}", f"--pyi_out={HERE}",
                        f"--grpc_python_out={HERE}", str(HERE / PROTO)])
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")
    messages = HERE / "grpc_predict_v2_pb2.py"
    messages.write_text(messages.read_text().replace(
        "DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile(",
        "# a private pool: tritonclient.grpc registers the same 'inference.*' names in the\n"
        "# default pool, and both must be importable in one process (a notebook, the tests)\n"
        "DESCRIPTOR = _descriptor_pool.DescriptorPool().AddSerializedFile(", 1))
    stub = HERE / "grpc_predict_v2_pb2_grpc.py"
    stub.write_text(re.sub(r"^import grpc_predict_v2_pb2 as", "from . import grpc_predict_v2_pb2 as",
                           stub.read_text(), flags=re.MULTILINE))


if __name__ == "__main__":
    main()

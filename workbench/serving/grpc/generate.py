"""Regenerate the committed gRPC stubs from ``grpc_predict_v2.proto``.

``python -m workbench.serving.grpc.generate`` (needs ``grpcio-tools``). The generated
``*_pb2_grpc.py`` imports its messages as a top-level module; this rewrites that import to a
relative one so the stubs live inside the package.
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
    stub = HERE / "grpc_predict_v2_pb2_grpc.py"
    stub.write_text(re.sub(r"^import grpc_predict_v2_pb2 as", "from . import grpc_predict_v2_pb2 as",
                           stub.read_text(), flags=re.MULTILINE))


if __name__ == "__main__":
    main()

"""Hostile import archives for tests/test_registry_bombs.py, and a memory probe run in a subprocess.

Each builder writes a small archive (a few KB) whose manifest hashes match its blobs, so only
the size checks stand between it and a huge allocation. ``python registry_bombs.py DIR`` writes
every bomb into DIR, imports each into a fresh home, and prints one JSON line per bomb with the
error and the growth of the peak resident size (``ru_maxrss``) over a warmed-up baseline.
"""
from __future__ import annotations

import hashlib
import io
import json
import resource
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

FORMAT = "workbench.registry-archive/1"


def _npy(shape, descr="<f8", payload=b"\x00" * 16) -> bytes:
    fh = io.BytesIO()
    npy_format.write_array_header_1_0(fh, {"descr": descr, "fortran_order": False, "shape": shape})
    return fh.getvalue() + payload


def _npz(members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _spec_member(spec: dict) -> bytes:
    fh = io.BytesIO()
    np.save(fh, np.frombuffer(json.dumps(spec).encode(), dtype=np.uint8))
    return fh.getvalue()


def _archive(path: Path, weights: bytes, manifest_text: str | None = None) -> Path:
    sha = hashlib.sha256(weights).hexdigest()
    manifest = {"format": FORMAT, "name": "bomb", "version": 1, "sha256": sha}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", manifest_text or json.dumps(manifest))
        zf.writestr(f"blobs/{sha}", weights)
    return path


def _quantized_spec(sizes, sparse, bits=8) -> dict:
    return {"format": "workbench.model/1", "class": "QuantizedClassifier",
            "params": {"bits": bits, "per_channel": True, "dtype": "float32"},
            "attributes": {"n_features_in_": sizes[0], "layer_sizes_": sizes, "activation_": "relu",
                           "output_": "softmax", "source_class_": "MLPClassifier",
                           "classes_": [0, 1], "classes_dtype": "int64"},
            "storage": {"format": "workbench.quantized/1", "sparse_layers": sparse}}


def mask_bomb(path):
    """Layer sizes 32768 x 32768: unpacking the mask would allocate ~1 GB from 4 bytes."""
    spec = _quantized_spec([32768, 32768, 2], [True, True])
    mask, codes, floats = np.zeros(4, np.uint8), np.zeros(4, np.int8), np.zeros(8, np.float32)
    members = {"__spec__.npy": _spec_member(spec)}
    for name, arr in {"mask": mask, "codes": codes, "floats": floats}.items():
        fh = io.BytesIO()
        np.save(fh, arr)
        members[f"array/{name}.npy"] = fh.getvalue()
    return _archive(path, _npz(members))


def dense_codes_bomb(path):
    """A 2-bit model whose dense layers declare 2**30 weights but store 4 bytes of codes."""
    spec = _quantized_spec([32768, 32768, 2], [False, False], bits=2)
    members = {"__spec__.npy": _spec_member(spec)}
    for name, arr in {"codes": np.zeros(4, np.uint8), "floats": np.zeros(8, np.float32)}.items():
        fh = io.BytesIO()
        np.save(fh, arr)
        members[f"array/{name}.npy"] = fh.getvalue()
    return _archive(path, _npz(members))


def npz_header_bomb(path):
    """An array member whose header declares shape (2**40,) float64 (8 TiB) over 16 bytes."""
    spec = {"format": "workbench.model/1", "class": "LinearRegression"}
    return _archive(path, _npz({"__spec__.npy": _spec_member(spec),
                                "array/W0.npy": _npy((2 ** 40,))}))


def npz_header_bomb_deflated(path):
    """The same lie inside a deflate-compressed member."""
    spec = {"format": "workbench.model/1", "class": "LinearRegression"}
    return _archive(path, _npz({"__spec__.npy": _spec_member(spec),
                                "array/W0.npy": _npy((2 ** 20, 2 ** 20))}, zipfile.ZIP_DEFLATED))


def spec_header_bomb(path):
    """The ``__spec__`` member itself declares 2**40 bytes."""
    return _archive(path, _npz({"__spec__.npy": _npy((2 ** 40,), "|u1")}))


def object_array(path):
    """An object-dtype member (would need pickle)."""
    spec = {"format": "workbench.model/1", "class": "LinearRegression"}
    return _archive(path, _npz({"__spec__.npy": _spec_member(spec),
                                "array/W0.npy": _npy((2,), "|O")}))


def oversize_member(path):
    """The blob member's central-directory size is forged to ~4 GB (over the member cap)."""
    _archive(path, _npz({"__spec__.npy": _spec_member({"format": "workbench.model/1"})}))
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while data[at + 46:at + 52] != b"blobs/":  # the central-directory entry of the blob
        at = data.find(b"PK\x01\x02", at + 4)
    struct.pack_into("<I", data, at + 24, 0xFFFF_FFF0)
    path.write_bytes(bytes(data))
    return path


def deep_manifest(path):
    """A manifest nested 100,000 lists deep (RecursionError in a JSON parser)."""
    return _archive(path, _npz({}), manifest_text="[" * 100_000 + "]" * 100_000)


def negative_layers(path):
    """Negative layer sizes."""
    spec = _quantized_spec([-4, 3, 2], [True, True])
    members = {"__spec__.npy": _spec_member(spec)}
    for name, arr in {"mask": np.zeros(1, np.uint8), "codes": np.zeros(1, np.int8),
                      "floats": np.zeros(1, np.float32)}.items():
        fh = io.BytesIO()
        np.save(fh, arr)
        members[f"array/{name}.npy"] = fh.getvalue()
    return _archive(path, _npz(members))


def not_a_zip(path):
    """Random bytes."""
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    return path


BOMBS = {f.__name__: f for f in (mask_bomb, dense_codes_bomb, npz_header_bomb,
                                 npz_header_bomb_deflated, spec_header_bomb, object_array,
                                 oversize_member, deep_manifest, negative_layers, not_a_zip)}


def _probe(folder: Path) -> None:
    from workbench.models import MLPClassifier  # noqa: F401 - warm the imports first
    from workbench.registry import IntegrityError, Registry

    reg = Registry(folder / "home")
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for name, build in BOMBS.items():
        path = build(folder / f"{name}.zip")
        try:
            reg.import_(path)
            error = None
        except IntegrityError as exc:
            error = str(exc)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"bomb": name, "size": path.stat().st_size, "error": error,
                          "growth_kib": peak - baseline}), flush=True)


if __name__ == "__main__":
    _probe(Path(sys.argv[1]))

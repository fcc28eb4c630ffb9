"""Turn ``(spec, arrays)`` into bytes and back, never pickling.

Format: an uncompressed ``.npz`` (a zip of ``.npy`` files, written by :func:`numpy.savez`).
The member ``__spec__`` holds the spec as UTF-8 JSON in a ``uint8`` array; every array of the
model is the member ``array/<name>``. Only numeric and boolean dtypes are accepted, and
reading uses ``np.load(..., allow_pickle=False)``, so a blob can never run code when loaded.
The caller checks the SHA-256 of the bytes before decoding them.

Before any array is loaded every member's ``.npy`` header is read on its own
(:mod:`numpy.lib.format`) and the bytes its shape and dtype declare are compared with the
bytes the member holds and with :data:`MAX_DECODED_BYTES`, so a small blob that *declares* a
huge array is refused without allocating it.
"""
from __future__ import annotations

import io
import json
import math
import zipfile
import zlib

import numpy as np
from numpy.lib import format as npy_format

from .errors import IntegrityError, InvalidInputError

SPEC_KEY = "__spec__"
ARRAY_PREFIX = "array/"
#: dtype kinds that may be stored: bool, signed/unsigned int, float, complex
NUMERIC_KINDS = "biufc"
#: most bytes the arrays of one blob may take once decoded, and most members it may have
MAX_DECODED_BYTES = 512 << 20
MAX_MEMBERS = 4096
#: longest ``.npy`` header we read (numpy's own default limit)
MAX_HEADER_BYTES = 10_000


def check_arrays(arrays) -> dict[str, np.ndarray]:
    """Return ``arrays`` as a dict of numeric ndarrays, or raise :class:`InvalidInputError`."""
    if not isinstance(arrays, dict):
        raise InvalidInputError(f"arrays must be a dict of name -> ndarray, got {type(arrays).__name__}")
    out = {}
    for key, value in arrays.items():
        if not isinstance(key, str) or not key or "\x00" in key:
            raise InvalidInputError(f"array names must be non-empty strings, got {key!r}")
        arr = np.asarray(value)
        if arr.dtype.kind not in NUMERIC_KINDS:
            raise InvalidInputError(
                f"array {key!r} has dtype {arr.dtype}; only numeric or boolean arrays can be "
                "stored (object arrays would need pickle, which the registry never uses)")
        out[key] = arr
    return out


def encode(spec: dict, arrays: dict) -> bytes:
    """Return the bytes of a blob holding ``spec`` (JSON-able dict) and numeric ``arrays``."""
    if not isinstance(spec, dict):
        raise InvalidInputError(f"spec must be a dict, got {type(spec).__name__}")
    try:
        spec_json = json.dumps(spec, sort_keys=True, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"spec must hold only JSON values: {exc}") from None
    members = {SPEC_KEY: np.frombuffer(spec_json, dtype=np.uint8)}
    for key, arr in check_arrays(arrays).items():
        members[ARRAY_PREFIX + key] = arr
    buffer = io.BytesIO()
    np.savez(buffer, **members)
    return buffer.getvalue()


def decode(data: bytes, what: str = "blob") -> tuple[dict, dict[str, np.ndarray]]:
    """Return ``(spec, arrays)`` from blob bytes, refusing anything that would need pickle.

    Raises
    ------
    IntegrityError
        When the bytes are not a readable blob, or declare arrays larger than the blob holds
        or than :data:`MAX_DECODED_BYTES`.
    """
    try:
        check_sizes(data, what)
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if SPEC_KEY not in npz.files:
                raise IntegrityError(f"{what} has no {SPEC_KEY!r} member; it is not a registry blob")
            spec = json.loads(npz[SPEC_KEY].tobytes().decode("utf-8"))
            arrays = {}
            for key in npz.files:
                if key.startswith(ARRAY_PREFIX):
                    arr = npz[key]
                    if arr.dtype.kind not in NUMERIC_KINDS:
                        raise IntegrityError(f"{what} holds a non-numeric array {key!r}")
                    arrays[key[len(ARRAY_PREFIX):]] = arr
    except IntegrityError:
        raise
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError,
            NotImplementedError, RuntimeError, OverflowError, zlib.error) as exc:
        raise IntegrityError(f"{what} cannot be read as a registry blob: {exc}") from None
    except MemoryError:
        raise IntegrityError(f"{what} declares more data than this machine can hold; "
                             "refusing it") from None
    if not isinstance(spec, dict):
        raise IntegrityError(f"{what} spec is not a JSON object")
    return spec, arrays


def _member_size(zf: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> int:
    """Bytes the ``.npy`` member ``info`` declares (shape x item size), from its header only."""
    with zf.open(info) as fh:
        version = npy_format.read_magic(fh)
        if version not in ((1, 0), (2, 0)):
            raise IntegrityError(f"{what}: member {info.filename!r} uses .npy format {version}, "
                                 "a registry blob uses 1.0 or 2.0")
        read = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
        shape, _, dtype = read(fh, max_header_size=MAX_HEADER_BYTES)
        header_bytes = fh.tell()
    if dtype.hasobject or dtype.kind not in NUMERIC_KINDS:
        raise IntegrityError(f"{what}: member {info.filename!r} has dtype {dtype}; only numeric "
                             "arrays are read (anything else would need pickle)")
    declared = math.prod(int(d) for d in shape) * dtype.itemsize
    held = info.file_size - header_bytes
    if declared > held:
        raise IntegrityError(f"{what}: member {info.filename!r} declares shape {tuple(shape)} of "
                             f"{dtype} ({declared:,} bytes) but holds only {held:,} bytes; "
                             "refusing it before allocating anything")
    return declared


def check_sizes(data: bytes, what: str = "blob") -> int:
    """Check the declared sizes of every array in blob ``data``; return the total bytes.

    Raises
    ------
    IntegrityError
        When a member declares more bytes than it holds, the blob has too many members, or the
        arrays together would take more than :data:`MAX_DECODED_BYTES`.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise IntegrityError(f"{what} has {len(infos):,} members; at most {MAX_MEMBERS} are read")
        total = 0
        for info in infos:
            if info.file_size > MAX_DECODED_BYTES:
                raise IntegrityError(f"{what}: member {info.filename!r} is {info.file_size:,} "
                                     f"bytes; at most {MAX_DECODED_BYTES:,} are read")
            total += _member_size(zf, info, what)
            if total > MAX_DECODED_BYTES:
                raise IntegrityError(f"{what} declares {total:,}+ bytes of arrays; at most "
                                     f"{MAX_DECODED_BYTES:,} are read")
    return total

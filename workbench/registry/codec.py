"""Turn ``(spec, arrays)`` into bytes and back, never pickling.

Format: an uncompressed ``.npz`` (a zip of ``.npy`` files, written by :func:`numpy.savez`).
The member ``__spec__`` holds the spec as UTF-8 JSON in a ``uint8`` array; every array of the
model is the member ``array/<name>``. Only numeric and boolean dtypes are accepted, and
reading uses ``np.load(..., allow_pickle=False)``, so a blob can never run code when loaded.
The caller checks the SHA-256 of the bytes before decoding them.
"""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np

from .errors import IntegrityError, InvalidInputError

SPEC_KEY = "__spec__"
ARRAY_PREFIX = "array/"
#: dtype kinds that may be stored: bool, signed/unsigned int, float, complex
NUMERIC_KINDS = "biufc"


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
        When the bytes are not a readable blob.
    """
    try:
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
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise IntegrityError(f"{what} cannot be read as a registry blob: {exc}") from None
    if not isinstance(spec, dict):
        raise IntegrityError(f"{what} spec is not a JSON object")
    return spec, arrays

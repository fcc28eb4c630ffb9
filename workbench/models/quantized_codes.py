"""Quantized weight codes and their compact storage, in numpy only.

What :mod:`.quantized` stores and what the inference-only load path (:mod:`.forward`) reads:
symmetric integer codes with float scales (see :mod:`.quantized` for the maths), packed several
to a byte for 2 and 4 bits, with a bit mask for mostly-zero layers. No scikit-learn here, so a
serving worker can decode a quantized model without importing it.
"""
from __future__ import annotations

import numpy as np

#: bit widths a quantized model can use
SUPPORTED_BITS = (2, 4, 8, 16)
STORAGE_FORMAT = "workbench.quantized/1"


def check_bits(bits) -> int:
    """Return ``bits`` as an int, or raise ValueError when it is not a supported width."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or int(bits) not in SUPPORTED_BITS:
        raise ValueError(f"bits must be one of {SUPPORTED_BITS}, got {bits!r}")
    return int(bits)


def _code_dtype(bits: int) -> np.dtype:
    return np.dtype(np.int16 if bits > 8 else np.int8)


def quantize_weights(W: np.ndarray, bits: int = 8, per_channel: bool = True):
    """Symmetric quantization of one weight matrix.

    Parameters
    ----------
    W : ndarray of shape (fan_in, fan_out)
    bits : {2, 4, 8, 16}
    per_channel : bool
        One scale per output column (True) or one for the whole matrix.

    Returns
    -------
    codes : ndarray of int8 (int16 for 16 bits), shape (fan_in, fan_out)
    scale : ndarray of float32, shape (fan_out,) or (1,)
    """
    bits = check_bits(bits)
    qmax = 2 ** (bits - 1) - 1
    W = np.asarray(W, dtype=np.float64)
    amax = np.abs(W).max(axis=0) if per_channel else np.abs(W).max(keepdims=True).ravel()
    scale = np.where(amax > 0, amax / qmax, 1.0).astype(np.float32)
    codes = np.clip(np.rint(W / scale.astype(np.float64)), -qmax, qmax)
    return codes.astype(_code_dtype(bits)), scale


def _pack(codes: np.ndarray, bits: int) -> np.ndarray:
    """Integer codes -> stored array (2 and 4 bits: several offset codes per byte)."""
    if bits >= 8:
        return codes.astype(_code_dtype(bits))
    per_byte, offset = 8 // bits, 2 ** (bits - 1)
    u = (codes.astype(np.int16) + offset).astype(np.uint8)
    u = np.concatenate([u, np.zeros(-len(u) % per_byte, np.uint8)]).reshape(-1, per_byte)
    shifts = (bits * np.arange(per_byte)).astype(np.uint8)
    return np.bitwise_or.reduce(u << shifts, axis=1).astype(np.uint8)


def _unpack(stored: np.ndarray, bits: int, count: int) -> np.ndarray:
    if bits >= 8:
        return np.asarray(stored, dtype=_code_dtype(bits))
    per_byte, offset = 8 // bits, 2 ** (bits - 1)
    shifts = (bits * np.arange(per_byte)).astype(np.uint8)
    u = (np.asarray(stored, dtype=np.uint8)[:, None] >> shifts) & np.uint8(2 ** bits - 1)
    return (u.ravel()[:count].astype(np.int16) - offset).astype(np.int8)



def _check_declared_sizes(sizes, n, sparse, bits, arrays) -> None:
    """Refuse layer sizes the stored arrays cannot fill, before anything is allocated from them.

    A sparse layer needs one mask bit per weight, a dense one ``bits`` bits per weight in
    ``codes``; a spec claiming more weights than those arrays hold is damaged or hostile.
    """
    if any(s < 1 for s in sizes):
        raise ValueError(f"layer sizes must be positive, got {sizes}")
    n_mask = sum(k for k, s in zip(n, sparse) if s)
    n_dense = sum(k for k, s in zip(n, sparse) if not s)
    mask_bytes = np.asarray(arrays["mask"]).size if n_mask else 0
    if n_mask and mask_bytes != -(-n_mask // 8):
        raise ValueError(f"the layer sizes {sizes} need a mask of {-(-n_mask // 8):,} bytes, but "
                         f"'mask' holds {mask_bytes:,}")
    per_code = 1 if bits >= 8 else 8 // bits
    capacity = np.asarray(arrays["codes"]).size * per_code
    if n_dense > capacity:
        raise ValueError(f"the layer sizes {sizes} need {n_dense:,} weight codes, but 'codes' "
                         f"holds at most {capacity:,}")


def unpack_layers(name: str, spec: dict, arrays: dict) -> tuple[dict, list[int], int]:
    """Decode the stored ``codes``/``floats``/``mask`` arrays of a quantized spec.

    Returns ``(unpacked, layer_sizes, bits)`` where ``unpacked`` holds ``W{i}_q`` (integer
    codes, shape (fan_in, fan_out)), ``W{i}_scale`` and ``b{i}`` (float32) for every layer.

    Raises
    ------
    ValueError
        When the storage format, the layer sizes or the array sizes do not fit together.
    """
    storage, attrs = spec.get("storage") or {}, spec.get("attributes", {})
    if storage.get("format") != STORAGE_FORMAT:
        raise ValueError(f"{name} spec needs storage format {STORAGE_FORMAT!r}, "
                         f"got {storage.get('format')!r}")
    try:
        sizes = [int(s) for s in attrs["layer_sizes_"]]
        sparse = [bool(s) for s in storage["sparse_layers"]]
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"{name} spec needs layer_sizes_ and sparse_layers") from None
    bits = check_bits(spec.get("params", {}).get("bits"))
    per_channel = bool(spec.get("params", {}).get("per_channel", True))
    if len(sparse) != len(sizes) - 1:
        raise ValueError(f"sparse_layers has {len(sparse)} entries for {len(sizes) - 1} layers")
    missing = sorted({"codes", "floats", *(["mask"] if any(sparse) else [])} - set(arrays))
    if missing:
        raise ValueError(f"{name} spec needs arrays {missing}, which are missing")
    n = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    _check_declared_sizes(sizes, n, sparse, bits, arrays)
    mask = np.zeros(0, bool)
    if any(sparse):
        n_mask = sum(k for k, s in zip(n, sparse) if s)
        mask = np.unpackbits(np.asarray(arrays["mask"], np.uint8), count=n_mask).astype(bool)
    n_codes = sum(k for k, s in zip(n, sparse) if not s) + int(mask.sum())
    flat = _unpack(np.asarray(arrays["codes"]).ravel(), bits, n_codes)
    floats = np.asarray(arrays["floats"], dtype=np.float32).ravel()
    n_floats = sum((f if per_channel else 1) + f for f in sizes[1:])
    if flat.size != n_codes or floats.size != n_floats:
        raise ValueError(f"arrays 'codes'/'floats' hold {flat.size}/{floats.size} values; the "
                         f"layer sizes {sizes} need {n_codes}/{n_floats}")
    unpacked, c, m, f = {}, 0, 0, 0
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if sparse[i]:
            keep = mask[m:m + n[i]]
            q = np.zeros(n[i], flat.dtype)
            q[keep] = flat[c:c + keep.sum()]
            m, c = m + n[i], c + int(keep.sum())
        else:
            q, c = flat[c:c + n[i]], c + n[i]
        unpacked[f"W{i}_q"] = q.reshape(fan_in, fan_out)
        k = fan_out if per_channel else 1
        unpacked[f"W{i}_scale"], unpacked[f"b{i}"] = floats[f:f + k], floats[f + k:f + k + fan_out]
        f += k + fan_out
    return unpacked, sizes, bits

"""Move one version between homes as a single self-contained archive file.

The archive is a zip (stored, not compressed) holding ``manifest.json`` and the blobs it names
(``blobs/<sha256>``: the weights and, if any, the drift reference). On import every blob is
checked against the SHA-256 in the manifest and decoded without pickle before anything is
written; the version is then added as the next version number of the target home, keeping
metrics, params, tags, description, signature and lineage, and remembering its origin.
"""
from __future__ import annotations

import json
import os
import time
import zipfile
import zlib
from pathlib import Path

from . import codec
from .blobs import MAX_BLOB_BYTES, sha256_of
from .errors import (
    DuplicateVersionError,
    IntegrityError,
    InvalidInputError,
    check_json_dict,
    check_metrics,
    check_name,
    check_tags,
)

FORMAT = "workbench.registry-archive/1"
#: largest member we agree to read from an archive (guards against zip bombs): a blob's cap
MAX_MEMBER_BYTES = MAX_BLOB_BYTES
#: largest manifest we read
MAX_MANIFEST_BYTES = 1 << 20
#: what reading a hostile zip or spec can raise besides our own errors
_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError,
                EOFError, OverflowError, ValueError, zlib.error)
_SPEC_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
                RecursionError)


def export_version(registry, name, version, path) -> Path:
    """Write ``name`` ``version`` of ``registry`` to the archive file ``path``; return the path."""
    mv = registry.get_version(name, version)
    blobs = {mv.sha256: registry.blobs.get(mv.sha256, f"weight file of {name} v{mv.version}")}
    if mv.reference_sha256:
        blobs[mv.reference_sha256] = registry.blobs.get(mv.reference_sha256,
                                                        f"reference file of {name} v{mv.version}")
    manifest = {
        "format": FORMAT, "exported_at": time.time(), "exported_by": registry.author,
        "name": mv.name, "version": mv.version, "sha256": mv.sha256, "size_bytes": mv.size_bytes,
        "reference_sha256": mv.reference_sha256, "created_at": mv.created_at, "author": mv.author,
        "metrics": mv.metrics, "params": mv.params, "tags": mv.tags,
        "description": mv.description, "parent": list(mv.parent) if mv.parent else None,
        "signature": mv.signature, "model_class": mv.model_class, "origin": mv.origin,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
            for sha, data in blobs.items():
                zf.writestr(f"blobs/{sha}", data)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _read_member(zf: zipfile.ZipFile, member: str, path, limit: int = MAX_MEMBER_BYTES) -> bytes:
    try:
        info = zf.getinfo(member)
    except KeyError:
        raise IntegrityError(f"archive {path} has no {member!r}; it is incomplete") from None
    if info.file_size > limit:
        raise IntegrityError(f"archive {path}: {member!r} is too large ({info.file_size:,} bytes; "
                             f"at most {limit:,} are read)")
    return zf.read(info)


def _checked_blob(zf, sha, path, what) -> bytes:
    if not isinstance(sha, str) or len(sha) != 64:
        raise IntegrityError(f"archive {path}: the manifest names no valid {what} hash ({sha!r})")
    data = _read_member(zf, f"blobs/{sha}", path)
    if sha256_of(data) != sha:
        raise IntegrityError(f"archive {path}: the {what} does not match its SHA-256; "
                             "the file was damaged or changed after export")
    codec.decode(data, f"{what} in archive {path}")
    return data


def _describe(weights: bytes, path) -> tuple[dict, str]:
    """Rebuild the model from verified weight bytes: its signature and class name."""
    from ..models import from_spec

    spec, arrays = codec.decode(weights, "weight file")
    try:
        model = from_spec(spec, arrays)
        return model.signature(), spec["class"]
    except _SPEC_ERRORS as exc:
        raise IntegrityError(f"archive {path}: its weight file does not hold a loadable model: "
                             f"{type(exc).__name__}: {exc}") from None
    except MemoryError:
        raise IntegrityError(f"archive {path}: its weight file describes a model larger than this "
                             "machine can hold; refusing it") from None


def import_archive(registry, path, *, name=None, allow_duplicate=False):
    """Verify the archive at ``path`` and add its version to ``registry``; return the record.

    Refused (:class:`DuplicateVersionError`) when a version of the target model already holds
    the same weights, unless ``allow_duplicate``.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"no archive file at {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            try:
                manifest = json.loads(_read_member(zf, "manifest.json", path, MAX_MANIFEST_BYTES))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
                raise IntegrityError(f"archive {path}: manifest.json is not valid JSON: {exc}") from None
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                got = manifest.get("format") if isinstance(manifest, dict) else manifest
                raise IntegrityError(f"{path} is not a registry archive (format {got!r}, "
                                     f"expected {FORMAT!r})")
            weights = _checked_blob(zf, manifest.get("sha256"), path, "weight file")
            ref = None
            if manifest.get("reference_sha256"):
                ref = _checked_blob(zf, manifest["reference_sha256"], path, "reference file")
    except IntegrityError:
        raise
    except _READ_ERRORS as exc:
        raise IntegrityError(f"{path} is not a readable archive: {exc}") from None
    except MemoryError:
        raise IntegrityError(f"{path} declares more data than this machine can hold") from None
    source = check_name(manifest.get("name"), "model name in the archive")
    target = check_name(name) if name is not None else source
    parent = manifest.get("parent")
    if parent is not None:
        if not (isinstance(parent, list) and len(parent) == 2 and isinstance(parent[1], int)):
            raise IntegrityError(f"archive {path}: parent must be [name, version], got {parent!r}")
        parent = (check_name(parent[0], "parent model name"), parent[1])
    origin = {"name": source, "version": manifest.get("version"), "author": manifest.get("author"),
              "created_at": manifest.get("created_at"), "exported_at": manifest.get("exported_at"),
              "exported_by": manifest.get("exported_by"), "archive": path.name}
    # the manifest is not covered by a hash: what serving relies on (the input signature, the
    # class) is taken from the verified weights themselves, rebuilt into a model here
    signature, model_class = _describe(weights, path)
    claimed = manifest.get("signature")
    if claimed is not None and claimed != signature:
        raise IntegrityError(f"archive {path}: its manifest describes the model as {claimed!r}, "
                             f"but the weights it holds are {signature!r}")
    row = dict(metrics=check_metrics(manifest.get("metrics")),
               params=check_json_dict(manifest.get("params"), "params"),
               tags=check_tags(manifest.get("tags")),
               description=str(manifest.get("description") or ""), parent=parent,
               signature=signature, model_class=model_class, origin=origin)
    if not allow_duplicate:          # before storing anything; checked again when the row is added
        with registry._tables.read() as tx:
            refuse_duplicate(tx, target, sha256_of(weights))
    sha, size = registry.blobs.put(weights)
    ref_sha = ref_size = None
    if ref is not None:
        ref_sha, ref_size = registry.blobs.put(ref)
    row.update(sha256=sha, size_bytes=size, reference_sha256=ref_sha, reference_size=ref_size)
    return registry._add_version(target, row, action="imported", unique=not allow_duplicate,
                                 detail={"sha256": sha, "origin": origin})


def refuse_duplicate(tx, name, sha256) -> None:
    """Raise :class:`DuplicateVersionError` if a version of ``name`` holds weights ``sha256``."""
    if not tx.has_model(name):
        return
    for r in tx.version_rows(name):
        if r["sha256"] == sha256:
            archived = " (archived)" if r["archived"] else ""
            raise DuplicateVersionError(
                f"{name} v{r['version']}{archived} already holds this archive (sha256 "
                f"{sha256}); nothing imported. To add a copy anyway, import with "
                f"allow_duplicate=True (command line: --allow-duplicate)", name, int(r["version"]))

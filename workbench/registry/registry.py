"""The :class:`Registry`: a thin client over the store layer's registry tables
(:mod:`workbench.store.registry`, SQLite or PostgreSQL) and :mod:`.blobs` (files)."""
from __future__ import annotations

import getpass
import json
import os
import time

from ..home import resolve_home
from ..store import Store
from . import codec
from .aliases import AliasOps
from .blobs import BlobStore
from .errors import (
    AliasNotFoundError,
    InvalidInputError,
    ModelNotFoundError,
    VersionNotFoundError,
    check_json_dict,
    check_metrics,
    check_name,
    check_tags,
    check_version,
)
from .records import Comparison, ModelVersion
from .reference import as_dict, build_reference
from .rows import row_to_event, row_to_version
from .traffic import TrafficOps
from .verify import verify_registry


def current_user() -> str:
    """Return ``$WORKBENCH_USER``, else the login name, else ``"unknown"``."""
    if os.environ.get("WORKBENCH_USER"):
        return os.environ["WORKBENCH_USER"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Registry(AliasOps, TrafficOps):
    """Versioned models: metadata in the store (``registry.db`` in the home, SQLite in WAL mode,
    or a PostgreSQL database) and weight files in ``<home>/blobs/<sha256>``.

    Parameters
    ----------
    home : path-like or None
        The workbench home; ``$WORKBENCH_HOME`` or the checkout's ``artifacts/`` when None.
        Created if missing.
    author : str or None
        Who is recorded in the audit log; ``$WORKBENCH_USER`` or the login name when None.
    store : str or None
        Store URL (``postgresql://user@host/db``); ``$WORKBENCH_STORE`` or SQLite in the home
        when None. Blobs stay in the home either way (a shared mount for many nodes).

    Examples
    --------
    >>> reg = Registry(tmp_home)                                         # doctest: +SKIP
    >>> mv = reg.register("digits", model, metrics={"accuracy": 0.97})  # doctest: +SKIP
    >>> reg.set_alias("digits", "production", mv.version)               # doctest: +SKIP
    >>> reg.load("digits", alias="production").predict(X)               # doctest: +SKIP
    """

    def __init__(self, home=None, *, author: str | None = None, store: str | None = None):
        self.home = resolve_home(home)
        self.blobs = BlobStore(self.home / "blobs")
        self.store = Store(self.home, store)
        self._tables = self.store.registry
        self.author = author or current_user()

    def __repr__(self) -> str:
        return f"Registry({str(self.home)!r}, models={len(self.models())})"

    def close(self) -> None:
        """Close the database connection."""
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ writing
    def register(self, name, model, *, metrics=None, params=None, tags=None, description="",
                 reference=None, parent=None, feature_names=None) -> ModelVersion:
        """Store ``model`` as the next version of ``name`` and return its record.

        Parameters
        ----------
        name : str
            Model name: 1-64 of ``a-z 0-9 . _ -``.
        model : estimator with ``to_spec()`` (and ``signature()``)
        metrics : dict of str -> float, optional
        params, tags : dict of JSON values, optional
        description : str
        reference : array-like of shape (n_samples, n_features), optional
            Training inputs; their drift statistics are stored (see :meth:`reference`).
        parent : (name, version) or ModelVersion, optional
            The version this one derives from.
        feature_names : list of str, optional
            Names of the input columns, for a model fitted on a plain array (a model fitted on a
            DataFrame already knows them). They go into the signature and the drift reference, so
            the dashboard says ``pixel_3_4`` rather than ``x28``.
        """
        check_name(name)
        if not callable(getattr(model, "to_spec", None)):
            raise InvalidInputError(f"model must have a to_spec() method (a workbench model), "
                                    f"got {type(model).__name__}")
        metrics, params = check_metrics(metrics), check_json_dict(params, "params")
        tags = check_tags(tags)
        if not isinstance(description, str):
            raise InvalidInputError(f"description must be a string, got {type(description).__name__}")
        parent = self._check_parent(parent)
        spec, arrays = model.to_spec()
        signature = model.signature() if callable(getattr(model, "signature", None)) else None
        signature = check_json_dict(signature, "signature") or None
        if feature_names is not None:
            signature = _with_feature_names(signature or {}, feature_names)
        sha, size = self.blobs.put(codec.encode(spec, arrays))
        ref_sha = ref_size = None
        if reference is not None:
            ref_spec, ref_arrays = build_reference(
                reference, (signature or {}).get("feature_names"))
            expected = (signature or {}).get("n_features")
            if expected is not None and ref_spec["n_features"] != expected:
                raise InvalidInputError(f"reference has {ref_spec['n_features']} features but the "
                                        f"model takes {expected}")
            ref_sha, ref_size = self.blobs.put(codec.encode(ref_spec, ref_arrays))
        row = dict(sha256=sha, size_bytes=size, metrics=metrics, params=params, tags=tags,
                   description=description, parent=parent, signature=signature,
                   model_class=str(spec.get("class", type(model).__name__)),
                   reference_sha256=ref_sha, reference_size=ref_size, origin=None)
        return self._add_version(name, row, action="registered")

    def register_onnx(self, name, path_or_bytes, *, classes=None, task=None, metrics=None,
                      params=None, tags=None, description="", reference=None,
                      parent=None) -> ModelVersion:
        """Store an ONNX model (a file path or its bytes) as the next version of ``name``.

        The graph is checked first (:func:`workbench.onnx.inspect_onnx`: valid ONNX, standard
        operators only, no external data, one float input); its signature (task, features,
        dtype, outputs, classes) is read from the graph. The bytes go into a SHA-256-checked blob
        like any model's weights; :meth:`load` returns an :class:`~workbench.onnx.OnnxModel`
        that runs them with onnxruntime, and serving answers for it with the same protocol.

        Parameters
        ----------
        name : str
        path_or_bytes : path-like or bytes
        classes : list, optional
            Class labels in the order of the probability columns, when the graph does not name
            them (scikit-learn's converter does).
        task : {'classification', 'regression'}, optional
            Overrides what the graph suggests.
        metrics, params, tags, description, reference, parent : as in :meth:`register`.
        """
        from ..models.onnx_model import OnnxModel, OnnxModelError

        if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
            data = bytes(path_or_bytes)
        elif isinstance(path_or_bytes, (str, os.PathLike)):
            try:
                with open(path_or_bytes, "rb") as f:
                    data = f.read()
            except OSError as exc:
                raise InvalidInputError(f"cannot read the ONNX file: {exc.strerror}") from None
        else:
            raise InvalidInputError(f"give an ONNX model as a file path or bytes, got "
                                    f"{type(path_or_bytes).__name__}")
        try:
            model = OnnxModel.from_bytes(data, classes=classes, task=task)
        except OnnxModelError as exc:
            raise InvalidInputError(f"ONNX model refused: {exc}") from None
        return self.register(name, model, metrics=metrics, params=params, tags=tags,
                             description=description, reference=reference, parent=parent)

    def _check_parent(self, parent):
        if parent is None:
            return None
        if isinstance(parent, ModelVersion):
            parent = (parent.name, parent.version)
        if not (isinstance(parent, (tuple, list)) and len(parent) == 2):
            raise InvalidInputError(f"parent must be (name, version) or a ModelVersion, got {parent!r}")
        pname, pversion = check_name(parent[0], "parent model name"), check_version(parent[1])
        self.get_version(pname, pversion)
        return (pname, pversion)

    def _add_version(self, name, row, *, action, detail=None, unique=False) -> ModelVersion:
        """Allocate the next version number and commit the row (the blobs are already stored).

        ``unique``: refuse (:class:`DuplicateVersionError`) when a version of ``name`` already
        holds the same weights -- checked in the same transaction, so two imports cannot race.
        """
        now = time.time()
        parent = row["parent"] or (None, None)
        with self._tables.write() as tx:
            if unique:
                from .archive import refuse_duplicate

                refuse_duplicate(tx, name, row["sha256"])
            version = tx.next_version(name, now)
            tx.insert_version({
                "name": name, "version": version, "sha256": row["sha256"],
                "size_bytes": row["size_bytes"], "created_at": now, "author": self.author,
                "metrics": json.dumps(row["metrics"]), "params": json.dumps(row["params"]),
                "tags": json.dumps(row["tags"]), "description": row["description"],
                "parent_name": parent[0], "parent_version": parent[1],
                "signature": json.dumps(row["signature"]) if row["signature"] else None,
                "model_class": row["model_class"], "reference_sha256": row["reference_sha256"],
                "reference_size": row["reference_size"],
                "origin": json.dumps(row["origin"]) if row["origin"] else None})
            tx.add_audit(name=name, action=action, author=self.author, at=now, version=version,
                         detail=detail or {"sha256": row["sha256"]})
            tx.bump_generation()
            stored = tx.version_row(name, version)
        return row_to_version(stored)

    # ------------------------------------------------------------------ reading
    def resolve(self, name, version=None, alias=None) -> int:
        """Return the version number meant by ``version`` or ``alias`` (latest when neither)."""
        return self.get_version(name, version, alias).version

    def get_version(self, name, version=None, alias=None) -> ModelVersion:
        """Return the record of one version (no weights are read).

        ``version`` and ``alias`` are exclusive; with neither, the latest non-archived version.
        """
        check_name(name)
        if version is not None and alias is not None:
            raise InvalidInputError(f"give a version or an alias, not both (got version={version!r}, "
                                    f"alias={alias!r})")
        with self._tables.read() as tx:
            if alias is not None:
                check_name(alias, "alias name")
                self._model_exists(tx, name)
                version = self._alias_target(tx, name, alias)
                if version is None:
                    raise AliasNotFoundError(self._no_alias_message(tx, name, alias))
            elif version is None:
                self._model_exists(tx, name)
                version = tx.latest_version(name)
                if version is None:
                    raise VersionNotFoundError(f"model {name!r} has no version that is not archived")
            row = self._version_row(tx, name, check_version(version))
            held = tx.aliases_of_version(name, row["version"])
        return row_to_version(row, held)

    def load_spec(self, name, version=None, alias=None) -> tuple[dict, dict]:
        """Return the stored ``(spec, arrays)`` of a version, SHA-256 checked, never unpickled."""
        mv = self.get_version(name, version, alias)
        what = f"weight file of {mv.name} v{mv.version}"
        return codec.decode(self.blobs.get(mv.sha256, what), what)

    def load(self, name, version=None, alias=None):
        """Return the model of a version (latest when neither ``version`` nor ``alias``)."""
        from ..models import from_spec

        spec, arrays = self.load_spec(name, version, alias)
        return from_spec(spec, arrays)

    def reference(self, name, version=None, alias=None) -> dict | None:
        """Return the drift reference stored with a version, or None when none was given.

        Keys: ``feature_names``, ``edges``, ``counts``, ``quantile_levels``, ``quantiles``,
        ``mean``, ``std``, ``sample``, ``n_rows``, ``n_features`` (see :mod:`.reference`).
        """
        mv = self.get_version(name, version, alias)
        if mv.reference_sha256 is None:
            return None
        what = f"reference file of {mv.name} v{mv.version}"
        return as_dict(*codec.decode(self.blobs.get(mv.reference_sha256, what), what))

    def models(self) -> list[str]:
        """Return the names of all registered models, sorted."""
        return self._tables.model_names()

    def versions(self, name) -> list[ModelVersion]:
        """Return every version of ``name`` (archived ones included), oldest first."""
        check_name(name)
        with self._tables.read() as tx:
            self._model_exists(tx, name)
            held = {}
            for r in tx.alias_rows(name):
                held.setdefault(r["version"], []).append(r["alias"])
            rows = tx.version_rows(name)
        return [row_to_version(r, held.get(r["version"], ())) for r in rows]

    def aliases(self, name) -> dict[str, int]:
        """Return ``{alias: version}`` for model ``name``."""
        check_name(name)
        with self._tables.read() as tx:
            self._model_exists(tx, name)
            rows = tx.alias_rows(name)
        return {r["alias"]: int(r["version"]) for r in rows}

    def history(self, name) -> list:
        """Return the audit log of ``name``, oldest first (a list of :class:`AuditEvent`)."""
        check_name(name)
        with self._tables.read() as tx:
            self._model_exists(tx, name)
            rows = tx.audit_rows(name)
        return [row_to_event(r) for r in rows]

    def compare(self, name, v1, v2) -> Comparison:
        """Return metrics (side by side) and differing params of two versions."""
        a, b = self.get_version(name, v1), self.get_version(name, v2)
        keys = list(a.metrics) + [k for k in b.metrics if k not in a.metrics]
        metrics = {k: (a.metrics.get(k), b.metrics.get(k)) for k in keys}
        params = {k: (a.params.get(k), b.params.get(k)) for k in sorted(set(a.params) | set(b.params))
                  if a.params.get(k) != b.params.get(k)}
        return Comparison(name=name, v1=a.version, v2=b.version, metrics=metrics, params=params,
                          same_signature=a.signature == b.signature)

    def generation(self) -> int:
        """Return a counter that grows with every change of what a name or alias resolves to."""
        return self._tables.generation()

    def verify(self) -> list[str]:
        """Check every file against its SHA-256 and every row against its files.

        Returns the problems found, one sentence each; an empty list means the registry is sound.
        """
        return verify_registry(self._tables, self.blobs)

    def export(self, name, version, path):
        """Write ``version`` of ``name`` (latest when None) to one archive file; return its path."""
        from .archive import export_version

        return export_version(self, name, version, path)

    def import_(self, path, *, name=None, allow_duplicate=False) -> ModelVersion:
        """Add the version in archive ``path`` as the next version here (under ``name`` if given).

        When a version of that model already holds the same weights (same SHA-256), nothing is
        added and :class:`DuplicateVersionError` says which; ``allow_duplicate=True`` adds a copy.
        """
        from .archive import import_archive

        return import_archive(self, path, name=name, allow_duplicate=allow_duplicate)

    # ------------------------------------------------------------------ helpers
    def _model_exists(self, tx, name) -> None:
        if not tx.has_model(name):
            known = tx.some_model_names(10)
            hint = f"; known models: {', '.join(known)}" if known else "; the registry is empty"
            raise ModelNotFoundError(f"no model named {name!r} in {self.home}{hint}")

    def _version_row(self, tx, name, version):
        row = tx.version_row(name, version)
        if row is None:
            self._model_exists(tx, name)
            have = tx.version_range(name)
            raise VersionNotFoundError(f"model {name!r} has no version {version} "
                                       f"(it has versions {have[0]} to {have[1]})")
        return row


def _with_feature_names(signature: dict, feature_names) -> dict:
    """``signature`` naming its input columns ``feature_names`` (checked against n_features)."""
    try:
        names = [] if isinstance(feature_names, str) else list(feature_names)
    except TypeError:
        names = []
    if not names or not all(isinstance(f, str) and f for f in names):
        raise InvalidInputError("feature_names must be a list of non-empty strings")
    expected = signature.get("n_features")
    if expected is not None and len(names) != expected:
        raise InvalidInputError(f"{len(names)} feature names for a model that takes {expected} features")
    if len(set(names)) != len(names):
        raise InvalidInputError("feature_names has duplicates")
    return {**signature, "feature_names": names}

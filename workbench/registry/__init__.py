"""The model registry: versions, aliases with rollback, an audit log, lineage and integrity.

Metadata lives in ``<home>/registry.db`` (SQLite, WAL); weights in ``<home>/blobs/<sha256>``
(uncompressed ``.npz``, read with ``allow_pickle=False`` after the hash is checked).

Examples
--------
>>> from workbench.registry import Registry                          # doctest: +SKIP
>>> reg = Registry("/tmp/home")                                      # doctest: +SKIP
>>> mv = reg.register("digits", model, metrics={"accuracy": 0.97})  # doctest: +SKIP
>>> reg.set_alias("digits", "production", mv.version)               # doctest: +SKIP
"""
from .errors import (AliasInUseError, AliasNotFoundError, ArchivedVersionError,
                     DuplicateVersionError, IntegrityError,
                     InvalidInputError, InvalidNameError, ModelNotFoundError,
                     NothingToRollBackError, RegistryError, VersionNotFoundError)
from .records import AliasRoute, AuditEvent, Comparison, ModelVersion
from .reference import histogram_counts
from .registry import Registry

__all__ = [
    "Registry", "ModelVersion", "AliasRoute", "AuditEvent", "Comparison", "histogram_counts",
    "RegistryError", "InvalidNameError", "InvalidInputError", "ModelNotFoundError",
    "VersionNotFoundError", "AliasNotFoundError", "AliasInUseError", "ArchivedVersionError",
    "NothingToRollBackError", "IntegrityError", "DuplicateVersionError",
]

"""Content-addressed files: each blob is stored under ``blobs/<sha256 of its bytes>``.

A blob is written to a temporary file in the same folder, flushed and fsynced, renamed onto its
final name with ``os.replace`` (atomic on POSIX), and the folder is fsynced so the rename itself
survives a crash. A reader therefore sees either no file or the whole file. Reading checks the
SHA-256 of the bytes before handing them out.
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from .errors import IntegrityError

#: prefix of temporary files; a crash may leave some behind, they are never read
TMP_PREFIX = ".tmp-"
#: largest blob stored or read (the registry's models are far smaller; a bigger file is refused)
MAX_BLOB_BYTES = 512 << 20
_SHA_RE = re.compile(r"[0-9a-f]{64}")


def sha256_of(data: bytes) -> str:
    """Return the hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobStore:
    """Files named by their SHA-256 under ``root``.

    Parameters
    ----------
    root : path-like
        The ``blobs/`` folder; created if missing.
    """

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"BlobStore({str(self.root)!r})"

    def path(self, sha: str) -> Path:
        """Return the path of blob ``sha`` (which need not exist)."""
        if not isinstance(sha, str) or not _SHA_RE.fullmatch(sha):
            raise IntegrityError(f"a blob name must be 64 lower-case hex digits, got {sha!r}")
        return self.root / sha

    def put(self, data: bytes) -> tuple[str, int]:
        """Store ``data`` durably and return ``(sha256, size_bytes)``.

        If a sound blob with the same hash is already there it is kept as is.
        """
        if len(data) > MAX_BLOB_BYTES:
            raise IntegrityError(f"a blob of {len(data):,} bytes is larger than the "
                                 f"{MAX_BLOB_BYTES:,} bytes the registry stores")
        sha = sha256_of(data)
        final = self.path(sha)
        if final.exists() and self._hash_file(final) == sha:
            return sha, len(data)
        tmp = self.root / f"{TMP_PREFIX}{sha[:16]}-{os.getpid()}-{os.urandom(4).hex()}"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _fsync_dir(self.root)
        return sha, len(data)

    def get(self, sha: str, what: str = "blob") -> bytes:
        """Return the bytes of blob ``sha`` after checking their SHA-256.

        Raises
        ------
        IntegrityError
            When the file is missing or its bytes do not hash to ``sha``.
        """
        path = self.path(sha)
        try:
            size = path.stat().st_size
            if size > MAX_BLOB_BYTES:
                raise IntegrityError(f"{what} file {path} is {size:,} bytes, larger than the "
                                     f"{MAX_BLOB_BYTES:,} bytes the registry reads")
            data = path.read_bytes()
        except FileNotFoundError:
            raise IntegrityError(f"{what} file {path} is missing") from None
        actual = sha256_of(data)
        if actual != sha:
            raise IntegrityError(
                f"{what} file {path} is damaged or was changed: its SHA-256 is {actual[:12]}..., "
                f"expected {sha[:12]}...; refusing to use it")
        return data

    def names(self) -> list[str]:
        """Return the names of all finished blobs (temporary files excluded)."""
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_file() and not p.name.startswith(TMP_PREFIX))

    def check(self, sha: str) -> str | None:
        """Return a problem description for blob ``sha``, or None when it is sound."""
        path = self.root / sha
        if not path.is_file():
            return f"blob {sha} is missing"
        actual = self._hash_file(path)
        if actual != sha:
            return f"blob {sha} is damaged: its content hashes to {actual}"
        return None

    @staticmethod
    def _hash_file(path: Path) -> str:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

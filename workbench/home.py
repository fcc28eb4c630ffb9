"""Where the workbench keeps its state: one *home* folder.

The home holds ``registry.db``, ``blobs/``, ``predictions.db`` and ``benchmarks/``.
It is ``$WORKBENCH_HOME`` when set, else the ``artifacts/`` folder of the checkout.
A home the workbench creates is private to its owner (mode 0700), and so are the databases it
creates in it (0600; SQLite gives their ``-wal``/``-shm`` files the same mode). Existing folders
and files keep the mode they have.
"""
from __future__ import annotations

import os
from pathlib import Path

#: The checkout's ``artifacts/`` folder, the default home.
DEFAULT_HOME = Path(__file__).resolve().parent.parent / "artifacts"


def resolve_home(home: str | os.PathLike | None = None) -> Path:
    """Return the home folder as an absolute path, creating it if missing.

    ``home`` wins when given; otherwise ``$WORKBENCH_HOME``; otherwise the
    checkout's ``artifacts/`` folder.
    """
    if home is None:
        home = os.environ.get("WORKBENCH_HOME") or DEFAULT_HOME
    path = Path(home).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"workbench home must be a folder, but {path} is a file")
    make_private_dir(path)
    return path


def make_private_dir(path: str | os.PathLike) -> Path:
    """Create the folder ``path`` with mode 0700 if it is missing (parents as usual); return it."""
    path = Path(path)
    try:
        path.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        return path
    os.chmod(path, 0o700)  # whatever the umask
    return path


def create_private_file(path: str | os.PathLike) -> Path:
    """Create the empty file ``path`` with mode 0600 unless it exists; return its path.

    Call it before ``sqlite3.connect`` so a new database (and the ``-wal``/``-shm`` files
    SQLite later creates with the database's mode) is readable by its owner only.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    return path

"""Where the workbench keeps its state: one *home* folder.

The home holds ``registry.db``, ``blobs/``, ``predictions.db`` and ``benchmarks/``.
It is ``$WORKBENCH_HOME`` when set, else the ``artifacts/`` folder of the checkout.
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
    path.mkdir(parents=True, exist_ok=True)
    return path

"""Warn before SQLite runs on a network file system.

SQLite's WAL mode needs shared memory on one host: over NFS, SMB or sshfs, locks are unreliable
and another node may see a half-written database. Several nodes share a PostgreSQL store
instead (``--store postgresql://…``); the weight files may stay on the shared mount.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

#: ``/proc/mounts`` file system types that are network (or remote FUSE) file systems
NETWORK_FS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "9p", "ceph",
                        "glusterfs", "lustre", "gpfs", "beegfs", "fuse.sshfs",
                        "fuse.glusterfs", "fuse.cephfs", "fuse.s3fs", "fuse.gcsfuse",
                        "fuse.rclone", "fuse.juicefs"})

_warned: set = set()


class NetworkFileSystemWarning(UserWarning):
    """A SQLite store lives on a network file system."""


def filesystem_type(path, mounts: str | None = None) -> str | None:
    """The type of the file system holding ``path`` (longest matching mount point in
    ``/proc/mounts``), or None where that file cannot be read."""
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text()
        except OSError:
            return None
    target = os.path.realpath(path)
    best, kind = "", None
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def warn_if_network(path, mounts: str | None = None) -> bool:
    """Warn (once per folder) when ``path`` is on a network file system; return whether it is."""
    folder = Path(path).parent
    kind = filesystem_type(folder, mounts)
    if kind not in NETWORK_FS:
        return False
    if str(folder) not in _warned:
        _warned.add(str(folder))
        warnings.warn(
            f"{Path(path).name} is on a network file system ({kind}) at {folder}: SQLite's "
            "write-ahead log needs one host, so several nodes writing it risk a corrupt "
            "registry. Give every node one PostgreSQL store instead (--store "
            "postgresql://user@host/db or WORKBENCH_STORE); the blobs may stay on the shared "
            "mount.", NetworkFileSystemWarning, stacklevel=4)
    return True

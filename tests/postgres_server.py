"""A throwaway PostgreSQL cluster for the tests, from Debian's ``postgresql`` package.

``initdb`` + ``pg_ctl`` in a temporary directory on a free loopback port (as the ``postgres``
user through ``runuser`` when the tests run as root: the server refuses root), trust
authentication on loopback only, stopped with ``pg_ctl -m immediate stop``. One cluster per test
session; :meth:`PostgresServer.create_database` gives each test its own database.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

SUPERUSER = "workbench"


def find_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` holding ``initdb`` and ``pg_ctl``, if any."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")
             if (Path(p).parent / "pg_ctl").exists()]
    if not found:
        on_path = shutil.which("initdb")
        return Path(on_path).parent if on_path and shutil.which("pg_ctl") else None
    return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


MISSING = ("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin): apt-get install "
           "postgresql, or run `make test`, which installs it")


def when_missing(environ) -> str:
    """What a test needing PostgreSQL does without the binaries: ``"fail"`` under CI (where
    ``make test`` installs them, so their absence is a broken setup), else ``"skip"``."""
    return "fail" if environ.get("CI", "").lower() in ("1", "true", "yes") else "skip"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """Start with :meth:`start`, always :meth:`stop` (in a ``finally``)."""

    def __init__(self, bindir: Path):
        self.bindir = Path(bindir)
        self.dir = Path(tempfile.mkdtemp(prefix="workbench-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0

    def _run(self, *argv, check=True):
        cmd = [str(self.bindir / argv[0]), *argv[1:]]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> PostgresServer:
        os.chmod(self.dir, 0o777)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", SUPERUSER, "-E", "UTF8",
                  "--no-sync")
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"),
                  "-w", "start")
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, name)
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self._run("dropdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, "--force",
                  "--if-exists", name, check=False)

    def stop(self) -> None:
        try:
            if self.data.exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop", check=False)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

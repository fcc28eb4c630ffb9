"""The prediction log's SQLite writes in a helper process of their own.

Why a process: a serving worker's event loop holds the GIL nearly all the time and gives it up
for a moment thousands of times a second (every socket read, every poll). A log writer *thread*
comes back from each SQLite call (or any other system call) wanting the GIL; each of the loop's
moments then wakes it (a futex wake: on a virtual machine an inter-processor interrupt), the
loop takes the GIL back first, and CPython restarts the writer's wait — a convoy that can last
tens of milliseconds and costs the loop the wakes. Measured with ``perf`` on the serving
benchmark (2 cores), the log writer thread cost the event loop about a fifth of its CPU although
its SQLite work ran on the other core. The helper process has its own interpreter and GIL: the
worker's writer thread hands it a whole chunk of records in one pipe write and collects the
answer at its next turn (when it is already there), a few waits for the GIL per chunk instead of
dozens.

Parent side: :class:`AppendProcess`; the helper: ``python -m workbench.store.append_process
DATABASE SYNCHRONOUS``, which exits when its standard input closes (its parent stopped, however
it stopped). Only the prediction log uses it (on by default in ``workbench serve``, about 20 MB
per worker; ``--no-log-process`` turns it off), and only on SQLite; everything else (reads,
pruning, health) stays on the worker's own connection.

Wire format, both ways: a 4-byte big-endian length, then the payload. A request is a sequence of
``(statement index: 1 byte, length: 4 bytes, JSON array)``; the reply is ``b"ok"`` after the
commit, or a JSON object ``{"error": class name, "message": …, "transient": bool}`` after a
rollback.
"""
from __future__ import annotations

import os
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time

import orjson

_LENGTH = struct.Struct(">I")
_PART = struct.Struct(">BI")


class AppendProcessGone(RuntimeError):
    """The helper process exited or its pipe broke; the caller writes in-process instead."""


#: longest wait for the helper's answer (its own wait for SQLite's write lock is 60 s)
ANSWER_TIMEOUT = 120.0


def _read_exact(stream, n: int, deadline: float | None = None) -> bytes:
    """``n`` bytes of ``stream``; with a ``deadline`` (``time.monotonic()``) the stream is a
    non-blocking raw pipe, waited on with ``select`` only when it has nothing yet."""
    chunks, need = [], n
    while need:
        data = stream.read(need)
        if data is None:                          # non-blocking and nothing there yet
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([stream], [], [], left)[0]:
                raise TimeoutError(f"no answer within {ANSWER_TIMEOUT:g} s")
            continue
        if not data:
            raise EOFError("the pipe closed")
        chunks.append(data)
        need -= len(data)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _read_frame(stream, deadline: float | None = None) -> bytes:
    (size,) = _LENGTH.unpack(_read_exact(stream, _LENGTH.size, deadline))
    return _read_exact(stream, size, deadline)


def _write_frame(stream, payload: bytes) -> None:
    data = memoryview(_LENGTH.pack(len(payload)) + payload)     # one write call, not two
    while data:
        written = stream.write(data)
        data = data[len(data) if written is None else written:]
    stream.flush()


def _widen_pipe(stream, size: int = 1 << 20) -> None:
    """Let the pipe hold a whole request (Linux: up to ``/proc/sys/fs/pipe-max-size``), so one
    write hands it over without waiting for the helper to read — every wait is one more time the
    writer thread must win the GIL back from the event loop."""
    try:
        import fcntl

        fcntl.fcntl(stream.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except (ImportError, OSError):
        pass


class AppendProcess:
    """A helper process that runs batched write statements on one SQLite file.

    Parameters
    ----------
    path : path-like
        The database file (already created and migrated by the caller).
    statements : sequence of str
        The statements a request may name by index, each taking one JSON-array parameter.
    synchronous : str, default="NORMAL"
        ``PRAGMA synchronous`` of the helper's connection.
    module : str
        The helper's module (``python -m``): this one, or one that calls :func:`main` with an
        ``expand`` of its own.
    """

    def __init__(self, path, statements, *, synchronous: str = "NORMAL",
                 module: str = "workbench.store.append_process"):
        self.path = str(path)
        self.statements = tuple(statements)
        #: transactions sent whose outcome has not been received yet
        self.outstanding = 0
        self._lock = threading.RLock()
        # stderr is inherited: the helper's own errors land in the server log
        self._proc = subprocess.Popen(
            [sys.executable, "-m", module, self.path, synchronous],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True, bufsize=0)
        _widen_pipe(self._proc.stdin)
        os.set_blocking(self._proc.stdout.fileno(), False)
        try:
            _write_frame(self._proc.stdin, orjson.dumps(list(self.statements)))
            reply = _read_frame(self._proc.stdout, time.monotonic() + ANSWER_TIMEOUT)
        except (OSError, EOFError, ValueError, TimeoutError):
            reply = b""
        if reply != b"ready":
            self.close()
            raise AppendProcessGone(f"the log's write process did not start for {self.path}")

    def __repr__(self) -> str:
        state = "running" if self.alive else "stopped"
        return f"<AppendProcess {self.path} pid={self._proc.pid} {state}>"

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def send(self, parts) -> None:
        """Hand ``parts`` — ``(statement index, JSON array bytes)`` pairs — to the helper as one
        transaction without waiting for it; its outcome
        is the answer of a later :meth:`receive` (answers come in the order of the sends)."""
        payload = b"".join(_PART.pack(index, len(data)) + data for index, data in parts)
        with self._lock:
            try:
                _write_frame(self._proc.stdin, payload)
            except (OSError, ValueError, struct.error) as exc:
                raise AppendProcessGone(f"the log's write process stopped ({exc})") from None
            self.outstanding += 1

    def receive(self) -> None:
        """Wait for the outcome of the oldest transaction sent. Raises
        ``sqlite3.OperationalError`` (locked, disk full: retry later) or
        ``sqlite3.DatabaseError`` (the rows themselves were refused) as an in-process write
        would, and :class:`AppendProcessGone` when the helper is gone (then whether that
        transaction committed is unknown: it did only if the helper died after its commit)."""
        with self._lock:
            if not self.outstanding:
                raise RuntimeError("receive() without a transaction sent")
            try:
                reply = _read_frame(self._proc.stdout, time.monotonic() + ANSWER_TIMEOUT)
            except (OSError, EOFError, ValueError, TimeoutError) as exc:
                raise AppendProcessGone(f"the log's write process stopped ({exc})") from None
            self.outstanding -= 1
        if reply == b"ok":
            return
        error = orjson.loads(reply)
        cls = sqlite3.OperationalError if error.get("transient") else sqlite3.DatabaseError
        raise cls(f"{error.get('error')}: {error.get('message')}")

    def close(self, timeout: float = 10.0) -> None:
        """Close the helper's input (it finishes the transaction at hand and exits); kill it if
        it has not exited within ``timeout`` seconds. Safe to call twice."""
        with self._lock:
            try:
                self._proc.stdin.close()
            except OSError:
                pass
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()


# -- the helper process ------------------------------------------------------------------------
def _parts(payload: bytes):
    view, at = memoryview(payload), 0
    while at < len(view):
        index, size = _PART.unpack_from(view, at)
        at += _PART.size
        yield index, bytes(view[at:at + size])
        at += size


def _malloc_trim():
    """``malloc_trim(0)`` of glibc (a no-op elsewhere): return freed heap pages to the system."""
    try:
        import ctypes

        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    return lambda: trim(0)


def serve(path: str, synchronous: str, stdin, stdout, expand=None) -> None:
    """The helper's loop: read requests until stdin closes, one transaction each.

    ``expand(parts) -> parts``, when given, may turn parts of its own kinds (indexes beyond the
    statements) into statement parts first; an exception it raises refuses the request."""
    from .sqlite import SQLiteDatabase

    statements = orjson.loads(_read_frame(stdin))
    db = SQLiteDatabase(path, synchronous=synchronous)
    db.query("PRAGMA cache_size = -512")     # appends touch the last pages of each index
    trim = _malloc_trim()
    _write_frame(stdout, b"ready")
    try:
        while True:
            try:
                payload = _read_frame(stdin)
            except EOFError:
                return
            try:
                parts = list(_parts(payload))
                if expand is not None:
                    parts = expand(parts)
                with db.write(lock="predictions") as conn:
                    for index, data in parts:
                        conn.execute(statements[index], (data,))
                del parts
                reply = b"ok"
            except Exception as exc:  # noqa: BLE001 - every refusal goes back to the writer
                reply = orjson.dumps({"error": type(exc).__name__, "message": str(exc)[:500],
                                      "transient": isinstance(exc, sqlite3.OperationalError)})
            _write_frame(stdout, reply)
            del payload
            trim()              # give the batch's memory back: the helper idles most of the time
    finally:
        db.close()


def main(argv=None, expand=None, module: str = "workbench.store.append_process") -> int:
    """The helper's entry point (``expand``: see :func:`serve`)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(f"usage: python -m {module} DATABASE SYNCHRONOUS", file=sys.stderr)
        return 2
    # the end of stdin is the one signal to stop: a server stopped with SIGTERM or Ctrl-C to
    # its process group still has its last chunks to hand over while it shuts down
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        serve(args[0], args[1], sys.stdin.buffer, sys.stdout.buffer, expand)
    except (BrokenPipeError, KeyboardInterrupt):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

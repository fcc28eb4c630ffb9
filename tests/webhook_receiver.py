"""A real HTTP receiver of webhooks on 127.0.0.1 for the tests: records every POST (headers,
body) and can be told to fail its first N requests with 500."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Use as a context manager; ``url``, ``received`` (list of dicts), ``fail_first``."""

    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        self.received: list[dict] = []
        self.attempts = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._lock:
                    receiver.attempts += 1
                    fail = receiver.attempts <= receiver.fail_first
                    if not fail:
                        receiver.received.append({"headers": {k.lower(): v for k, v in
                                                              self.headers.items()},
                                                  "body": body, "json": json.loads(body)})
                self.send_response(500 if fail else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def events(self, kind=None) -> list[dict]:
        with self._lock:
            return [r["json"] for r in self.received if kind is None or r["json"].get("kind") == kind]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

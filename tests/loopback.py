"""A file server on 127.0.0.1 with injectable faults, for the download tests.

``server.files[path] = bytes`` serves a file; ``server.faults[path] = Fault(...)`` makes the
next requests for it misbehave. Every request is recorded in ``server.log``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Fault:
    statuses: list[int] = field(default_factory=list)  # answer these codes first, one per request
    drop_after: int | None = None  # send this many body bytes, then cut the connection ...
    drop_times: int = 0  # ... on this many requests
    ignore_range: bool = False  # always answer 200 with the whole file
    body: bytes | None = None  # serve this instead of the file (e.g. a truncated copy)
    content_length: int | None = None  # announce this length instead of the true one
    delay: float = 0.0  # seconds before answering (for concurrency checks)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def _release(self):
        """This request stops counting as active. Called just before the response's last write:
        the client may start its next request the moment that write lands, before ``finally``
        runs, and counting until then made a client that keeps its bound look over it."""
        if not self._released:
            self._released = True
            with self.server.lock:
                self.server.active -= 1

    def do_GET(self):  # noqa: N802 - http.server API
        srv = self.server
        self._released = False
        with srv.lock:
            srv.log.append((self.path, self.headers.get("Range")))
            srv.active += 1
            srv.max_active = max(srv.max_active, srv.active)
            fault = srv.faults.get(self.path)
            status = fault.statuses.pop(0) if fault and fault.statuses else None
            drop = None
            if fault and fault.drop_times > 0 and fault.drop_after is not None:
                fault.drop_times -= 1
                drop = fault.drop_after
        try:
            if fault and fault.delay:
                import time

                time.sleep(fault.delay)
            if self.path not in srv.files:
                return self._plain(404, b"not found")
            if status is not None:
                return self._plain(status, b"fault")
            data = fault.body if fault and fault.body is not None else srv.files[self.path]
            start = 0
            rng = self.headers.get("Range")
            if rng and not (fault and fault.ignore_range):
                start = int(rng.split("=")[1].split("-")[0])
                if start >= len(data):
                    return self._plain(416, b"")
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            length = fault.content_length if fault and fault.content_length is not None else len(body)
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if drop is not None:
                self._release()
                self.wfile.write(body[:drop])
                self.wfile.flush()
                self.close_connection = True
                return
            if length != len(body):
                self.close_connection = True
            self._release()
            self.wfile.write(body)
        finally:
            self._release()

    def _plain(self, code: int, body: bytes):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self._release()
        self.wfile.write(body)


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.faults: dict[str, Fault] = {}
        self.log: list[tuple[str, str | None]] = []
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()

"""A local HTTP server for the tests of the network sinks: it records what arrives.

It listens on 127.0.0.1 on a free port; ``mode`` chooses its answer: ``ok`` (200),
``error`` (500) or ``hang`` (never answers until the server stops).
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Arrival:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Recorder:
    port: int
    mode: str = "ok"
    arrivals: list[Arrival] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        with self.lock:
            return [arrival.path for arrival in self.arrivals]


def _handler_for(recorder: Recorder) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with recorder.lock:
                recorder.arrivals.append(
                    Arrival(self.command, self.path, dict(self.headers.items()), body)
                )
            if recorder.mode == "hang":
                recorder.stop.wait(120)
                return
            status = 500 if recorder.mode == "error" else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        do_GET = do_POST = do_PUT = do_DELETE = _any

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def http_recorder(mode: str = "ok") -> Iterator[Recorder]:
    """A recording server on 127.0.0.1, stopped (hung requests released) at the end."""
    recorder = Recorder(port=0, mode=mode)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(recorder))
    server.daemon_threads = True
    recorder.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        recorder.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(10)

"""A real local HTTP receiver for webhook tests: a threaded http.server on 127.0.0.1 recording
every request (path, headers, body). `statuses` is a queue of status codes to answer (then
`default`); `hang` makes it hold requests (for the worker-kill test) until released."""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    default: int = 200
    statuses: list[int] = field(default_factory=list)
    hang: threading.Event | None = None  # set: answer; unset: hold requests
    hold_first: int = 0  # with `hang`: only the first N requests are held
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = str(self.server.server_address[0]), self.server.server_address[1]
        return f"http://{host}:{port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else receiver.default
                    count = len(receiver.received)
                receiver.arrived.set()
                if receiver.hang is not None and (
                    not receiver.hold_first or count <= receiver.hold_first
                ):
                    receiver.hang.wait(60)
                self.send_response(status)
                reply = b'{"ok": true}' + b"x" * 10000  # longer than the 4 KB cap
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.hang is not None:
            self.hang.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

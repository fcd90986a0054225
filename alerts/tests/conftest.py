"""A Slack-compatible receiver on 127.0.0.1 (a real HTTP server in a thread) and the setting that
lets alerts post to it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class Receiver:
    def __init__(self) -> None:
        self.posts: list[dict] = []
        # Statuses to answer with, in order; then 200.
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/XXXX"


@pytest.fixture
def slack_receiver(settings):
    settings.HARK_WEBHOOKS_ALLOW_PRIVATE = True
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with receiver.lock:
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status < 300:
                    receiver.posts.append(
                        {
                            "path": self.path,
                            "content_type": self.headers.get("Content-Type"),
                            "host": self.headers.get("Host"),
                            "json": json.loads(body),
                        }
                    )
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"no_service")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.server = server
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()

"""The "Acme" demo product that `make run` serves on a second origin beside the dashboard.

A plain static single-page app (demo/product/) with the Hark snippet installed the way a site
under a strict Content-Security-Policy installs it: the queueing stub and setProject in a
script file of the site's own (/snippet.js), the client loaded from the Hark server. Served by
the standard library's threaded HTTP server in a daemon thread of the rundemo process.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

FILES = Path(__file__).resolve().parent / "product"
CLIENT_PATH = "/static/hark/client/v1/hark.js"


def snippet(public_key: str) -> str:
    return (
        "window.hark = window.hark || function () { (hark.q = hark.q || []).push(arguments); };\n"
        f"hark('setProject', {json.dumps(public_key)});\n"
    )


def csp(hark_url: str) -> str:
    return (
        f"default-src 'self'; script-src 'self' {hark_url}; style-src 'self' {hark_url}; "
        f"connect-src {hark_url}"
    )


class DemoProduct:
    def __init__(self, *, hark_url: str, public_key: str, host: str, port: int) -> None:
        hark_url = hark_url.rstrip("/")
        index = (
            (FILES / "index.html")
            .read_text()
            .replace("{{HARK_SCRIPT}}", hark_url + CLIENT_PATH)
            .replace("{{HARK_URL}}", hark_url)
        )
        assets = {
            "/app.js": ((FILES / "app.js").read_text(), "text/javascript"),
            "/app.css": ((FILES / "app.css").read_text(), "text/css"),
            "/snippet.js": (snippet(public_key), "text/javascript"),
        }
        policy = csp(hark_url)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = urlparse(self.path).path
                body, kind = assets.get(path, (index, "text/html"))
                status = 404 if path == "/favicon.ico" else 200
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Content-Security-Policy", policy)
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}/"

    def start(self) -> DemoProduct:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

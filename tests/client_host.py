"""A customer's web app for the web client's browser tests: a page served on another origin
than Hark (127.0.0.1 vs localhost, another port) under a strict Content-Security-Policy (no
inline script or style), with the snippet installed the way a site under such a policy
installs it (in a script file of its own: no inline script is allowed there).

The page records on `window.__hark` every CSP violation, uncaught error and unhandled rejection
on the host, and every client callback, so the tests can assert there are none (or that they
came in order).
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlparse

STATIC = Path(__file__).resolve().parent.parent / "static"

HOST_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme test app</title>
<link rel="stylesheet" href="/host.css">
<script src="/app.js"></script>
<script src="/snippet.js"></script>
<script async src="{script}"></script>
</head>
<body>
<header class="hark"><nav>
  <a href="/" id="nav-home">Home</a>
  <a href="/pricing" id="nav-pricing">Pricing</a>
  <a href="/settings" id="nav-settings">Settings</a>
</nav></header>
<main>
  <h1 id="heading">Acme</h1>
  <button id="host-button" class="hark">A host button</button>
  <input id="host-input" aria-label="Host input">
  <div id="tall"></div>
</main>
</body>
</html>
"""

# Records what the tests check, and navigates like a single-page app (pushState on link clicks).
APP_JS = """
window.__hark = {violations: [], errors: [], events: []};
document.addEventListener("securitypolicyviolation", function (e) {
  window.__hark.violations.push(e.violatedDirective + " " + e.blockedURI);
});
window.addEventListener("error", function (e) {
  if (e.target === window || !e.target || !e.target.tagName) {
    window.__hark.errors.push(String(e.message));
  }
}, true);
window.addEventListener("unhandledrejection", function (e) {
  window.__hark.errors.push("rejection: " + e.reason);
});
document.addEventListener("click", function (e) {
  var a = e.target.closest && e.target.closest("nav a");
  if (!a) return;
  e.preventDefault();
  history.pushState({}, "", a.getAttribute("href"));
  document.getElementById("heading").textContent = a.textContent;
});
"""

SNIPPET_JS = """window.hark=window.hark||function(){(hark.q=hark.q||[]).push(arguments)};
hark('setProject', %(key)s);
%(commands)s.forEach(function (c) { hark.apply(null, c); });
var names = ["onBeforeShow", "onShow", "onNavigation", "onDismiss", "onClose", "onComplete",
  "onError"];
names.forEach(function (name) {
  hark(name, function () {
    var args = [].slice.call(arguments).map(function (a) {
      return a instanceof Error ? String(a) : a;
    });
    window.__hark.events.push([name].concat(args));
    if (name === "onBeforeShow" && window.__cancel) return false;
  });
});
"""

HOSTILE_CSS = """
* { color: rgb(255, 0, 0) !important; font-family: "Comic Sans MS", cursive !important;
    letter-spacing: 3px; }
button { background: rgb(0, 255, 0) !important; border: 5px dashed blue !important;
    padding: 30px !important; font-size: 40px !important; }
.hark { display: none !important; }
hark-widget { opacity: 0.5; }
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def csp_for(hark_origin: str) -> str:
    return (
        f"default-src 'self'; script-src 'self' {hark_origin}; "
        f"style-src 'self' {hark_origin}; connect-src {hark_origin}"
    )


class HostApp:
    """The host app on http://127.0.0.1:<port>. Set `commands` (hark calls run by the snippet
    after setProject) and `hostile_css` before loading a page."""

    def __init__(self, hark_origin: str, public_key: str) -> None:
        self.hark_origin = hark_origin
        self.public_key = public_key
        self.commands: list[list] = []
        self.hostile_css = False
        # A page of the test's own (the Settings snippet pasted verbatim, inline): served for
        # "/" without the CSP, which forbids inline scripts.
        self.page_html: str | None = None
        self.script = f"{hark_origin}/static/hark/client/v1/hark.js"
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        app = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                path = urlparse(self.path).path
                if path == "/app.js":
                    self._send(APP_JS, "text/javascript")
                elif path == "/snippet.js":
                    body = SNIPPET_JS % {
                        "key": json.dumps(app.public_key),
                        "commands": json.dumps(app.commands),
                    }
                    self._send(body, "text/javascript")
                elif path == "/host.css":
                    self._send(HOSTILE_CSS if app.hostile_css else "body{margin:8px}", "text/css")
                elif path == "/favicon.ico":
                    self._send("", "image/x-icon", status=404)
                elif app.page_html is not None:
                    self._send(app.page_html, "text/html", csp=False)
                else:
                    self._send(HOST_HTML.replace("{script}", app.script), "text/html")

            def _send(
                self, body: str, content_type: str, status: int = 200, csp: bool = True
            ) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", f"{content_type}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                if csp:
                    self.send_header("Content-Security-Policy", csp_for(app.hark_origin))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/") -> str:
        return self.origin + path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class StaticHark:
    """A stand-in Hark origin that serves only the client script and can be stopped: the
    "Hark server is down" case (the script loaded, then every call fails). With `stall`, it is
    the "Hark server is slow" case instead: every client call is held, either before any answer
    (`"answer"`) or after the headers and the first bytes of the body (`"body"`), until the
    stand-in stops."""

    def __init__(self, stall: str | None = None) -> None:
        assert stall in (None, "answer", "body")
        self.port = free_port()
        self.origin = f"http://localhost:{self.port}"
        self.posts = 0
        self.released = threading.Event()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                path = urlparse(self.path).path
                file = STATIC / path.removeprefix("/static/")
                if path.startswith("/static/hark/client/") and file.is_file():
                    data = file.read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/javascript")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                else:
                    self.send_response(404)
                    self.end_headers()

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stand_in.posts += 1
                if stall == "body":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Access-Control-Allow-Origin", "*")
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    self.wfile.write(b'{"surveys": [')
                    self.wfile.flush()
                stand_in.released.wait(60)
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

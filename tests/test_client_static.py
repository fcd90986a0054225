"""The web client as a file: its size budget, its build from the committed source, and how Hark
serves it (a stable versioned URL, compressed, CORS, cacheable)."""

from __future__ import annotations

import gzip
import importlib.util
import re
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from whitenoise import WhiteNoise

ROOT = Path(__file__).resolve().parent.parent
CLIENT_URL = "/static/hark/client/v1/hark.js"
BUDGET = 15 * 1024  # bytes, gzipped: the whole client, renderer and styles included


def _build_module():
    spec = importlib.util.spec_from_file_location("build_client", ROOT / "scripts/build_client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _served(client) -> bytes:
    response = client.get(CLIENT_URL)
    assert response.status_code == 200
    return b"".join(response.streaming_content)


def test_served_client_is_within_the_gzipped_size_budget(client):
    body = _served(client)
    size = len(gzip.compress(body, compresslevel=9))
    assert b"hark" in body
    assert size <= BUDGET, f"the client is {size} bytes gzipped, over the {BUDGET} byte budget"


def test_served_client_is_the_build_of_the_committed_source(client):
    build = _build_module()
    expected = build.build(build.SOURCE.read_text(encoding="utf-8"))
    assert _served(client).decode() == expected, "run `make client` and commit the output"


def test_build_keeps_every_line_of_code_and_drops_only_comments():
    build = _build_module()
    source = "/* a\n * b\n */\n(function () {\n  // c\n  var a = 1; // kept\n\n  a++;\n})();\n"
    built = "(function () {\nvar a = 1; // kept\na++;\n})();\n"
    assert build.build(source) == build.BANNER + "\n" + built


@pytest.fixture
def collected(tmp_path, settings):
    """collectstatic of the client with the production storage (hashed names, gzip and brotli
    copies); only the client's files, so brotli does not spend a minute on the admin's."""
    source = tmp_path / "source"
    shutil.copytree(ROOT / "static/hark/client", source / "hark/client")
    settings.STATIC_ROOT = tmp_path / "root"
    settings.STATICFILES_DIRS = [source]
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", interactive=False, verbosity=0)
    return settings.STATIC_ROOT


def _get(app, path: str, encoding: str) -> tuple[str, dict[str, str], bytes]:
    captured = {}

    def start_response(status, headers):
        captured["status"] = status
        captured["headers"] = dict(headers)

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "HTTP_ACCEPT_ENCODING": encoding,
        "HTTP_ORIGIN": "https://app.customer.example",
        "wsgi.url_scheme": "https",
        "SERVER_NAME": "hark.example",
        "SERVER_PORT": "443",
    }
    body = b"".join(app(environ, start_response))
    return captured["status"], captured["headers"], body


def test_production_serves_the_client_compressed_cacheable_and_with_cors(collected, settings):
    settings.DEBUG = False
    app = WhiteNoise(
        lambda environ, start_response: [],
        root=str(collected),
        prefix=settings.STATIC_URL,
        add_headers_function=settings.WHITENOISE_ADD_HEADERS_FUNCTION,
    )
    source = (collected / "hark/client/v1/hark.js").read_bytes()

    status, headers, body = _get(app, CLIENT_URL, "gzip, deflate, br")
    assert status.startswith("200")
    assert headers["Content-Encoding"] == "br"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Cache-Control"] == "public, max-age=3600, stale-while-revalidate=86400"
    assert len(body) < len(source)

    status, headers, body = _get(app, CLIENT_URL, "gzip")
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == source
    assert "text/javascript" in headers["Content-Type"]

    # The content-hashed copy (what {% static %} names in production) is cached for good.
    names = [p.name for p in (collected / "hark/client/v1").iterdir()]
    hashed = next(n for n in names if re.fullmatch(r"hark\.[0-9a-f]{12}\.js", n))
    app.immutable_file_test = lambda path, url: url != CLIENT_URL
    app.files.clear()
    app.add_files(str(collected), prefix=settings.STATIC_URL)
    status, headers, _ = _get(app, f"/static/hark/client/v1/{hashed}", "")
    assert status.startswith("200")
    assert "immutable" in headers["Cache-Control"]

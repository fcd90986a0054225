"""Make sure Playwright has a Chromium to drive, before the browser tests run.

Order: HARK_CHROMIUM if set; Debian's /usr/bin/chromium (installed with apt-get when we are root
on a Debian-like machine and it is missing); otherwise Playwright's own Chromium download.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

DEBIAN_CHROMIUM = "/usr/bin/chromium"


def main() -> int:
    configured = os.environ.get("HARK_CHROMIUM")
    if configured:
        if os.path.exists(configured):
            return 0
        print(f"HARK_CHROMIUM={configured} does not exist", file=sys.stderr)
        return 1
    if os.path.exists(DEBIAN_CHROMIUM):
        return 0
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("Installing Debian's chromium for the browser tests (apt-get)...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=False, env=env)
        result = subprocess.run(
            ["apt-get", "install", "-y", "-q", "chromium"], check=False, env=env
        )
        if result.returncode == 0 and os.path.exists(DEBIAN_CHROMIUM):
            return 0
        print("apt-get could not install chromium; trying Playwright's download", file=sys.stderr)
    print("Installing Playwright's Chromium...", flush=True)
    return subprocess.run(
        [sys.executable, "-m", "playwright", "install", "chromium"], check=False
    ).returncode


if __name__ == "__main__":
    sys.exit(main())

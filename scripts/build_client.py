"""Build the served web client from its commented source: `make client`.

static/hark/client/src/hark.js is the source people read and edit; static/hark/client/v1/hark.js
is what the snippet loads, committed, so running Hark needs no build step. The build only
drops whole-line comments and indentation (no renaming, no rewriting: the served code is the
source's code, line for line), which takes the gzipped size from about 17 kB to about 12 kB.
tests/test_client_build.py checks the committed output is this function of the committed
source, so the two cannot drift.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "static" / "hark" / "client" / "src" / "hark.js"
OUTPUT = ROOT / "static" / "hark" / "client" / "v1" / "hark.js"
BANNER = "/*! Hark web client v1. Readable source: /static/hark/client/src/hark.js */"


def build(source: str) -> str:
    out = [BANNER]
    in_block = False
    for line in source.splitlines():
        text = line.strip()
        if in_block:
            in_block = "*/" not in text
            continue
        if text.startswith("/*"):
            # A comment block opening a line; the source never starts code after one on a line.
            in_block = "*/" not in text
            continue
        if not text or text.startswith("//"):
            continue
        out.append(text)
    return "\n".join(out) + "\n"


def main() -> int:
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(build(SOURCE.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"built {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

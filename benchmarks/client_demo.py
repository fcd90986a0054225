"""Time from page load to a visible survey on the Acme demo product (`make run`).

    make run                                   # in another terminal (dashboard + demo product)
    .venv/bin/python benchmarks/client_demo.py [--url http://127.0.0.1:8001/] [--loads 20]

Each load is a fresh browser context (a new device: the demo survey is claimed anew, as a
first-time visitor would see it) in headless Chromium. The time is measured in the page, from
the navigation's start (performance.timeOrigin) to the first animation frame after the survey's
card is in the document: HTML, the snippet, the client script, the page call, the claim and the
rendering. Prints every load, the median and the 90th percentile.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]


def chromium_executable() -> str | None:
    """As the browser tests pick it (conftest.py): HARK_CHROMIUM, Debian's, or Playwright's."""
    configured = os.environ.get("HARK_CHROMIUM")
    if configured:
        return configured
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


PROBE = """
new MutationObserver(function (_, observer) {
  var widget = document.querySelector('hark-widget');
  var card = widget && widget.shadowRoot && widget.shadowRoot.querySelector('.card');
  if (!card) return;
  observer.disconnect();
  requestAnimationFrame(function () { window.__visibleAt = performance.now(); });
}).observe(document, {childList: true, subtree: true});
"""


# When each part ended (ms from the navigation's start): the page's HTML, the client script, the
# page call and the claim, from the Resource Timing entries.
PARTS = """(() => {
  const out = {html: performance.getEntriesByType('navigation')[0].responseEnd};
  for (const e of performance.getEntriesByType('resource')) {
    if (e.name.includes('/hark.js')) out.script = e.responseEnd;
    if (e.name.includes('/client/page')) out.page_call = e.responseEnd;
    if (e.name.includes('/client/displays')) out.claim = e.responseEnd;
  }
  return out;
})()"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8001/")
    parser.add_argument("--loads", type=int, default=20)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    times, steps = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_executable(), headless=True, args=CHROMIUM_ARGS
        )
        for n in range(args.loads + 1):
            context = browser.new_context()
            page = context.new_page()
            page.add_init_script(PROBE)
            page.goto(args.url)
            page.wait_for_function("() => window.__visibleAt", timeout=15_000)
            ms = page.evaluate("window.__visibleAt")
            parts = page.evaluate(PARTS)
            context.close()
            if n == 0:
                continue  # warm-up: the server's first request after start-up
            times.append(ms)
            steps.append(parts)
            shown = "  ".join(f"{k} {v:6.1f}" for k, v in parts.items())
            print(f"load {n:2}: {ms:7.1f} ms   (done at: {shown})")
        browser.close()
    times.sort()
    p90 = times[max(0, int(len(times) * 0.9) - 1)]
    print(f"median {statistics.median(times):.1f} ms, p90 {p90:.1f} ms over {len(times)} loads")
    for key in steps[0]:
        values = [s[key] for s in steps if key in s]
        print(f"  median {key} done at {statistics.median(values):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Debian's Chromium, headless, for the browser tests and the map benchmark.

Playwright's own browser download does not work on closed networks, so the
tests drive the machine's ``/usr/bin/chromium`` (``make test`` installs it).
The flags keep Chromium from calling home: on a closed network those calls
fail by the dozen, and the tests check that no request leaves loopback.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def launch(playwright: Playwright) -> Browser:
    """Start headless Chromium; fail (never skip) with the install command when it is missing."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does this)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)

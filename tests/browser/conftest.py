"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright (no browser download).

The browser starts once per test: Playwright's sync API keeps an event loop in this thread while it runs, and
Django refuses ORM calls while a loop runs, so test data is made before the browser starts.
"""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"


@pytest.fixture
def page(live_server) -> Iterator[Page]:
    if not CHROMIUM.exists():
        # Never a skip: `make test` installs it, and a browser test that silently does not run proves nothing.
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt: chromium chromium-driver)", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
            page.set_default_timeout(10_000)
            yield page
        finally:
            browser.close()


@pytest.fixture
def screenshot(request, page: Page):
    """screenshot("dashboard") saves a full-page PNG under artifacts/screenshots/ (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test_name = re.sub(r"[^\w.-]+", "-", request.node.name).strip("-")
    taken = 0

    def take(name: str) -> Path:
        nonlocal taken
        taken += 1
        path = SCREENSHOTS / f"{test_name}-{taken:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take

"""Shared by the browser tests: Debian's chromium through Playwright, signing in, screenshots."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).with_name("screenshots")

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (apt-get install chromium); "
    "the browser tests drive it through Playwright",
)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium (never a downloaded browser); --no-sandbox: tests run as root."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Page, password: str) -> None:
    """Open the dashboard, get sent to the sign-in page, and sign in with `password`."""
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    page.fill("#password", password)
    page.click("button:has-text('Sign in')")


def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot in tests/e2e/screenshots/ (git-ignored)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

"""Fixtures of the live-view tests: a client on a database of the test's own, the dashboard server on it,
and Debian's chromium (scripts/install-chromium) driven headless by Playwright; Playwright's own browser
downloads are never used."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import REPO_ROOT

BROWSER_NAMES = ("chromium", "chromium-browser")


def _chromium() -> str:
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    subprocess.run(["bash", str(REPO_ROOT / "scripts" / "install-chromium")], check=True)
    path = shutil.which("chromium")
    assert path, "scripts/install-chromium did not install chromium"
    return path


@pytest.fixture
def dashboard(influxdb_server, client):
    """The live view of the client's database, served from a thread of this process: its URL."""
    from influxhtm.dashboard import serve_in_thread

    url, stop = serve_in_thread(influxdb_server.url, client.database, poll_ms=500)
    yield url
    stop()


@pytest.fixture(scope="session")
def browser():
    """Headless Debian chromium under Playwright (one for the session)."""
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as playwright:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []  # chromium's sandbox refuses to run as root
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=args)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page (1440 x 1000); console errors of the page fail the test."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    yield page
    context.close()
    assert not errors, f"errors in the page: {errors}"

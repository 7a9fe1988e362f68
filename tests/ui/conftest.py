"""A real server (uvicorn, in a thread, over a real store) and a real headless Chromium.

Chromium is Debian's (``/usr/bin/chromium``, or ``NASREC_CHROMIUM``), driven by Playwright; it is
never downloaded. The browser may only talk to the test server: any other request is aborted and
recorded, and the tests assert there were none (no CDN).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nasrec.store import Store
from server.core.config import Settings
from server.main import create_app
from tests.support.needs import missing
from tests.support.service import Account, LiveServer, serve
from tests.support.store import database_url, store  # noqa: F401
from tests.support.weights import trainer  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("NASREC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def live_server(store: Store, tmp_path: Path, database_url: str) -> Iterator[LiveServer]:  # noqa: F811
    (tmp_path / "data").mkdir()
    settings = Settings(database_url=database_url, data_root=tmp_path / "data", upload_dir=tmp_path / "up")
    with serve(create_app(settings, store=store)) as url:
        yield LiveServer(url, store)


@pytest.fixture
def alice(store: Store) -> Account:  # noqa: F811
    return Account.create(store, "alice")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        missing("chromium", f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    """A fresh browser context whose requests may only go to the test server."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(15_000)

    def guard(route: Any) -> None:
        if route.request.url.startswith(live_server.url + "/"):
            route.continue_()
        else:
            live_server.foreign_requests.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not live_server.foreign_requests, f"requests outside the app: {live_server.foreign_requests}"


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the browser tests save their screenshots (``NASREC_SCREENSHOTS`` or ``screenshots/ui``)."""
    path = Path(os.environ.get("NASREC_SCREENSHOTS", REPO / "screenshots" / "ui"))
    path.mkdir(parents=True, exist_ok=True)
    return path

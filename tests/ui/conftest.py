"""A real server (uvicorn, in a thread, over a real store) and a real headless Chromium.

Chromium is Debian's (``/usr/bin/chromium``, or ``NASREC_CHROMIUM``), driven by Playwright; it is
never downloaded. The browser may only talk to the test server: any other request is aborted and
recorded, and the tests assert there were none (no CDN).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from nasrec.store import Store
from nasrec.testing.store import database_url, store  # noqa: F401
from server.core.config import Settings
from server.main import create_app
from server.testing import Account

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


@dataclass
class LiveServer:
    url: str
    store: Store
    foreign_requests: list[str] = field(default_factory=list)


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port (in a thread); its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


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
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: `apt-get install -y chromium` (.ci/run does), "
            "or point NASREC_CHROMIUM at a Chromium binary"
        )
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

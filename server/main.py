"""``create_app(settings) -> FastAPI``: the nasrec service (``uvicorn --factory server.main:create_app``).

The store is opened (and migrated) at start-up, in the lifespan, unless one is passed in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from nasrec import __version__
from nasrec.store import Store, open_store
from server.api.main import api_router
from server.api.routes import health
from server.core.config import API_PREFIX, Settings
from server.core.errors import install_error_handlers
from server.core.limits import BodySizeLimit
from server.ui import install_ui


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if store is not None:
            yield
            return
        app.state.store = await run_in_threadpool(open_store, settings.database_url)
        try:
            yield
        finally:
            app.state.store.dispose()

    app = FastAPI(
        title="nasrec",
        version=__version__,
        summary="Neural-architecture search for CTR / ranking models.",
        lifespan=lifespan,
        docs_url=None,  # served from local files by install_ui: no CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.add_middleware(
        BodySizeLimit,
        default=settings.max_body_bytes,
        per_path={f"{API_PREFIX}/datasets/upload": settings.max_upload_bytes},
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(api_router)
    install_ui(app)
    return app

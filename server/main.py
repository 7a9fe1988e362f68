"""``create_app(settings) -> FastAPI``: the nasrec service (``uvicorn --factory server.main:create_app``).

The store is opened (and migrated) at start-up, in the lifespan, unless one is passed in. Two
settings there decide how the server behaves under concurrent load (measured by
``scripts/bench_api.py``):

* sync routes run in anyio's thread pool, limited to ``settings.threads``: every thread more than
  the cores can keep busy only takes turns at the GIL (with anyio's default of 40, the throughput
  halved and even ``/healthz`` had 100 ms tails; 2 threads served 10-60% more leaderboard pages per
  second than 8, at less CPU per page). Work that takes seconds runs in threads of its own, so it
  never holds those of the short requests: ingests and syntheses, which their request waits for, in
  ``settings.long_threads`` (``server.api.deps.run_long``); export builds, which outlive their
  request, in as many background threads (``server.core.exports.ExportBuilds``, closed at shutdown);
* what is alive once started (modules, the app, SQLAlchemy's caches) lives as long as the process,
  so it is moved out of the cyclic garbage collector's reach until shutdown (``gc.freeze``): full
  collections of it were the leaderboard's slowest requests.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import CapacityLimiter, to_thread
from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from nasrec import __version__
from nasrec.store import Store, open_store
from server.api.main import api_router
from server.api.routes import health
from server.core.config import API_PREFIX, Settings
from server.core.errors import install_error_handlers
from server.core.exports import ExportBuilds
from server.core.limits import BodySizeLimit
from server.ui import install_ui


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = settings.threads
        app.state.long_work = CapacityLimiter(settings.long_threads)
        opened = None if store is not None else await run_in_threadpool(open_store, settings.database_url)
        app.state.store = store or opened
        app.state.exports = ExportBuilds(app.state.store, threads=settings.long_threads)
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            await run_in_threadpool(app.state.exports.close)  # running builds finish, queued ones fail
            if opened is not None:
                opened.dispose()

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

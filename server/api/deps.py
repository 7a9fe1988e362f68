"""Dependencies as ``Annotated`` aliases: ``SessionDep``, ``SettingsDep``, ``CurrentUser``, ``AsUser``;
and ``run_long`` for the routes whose work takes seconds.

A request gets one store session. Safe methods (GET, HEAD, OPTIONS) get a read session, the others
a write session (on SQLite it takes the write lock up front, see ``nasrec.store.engine``). The
session is closed when the route returns.

Sync dependencies and routes run in the thread pool, and every hop there costs a thread wake-up
and a loop wake-up: the session is therefore opened on the event loop (a new session does no I/O)
and only its closing (which returns the connection to the pool: a rollback) goes to a thread. A
route with ``SessionDep`` and ``CurrentUser`` still makes three hops (token check, route, close);
the routes that clients poll take ``AsUser`` instead, which does all three in one (a leaderboard
page under load: 6-18% more pages per second, a quarter off p99 on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from nasrec.store import Store, User, crud
from server.core.config import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
T = TypeVar("T")
bearer = HTTPBearer(auto_error=False, description="an API token from `nasrec token create USER`")


# Attribute reads: ``async`` so that FastAPI does not hop to the thread pool for them.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_store(request: Request) -> Store:
    return request.app.state.store


def writes(request: Request) -> bool:
    return request.method not in SAFE_METHODS


async def get_session(
    request: Request, store: Annotated[Store, Depends(get_store)]
) -> AsyncIterator[Session]:
    session = store.session(write=writes(request))
    try:
        yield session
    finally:
        with anyio.CancelScope(shield=True):  # a client that went away must not leak the connection
            await run_in_threadpool(session.close)


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def get_current_user(
    request: Request, session: SessionDep, settings: SettingsDep, credentials: Credentials
) -> User:
    user = authenticate(session, settings, credentials)
    if writes(request):
        # The token check began the write session: on SQLite it holds the write lock, which the
        # route must not keep while it waits (e.g. for the long-work threads).
        session.commit()
    return user


def authenticate(
    session: Session, settings: Settings, credentials: HTTPAuthorizationCredentials | None
) -> User:
    """The user the bearer token belongs to; 401 without a live token. ``--no-auth``: "local"."""
    if settings.no_auth:
        return crud.local_user(session=session)
    if credentials is None:
        raise HTTPException(
            401,
            "missing API token: send 'Authorization: Bearer <token>' "
            "(create one with `nasrec token create USER`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    user = crud.user_for_token(session=session, token=credentials.credentials)
    if user is None:
        raise HTTPException(401, "invalid or revoked API token", headers={"WWW-Authenticate": "Bearer"})
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


@dataclass(frozen=True)
class UserRunner:
    """``await as_user.run(func)``: ``func(session, user)`` in one trip to the thread pool, where
    the session is opened, the token checked, ``func`` called and the session closed. What ``func``
    returns outlives its session: ORM rows are detached then, with the columns they loaded."""

    store: Store
    settings: Settings
    credentials: HTTPAuthorizationCredentials | None
    write: bool

    async def run(self, func: Callable[[Session, User], T]) -> T:
        def work() -> T:
            with self.store.session(write=self.write) as session:
                return func(session, authenticate(session, self.settings, self.credentials))

        return await run_in_threadpool(work)


async def get_user_runner(
    request: Request, store: StoreDep, settings: SettingsDep, credentials: Credentials
) -> UserRunner:
    return UserRunner(store, settings, credentials, write=writes(request))


AsUser = Annotated[UserRunner, Depends(get_user_runner)]


async def run_long(request: Request, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)`` in the threads for work that takes seconds and that the request
    waits for (ingests, syntheses), not in those of the short requests, which it would otherwise
    hold. (Export builds do not make their request wait: ``server.core.exports.ExportBuilds``.)"""
    return await anyio.to_thread.run_sync(partial(func, *args, **kwargs), limiter=request.app.state.long_work)

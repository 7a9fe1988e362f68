"""``nasrec serve`` (API + web UI + embedded workers) and ``nasrec worker`` (a job worker process).

    nasrec serve [--host 127.0.0.1] [--port 8000] [--workers 1] [--processes 1] [--no-auth [--force]]
    nasrec worker [--lease 60] [--poll 2] [--max-jobs N] [--exit-when-idle]

The ``nasrec`` console script is this module's ``main``: it adds these two commands to the library's
``nasrec.cli.app`` (complete for everything else), so ``nasrec/`` never imports ``server/``. Chosen over
an entry-point group because entry points are read from installed metadata, which a checkout changes
only when reinstalled; here the commands are what the tree says.

Both use ``NASREC_DATABASE_URL`` (default: SQLite in ``NASREC_HOME``) unless ``--database-url`` is
given, and ``NASREC_RAY_ADDRESS`` for Ray (default: an embedded local Ray, started by the first job).
``serve`` runs its workers as threads of the server process (with ``--processes N``, the API runs in
N child processes and the workers stay in the parent); run more ``nasrec worker`` processes (on this
machine or others sharing a PostgreSQL database) to serve more jobs at once.

SIGTERM / Ctrl-C stop both cleanly: running jobs are given back to the queue (``released``) after
their current step, so another worker resumes them.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nasrec.cli import app, main
from nasrec.errors import ConfigError, ConflictError

if TYPE_CHECKING:
    from nasrec.store import Store
    from server.core.config import Settings

__all__ = ["app", "ensure_admin", "main", "serve_command", "worker_command"]

ADMIN_NAME = "admin"
#: Seconds ``serve`` waits for its workers to release their jobs on shutdown.
SHUTDOWN_GRACE = 30.0

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="SQLAlchemy URL of the store (default: NASREC_DATABASE_URL or SQLite)."
    ),
]
LeaseOption = Annotated[
    float,
    typer.Option(min=0.5, help="Seconds a job's lease lasts without a heartbeat (renewed every lease/3)."),
]
CpusOption = Annotated[
    int | None,
    typer.Option(min=1, help="CPUs of the embedded Ray (default: all; ignored with NASREC_RAY_ADDRESS)."),
]


def ensure_admin(store: Store) -> tuple[str, str] | None:
    """Create an admin user and a token when the store has no admin yet (the single user of a
    ``--no-auth`` server does not count); returns ``(name, token)`` when it did, else None."""
    from nasrec.store import crud

    with store.session(write=True) as session:
        users = crud.list_users(session=session)
        if any(u.is_admin and u.name != crud.LOCAL_USER for u in users):
            return None
        taken = {u.name for u in users}
        name = next(n for n in (ADMIN_NAME, *(f"{ADMIN_NAME}{i}" for i in range(1, 100))) if n not in taken)
        try:
            user = crud.create_user(session=session, name=name, is_admin=True)
        except ConflictError:  # another server process created it at the same moment
            return None
        _, token = crud.create_token(session=session, user_id=user.id, name="created by nasrec serve")
    return name, token


def serve_command(
    host: Annotated[str, typer.Option(help="Address to bind (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free port).")] = 8000,
    workers: Annotated[int, typer.Option(min=0, help="Embedded job workers (threads of this process).")] = 1,
    processes: Annotated[
        int, typer.Option(min=1, help="API server processes (one per core serves the most requests).")
    ] = 1,
    no_auth: Annotated[
        bool,
        typer.Option("--no-auth", help="Single-user mode: no tokens; every request is the user 'local'."),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Allow --no-auth on an address other machines can reach.")
    ] = False,
    database_url: DatabaseOption = None,
    lease: LeaseOption = 60.0,
    num_cpus: CpusOption = None,
    log_level: Annotated[str, typer.Option(help="uvicorn / nasrec log level.")] = "info",
) -> None:
    """Serve the API and web UI with embedded job workers; print the URL (and a first admin token)."""
    from nasrec.jobs import Worker, WorkerConfig, shutdown_ray
    from nasrec.store import open_store
    from server.core.config import Settings, is_loopback

    overrides: dict[str, Any] = {}
    if database_url:
        overrides["database_url"] = database_url
    if no_auth:
        overrides["no_auth"] = True
    settings = Settings(**overrides)
    if settings.no_auth and not is_loopback(host) and not force:
        raise ConfigError(
            f"refusing --no-auth on {host}: anyone who can reach it would act as the one user. "
            "Bind 127.0.0.1, drop --no-auth, or pass --force if the network is trusted"
        )
    _configure_logging(log_level)
    store = open_store(settings.database_url)
    sock = _bind(host, port)
    shutdown = threading.Event()
    pool: list[tuple[Worker, threading.Thread]] = []
    try:
        admin = None if settings.no_auth else ensure_admin(store)
        run_api = _api_server(settings, store, processes, sock, log_level, on_stop=shutdown.set)
        url = _url(host, sock.getsockname()[1])
        _say(f"nasrec is serving at {url}  (web UI: {url}/  API docs: {url}/docs)")
        _say(f"database: {store.engine.url.render_as_string(hide_password=True)}")
        if settings.no_auth:
            _say("authentication is off (--no-auth): every request acts as the user 'local'")
        elif admin is not None:
            _say(f"admin user '{admin[0]}' created; its API token (shown once, keep it): {admin[1]}")
        config = WorkerConfig(lease=lease, num_cpus=num_cpus)
        for i in range(workers):
            worker = Worker(store, config)
            thread = threading.Thread(target=worker.run, name=f"nasrec-worker-{i}", daemon=True)
            thread.start()
            pool.append((worker, thread))
        _say(f"embedded workers: {workers}" + ("" if workers else " (run `nasrec worker` to process jobs)"))
        if not shutdown.is_set():
            run_api()
    finally:
        for worker, _ in pool:
            worker.stop()
        for _, thread in pool:
            thread.join(timeout=SHUTDOWN_GRACE)
        shutdown_ray()
        sock.close()
        store.dispose()


def _api_server(
    settings: Settings,
    store: Store,
    processes: int,
    sock: socket.socket,
    log_level: str,
    on_stop: Callable[[], object],
) -> Callable[[], None]:
    """The API server's run function: a uvicorn server in this process, stopped by SIGTERM / SIGINT
    (which also call ``on_stop``); or, for several processes, uvicorn's supervisor of that many
    children sharing ``sock``, which open the store themselves from these settings (passed in the
    environment) and which it stops on SIGTERM / SIGINT."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from server.main import create_app

    if processes == 1:
        from nasrec.jobs.worker import on_stop_signals

        server = uvicorn.Server(
            uvicorn.Config(create_app(settings, store=store), log_level=log_level, lifespan="on")
        )
        on_stop_signals(lambda: (on_stop(), setattr(server, "should_exit", True)))
        return lambda: server.run(sockets=[sock])
    os.environ.update(NASREC_DATABASE_URL=settings.database_url, NASREC_NO_AUTH=str(settings.no_auth).lower())
    config = uvicorn.Config(
        "server.main:create_app", factory=True, workers=processes, log_level=log_level, lifespan="on"
    )
    return Multiprocess(config, sockets=[sock]).run


def worker_command(
    database_url: DatabaseOption = None,
    lease: LeaseOption = 60.0,
    poll: Annotated[float, typer.Option(min=0.05, help="Seconds between claim attempts when idle.")] = 2.0,
    max_jobs: Annotated[int | None, typer.Option(min=1, help="Exit after working on this many jobs.")] = None,
    exit_when_idle: Annotated[
        bool, typer.Option("--exit-when-idle", help="Exit when no job is waiting instead of polling.")
    ] = False,
    max_attempts: Annotated[int, typer.Option(min=1, help="Claims of one job before it is failed.")] = 5,
    num_cpus: CpusOption = None,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "info",
) -> None:
    """Run queued search jobs (and resume those whose worker died) until stopped."""
    from nasrec.jobs import Worker, WorkerConfig, shutdown_ray
    from nasrec.jobs.worker import stopping_on_signals
    from nasrec.store import open_store

    _configure_logging(log_level)
    store = open_store(database_url)
    worker = Worker(store, WorkerConfig(lease=lease, poll=poll, max_attempts=max_attempts, num_cpus=num_cpus))
    _say(f"worker {worker.id} on {store.engine.url.render_as_string(hide_password=True)}")
    try:
        with stopping_on_signals(worker.stop):
            handled = worker.run(max_jobs=max_jobs, exit_when_idle=exit_when_idle)
    finally:
        shutdown_ray()
        store.dispose()
    _say(f"worker {worker.id} stopped after {handled} job(s)")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}"


def _configure_logging(level: str) -> None:
    """nasrec's own loggers at ``level``; everything else (fbgemm, Ray, ...) at warnings."""
    if level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"--log-level must be debug, info, warning, error or critical, got {level!r}")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("nasrec").setLevel(level.upper())


def _say(message: str) -> None:
    typer.echo(message)


app.command(name="serve")(serve_command)
app.command(name="worker")(worker_command)

if __name__ == "__main__":  # ``python -m server.cli ...``: what the ``nasrec`` console script runs
    main()

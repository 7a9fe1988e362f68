"""The one place nasrec starts Ray: one runtime per process, shared by everything in it.

    ensure_ray(address=, num_cpus=)    start (or join) Ray unless the process has it; True if started now
    running_ray(address=, num_cpus=)   a block that needs Ray: the process's runtime, or one started for
                                       the block and stopped after it
    shutdown_ray()                     stop the runtime started here (a joined cluster is only left)

Where: ``address``, else ``NASREC_RAY_ADDRESS``, else an embedded local Ray with ``num_cpus`` CPUs
(default: every core of the machine). Always without the dashboard, without forwarding the workers'
output to this process and without touching this process's logging. A worker process
(``nasrec.jobs.worker``) starts it when its first job needs it and keeps it for the next jobs, so a
``nasrec serve`` that runs no job pays nothing for Ray. An evaluation actor pool
(``nasrec.search.evaluate``) and a Ray Train run (``nasrec.train.ray_train``) use the process's
runtime, and stop it afterwards only if they had to start it (outside a worker: tests, benchmarks,
``nasrec train --workers N``).

Three things about an embedded Ray in a long-running service, each handled here:

* Ray's node processes die with the *thread* that started them (they are fate-shared through
  ``PR_SET_PDEATHSIG``, which follows the parent thread). Ray is therefore started, and stopped, by
  the main thread or by a dedicated thread that lives until ``shutdown_ray``; never by a job's
  thread, which may end first.
* The process keeps its own SIGTERM handling (a worker releases its job on SIGTERM): ``ray.init``
  replaces the Python SIGTERM handler with ``sys.exit`` when called from the main thread (it is put
  back), and installs a native failure-signal handler that intercepts SIGTERM and aborts the
  process at ``ray.shutdown`` (disabled: ``RAY_DISABLE_FAILURE_SIGNAL_HANDLER=1``, unless set).
* ``ray.shutdown`` leaves two of the node's helpers (``ray::DashboardAgent``,
  ``ray::RuntimeEnvAgent``) running once their raylet is gone; ``shutdown_ray`` stops them too (on
  Linux: the Ray processes among this process's descendants).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["ensure_ray", "running_ray", "shutdown_ray"]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_owner: _Owner | None = None  # the thread that owns an embedded runtime started off the main thread
_started_here = False


def ensure_ray(*, address: str | None = None, num_cpus: int | None = None) -> bool:
    """Start (or join) Ray unless this process already has it; True if this call started it.

    ``address`` (default: ``NASREC_RAY_ADDRESS``) joins a running cluster; without one an embedded
    runtime starts with ``num_cpus`` CPUs (default: every core of the machine).
    """
    global _owner, _started_here
    import ray

    with _lock:
        if ray.is_initialized():
            return False
        address = address or os.environ.get("NASREC_RAY_ADDRESS") or None
        _keep_sigterm_handling()
        if threading.current_thread() is threading.main_thread():
            sigterm = signal.getsignal(signal.SIGTERM)
            try:
                _init(address, num_cpus)
            finally:
                if sigterm is not None:
                    signal.signal(signal.SIGTERM, sigterm)
        else:
            _owner = _Owner(address, num_cpus)
            _owner.start()
            _owner.ready.wait()
            if _owner.error is not None:
                error, _owner = _owner.error, None
                raise error
        _started_here = True
        return True


@contextmanager
def running_ray(*, address: str | None = None, num_cpus: int | None = None) -> Iterator[None]:
    """Ray for the block: the process's runtime if it has one, else one started now (``ensure_ray``)
    and stopped when the block ends."""
    started = ensure_ray(address=address, num_cpus=num_cpus)
    try:
        yield
    finally:
        if started:
            shutdown_ray()


def shutdown_ray() -> None:
    """Stop the runtime this module started (a joined cluster is only disconnected from)."""
    global _owner, _started_here
    import ray

    with _lock:
        if _owner is not None:
            _owner.stop.set()
            _owner.join(timeout=120)
            _owner = None
        elif _started_here and ray.is_initialized():
            _shutdown()
        _started_here = False


class _Owner(threading.Thread):
    """Starts Ray, keeps it (and so its node processes) alive until ``stop``, then stops it."""

    def __init__(self, address: str | None, num_cpus: int | None) -> None:
        super().__init__(name="nasrec-ray", daemon=True)
        self.args = (address, num_cpus)
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            _init(*self.args)
        except BaseException as exc:  # handed to the thread that asked for Ray
            self.error = exc
            return
        finally:
            self.ready.set()
        self.stop.wait()
        _shutdown()


def _init(address: str | None, num_cpus: int | None) -> None:
    import ray

    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address:
        log.info("joining the Ray cluster at %s", address)
        ray.init(address=address, **options)
    else:
        cpus = num_cpus or os.cpu_count() or 1
        log.info("starting embedded Ray with %d CPUs", cpus)
        # Ray turns token authentication on for a new local cluster (keep it) and says so on every
        # start: a notice for someone who configured a cluster, noise for a user who configured no Ray.
        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
        ray.init(num_cpus=cpus, **options)


def _shutdown() -> None:
    import ray

    helpers = _ray_descendants()
    ray.shutdown()
    _stop(helpers)


def _keep_sigterm_handling() -> None:
    """No native failure-signal handler in this process (see the module docstring)."""
    if "RAY_DISABLE_FAILURE_SIGNAL_HANDLER" in os.environ:
        return  # the operator decided
    os.environ["RAY_DISABLE_FAILURE_SIGNAL_HANDLER"] = "1"  # Ray reads it when imported ...
    from ray._private import ray_constants

    ray_constants.RAY_DISABLE_FAILURE_SIGNAL_HANDLER = True  # ... which may have happened already


def _ray_descendants() -> list[int]:
    """Pids of this process's descendants that are Ray processes (Linux /proc; elsewhere none)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    children: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (entry / "cmdline").read_bytes()
            except (OSError, ValueError, IndexError):
                continue
            if b"ray" in cmdline:
                children.setdefault(ppid, []).append(int(entry.name))
            else:
                children.setdefault(ppid, [])
    found, todo = [], [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _stop(pids: list[int], grace: float = 5.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for pid in pids:
            try:
                os.kill(pid, sig)
                alive.append(pid)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + grace
        while alive and time.monotonic() < deadline:
            time.sleep(0.1)
            alive = [pid for pid in alive if _alive(pid)]
        if not alive:
            return
        pids = alive


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # a zombie (exited, not yet reaped by its new parent) is as good as gone
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True

"""One Ray runtime per worker process, started when the first job needs it and shared by every
job (and every embedded worker thread) of the process.

Embedded local Ray by default; an existing cluster when ``NASREC_RAY_ADDRESS`` (or ``address``) is
set. Started lazily, so a ``nasrec serve`` that runs no job pays nothing for Ray.
"""

from __future__ import annotations

import logging
import os
import threading

__all__ = ["ensure_ray", "shutdown_ray"]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_started_here = False


def ensure_ray(*, address: str | None = None, num_cpus: int | None = None) -> None:
    """Start (or join) Ray unless this process already has it. ``num_cpus`` only applies to the
    embedded runtime (default: every core of the machine)."""
    global _started_here
    import ray

    with _lock:
        if ray.is_initialized():
            return
        address = address or os.environ.get("NASREC_RAY_ADDRESS") or None
        options = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if address:
            log.info("joining the Ray cluster at %s", address)
            ray.init(address=address, **options)
        else:
            cpus = num_cpus or os.cpu_count() or 1
            log.info("starting embedded Ray with %d CPUs", cpus)
            ray.init(num_cpus=cpus, **options)
        _started_here = True


def shutdown_ray() -> None:
    """Stop the runtime this module started (a joined cluster is only disconnected from)."""
    global _started_here
    import ray

    with _lock:
        if _started_here and ray.is_initialized():
            ray.shutdown()
        _started_here = False

"""A group of Ray actors of one class: how a job's evaluation and its retraining get their actors.

``ActorGroup(cls, *args, num_actors=, cpus_per_actor=, ...)`` makes ``num_actors`` actors, each
built as ``cls(*args, threads=...)`` with ``cpus_per_actor`` CPUs reserved and as many torch
threads, checks that each one loaded (``cls.ping``), and kills them on ``close``. It uses the
process's Ray runtime; without one it starts one (``nasrec.ray_runtime``: ``address``, else
``NASREC_RAY_ADDRESS``, else embedded with room for every actor) and stops it on ``close``.

Users: ``nasrec.search.evaluate.ActorPoolEvaluator`` (candidates scored in order) and
``nasrec.search.retrain.ActorPoolRetrainer`` (models retrained side by side, progress polled).
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["ActorGroup"]


class ActorGroup:
    """``num_actors`` live Ray actors of ``cls`` (see the module docstring); ``actors`` are their
    handles. ``max_concurrency > 1`` makes threaded actors, whose cheap methods (e.g. a progress
    query) answer while a long one runs."""

    def __init__(
        self,
        cls: type,
        *args: Any,
        num_actors: int = 1,
        cpus_per_actor: float = 1,
        gpus_per_actor: float = 0,
        address: str | None = None,
        max_concurrency: int = 1,
    ) -> None:
        import ray

        from nasrec.ray_runtime import ensure_ray

        cpus = max(os.cpu_count() or 1, int(num_actors * cpus_per_actor + 0.999))
        self._owns_ray = ensure_ray(address=address, num_cpus=cpus)
        self.actors: list[Any] = []
        try:
            remote_cls = ray.remote(
                num_cpus=cpus_per_actor,
                num_gpus=gpus_per_actor,
                max_restarts=1,
                max_concurrency=max_concurrency,
            )(cls)
            threads = max(1, int(cpus_per_actor))
            self.actors = [remote_cls.remote(*args, threads=threads) for _ in range(num_actors)]
            ray.get([a.ping.remote() for a in self.actors])  # surface load errors here, not per task
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Kill the actors; stop the Ray runtime if this group started it."""
        import ray

        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
        if self._owns_ray:
            from nasrec.ray_runtime import shutdown_ray

            shutdown_ray()
            self._owns_ray = False

    def __enter__(self) -> ActorGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Retraining from scratch for finalisation, several models side by side on a pool of Ray actors.

A ``Retrainer`` opens the dataset once and trains one model at a time (``nasrec.train.train_subnet``,
in its own process, with the actor's torch threads); a model is a ``RetrainJob`` (name,
architecture, run directory) and every model of a job gets the same ``TrainConfig``, so what a model
learns depends on its architecture and the job's seed only, never on which actor trained it or on
how many there are. Two ways to run a list of them, with one interface (``run``):

* ``ActorPoolRetrainer``: ``resources.eval_actors`` Ray actors (an ``ActorGroup``, as candidate
  evaluation uses), each training one model at a time; while they train, their progress is polled
  about once a second;
* ``LocalRetrainer``: the same ``Retrainer``, in the calling process, one model after the other (for
  tests and benchmarks).

``run(jobs, progress=, finished=)`` calls ``progress(name, step, total, metrics)`` as models train
(step 0 when one starts; ``metrics["seconds"]``: its time so far) and ``finished(job, result)`` as
each one ends, in the order they end.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from nasrec.search.search import Search

__all__ = [
    "ActorPoolRetrainer",
    "LocalRetrainer",
    "RetrainJob",
    "Retrainer",
    "RetrainPool",
    "retrain_settings",
]

#: ``progress(model name, step, total, metrics)``
ModelProgress = Callable[[str, int, int, dict[str, Any]], None]
#: ``finished(job, result)``: ``result`` as ``Retrainer.train`` returns it.
ModelFinished = Callable[["RetrainJob", dict[str, Any]], None]


@dataclass(frozen=True)
class RetrainJob:
    """One model to train from scratch: its name in the job, architecture (JSON) and run directory."""

    name: str
    architecture: str
    run_dir: str


class RetrainPool(Protocol):
    """Trains ``RetrainJob``s; see the module docstring."""

    def run(
        self, jobs: Sequence[RetrainJob], *, progress: ModelProgress, finished: ModelFinished
    ) -> None: ...

    def close(self) -> None: ...


def retrain_settings(search: Search) -> dict[str, Any]:
    """The JSON-able settings a retrainer needs: the dataset, the space's model config, and the
    job's one retraining ``TrainConfig`` (``finalize.retrain_config``) with its placement fields
    (where a run executes, not what it computes) set for one process per model, on an actor's GPU
    when the actors have one."""
    from nasrec.search.finalize import retrain_config

    r = search.spec.resources
    config = retrain_config(search).with_(num_workers=1, use_ray=False, use_gpu=r.gpus_per_actor > 0)
    return {
        "dataset": str(search.dataset.path),
        "model": search.space.model.to_dict(),
        "config": config.to_dict(),
    }


def planned_steps(settings: dict[str, Any]) -> int:
    """Steps of one model's run (the same for every model of the job)."""
    from nasrec.data import Dataset
    from nasrec.train import TrainConfig

    train_rows = len(Dataset.open(Path(settings["dataset"])).split("train"))
    return int(TrainConfig.from_dict(settings["config"]).total_steps(train_rows))


class Retrainer:
    """Trains one model at a time on an opened dataset; ``progress()`` says how far the current one is."""

    def __init__(self, settings: dict[str, Any], threads: int | None = None) -> None:
        import torch

        from nasrec.data import Dataset
        from nasrec.space.model_config import ModelConfig
        from nasrec.train import TrainConfig

        if threads:
            torch.set_num_threads(int(threads))
        self.dataset = Dataset.open(Path(settings["dataset"]))
        self.model = ModelConfig.from_dict(settings["model"])
        self.config = TrainConfig.from_dict(settings["config"])
        self.total = planned_steps(settings)
        self.pid = os.getpid()
        self._progress: dict[str, Any] = {}

    def ping(self) -> int:
        return self.pid

    def progress(self) -> dict[str, Any]:
        """The model being trained: ``name``, ``step``, ``total`` and the last ``metrics`` ({} when idle)."""
        return dict(self._progress)

    def train(self, job: RetrainJob, report: ModelProgress | None = None) -> dict[str, Any]:
        """Train ``job`` (resuming its run directory: a finished run returns at once); returns its
        validation ``metrics``, ``checkpoint``, ``step`` / ``total`` steps, ``seconds`` and the
        ``worker`` pid. ``report`` sees every progress report (``progress()`` only the latest)."""
        from nasrec.space.architecture import Architecture
        from nasrec.train import train_subnet

        start = time.perf_counter()

        def update(step: int, total: int, metrics: dict[str, Any]) -> None:
            shown = {**_plain(metrics), "seconds": time.perf_counter() - start}  # this model's time so far
            self._progress = {"name": job.name, "step": step, "total": total, "metrics": shown}
            if report is not None:
                report(job.name, step, total, shown)

        update(0, self.total, {})
        try:
            result = train_subnet(
                Architecture.from_json(job.architecture),
                dataset=self.dataset,
                model=self.model,
                config=self.config,
                run_dir=job.run_dir,
                resume=True,
                progress=update,
            )
        finally:
            self._progress = {}
        return {
            "name": job.name,
            "metrics": _plain(result.metrics),
            "checkpoint": None if result.checkpoint is None else str(result.checkpoint),
            "step": result.step,
            "total": result.total_steps,
            "seconds": time.perf_counter() - start,
            "worker": self.pid,
        }


class LocalRetrainer:
    """The ``Retrainer`` in the calling process, one model after the other (no Ray)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.worker = Retrainer(settings)

    @classmethod
    def for_search(cls, search: Search) -> LocalRetrainer:
        return cls(retrain_settings(search))

    def run(self, jobs: Sequence[RetrainJob], *, progress: ModelProgress, finished: ModelFinished) -> None:
        for job in jobs:
            finished(job, self.worker.train(job, progress))

    def close(self) -> None:
        pass


class ActorPoolRetrainer:
    """``num_actors`` Ray actors training one model each at a time (see the module docstring).

    A model that fails raises here, and so does a ``progress`` or ``finished`` callback that raises
    (a stopped job); either way the pool closes, killing its actors and the models in flight (a
    resumed job retrains only what had not finished).
    """

    #: Seconds between two progress polls of the models in flight.
    POLL_SECONDS = 1.0

    def __init__(
        self,
        settings: dict[str, Any],
        *,
        num_actors: int = 1,
        cpus_per_actor: float = 1,
        gpus_per_actor: float = 0,
        address: str | None = None,
    ) -> None:
        from nasrec.search.actors import ActorGroup

        self.group = ActorGroup(
            Retrainer,
            settings,
            num_actors=num_actors,
            cpus_per_actor=cpus_per_actor,
            gpus_per_actor=gpus_per_actor,
            address=address,
            max_concurrency=2,  # ``progress`` answers while ``train`` runs
        )
        self.total = planned_steps(settings)

    @classmethod
    def for_search(cls, search: Search) -> ActorPoolRetrainer:
        r = search.spec.resources
        return cls(
            retrain_settings(search),
            num_actors=r.eval_actors,
            cpus_per_actor=r.cpus_per_actor,
            gpus_per_actor=r.gpus_per_actor,
            address=r.ray_address,
        )

    def run(self, jobs: Sequence[RetrainJob], *, progress: ModelProgress, finished: ModelFinished) -> None:
        try:
            self._run(jobs, progress, finished)
        except BaseException:  # a stop or a failure: the models in flight are given up with their actors
            self.close()
            raise

    def _run(self, jobs: Sequence[RetrainJob], progress: ModelProgress, finished: ModelFinished) -> None:
        import ray

        queue = list(jobs)
        idle = list(self.group.actors)
        running: dict[Any, tuple[Any, RetrainJob]] = {}  # task ref -> (actor, job)
        while queue or running:
            while idle and queue:
                actor, job = idle.pop(0), queue.pop(0)
                running[actor.train.remote(job)] = (actor, job)
                progress(job.name, 0, self.total, {"seconds": 0.0})  # started (as a Retrainer reports it)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=self.POLL_SECONDS)
            for ref in ready:
                actor, job = running.pop(ref)
                result = ray.get(ref)
                idle.append(actor)
                finished(job, result)
            in_flight = list(running.values())
            for (_, job), snapshot in zip(
                in_flight, ray.get([actor.progress.remote() for actor, _ in in_flight]), strict=True
            ):
                if snapshot.get("name") == job.name:
                    progress(job.name, snapshot["step"], snapshot["total"], snapshot["metrics"])

    def close(self) -> None:
        self.group.close()

    def __enter__(self) -> ActorPoolRetrainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _plain(metrics: dict[str, Any]) -> dict[str, Any]:
    """Numbers, strings and flags only (what crosses a process boundary and goes into JSON)."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if isinstance(value, bool | int | float | str) or value is None:
            out[key] = value
        elif hasattr(value, "item"):  # numpy / torch scalars
            out[key] = value.item()
    return out

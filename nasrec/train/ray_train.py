"""Running ``train_loop`` on Ray Train workers (``ray.train.torch.TorchTrainer``, gloo on CPU).

The driver serialises a *job* (a JSON-able dict: what to train, on which dataset, with which config); every
worker rebuilds the same task from it (same seed, so the same initial weights), joins the torch process
group Ray Train set up, and calls ``train_loop`` with a ``Comm``. Checkpoints are nasrec's own directory
checkpoints in ``run_dir`` (rank 0 writes them); Ray Train's checkpoint storage is not used, so there is one
checkpoint mechanism whether a run is launched here or in-process, and a restarted worker group (with
``max_failures``) resumes from ``run_dir`` like any other resume.

Progress and cancellation cross the process boundary through a small control actor: rank 0 pushes
``(step, total, metrics)`` to it, the driver drains it and calls the user's ``progress`` in its own thread,
and forwards ``should_stop()`` to it; workers poll it between steps and agree on stopping collectively.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from nasrec.errors import NasrecError
from nasrec.ray_runtime import running_ray
from nasrec.train.checkpoint import latest_checkpoint
from nasrec.train.config import TrainConfig
from nasrec.train.loop import ProgressFn, StopFn, TrainResult

POLL_SECONDS = 0.2


class _Control:
    """Stop flag and progress queue shared by the driver and rank 0 (a zero-CPU Ray actor)."""

    def __init__(self) -> None:
        self._stop = False
        self._events: list[tuple[int, int, dict[str, Any]]] = []

    def request_stop(self) -> None:
        self._stop = True

    def should_stop(self) -> bool:
        return self._stop

    def report(self, step: int, total: int, metrics: dict[str, Any]) -> None:
        self._events.append((step, total, metrics))

    def drain(self) -> list[tuple[int, int, dict[str, Any]]]:
        events, self._events = self._events, []
        return events


def _worker_main(cfg: dict[str, Any]) -> None:
    """Body of each Ray Train worker: rebuild the task from the job and run the shared loop."""
    import ray
    import ray.train

    from nasrec.train.api import build_task
    from nasrec.train.distributed import Comm
    from nasrec.train.guard import forbid_test_split

    job, control = cfg["job"], cfg["control"]
    config = TrainConfig.from_dict(job["config"])
    rank = ray.train.get_context().get_world_rank()
    with forbid_test_split():
        task, train_view, val_view = build_task(job)
        from nasrec.train.loop import train_loop

        result = train_loop(
            task,
            train_view=train_view,
            val_view=val_view,
            config=config,
            run_dir=job["run_dir"],
            resume=job["resume"],
            progress=(lambda s, t, m: control.report.remote(s, t, m)) if rank == 0 else None,
            should_stop=(lambda: ray.get(control.should_stop.remote())) if rank == 0 else None,
            comm=Comm.current(),
        )
    scalars = {k: v for k, v in result.metrics.items() if isinstance(v, int | float | bool)}
    ray.train.report({"step": result.step, "stopped": result.stopped, **scalars})


def run_on_ray(
    job: dict[str, Any],
    *,
    config: TrainConfig,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> TrainResult:
    """Train ``job`` with ``config.num_workers`` Ray Train workers; returns what the last checkpoint says.

    Uses the process's Ray runtime, or starts one for the run and stops it afterwards
    (``nasrec.ray_runtime.running_ray``: ``NASREC_RAY_ADDRESS``, else an embedded local Ray).
    """
    import ray
    from ray.train import FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    run_dir = Path(job["run_dir"])
    with running_ray():
        control = ray.remote(num_cpus=0)(_Control).remote()
        resources = {"CPU": config.cpus_per_worker, **({"GPU": 1} if config.use_gpu else {})}
        trainer = TorchTrainer(
            _worker_main,
            train_loop_config={"job": job, "control": control},
            torch_config=TorchConfig(backend="nccl" if config.use_gpu else "gloo"),
            scaling_config=ScalingConfig(
                num_workers=config.num_workers, use_gpu=config.use_gpu, resources_per_worker=resources
            ),
            run_config=RunConfig(
                name="ray_train",
                storage_path=str(run_dir.resolve()),
                failure_config=FailureConfig(max_failures=config.max_failures),
            ),
        )
        failure = _fit_while_polling(trainer, control, progress, should_stop)
        if failure is not None:
            raise _unwrap(failure)
    found = latest_checkpoint(run_dir)
    if found is None:  # cannot happen after a successful fit: the loop always saves on exit
        raise NasrecError(f"Ray training finished without writing a checkpoint in {run_dir}")
    meta = found.metadata
    return TrainResult(
        found.path,
        dict(meta.get("metrics", {})),
        int(meta["step"]),
        int(meta["total_steps"]),
        stopped=not meta.get("final", False),
    )


def _fit_while_polling(
    trainer: Any, control: Any, progress: ProgressFn | None, should_stop: StopFn | None
) -> BaseException | None:
    """Run ``trainer.fit()`` in a thread; meanwhile relay progress and stop requests in this thread."""
    import ray

    outcome: dict[str, BaseException | None] = {"error": None}

    def fit() -> None:
        try:
            trainer.fit()
        except BaseException as exc:  # re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=fit, name="nasrec-ray-train", daemon=True)
    thread.start()
    stop_sent = False

    def relay() -> None:
        nonlocal stop_sent
        if progress is not None:
            for step, total, metrics in ray.get(control.drain.remote()):
                progress(step, total, metrics)
        if should_stop is not None and not stop_sent and should_stop():
            control.request_stop.remote()
            stop_sent = True

    while thread.is_alive():
        thread.join(POLL_SECONDS)
        relay()
    relay()
    return outcome["error"]


def _unwrap(exc: BaseException) -> BaseException:
    """A nasrec error raised on a worker (bad config, conflicting run dir) surfaces as itself."""
    failures: dict[int, BaseException] = getattr(exc, "worker_failures", None) or {}
    for failure in failures.values():
        cause = getattr(failure, "cause", None) or failure
        if isinstance(cause, NasrecError):
            return cause
    return exc


__all__ = ["run_on_ray"]

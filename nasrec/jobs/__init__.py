"""Job lifecycle: workers claim queued jobs with a lease, run the search engine's phases, resume.

    Worker, WorkerConfig      the loop: claim -> run phases -> finish (``nasrec worker``, ``nasrec serve``)
    run_job                   one claimed job, phase by phase (prepare, supernet, search, finalize)
    run_local                 a job run from the command line: the same phases, under a local lease
    Lease, StopReason         the heartbeat thread: renews the lease, reads the cancel flag
    ensure_ray, shutdown_ray  one Ray runtime per process, shared by its jobs (from ``nasrec.ray_runtime``)

A job whose worker died is claimed again once its lease expires and continues from its last supernet
checkpoint and its stored trials (``nasrec.jobs.runner``). Candidates, Pareto ranks and retrained
checkpoints are copied from the job's study into the store's tables as they appear
(``nasrec.jobs.mirror``), which is what the API serves.
"""

from nasrec.jobs.lease import Lease, StopReason
from nasrec.jobs.local import LocalRun, run_local
from nasrec.jobs.runner import JobStopped, run_job, study_name
from nasrec.jobs.worker import Worker, WorkerConfig, new_worker_id
from nasrec.ray_runtime import ensure_ray, shutdown_ray

__all__ = [
    "JobStopped",
    "Lease",
    "LocalRun",
    "StopReason",
    "Worker",
    "WorkerConfig",
    "ensure_ray",
    "new_worker_id",
    "run_job",
    "run_local",
    "shutdown_ray",
    "study_name",
]

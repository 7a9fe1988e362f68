"""Keyword-only functions over a session: the only code that reads and writes the store's rows.

Functions that change rows commit (each one is a unit of work, like an Optuna storage method);
functions that read do not. Errors are nasrec's: ``NotFoundError`` (also for rows of another
owner), ``ConflictError`` (names taken, finished jobs, lost leases), ``ConfigError`` (bad values).
"""

from nasrec.names import check_dataset_name  # the one dataset-name rule, offered with the crud functions
from nasrec.store.crud.artifacts import (
    SUBNET_KIND,
    SUPERNET_KIND,
    add_artifact,
    candidate_weights,
    get_artifact,
    list_artifacts,
)
from nasrec.store.crud.candidates import (
    HIGHER_IS_BETTER,
    OBJECTIVE_COLUMNS,
    SORT_COLUMNS,
    candidate_counts_by_stage,
    count_evaluated_candidates,
    get_candidate,
    leaderboard,
    pareto_front,
    set_pareto_ranks,
    sort_column,
    upsert_candidate,
)
from nasrec.store.crud.datasets import (
    create_dataset,
    delete_dataset,
    ensure_dataset_name_free,
    get_dataset,
    list_datasets,
)
from nasrec.store.crud.events import LEVELS, list_events, record_event
from nasrec.store.crud.jobs import (
    DEFAULT_LEASE,
    LeaseLostError,
    claim_job,
    create_job,
    finish_job,
    get_job,
    job_counts_by_state,
    list_jobs,
    release_job,
    renew_lease,
    request_cancel,
    requeue_job,
    set_progress,
)
from nasrec.store.crud.ownership import get_owned, owned
from nasrec.store.crud.paging import MAX_PAGE
from nasrec.store.crud.users import (
    LOCAL_USER,
    count_users,
    create_token,
    create_user,
    get_user,
    hash_token,
    list_tokens,
    list_users,
    local_user,
    revoke_token,
    user_for_token,
)
from nasrec.store.crud.workers import forget_workers, list_workers, worker_heartbeat

__all__ = [
    "DEFAULT_LEASE",
    "HIGHER_IS_BETTER",
    "LEVELS",
    "LOCAL_USER",
    "MAX_PAGE",
    "OBJECTIVE_COLUMNS",
    "SORT_COLUMNS",
    "SUBNET_KIND",
    "SUPERNET_KIND",
    "LeaseLostError",
    "add_artifact",
    "candidate_counts_by_stage",
    "candidate_weights",
    "check_dataset_name",
    "claim_job",
    "count_evaluated_candidates",
    "count_users",
    "create_dataset",
    "create_job",
    "create_token",
    "create_user",
    "delete_dataset",
    "ensure_dataset_name_free",
    "finish_job",
    "forget_workers",
    "get_artifact",
    "get_candidate",
    "get_dataset",
    "get_job",
    "get_owned",
    "get_user",
    "hash_token",
    "job_counts_by_state",
    "leaderboard",
    "list_artifacts",
    "list_datasets",
    "list_events",
    "list_jobs",
    "list_tokens",
    "list_users",
    "list_workers",
    "local_user",
    "owned",
    "pareto_front",
    "record_event",
    "release_job",
    "requeue_job",
    "renew_lease",
    "request_cancel",
    "revoke_token",
    "set_pareto_ranks",
    "set_progress",
    "sort_column",
    "upsert_candidate",
    "user_for_token",
    "worker_heartbeat",
]

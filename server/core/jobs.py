"""Submitting a job: the one validation hook between an API request and the store.

The body is a ``nasrec.spec.JobSpec`` (FastAPI has already validated it). ``check_submission``
adds what only the server knows: the dataset must be one of the user's, the space and the hardware
profile ones the server ships, the baselines ones it ships (each a valid architecture), and the Ray
cluster is the operator's choice, not the submitter's.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from nasrec.errors import ConfigError, NotFoundError
from nasrec.spec import JobSpec
from nasrec.store import Dataset, Job, User, crud


def check_submission(*, session: Session, owner: User, spec: JobSpec) -> Dataset:
    """The user's dataset the spec names; ConfigError for anything the server will not run."""
    from nasrec.cost.pim import list_profiles
    from nasrec.search.finalize import job_baselines
    from nasrec.space import list_spaces

    if spec.resources.ray_address is not None:
        raise ConfigError(
            "resources.ray_address cannot be set through the API: the server's operator chooses the "
            "Ray cluster (NASREC_RAY_ADDRESS)"
        )
    # A shipped space by name, or an inline definition (validated by the spec); never a server path.
    if isinstance(spec.space, str) and spec.space not in list_spaces():
        raise ConfigError(
            f"space: search space {spec.space!r} not found; available: {', '.join(list_spaces())}"
        )
    # Likewise a hardware profile the server ships, by name: never a path on the server.
    if spec.hardware.profile not in list_profiles():
        raise ConfigError(
            f"hardware.profile: profile {spec.hardware.profile!r} not found; "
            f"available: {', '.join(list_profiles())}"
        )
    job_baselines(spec)  # the architectures the job brings, checked now rather than after its search
    try:
        return crud.get_dataset(session=session, owner_id=owner.id, name=spec.dataset)
    except NotFoundError:
        raise ConfigError(
            f"dataset: you have no dataset {spec.dataset!r}; register, upload or synthesize it first"
        ) from None


def submit_job(*, session: Session, owner: User, spec: JobSpec) -> Job:
    dataset = check_submission(session=session, owner=owner, spec=spec)
    return crud.create_job(
        session=session,
        owner_id=owner.id,
        spec=spec.to_dict(),
        name=spec.job_name[:128],
        dataset_id=dataset.id,
    )

"""Request and response models, one family per resource (``XCreate`` in, ``XPublic`` /
``XsPublic{data, count}`` out), so no internal column (token hashes, leases, server paths) leaks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from nasrec.metrics import METRICS, Metric
from nasrec.names import DATASET_NAME_PATTERN
from nasrec.store import CandidateKind, JobState


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- users and tokens -------------------------------------------------------------------------


class UserPublic(_Out):
    id: int
    name: str
    is_admin: bool
    created_at: datetime


class TokenCreate(_In):
    name: str = Field(default="", max_length=64, description="a label to tell tokens apart")


class TokenPublic(_Out):
    id: int
    name: str
    prefix: str = Field(description="the first characters of the token")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="the secret: shown this once, only its hash is stored")


class TokensPublic(BaseModel):
    data: list[TokenPublic]
    count: int


# --- datasets ---------------------------------------------------------------------------------

DatasetName = Field(pattern=DATASET_NAME_PATTERN, description="unique among your datasets")


class IngestOptions(_In):
    """How raw files are read: ``format`` and, for csv / parquet, which columns are what."""

    format: str = Field(description="criteo, criteo-csv, avazu, kdd12, libfm, csv or parquet")
    on_bad_rows: Literal["error", "skip"] = "error"
    label: str | None = Field(default=None, description="csv / parquet: the label column")
    dense: list[str] = Field(default_factory=list, description="csv / parquet: dense (count) columns")
    sparse: list[str] = Field(default_factory=list, description="csv / parquet: categorical columns")
    delimiter: str = Field(default=",", min_length=1, max_length=1, description="csv: field separator")
    dense_transform: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="per dense column, COL=SPEC with SPEC one of auto, log1p, standardize, buckets[:N]"
        " (the column becomes a sparse feature of N quantile buckets), none; a bare SPEC is the default of"
        " the other columns (auto: chosen from the training rows), as `nasrec data ingest --dense-transform`",
    )

    @field_validator("dense_transform")
    @classmethod
    def _known_transforms(cls, items: list[str]) -> list[str]:
        """Checked before any upload streams in (the column names are checked against the file later)."""
        from nasrec.data.dense import parse_transform_options
        from nasrec.errors import ConfigError

        try:
            parse_transform_options(items)
        except ConfigError as exc:
            raise ValueError(str(exc)) from exc
        return items


class DatasetUpload(IngestOptions):
    """Query parameters of an upload (the file itself is the request body)."""

    name: str = DatasetName
    filename: str = Field(default="upload", max_length=255, description="the file's name, for messages")


class DatasetRegister(_In):
    name: str = DatasetName
    path: str | Annotated[list[str], Field(min_length=1, max_length=3)] = Field(
        description="relative to the server's data root: a nasrec dataset directory, or raw file(s) "
        "to ingest (one file: split 8:1:1; three: train, val, test)"
    )
    ingest: IngestOptions | None = Field(
        default=None, description="to ingest raw files; leave out to register a nasrec dataset directory"
    )

    @property
    def paths(self) -> list[str]:
        return [self.path] if isinstance(self.path, str) else list(self.path)


class DatasetSynthesize(_In):
    name: str = DatasetName
    rows: int = Field(default=200_000, ge=10, description="number of rows (the server sets a maximum)")
    seed: int = Field(default=0, ge=0, lt=2**32)


class DatasetPublic(_Out):
    id: int
    name: str
    source: str = Field(description="registered, ingested, uploaded or synthesized")
    created_at: datetime
    info: dict[str, Any] = Field(description="the `nasrec data info` summary")


class DatasetsPublic(BaseModel):
    data: list[DatasetPublic]
    count: int


# --- search spaces ----------------------------------------------------------------------------


class SpaceSummary(BaseModel):
    name: str
    description: str
    num_blocks: int


class SpacesPublic(BaseModel):
    data: list[SpaceSummary]
    count: int


class SpacePublic(BaseModel):
    name: str
    definition: dict[str, Any]
    size: dict[str, Any] = Field(description="how many architectures: raw genotypes and canonical forms")


# --- jobs and events --------------------------------------------------------------------------


class JobPublic(_Out):
    id: int
    name: str
    state: JobState
    phase: str | None
    progress: float = Field(description="0..1, the whole job")
    step: int
    total: int
    error: str | None
    cancel_requested: bool
    attempts: int = Field(description="how many times a worker claimed the job (>1: resumed)")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    spec: dict[str, Any]
    result: dict[str, Any] | None


class JobsPublic(BaseModel):
    data: list[JobPublic]
    count: int


class EventPublic(_Out):
    id: int
    time: datetime
    level: str
    message: str
    data: dict[str, Any] | None


class EventsPublic(BaseModel):
    data: list[EventPublic]
    count: int
    next_after: int = Field(description="pass as `after` to get the events that follow")


# --- candidates -------------------------------------------------------------------------------


class _CandidateFacts(_Out):
    id: int
    job_id: int
    trial_number: int | None
    name: str
    kind: CandidateKind
    arch_hash: str
    stage: str
    pareto_rank: int | None
    feasible: bool
    metrics: dict[str, Any] = Field(description="everything measured (the registered metrics and more)")
    costs: dict[str, Any] = Field(description="everything costed")


def _metric_field(metric: Metric) -> Any:
    unit = f" ({metric.unit})" if metric.unit else ""
    return (int | float | None, Field(description=f"{metric.description}{unit}; {metric.direction.value}"))


# One field per registered metric (nasrec.metrics), so a new metric appears here by itself.
CandidatePublic = create_model(
    "CandidatePublic",
    __base__=_CandidateFacts,
    **{name: _metric_field(metric) for name, metric in METRICS.items()},
)


class CandidateDetail(CandidatePublic):
    architecture: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class CandidatesPublic(BaseModel):
    data: list[CandidatePublic]
    count: int


# --- health -----------------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: str
    version: str


# --- errors -----------------------------------------------------------------------------------


class Problem(BaseModel):
    """Every error response: ``detail`` says what is wrong (see ``server.core.errors``)."""

    detail: str


# --- exports ----------------------------------------------------------------------------------


class ExportPublic(_Out):
    """A candidate's built export bundle (a zip: TorchScript, ONNX, safetensors weights, feature map)."""

    id: int
    candidate_id: int | None
    size_bytes: int
    sha256: str | None
    created_at: datetime
    meta: dict[str, Any] = Field(description="weights: where the weights came from; files: the bundle's")


class ExportStatus(BaseModel):
    """Where a candidate's export stands. ``POST .../export`` answers 202 with ``building`` (poll
    ``status_url`` until the state changes) or 200 with ``ready``; ``failed`` ends the polling (POST
    again to retry)."""

    id: int = Field(description="the export record: one per build attempt")
    state: Literal["building", "ready", "failed"]
    error: str | None = Field(default=None, description="why the build failed (state failed)")
    started_at: datetime = Field(description="when the build (or the last attempt) began")
    status_url: str = Field(description="GET it for the current state")
    download_url: str = Field(description="the zip, once the state is ready (409 before)")
    export: ExportPublic | None = Field(default=None, description="the bundle (state ready)")

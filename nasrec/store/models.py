"""The tables of the nasrec store (SQLAlchemy 2 typed ORM).

    users ----< api_tokens
      |
      +----< datasets
      |
      +----< jobs ----< candidates ----< artifacts
               |  +---< events      (artifacts may also hang off the job alone: checkpoints)
               +------< artifacts
    workers                         (one row per ``nasrec worker`` process: heartbeats)

The Optuna studies of the search jobs live in the same database, in Optuna's own tables
(``studies``, ``trials``, ...); nasrec's table names do not collide with them, and nasrec's
Alembic history uses its own version table (``nasrec_alembic_version``).

Times are timezone-aware UTC, computed in Python (never by the database clock), so that lease
comparisons mean the same thing on SQLite and PostgreSQL.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Now, timezone-aware UTC: the one clock of the store."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store only takes timezone-aware times")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON everywhere, JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")
# 64-bit integer primary keys that still autoincrement on SQLite (which only does so for INTEGER).
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class JobState(enum.StrEnum):
    """Where a job is in its life. ``queued`` -> ``running`` -> one of the three final states."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


class CandidateKind(enum.StrEnum):
    """``found`` by the search, or a hand-designed ``baseline`` trained for comparison."""

    FOUND = "found"
    BASELINE = "baseline"


def _str_enum(cls: type[enum.StrEnum], name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")


class ApiToken(Base):
    """A bearer token. Only its SHA-256 is stored; ``prefix`` (the first characters) identifies it."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class Dataset(Base):
    """A dataset directory registered by a user; ``info`` is its ``data info`` summary."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    path: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32), default="registered")
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    """A search job: its spec, where it is (state, phase, progress) and who is running it (lease)."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state_created", "state", "created_at"),
        Index("ix_jobs_owner_created", "owner_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id", ondelete="SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    spec: Mapped[dict[str, Any]]
    state: Mapped[JobState] = mapped_column(_str_enum(JobState, "job_state"), default=JobState.QUEUED)
    phase: Mapped[str | None] = mapped_column(String(32))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    step: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]


# The columns the leaderboard sorts on (``nasrec.store.crud.SORT_COLUMNS`` but ``id``).
LEADERBOARD_KEYS = (
    "val_logloss",
    "val_auc",
    "test_logloss",
    "test_auc",
    "flops",
    "params",
    "latency_ms",
    "pim_latency_ns",
    "pim_energy_nj",
    "pim_area_mm2",
    "pim_gops_per_w",
    "pareto_rank",
    "trial_number",
)


class Candidate(Base):
    """An architecture evaluated by a job.

    ``metrics`` and ``costs`` hold everything; the columns after them copy the objectives that the
    leaderboard sorts and filters on (see ``nasrec.store.crud.SORT_COLUMNS``).
    """

    __tablename__ = "candidates"
    __table_args__ = (
        UniqueConstraint("job_id", "arch_hash"),
        # One narrow index per leaderboard sort key, in page order (key, then id), with ``feasible``
        # (the common filter): the leaderboard finds a page's ids from an index alone, never from the
        # wide rows (migrations 0002, 0003, 0004).
        *(Index(f"ix_candidates_job_{key}", "job_id", key, "id", "feasible") for key in LEADERBOARD_KEYS),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    trial_number: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(128), default="")
    kind: Mapped[CandidateKind] = mapped_column(
        _str_enum(CandidateKind, "candidate_kind"), default=CandidateKind.FOUND
    )
    architecture: Mapped[dict[str, Any]]
    arch_hash: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(32), default="proposed")
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    costs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    val_logloss: Mapped[float | None] = mapped_column(Float)
    val_auc: Mapped[float | None] = mapped_column(Float)
    test_logloss: Mapped[float | None] = mapped_column(Float)
    test_auc: Mapped[float | None] = mapped_column(Float)
    flops: Mapped[float | None] = mapped_column(Float)
    params: Mapped[int | None] = mapped_column(BigInteger)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    pim_latency_ns: Mapped[float | None] = mapped_column(Float)
    pim_energy_nj: Mapped[float | None] = mapped_column(Float)
    pim_area_mm2: Mapped[float | None] = mapped_column(Float)
    pim_gops_per_w: Mapped[float | None] = mapped_column(Float)
    pareto_rank: Mapped[int | None] = mapped_column(Integer)
    feasible: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Artifact(Base):
    """A file a job produced: a supernet checkpoint, a retrained subnet, an export bundle."""

    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("job_id", "kind", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int | None] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """One line of a job's log."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_job_id_id", "job_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    time: Mapped[datetime] = mapped_column(default=utcnow)
    level: Mapped[str] = mapped_column(String(16), default="info")
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class Worker(Base):
    """A ``nasrec worker`` process, as last seen by its heartbeat."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)

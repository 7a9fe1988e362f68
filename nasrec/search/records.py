"""What a job knows about each candidate, typed, and the one place that reads and writes it.

The Optuna study is a job's durable state, so the records live in it:

* a :class:`CandidateRecord` per trial, as the trial's user attributes (flat keys: ``arch_hash``,
  ``architecture``, ``status``, ``feasible``, ``violations``, one key per metric of
  :data:`nasrec.metrics.METRICS`, the evaluation's bookkeeping, ``error``, ``duplicate_of``). The
  provenance written when the trial is asked (the search's ``round``; the controller's ``controller``,
  ``role``, ``generation``, ...) sits beside them and belongs to whoever wrote it.
* a :class:`FinalRecord` per retrained model (found or baseline), as the study attribute
  ``nasrec_final:<name>``, and the winner's name as ``nasrec_winner``.

Nothing else reads or writes these keys, so their layout can change here alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from nasrec.metrics import METRICS

__all__ = [
    "EVALUATION_KEYS",
    "CandidateRecord",
    "FinalRecord",
    "Status",
    "arch_hash_of",
    "final_records",
    "metrics_of",
    "read_winner",
    "save_final",
    "save_winner",
    "trial_status",
]

FINAL_PREFIX = "nasrec_final:"
WINNER_ATTR = "nasrec_winner"
#: What an evaluation reports besides metrics: how long it took, on how many rows, in which actor.
EVALUATION_KEYS = ("eval_seconds", "eval_rows", "eval_worker", "worker_evaluations")


class Status(StrEnum):
    EVALUATED = "evaluated"
    DUPLICATE = "duplicate"  # the same canonical architecture as an earlier trial: its result reused
    INFEASIBLE = "infeasible"  # broke an analytic constraint: never evaluated
    FAILED = "failed"


def metrics_of(values: Mapping[str, Any]) -> dict[str, float]:
    """The registered metrics among ``values`` that are numbers (NaN and unknown keys dropped)."""
    out = {}
    for name in METRICS:
        value = values.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value):
            out[name] = float(value)
    return out


def arch_hash_of(trial: Any) -> str | None:
    """A trial's canonical architecture hash without parsing its record."""
    return trial.user_attrs.get("arch_hash")


def trial_status(trial: Any) -> Status | None:
    """A trial's status without reading the rest of its record (None: not finished)."""
    status = trial.user_attrs.get("status")
    return Status(status) if status else None


@dataclass(frozen=True)
class CandidateRecord:
    """One trial's candidate: its architecture, what is known about it, and how it was evaluated."""

    arch_hash: str
    architecture: dict[str, Any]  # canonical Architecture JSON object
    status: Status | None = None  # None while the trial is being evaluated
    metrics: dict[str, float] = field(default_factory=dict)
    feasible: bool = True
    violations: tuple[str, ...] = ()
    evaluation: dict[str, Any] = field(default_factory=dict)  # EVALUATION_KEYS
    error: str | None = None
    duplicate_of: int | None = None

    @classmethod
    def from_trial(cls, trial: Any) -> CandidateRecord | None:
        """The record stored on a (frozen or live) trial; None for a trial not screened yet."""
        attrs = trial.user_attrs
        if "arch_hash" not in attrs or "architecture" not in attrs:
            return None
        return cls(
            arch_hash=attrs["arch_hash"],
            architecture=json.loads(attrs["architecture"]),
            status=Status(attrs["status"]) if attrs.get("status") else None,
            metrics=metrics_of(attrs),
            feasible=bool(attrs.get("feasible", True)),
            violations=tuple(attrs.get("violations", ())),
            evaluation={k: attrs[k] for k in EVALUATION_KEYS if k in attrs},
            error=attrs.get("error"),
            duplicate_of=attrs.get("duplicate_of"),
        )

    def save(self, trial: Any) -> None:
        """Write the record onto a live trial (only what is set: a trial's attributes only grow)."""
        attrs: dict[str, Any] = {
            "arch_hash": self.arch_hash,
            "architecture": json.dumps(self.architecture, sort_keys=True),
            "feasible": self.feasible,
            "violations": list(self.violations),
            **self.metrics,
            **self.evaluation,
        }
        if self.status is not None:
            attrs["status"] = self.status.value
        for key in ("error", "duplicate_of"):
            if getattr(self, key) is not None:
                attrs[key] = getattr(self, key)
        stored = trial.user_attrs  # one read: a live trial's attributes come from the storage
        for key, value in attrs.items():
            if stored.get(key) != value:
                trial.set_user_attr(key, value)

    def evolve(self, **changes: Any) -> CandidateRecord:
        return replace(self, **changes)


@dataclass(frozen=True)
class FinalRecord:
    """A model trained from scratch in finalisation: a found top-k candidate or a baseline."""

    name: str
    kind: str  # "found" | "baseline"
    architecture: dict[str, Any]
    arch_hash: str
    metrics: dict[str, float]  # val_*, costs and, for the winner and the baselines, test_*
    feasible: bool
    violations: tuple[str, ...] = ()
    checkpoint: str | None = None
    diverged: bool = False
    val_rows: int | None = None
    test_rows: int | None = None
    train_loss: float | None = None
    trial: int | None = None  # found models: the search trial, its one-shot rank and scores
    oneshot_rank: int | None = None
    oneshot: dict[str, float] = field(default_factory=dict)
    description: str = ""  # baselines
    width_scale: float | None = None  # a baseline scaled down to fit the job's budget: its width factor

    @property
    def tested(self) -> bool:
        return "test_logloss" in self.metrics

    def entry_metrics(self) -> dict[str, float]:
        """Every number known for it, for its leaderboard row."""
        counts = {k: getattr(self, k) for k in ("val_rows", "test_rows", "train_loss", "width_scale")}
        return {
            **self.metrics,
            **{k: float(v) for k, v in counts.items() if v is not None},
            **{f"oneshot_{k}": v for k, v in self.oneshot.items()},
        }

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON (metrics at the top level, one-shot scores as ``oneshot_<metric>``)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out.pop("metrics"), out.pop("oneshot")
        out["violations"] = list(self.violations)
        out.update(self.metrics)
        out.update({f"oneshot_{k}": v for k, v in self.oneshot.items()})
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FinalRecord:
        names = {f.name for f in fields(cls)} - {"metrics", "oneshot", "violations"}
        return cls(
            **{k: data[k] for k in names if k in data},
            metrics=metrics_of(data),
            violations=tuple(data.get("violations", ())),
            oneshot=metrics_of(
                {k[len("oneshot_") :]: v for k, v in data.items() if k.startswith("oneshot_")}
            ),
        )


def final_records(study: Any) -> dict[str, FinalRecord]:
    """The study's finalisation records, by name."""
    return {
        key[len(FINAL_PREFIX) :]: FinalRecord.from_dict(value)
        for key, value in study.user_attrs.items()
        if key.startswith(FINAL_PREFIX)
    }


def save_final(study: Any, record: FinalRecord) -> None:
    study.set_user_attr(FINAL_PREFIX + record.name, record.to_dict())


def read_winner(study: Any) -> str | None:
    return study.user_attrs.get(WINNER_ATTR)


def save_winner(study: Any, name: str) -> None:
    study.set_user_attr(WINNER_ATTR, name)

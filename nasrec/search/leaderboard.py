"""The leaderboard: feasible candidates first, sorted by the primary objective, with Pareto ranks.

Two views of the same job:

* the *search* leaderboard (one-shot scores with inherited weights, one entry per distinct canonical
  architecture, read from the study's trials);
* the *final* leaderboard (top-k found architectures retrained from scratch, next to the baselines;
  the winner and the baselines carry a test score, nothing else does).

Pareto rank 0 is the non-dominated front, over the job's objectives (with their directions), among
feasible entries; infeasible entries get no rank.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from nasrec.metrics import METRICS
from nasrec.search.records import CandidateRecord, Status, trial_status

__all__ = ["Entry", "pareto_ranks", "rank_entries", "search_entries"]


@dataclass(frozen=True)
class Entry:
    """One row. ``metrics`` holds every number known for it (val_logloss, flops, latency_ms, ...)."""

    name: str
    kind: str  # "found" | "baseline"
    architecture: dict[str, Any]
    arch_hash: str
    feasible: bool
    metrics: dict[str, float] = field(default_factory=dict)
    trial: int | None = None
    winner: bool = False
    pareto_rank: int | None = None
    violations: tuple[str, ...] = ()

    def metric(self, name: str) -> float | None:
        value = self.metrics.get(name)
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON object: the fixed keys plus every metric at the top level."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "architecture": self.architecture,
            "arch_hash": self.arch_hash,
            "feasible": self.feasible,
            "winner": self.winner,
            "pareto_rank": self.pareto_rank,
            "trial": self.trial,
            "violations": list(self.violations),
        }
        for key in METRICS:
            out[key] = self.metric(key)
        for key, value in sorted(self.metrics.items()):
            if key not in out:
                out[key] = (
                    None if value is None or (isinstance(value, float) and math.isnan(value)) else value
                )
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entry:
        fixed = {
            "name",
            "kind",
            "architecture",
            "arch_hash",
            "feasible",
            "winner",
            "pareto_rank",
            "trial",
            "violations",
        }
        metrics = {
            k: v
            for k, v in data.items()
            if k not in fixed and isinstance(v, int | float) and not isinstance(v, bool)
        }
        return cls(
            name=data["name"],
            kind=data["kind"],
            architecture=data["architecture"],
            arch_hash=data["arch_hash"],
            feasible=bool(data["feasible"]),
            metrics=metrics,
            trial=data.get("trial"),
            winner=bool(data.get("winner", False)),
            pareto_rank=data.get("pareto_rank"),
            violations=tuple(data.get("violations", ())),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def pareto_ranks(points: Sequence[Sequence[float]], minimize: Sequence[bool]) -> list[int]:
    """Non-dominated sorting: rank 0 for the front, 1 for the front once rank 0 is removed, ...

    A point dominates another when it is no worse in every objective and better in one. Quadratic,
    which is fine for leaderboards of hundreds to a few thousand rows.
    """
    signed = [[v if mn else -v for v, mn in zip(p, minimize, strict=True)] for p in points]
    n = len(signed)
    dominated_by = [0] * n
    dominates: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            if _dominates(signed[i], signed[j]):
                dominates[i].append(j)
                dominated_by[j] += 1
            elif _dominates(signed[j], signed[i]):
                dominates[j].append(i)
                dominated_by[i] += 1
    ranks = [-1] * n
    front = [i for i in range(n) if dominated_by[i] == 0]
    rank = 0
    while front:
        nxt = []
        for i in front:
            ranks[i] = rank
            for j in dominates[i]:
                dominated_by[j] -= 1
                if dominated_by[j] == 0:
                    nxt.append(j)
        front = nxt
        rank += 1
    return ranks


def _dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def rank_entries(entries: Iterable[Entry], objectives: Sequence[tuple[str, bool]]) -> list[Entry]:
    """Sort: feasible first, then by the primary objective; attach Pareto ranks.

    ``objectives`` are ``(metric, minimize)`` pairs, the first one primary. Entries missing a metric
    sort last within their group and get no Pareto rank.
    """
    entries = list(entries)
    primary, primary_min = objectives[0]

    rankable = [e for e in entries if e.feasible and all(e.metric(m) is not None for m, _ in objectives)]
    ranks = pareto_ranks(
        [[e.metric(m) for m, _ in objectives] for e in rankable], [mn for _, mn in objectives]
    )
    by_id = {id(e): r for e, r in zip(rankable, ranks, strict=True)}
    ranked = [replace(e, pareto_rank=by_id.get(id(e))) for e in entries]

    def key(e: Entry) -> tuple[int, int, float, str]:
        value = e.metric(primary)
        missing = value is None
        signed = 0.0 if missing else (value if primary_min else -value)
        return (0 if e.feasible else 1, 1 if missing else 0, signed, e.name)

    return sorted(ranked, key=key)


def search_entries(trials: Iterable[Any]) -> list[Entry]:
    """One entry per distinct evaluated (or infeasible) architecture of a study's trials."""
    out: dict[str, Entry] = {}
    for t in sorted(trials, key=lambda t: t.number):
        if trial_status(t) not in (Status.EVALUATED, Status.INFEASIBLE):
            continue
        record = CandidateRecord.from_trial(t)
        if record is None or record.arch_hash in out:
            continue
        seconds = record.evaluation.get("eval_seconds")
        out[record.arch_hash] = Entry(
            name=f"trial-{t.number}",
            kind="found",
            architecture=record.architecture,
            arch_hash=record.arch_hash,
            feasible=record.feasible,
            metrics={**record.metrics, **({"eval_seconds": float(seconds)} if seconds is not None else {})},
            trial=t.number,
            violations=record.violations,
        )
    return list(out.values())

"""The one registry of what nasrec measures about a candidate: name, direction, unit and format.

Everything that names a metric reads it from here: the job spec's objectives and constraints, the
search and final leaderboards, the store's sortable columns, the API's candidate fields, the CLI
tables and the UI's columns and Pareto axes. Adding a metric is one entry here plus the code that
computes it (and, since the leaderboard sorts on indexed columns, a store column with its migration:
``tests/store`` checks that every metric has one).

``kind`` says when a value is known:

* ``analytic``: from the architecture alone (instant; constraints on it are enforced before any
  evaluation is spent);
* ``measured``: by the evaluation actor, on this machine (latency);
* ``evaluated``: on validation data (what the search selects on);
* ``tested``: on the test split, once, after selection. Never an objective or a constraint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = ["METRICS", "SEARCHABLE", "Direction", "Metric"]


class Direction(StrEnum):
    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"


@dataclass(frozen=True)
class Metric:
    name: str
    kind: Literal["analytic", "measured", "evaluated", "tested"]
    direction: Direction
    label: str  # a short column header
    description: str
    unit: str = ""
    #: ``"fixed"`` prints ``digits`` decimals; ``"si"`` scales by k/M/G with two decimals.
    style: Literal["fixed", "si"] = "fixed"
    digits: int = 4

    @property
    def minimize(self) -> bool:
        return self.direction == Direction.MINIMIZE

    @property
    def searchable(self) -> bool:
        """Whether a job may optimise or constrain it (test scores never are: no selection on test)."""
        return self.kind != "tested"

    def format(self, value: float | None) -> str:
        """The value as a table cell: empty when unknown."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        if self.style == "si":
            for suffix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
                if abs(value) >= scale:
                    return f"{value / scale:.2f}{suffix}"
            return f"{value:.0f}"
        return f"{value:.{self.digits}f}"

    def to_dict(self) -> dict[str, object]:
        """For the API and the UI."""
        return {
            "name": self.name,
            "kind": self.kind,
            "direction": self.direction.value,
            "label": self.label,
            "description": self.description,
            "unit": self.unit,
        }


_MIN, _MAX = Direction.MINIMIZE, Direction.MAXIMIZE

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("val_logloss", "evaluated", _MIN, "val logloss", "validation log loss"),
        Metric("val_auc", "evaluated", _MAX, "val AUC", "validation ROC AUC"),
        Metric("test_logloss", "tested", _MIN, "test logloss", "test log loss (winner and baselines)"),
        Metric("test_auc", "tested", _MAX, "test AUC", "test ROC AUC (winner and baselines)"),
        Metric("flops", "analytic", _MIN, "FLOPs", "multiply-adds per example", "multiply-adds", "si"),
        Metric("params", "analytic", _MIN, "params", "non-embedding parameters", "", "si"),
        Metric(
            "latency_ms",
            "measured",
            _MIN,
            "latency ms",
            "measured SubNet latency per batch",
            "ms",
            "fixed",
            2,
        ),
        # The analytic PIM cost model (nasrec.cost.pim, docs/pim.md) of one inference on the job's
        # hardware profile, at each block's precision and mapping (W8A8 on crossbars when not searched).
        Metric("pim_latency_ns", "analytic", _MIN, "PIM ns", "PIM latency per inference", "ns", "si"),
        Metric("pim_energy_nj", "analytic", _MIN, "PIM nJ", "PIM energy per inference", "nJ", "si"),
        Metric("pim_area_mm2", "analytic", _MIN, "PIM mm²", "PIM area of the design", "mm²", "fixed", 3),
        Metric("pim_gops_per_w", "analytic", _MAX, "PIM GOPS/W", "PIM power efficiency", "GOPS/W", "si"),
    )
}
#: The metrics a job may name as objectives or constraints.
SEARCHABLE: tuple[str, ...] = tuple(name for name, m in METRICS.items() if m.searchable)

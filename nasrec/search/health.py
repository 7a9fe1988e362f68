"""Is the search's evidence worth anything? Checks whose findings a job reports as warnings.

A supernet that memorises cannot rank, and scores that differ by less than their noise do not order
candidates; both happened without a word (issue 15: a 190-epoch supernet on 8k rows had train loss 0.015
and one-shot val 0.90, worse than a constant predictor's 0.48; top-5 one-shot scores 0.001 apart on
8,000 rows, whose standard error is 0.005). The findings:

* ``memorising``: at a supernet validation point the val log loss is above its lowest so far by more
  than two standard errors while the train loss fell since that lowest point: the id tables are
  fitting the train rows (memorisation shows on validation first).
* ``worse_than_constant`` / ``oneshot_worse_than_constant``: a log loss above a constant predictor's
  (the train positive rate's): the supernet's, in the second half of its run, or the best one-shot
  score of the search.
* ``indistinguishable``: the top candidates' one-shot scores spread by no more than one standard error
  of a log loss on the rows they were scored on: their order is noise.

The levels (constant predictor, standard error) come from ``Search.reference_levels``. A finding is a
warning, not a failure: the job goes on and says so in its events and on the command line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Finding", "ranking_findings", "supernet_findings"]

#: A val log loss this many standard errors above its best, with train loss falling, is memorisation.
MEMORISATION_SE = 2.0


@dataclass(frozen=True)
class Finding:
    """One warning: ``kind`` (stable, for events' data), a sentence naming the numbers, and the numbers."""

    kind: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


def supernet_findings(
    history: Sequence[dict[str, Any]], *, total: int, constant: float, se: float
) -> list[Finding]:
    """Findings on a supernet's validation points so far (``Validations.history``) in a ``total``-step run."""
    points = [p for p in history if p.get("val_logloss") is not None]
    if not points:
        return []
    found = []
    last = points[-1]
    best = min(points, key=lambda p: p["val_logloss"])
    rise = last["val_logloss"] - best["val_logloss"]
    if best is not last and rise > MEMORISATION_SE * se and last["train_loss"] < best["train_loss"]:
        found.append(
            Finding(
                "memorising",
                f"the supernet is memorising: at step {last['step']} its val log loss is "
                f"{last['val_logloss']:.4f}, up from {best['val_logloss']:.4f} at step {best['step']} "
                f"(+{rise:.4f}, standard error {se:.4f}) while its train loss fell from "
                f"{best['train_loss']:.4f} to {last['train_loss']:.4f}; give it fewer steps or epochs",
                {
                    "step": last["step"],
                    "best_step": best["step"],
                    "val_logloss": last["val_logloss"],
                    "best_val_logloss": best["val_logloss"],
                    "train_loss": last["train_loss"],
                    "se": se,
                },
            )  # fmt: skip
        )
    if last["step"] >= total / 2 and last["val_logloss"] > constant:
        found.append(
            Finding(
                "worse_than_constant",
                f"the supernet's val log loss {last['val_logloss']:.4f} at step {last['step']} of {total} "
                f"is worse than a constant predictor's {constant:.4f}: its one-shot scores cannot rank",
                {"step": last["step"], "val_logloss": last["val_logloss"], "constant": constant},
            )
        )
    return found


def ranking_findings(scores: Sequence[float], *, constant: float, se: float, rows: int) -> list[Finding]:
    """Findings on the search's top one-shot val log losses (best first), scored on ``rows`` val rows."""
    if not scores:
        return []
    found = []
    best = min(scores)
    if best > constant:
        found.append(
            Finding(
                "oneshot_worse_than_constant",
                f"the best one-shot val log loss {best:.4f} is worse than a constant predictor's "
                f"{constant:.4f}: the supernet's weights rank nothing",
                {"best": best, "constant": constant},
            )
        )
    spread = max(scores) - best
    if len(scores) >= 2 and spread <= se:
        found.append(
            Finding(
                "indistinguishable",
                f"the top {len(scores)} one-shot scores ({best:.4f} to {max(scores):.4f}) differ by "
                f"{spread:.4f}, within the standard error {se:.4f} of a log loss on {rows:,} val rows: "
                "the search cannot tell them apart (raise evaluation.val_rows or the supernet's budget)",
                {"scores": list(scores), "spread": spread, "se": se, "rows": rows},
            )
        )
    return found

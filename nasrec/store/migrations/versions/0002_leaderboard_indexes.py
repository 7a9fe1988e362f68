"""Leaderboard indexes: one narrow ``(job_id, <sort key>, feasible)`` index per sort key.

The leaderboard pages through a job's candidates by any objective; with these indexes the ids of a
page come from one index (feasible filter included), never from the wide rows (architecture,
metrics and costs JSON). They replace ``(job_id, val_logloss)`` and ``(job_id, pareto_rank)``.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = (
    "val_logloss",
    "val_auc",
    "test_logloss",
    "test_auc",
    "flops",
    "params",
    "latency_ms",
    "pim_latency",
    "pim_energy",
    "pim_area",
    "pareto_rank",
    "trial_number",
)


def upgrade() -> None:
    op.drop_index("ix_candidates_job_val_logloss", table_name="candidates")
    op.drop_index("ix_candidates_job_pareto", table_name="candidates")
    for key in KEYS:
        op.create_index(f"ix_candidates_job_{key}", "candidates", ["job_id", key, "feasible"])


def downgrade() -> None:
    for key in KEYS:
        op.drop_index(f"ix_candidates_job_{key}", table_name="candidates")
    op.create_index("ix_candidates_job_pareto", "candidates", ["job_id", "pareto_rank"])
    op.create_index("ix_candidates_job_val_logloss", "candidates", ["job_id", "val_logloss"])

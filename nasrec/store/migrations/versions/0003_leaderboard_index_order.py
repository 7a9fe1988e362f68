"""Leaderboard indexes in page order: ``(job_id, <sort key>, id, feasible)``.

A page is ordered by its sort key, then by id; with the id in the index, the index alone yields the
pages in that order, so a deep page is skipped through in the index (PostgreSQL: an index-only
scan) instead of reading the table row of every candidate before it and sorting ties.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
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
    for key in KEYS:
        op.drop_index(f"ix_candidates_job_{key}", table_name="candidates")
        op.create_index(f"ix_candidates_job_{key}", "candidates", ["job_id", key, "id", "feasible"])


def downgrade() -> None:
    for key in KEYS:
        op.drop_index(f"ix_candidates_job_{key}", table_name="candidates")
        op.create_index(f"ix_candidates_job_{key}", "candidates", ["job_id", key, "feasible"])

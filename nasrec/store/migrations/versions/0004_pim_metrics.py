"""PIM metrics: the placeholder columns get their units, and power efficiency joins them.

``pim_latency`` / ``pim_energy`` / ``pim_area`` (never written) become ``pim_latency_ns`` /
``pim_energy_nj`` / ``pim_area_mm2``, and ``pim_gops_per_w`` is added: the analytic PIM costs of
``nasrec.metrics``, each with its leaderboard index ``(job_id, key, id, feasible)``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RENAMED = {"pim_latency": "pim_latency_ns", "pim_energy": "pim_energy_nj", "pim_area": "pim_area_mm2"}
ADDED = "pim_gops_per_w"


def _index(key: str) -> None:
    op.create_index(f"ix_candidates_job_{key}", "candidates", ["job_id", key, "id", "feasible"])


def upgrade() -> None:
    for old in RENAMED:
        op.drop_index(f"ix_candidates_job_{old}", table_name="candidates")
    with op.batch_alter_table("candidates") as batch:  # SQLite: the table is copied
        for old, new in RENAMED.items():
            batch.alter_column(old, new_column_name=new)
        batch.add_column(sa.Column(ADDED, sa.Float(), nullable=True))
    for key in (*RENAMED.values(), ADDED):
        _index(key)


def downgrade() -> None:
    for key in (*RENAMED.values(), ADDED):
        op.drop_index(f"ix_candidates_job_{key}", table_name="candidates")
    with op.batch_alter_table("candidates") as batch:
        batch.drop_column(ADDED)
        for old, new in RENAMED.items():
            batch.alter_column(new, new_column_name=old)
    for old in RENAMED:
        _index(old)

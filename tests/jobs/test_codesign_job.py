"""A co-design job over REST (``tests.support.codesign``): PIM energy as an objective beside log
loss, a PIM latency budget, the co-design space.

Real Ray, a real SQLite store, the real app. The leaderboard shows every candidate's PIM costs (the
job's hardware profile), equal to the cost model's for its architecture; the Pareto endpoint returns
the non-dominated front over (val_logloss, pim_energy_nj)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nasrec.cost.pim import pim_cost
from nasrec.data import Dataset
from nasrec.space import Architecture, load_space
from nasrec.store import crud, open_store
from server.core.config import Settings
from server.main import create_app
from tests.support.codesign import SPEC, run_codesign_job, synthesize_dataset
from tests.support.service import Account

pytestmark = pytest.mark.slow


def _dominated(p: tuple[float, float], q: tuple[float, float]) -> bool:
    return q[0] <= p[0] and q[1] <= p[1] and q != p


def test_a_codesign_job_searches_and_ranks_on_pim_energy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NASREC_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 'nasrec.db'}"
    store = open_store(url)
    settings = Settings(database_url=url, data_root=tmp_path / "data", upload_dir=tmp_path / "uploads")
    (tmp_path / "data").mkdir()
    alice = Account.create(store, "alice")
    with TestClient(create_app(settings, store=store)) as client:
        synthesize_dataset(client, alice)
        bad = client.post(
            "/api/v1/jobs", headers=alice.headers, json={**SPEC, "hardware": {"profile": "/etc/x.yaml"}}
        )
        assert bad.status_code == 422 and "hardware.profile" in bad.text
        job_id = run_codesign_job(client, store, alice)["id"]
        board = client.get(f"/api/v1/jobs/{job_id}/leaderboard?limit=100", headers=alice.headers).json()[
            "data"
        ]
        front = client.get(f"/api/v1/jobs/{job_id}/pareto", headers=alice.headers).json()["data"]
        sorted_by_energy = client.get(
            f"/api/v1/jobs/{job_id}/leaderboard?sort=pim_energy_nj&limit=100", headers=alice.headers
        ).json()["data"]
        details = [client.get(f"/api/v1/candidates/{r['id']}", headers=alice.headers).json() for r in board]
    with store.session() as session:
        schema = Dataset.open(
            crud.get_dataset(session=session, owner_id=alice.user.id, name="tiny").path
        ).schema
    store.dispose()

    model = load_space(SPEC["space"]).model
    for row in details:  # what the leaderboard shows is the cost model's figure for that architecture
        cost = pim_cost(Architecture.from_dict(row["architecture"]), schema, model)
        assert row["pim_energy_nj"] == pytest.approx(cost.energy_nj)
        assert row["pim_latency_ns"] == pytest.approx(cost.latency_ns)
        assert row["pim_area_mm2"] > 0 and row["pim_gops_per_w"] > 0
        assert not row["feasible"] or row["pim_latency_ns"] <= 1e6
    energies = [r["pim_energy_nj"] for r in sorted_by_energy]
    assert energies == sorted(energies)
    points = {
        r["id"]: (r["val_logloss"], r["pim_energy_nj"])
        for r in board
        if r["feasible"] and r["kind"] == "found"
    }
    assert front and all(r["pareto_rank"] == 0 and r["feasible"] for r in front)
    ranked = {r["id"] for r in board if r["pareto_rank"] == 0}
    for r in front:
        assert r["id"] in ranked
        assert not any(_dominated(points[r["id"]], q) for q in points.values()), r

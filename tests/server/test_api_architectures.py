"""Architectures over HTTP: a job whose baselines (the architectures a spec brings) are invalid is
refused at submission with a 422 naming ``finalize.baselines``, the file, the block and the field;
a stored architecture that cannot be a network is a 422 of its diagram, not a 500 (the diagram knows
no space: what only a space refuses is drawn)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import nasrec.search.baselines as baselines_module
from nasrec.store import Store, crud
from tests.support.architectures import INVALID, KINDS, invalid
from tests.support.service import Account, add_dataset_row, seed_search_job

API = "/api/v1/jobs"


@pytest.mark.parametrize("kind", KINDS)
def test_a_job_with_an_invalid_baseline_is_refused(
    kind: str,
    client: TestClient,
    store: Store,
    alice: Account,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    baselines = tmp_path / "baselines"
    baselines.mkdir()
    case = invalid(kind)
    case.write(baselines / "mine.json")
    monkeypatch.setattr(baselines_module, "baselines_dir", lambda: baselines)
    add_dataset_row(store, alice, "d")
    response = client.post(
        API, headers=alice.headers, json={"dataset": "d", "finalize": {"baselines": ["mine"]}}
    )
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"finalize.baselines: baseline mine ({baselines / 'mine.json'}): "), detail
    assert case.expected in detail and "Traceback" not in response.text
    assert client.get(API, headers=alice.headers).json()["count"] == 0  # nothing was queued


def test_a_job_with_an_unknown_baseline_is_refused(client: TestClient, store: Store, alice: Account) -> None:
    add_dataset_row(store, alice, "d")
    response = client.post(
        API, headers=alice.headers, json={"dataset": "d", "finalize": {"baselines": ["nope"]}}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith(
        "finalize.baselines: unknown baseline(s) ['nope']; available: ["
    )
    shipped = client.post(
        API, headers=alice.headers, json={"dataset": "d", "finalize": {"baselines": ["dlrm"]}}
    )
    assert shipped.status_code == 201, shipped.text


@pytest.mark.parametrize("kind", [c.kind for c in INVALID if not (c.reference or c.needs_space)])
def test_an_invalid_stored_architecture_is_a_422_of_its_diagram(
    kind: str, client: TestClient, store: Store, alice: Account
) -> None:
    seeded = seed_search_job(store, alice, candidates=1)
    case = invalid(kind)
    with store.session(write=True) as session:
        broken = crud.upsert_candidate(
            session=session, job_id=seeded.job_id, arch_hash="broken", architecture=case.data()
        )
    response = client.get(f"/api/v1/candidates/{broken.id}/diagram.svg", headers=alice.headers)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail.startswith(f"candidate {broken.id}: not a valid architecture: ") and case.expected in detail

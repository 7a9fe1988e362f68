"""Jobs over HTTP: submit, list (own, by state, paged), show, cancel, events; leaderboard, Pareto
front and candidates; another user's job is a 404 everywhere."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from nasrec.store import JobState, Store, crud
from tests.support.service import Account, add_dataset_row

API = "/api/v1/jobs"


@pytest.fixture
def job(client: TestClient, store: Store, alice: Account) -> dict:
    add_dataset_row(store, alice, "d")
    response = client.post(API, headers=alice.headers, json={"dataset": "d", "name": "first"})
    assert response.status_code == 201, response.text
    return response.json()


def _candidates(store: Store, job_id: int) -> None:
    rows = [  # (hash, val_logloss, val_auc, flops, feasible, pareto_rank)
        ("a", 0.45, 0.78, 3e6, True, 0),
        ("b", 0.44, 0.79, 9e6, True, 0),
        ("c", 0.47, 0.75, 1e6, True, 0),
        ("d", 0.46, 0.76, 5e6, True, 1),
        ("e", 0.43, 0.80, 2e7, False, None),
    ]
    with store.session(write=True) as session:
        for i, (h, loss, auc, flops, feasible, rank) in enumerate(rows):
            crud.upsert_candidate(
                session=session,
                job_id=job_id,
                arch_hash=h,
                architecture={"blocks": [i]},
                trial_number=i,
                stage="evaluated",
                metrics={"val_logloss": loss, "val_auc": auc},
                costs={"flops": flops},
                feasible=feasible,
                pareto_rank=rank,
            )


def test_submit_and_show(client: TestClient, alice: Account, job: dict) -> None:
    assert job["state"] == "queued" and job["name"] == "first" and job["progress"] == 0.0
    assert job["spec"]["dataset"] == "d" and job["spec"]["space"] == "nasrec_small"  # defaults filled in
    assert job["spec"]["objectives"] == [{"name": "val_logloss", "direction": "minimize"}]
    assert not {"lease_owner", "lease_expires_at", "owner_id"} & set(job)
    shown = client.get(f"{API}/{job['id']}", headers=alice.headers).json()
    assert shown == job


def test_submit_with_an_inline_space(client: TestClient, store: Store, alice: Account) -> None:
    """A space defined in the request body is accepted; a path on the server never is."""
    from nasrec.jobs.demo import DEMO_SPACE

    add_dataset_row(store, alice, "d")
    response = client.post(API, headers=alice.headers, json={"dataset": "d", "space": DEMO_SPACE})
    assert response.status_code == 201, response.text
    assert response.json()["spec"]["space"]["name"] == "nasrec_demo"
    for space in ("/etc/passwd.yaml", "../search_spaces/nasrec_small.yaml"):
        refused = client.post(API, headers=alice.headers, json={"dataset": "d", "space": space})
        assert refused.status_code == 422 and "not found; available" in refused.json()["detail"]


def test_list_filters_and_pages(
    client: TestClient, store: Store, alice: Account, bob: Account, job: dict
) -> None:
    ids = [job["id"]] + [
        client.post(API, headers=alice.headers, json={"dataset": "d", "seed": s}).json()["id"]
        for s in range(1, 4)
    ]
    add_dataset_row(store, bob, "d")
    client.post(API, headers=bob.headers, json={"dataset": "d"})
    client.post(f"{API}/{ids[1]}/cancel", headers=alice.headers)

    listed = client.get(API, headers=alice.headers).json()
    assert listed["count"] == 4 and [j["id"] for j in listed["data"]] == ids[::-1]
    page = client.get(API, headers=alice.headers, params={"limit": 2, "offset": 2}).json()
    assert page["count"] == 4 and [j["id"] for j in page["data"]] == [ids[1], ids[0]]
    cancelled = client.get(API, headers=alice.headers, params={"state": "cancelled"}).json()
    assert cancelled["count"] == 1 and cancelled["data"][0]["id"] == ids[1]
    assert client.get(API, headers=bob.headers).json()["count"] == 1


def test_cancel(client: TestClient, store: Store, alice: Account, job: dict) -> None:
    cancelled = client.post(f"{API}/{job['id']}/cancel", headers=alice.headers)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["finished_at"] is not None

    running = client.post(API, headers=alice.headers, json={"dataset": "d", "seed": 7}).json()
    with store.session(write=True) as session:
        crud.claim_job(session=session, worker="w1")
    flagged = client.post(f"{API}/{running['id']}/cancel", headers=alice.headers).json()
    assert flagged["state"] == "running" and flagged["cancel_requested"] is True
    with store.session(write=True) as session:
        crud.finish_job(session=session, job_id=running["id"], worker="w1", state=JobState.SUCCEEDED)
    done = client.post(f"{API}/{running['id']}/cancel", headers=alice.headers)
    assert done.status_code == 409 and "already succeeded" in done.json()["detail"]


def test_events_poll_with_a_cursor(client: TestClient, store: Store, alice: Account, job: dict) -> None:
    first = client.get(f"{API}/{job['id']}/events", headers=alice.headers).json()
    assert [e["message"] for e in first["data"]] == ["job submitted"]
    with store.session(write=True) as session:
        for i in range(3):
            crud.record_event(session=session, job_id=job["id"], message=f"step {i}", data={"step": i})
    rest = client.get(
        f"{API}/{job['id']}/events", headers=alice.headers, params={"after": first["next_after"], "limit": 2}
    ).json()
    assert [e["message"] for e in rest["data"]] == ["step 0", "step 1"] and rest["data"][0]["data"] == {
        "step": 0
    }
    last = client.get(
        f"{API}/{job['id']}/events", headers=alice.headers, params={"after": rest["next_after"]}
    ).json()
    assert [e["message"] for e in last["data"]] == ["step 2"]
    empty = client.get(
        f"{API}/{job['id']}/events", headers=alice.headers, params={"after": last["next_after"]}
    )
    assert empty.json() == {"data": [], "count": 0, "next_after": last["next_after"]}


def _hashes(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [c["arch_hash"] for c in response.json()["data"]]


def test_leaderboard_sort_filter_paginate(
    client: TestClient, store: Store, alice: Account, job: dict
) -> None:
    _candidates(store, job["id"])
    board = f"{API}/{job['id']}/leaderboard"
    h = alice.headers
    assert _hashes(client.get(board, headers=h)) == ["e", "b", "a", "d", "c"]
    assert _hashes(client.get(board, headers=h, params={"feasible": True})) == ["b", "a", "d", "c"]
    assert _hashes(client.get(board, headers=h, params={"sort": "flops"})) == ["c", "a", "d", "b", "e"]
    assert _hashes(client.get(board, headers=h, params={"sort": "flops", "order": "desc"})) == [
        "e",
        "b",
        "d",
        "a",
        "c",
    ]
    assert _hashes(client.get(board, headers=h, params={"sort": "val_auc"})) == ["e", "b", "a", "d", "c"]
    page = client.get(board, headers=h, params={"feasible": True, "limit": 2, "offset": 2})
    assert _hashes(page) == ["d", "c"] and page.json()["count"] == 4
    row = client.get(board, headers=h).json()["data"][0]
    assert row["val_logloss"] == 0.43 and row["flops"] == 2e7 and row["feasible"] is False
    assert "architecture" not in row


def test_pareto_front_and_candidate(client: TestClient, store: Store, alice: Account, job: dict) -> None:
    _candidates(store, job["id"])
    front = client.get(f"{API}/{job['id']}/pareto", headers=alice.headers)
    assert _hashes(front) == ["b", "a", "c"]
    candidate_id = front.json()["data"][0]["id"]
    shown = client.get(f"/api/v1/candidates/{candidate_id}", headers=alice.headers)
    assert shown.status_code == 200
    assert shown.json()["architecture"] == {"blocks": [1]} and shown.json()["metrics"]["val_auc"] == 0.79


def test_other_users_get_404_for_everything_of_a_job(
    client: TestClient, store: Store, alice: Account, bob: Account, job: dict
) -> None:
    _candidates(store, job["id"])
    candidate_id = client.get(f"{API}/{job['id']}/pareto", headers=alice.headers).json()["data"][0]["id"]
    for method, path in [
        ("GET", f"{API}/{job['id']}"),
        ("POST", f"{API}/{job['id']}/cancel"),
        ("GET", f"{API}/{job['id']}/events"),
        ("GET", f"{API}/{job['id']}/leaderboard"),
        ("GET", f"{API}/{job['id']}/pareto"),
        ("GET", f"/api/v1/candidates/{candidate_id}"),
        ("GET", "/api/v1/datasets/d"),
    ]:
        response = client.request(method, path, headers=bob.headers)
        assert response.status_code == 404, f"{method} {path}: {response.status_code}"
        assert "not found" in response.json()["detail"]
    assert client.get(f"{API}/{job['id']}", headers=alice.headers).json()["state"] == "queued"  # untouched
    response = client.post(API, headers=bob.headers, json={"dataset": "d"})  # alice's dataset name
    assert response.status_code == 422 and "you have no dataset 'd'" in response.json()["detail"]

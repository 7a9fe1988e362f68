"""/healthz, /metrics, OpenAPI, and migrations at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nasrec.store import Store, crud, current_revision, head_revision, make_engine
from server.core.config import Settings
from server.main import create_app
from tests.support.service import Account, add_dataset_row
from tests.support.store import BACKENDS, throwaway_database


def test_metrics(client: TestClient, store: Store, alice: Account) -> None:
    add_dataset_row(store, alice, "d")
    for seed in range(3):
        client.post("/api/v1/jobs", headers=alice.headers, json={"dataset": "d", "seed": seed})
    with store.session(write=True) as session:
        job = crud.claim_job(session=session, worker="w1")
        crud.upsert_candidate(
            session=session,
            job_id=job.id,
            arch_hash="a",
            architecture={},
            stage="evaluated",
            metrics={"val_logloss": 0.5},
        )
        crud.upsert_candidate(
            session=session, job_id=job.id, arch_hash="b", architecture={}, stage="proposed"
        )
        crud.worker_heartbeat(session=session, worker_id='host:"1"', job_id=job.id)

    assert client.get("/metrics").status_code == 401
    response = client.get("/metrics", headers=alice.headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "text/plain; version=0.0.4"
    )
    lines = set(response.text.splitlines())
    assert {
        'nasrec_jobs{state="queued"} 2',
        'nasrec_jobs{state="running"} 1',
        'nasrec_jobs{state="failed"} 0',
        'nasrec_candidates{stage="evaluated"} 1',
        'nasrec_candidates{stage="proposed"} 1',
        "nasrec_candidates_evaluated 1",
        "nasrec_workers 1",
    } <= lines
    (age,) = [line for line in lines if line.startswith("nasrec_worker_heartbeat_age_seconds{")]
    assert age.startswith('nasrec_worker_heartbeat_age_seconds{worker="host:\\"1\\""} ')
    assert 0 <= float(age.rsplit(" ", 1)[1]) < 60


def test_openapi_documents_the_api(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {
        "/api/v1/jobs",
        "/api/v1/jobs/{job_id}/leaderboard",
        "/api/v1/datasets/upload",
        "/healthz",
    } <= set(schema["paths"])
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_app_migrates_an_empty_database_at_start_up(backend: str, tmp_path: Path) -> None:
    with throwaway_database(backend, tmp_path) as url:
        settings = Settings(database_url=url, data_root=tmp_path, upload_dir=tmp_path / "up")
        with TestClient(create_app(settings)) as client:
            assert client.get("/healthz").json()["status"] == "ok"
            engine = make_engine(url)
            assert current_revision(engine) == head_revision()
            engine.dispose()
        with TestClient(create_app(settings)) as client:  # second start-up: already at head
            assert client.get("/healthz").status_code == 200


def test_health_reports_a_dead_database(tmp_path: Path) -> None:
    dead = Store(make_engine("postgresql://postgres@127.0.0.1:1/nowhere", pool_pre_ping=False))
    settings = Settings(database_url="unused", data_root=tmp_path, upload_dir=tmp_path / "up")
    with TestClient(create_app(settings, store=dead)) as client:
        response = client.get("/healthz")
        assert response.status_code == 503 and response.json()["status"] == "unavailable"
        response = client.get("/api/v1/jobs", headers={"Authorization": "Bearer nasrec_x"})
        assert response.status_code == 503 and "database is unavailable" in response.json()["detail"]
    dead.dispose()

"""The UI's shells, its assets (all served by the app, none from a CDN), offline /docs, and the
candidate diagram endpoint."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nasrec.store import Store, crud
from server.core.config import Settings
from server.main import create_app
from tests.support.service import Account, seed_search_job

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.I)


@pytest.fixture
def client(store: Store, tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, data_root=tmp_path, upload_dir=tmp_path / "up")
    with TestClient(create_app(settings, store=store)) as test_client:
        yield test_client


@pytest.mark.parametrize("path", ["/ui/login", "/ui/jobs", "/ui/jobs/7", "/ui/candidates/9"])
def test_pages_are_shells_with_local_assets(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    html = response.text
    assert not EXTERNAL.search(html), "a page loads something from another host"
    for asset in re.findall(r"""(?:src|href)="(/static/[^"]+)\"""", html):
        assert client.get(asset).status_code == 200, asset
    assert 'data-api="/api/v1"' in html


def test_job_page_loads_plotly_from_the_package(client: TestClient) -> None:
    html = client.get("/ui/jobs/3").text
    assert 'data-job-id="3"' in html and "/static/vendor/plotly/plotly.min.js" in html
    plotly = client.get("/static/vendor/plotly/plotly.min.js")
    assert (
        plotly.status_code == 200 and len(plotly.content) > 1_000_000 and b"plotly" in plotly.content[:2000]
    )


def test_root_redirects_to_the_jobs_page(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/ui/jobs"
    assert client.get("/ui/jobs/not-a-number").status_code == 422


def test_swagger_ui_is_served_offline(client: TestClient) -> None:
    html = client.get("/docs").text
    assert "SwaggerUIBundle" in html and not EXTERNAL.search(html)
    assets = re.findall(r"""(?:src|href)="(/static/[^"]+)\"""", html)
    assert len(assets) == 3  # script, stylesheet, icon
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
    assert client.get("/redoc").status_code == 404  # redoc would need a CDN
    assert client.get("/openapi.json").json()["openapi"].startswith("3.1")  # Swagger UI 5 reads 3.1


def test_ui_pages_are_not_api_operations(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/ui", "/static", "/docs"))] and "/" not in paths


def test_candidate_diagram(client: TestClient, store: Store) -> None:
    alice, bob = Account.create(store, "alice"), Account.create(store, "bob")
    seeded = seed_search_job(store, alice, candidates=3)
    url = f"/api/v1/candidates/{seeded.candidate_ids[0]}/diagram.svg"
    response = client.get(url, headers=alice.headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    root = ET.fromstring(response.text)
    blocks = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("data-block") is not None]
    assert len(blocks) == 7  # nasrec_small has 7 blocks
    assert f"candidate {seeded.candidate_ids[0]}: trial-0" in response.text
    assert client.get(url, headers=bob.headers).status_code == 404
    assert client.get(url).status_code == 401


def test_diagram_of_an_undrawable_architecture_is_a_422(client: TestClient, store: Store) -> None:
    alice = Account.create(store, "alice")
    seeded = seed_search_job(store, alice, candidates=1)
    with store.session(write=True) as session:
        broken = crud.upsert_candidate(
            session=session, job_id=seeded.job_id, arch_hash="broken", architecture={"blocks": [0]}
        )
    response = client.get(f"/api/v1/candidates/{broken.id}/diagram.svg", headers=alice.headers)
    assert response.status_code == 422 and "not a valid architecture" in response.json()["detail"]


def test_export_needs_trained_weights_and_a_build_first(client: TestClient, store: Store) -> None:
    alice, bob = Account.create(store, "alice"), Account.create(store, "bob")
    seeded = seed_search_job(store, alice, candidates=1)
    base = f"/api/v1/candidates/{seeded.candidate_ids[0]}"
    zipped = client.get(f"{base}/export.zip", headers=alice.headers)
    assert zipped.status_code == 404 and "has not been exported yet" in zipped.json()["detail"]
    built = client.post(f"{base}/export", headers=alice.headers)
    assert built.status_code == 409 and "no trained weights yet" in built.json()["detail"]
    assert client.post(f"{base}/export", headers=bob.headers).status_code == 404

"""Bad input gets a 4xx JSON error that says what is wrong, never a 500."""

from __future__ import annotations

import itertools
import re

import pytest
from fastapi.testclient import TestClient

from nasrec.errors import ConfigError, ConflictError, DataError, NasrecError, NotFoundError
from nasrec.store import Store
from server.core.config import Settings
from server.core.errors import status_of
from server.main import create_app
from tests.support.service import Account, add_dataset_row

BAD_REQUESTS = [
    # (method, path, kwargs, status, fragment of the message)
    (
        "post",
        "/api/v1/jobs",
        {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
        422,
        "JSON",
    ),
    ("post", "/api/v1/jobs", {"json": [1, 2]}, 422, "body"),
    ("post", "/api/v1/jobs", {"json": {}}, 422, "body.dataset: Field required"),
    ("post", "/api/v1/jobs", {"json": {"dataset": "d", "colour": 1}}, 422, "body.colour: Extra inputs"),
    ("post", "/api/v1/jobs", {"json": {"dataset": "d", "seed": -1}}, 422, "body.seed"),
    ("post", "/api/v1/jobs", {"json": {"dataset": "d", "objectives": ["flops"]}}, 422, "primary"),
    ("post", "/api/v1/jobs", {"json": {"dataset": "nope"}}, 422, "you have no dataset 'nope'"),
    (
        "post",
        "/api/v1/jobs",
        {"json": {"dataset": "d", "space": "/etc/passwd"}},
        422,
        "search space '/etc/passwd'",
    ),
    ("get", "/api/v1/jobs?limit=0", {}, 422, "query.limit"),
    ("get", "/api/v1/jobs?limit=abc", {}, 422, "query.limit"),
    ("get", "/api/v1/jobs?offset=-1", {}, 422, "query.offset"),
    ("get", "/api/v1/jobs?state=sleeping", {}, 422, "query.state"),
    ("get", "/api/v1/jobs/abc", {}, 422, "path.job_id"),
    ("get", "/api/v1/jobs/99999", {}, 404, "job 99999 not found"),
    ("get", "/api/v1/jobs/99999/leaderboard", {}, 404, "job 99999 not found"),
    ("get", "/api/v1/candidates/99999", {}, 404, "candidate 99999 not found"),
    ("get", "/api/v1/datasets/nope", {}, 404, "dataset 'nope' not found"),
    ("get", "/api/v1/spaces/nope", {}, 404, "search space 'nope' not found"),
    ("get", "/api/v1/spaces/nasrec_small.yaml", {}, 404, "not found"),
    ("post", "/api/v1/datasets/synthesize", {"json": {"name": "../x"}}, 422, "body.name"),
    ("post", "/api/v1/datasets/synthesize", {"json": {"name": "x", "rows": 10**9}}, 422, "at most 5000"),
    ("post", "/api/v1/datasets/register", {"json": {"name": "x"}}, 422, "body.path: Field required"),
    ("post", "/api/v1/users/me/tokens", {"json": {"name": "x" * 65}}, 422, "body.name"),
    ("get", "/api/v1/jobs/99999999999999999999", {}, 422, "path.job_id: Input should be less than or equal"),
    ("get", "/api/v1/jobs?offset=99999999999999999999", {}, 422, "query.offset"),
    ("get", "/api/v1/jobs/1/events?after=-1", {}, 422, "query.after"),
    ("get", "/api/v1/candidates/0", {}, 422, "path.candidate_id"),
    (
        "post",
        "/api/v1/datasets/register",
        {"json": {"name": "x", "path": ["a", "b", "c", "d"]}},
        422,
        "body.path",
    ),
    ("get", "/api/v1/nothing-here", {}, 404, "Not Found"),
    ("delete", "/api/v1/jobs/1", {}, 405, "Method Not Allowed"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "fragment"), BAD_REQUESTS)
def test_bad_requests_get_a_helpful_4xx(
    client: TestClient, alice: Account, method: str, path: str, kwargs: dict, status: int, fragment: str
) -> None:
    kwargs = dict(kwargs)
    headers = {**alice.headers, **kwargs.pop("headers", {})}
    response = client.request(method.upper(), path, headers=headers, **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert fragment in response.json()["detail"], response.json()


JUNK_PATH_VALUES = ["0", "-1", "99999999999999999999", "abc", "%00", "x" * 300, "1.5", "%2e%2e"]
JUNK_BODIES: list[dict] = [
    {},
    {"json": {}},
    {"json": []},
    {"json": "junk"},
    {"json": {"name": ["a"], "path": 5, "rows": "many", "dataset": {"x": 1}, "seed": 1e300}},
    {"content": b"\xff\xfe not json", "headers": {"Content-Type": "application/json"}},
    {"json": {"name": "nul\u0000", "dataset": "\u0000", "path": "a\u0000b"}},
    {"json": {"dataset": "d", "search": {"controller": "\u0000"}, "seed": 2**70}},
]
JUNK_QUERY = {
    "limit": "-5",
    "offset": "x",
    "state": "??",
    "sort": "'; drop table jobs; --",
    "after": "1e9",
    "stage": "\u0000",
}


def test_no_input_makes_a_500(settings: Settings, store: Store, alice: Account) -> None:
    add_dataset_row(store, alice, "d")
    with TestClient(create_app(settings, store=store), raise_server_exceptions=False) as client:
        paths = client.get("/openapi.json").json()["paths"]
        checked = 0
        for template, operations in paths.items():
            for method in operations:
                for value in JUNK_PATH_VALUES if "{" in template else ["-"]:
                    path = re.sub(r"\{[^}]+\}", value, template)
                    bodies = JUNK_BODIES if method in ("post", "put", "patch") else [{}]
                    for body, params in itertools.product(bodies, (None, JUNK_QUERY)):
                        kwargs = dict(body)
                        headers = {**alice.headers, **kwargs.pop("headers", {})}
                        response = client.request(
                            method.upper(), path, headers=headers, params=params, **kwargs
                        )
                        assert response.status_code < 500, f"{method} {path} {body}: {response.text}"
                        if response.status_code >= 400:
                            assert "detail" in response.json(), response.text
                        checked += 1
        assert checked > 100
        assert client.get("/api/v1/jobs", headers=alice.headers).json()["count"] == 0  # nothing half-written


def test_leaderboard_sort_errors_list_the_valid_keys(
    client: TestClient, alice: Account, store: Store
) -> None:
    add_dataset_row(store, alice, "d")
    job = client.post("/api/v1/jobs", headers=alice.headers, json={"dataset": "d"}).json()
    response = client.get(f"/api/v1/jobs/{job['id']}/leaderboard?sort=colour", headers=alice.headers)
    assert response.status_code == 422
    assert "cannot sort by 'colour': use one of" in response.json()["detail"]
    assert "val_logloss" in response.json()["detail"]


def test_ray_address_is_the_operators_choice(client: TestClient, alice: Account) -> None:
    spec = {"dataset": "d", "resources": {"ray_address": "ray://evil:10001"}}
    response = client.post("/api/v1/jobs", headers=alice.headers, json=spec)
    assert response.status_code == 422 and "ray_address" in response.json()["detail"]


def test_body_size_limit(client: TestClient, alice: Account) -> None:
    big = {"dataset": "d", "name": "x", "padding": "y" * (70 * 1024)}
    response = client.post("/api/v1/jobs", headers=alice.headers, json=big)
    assert response.status_code == 413 and "limit of 65536 bytes" in response.json()["detail"]

    def chunked():  # no Content-Length: the bytes are counted as they arrive
        for _ in range(10):
            yield b"x" * (16 * 1024)

    response = client.post("/api/v1/jobs", headers=alice.headers, content=chunked())
    assert response.status_code == 413 and "limit" in response.json()["detail"]
    assert client.get("/api/v1/jobs", headers=alice.headers).json()["count"] == 0


def test_error_classes_map_to_statuses() -> None:
    assert status_of(NotFoundError("x")) == 404
    assert status_of(ConflictError("x")) == 409
    assert status_of(ConfigError("x")) == 422
    assert status_of(DataError("x")) == 422
    assert status_of(NasrecError("x")) == 400


def test_unexpected_errors_are_a_json_500_without_internals(settings: Settings, store: Store) -> None:
    app = create_app(settings, store=store)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}

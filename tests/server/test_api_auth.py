"""Bearer-token auth: every endpoint but /healthz needs a live token; --no-auth is one local user."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from nasrec.store import Store
from server.core.config import Settings, is_loopback
from server.main import create_app
from tests.support.service import Account


def test_health_needs_no_token(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["database"] == "ok"


def test_missing_wrong_and_malformed_tokens_get_401(client: TestClient, alice: Account) -> None:
    response = client.get("/api/v1/users/me")
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["detail"]
    assert response.headers["www-authenticate"] == "Bearer"
    for header in (f"Bearer {alice.token}x", "Bearer nasrec_nope", f"Basic {alice.token}", alice.token):
        response = client.get("/api/v1/users/me", headers={"Authorization": header})
        assert response.status_code == 401, header
    me = client.get("/api/v1/users/me", headers=alice.headers)
    assert me.status_code == 200 and me.json()["name"] == "alice"
    assert set(me.json()) == {"id", "name", "is_admin", "created_at"}


def test_every_endpoint_but_health_requires_a_token(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    checked = 0
    for template, operations in paths.items():
        if template == "/healthz":
            continue
        path = re.sub(r"\{[^}]+\}", "1", template)
        for method in operations:
            response = client.request(method.upper(), path, json={})
            assert response.status_code == 401, f"{method} {template} answered {response.status_code}"
            checked += 1
    assert checked >= 17


def test_tokens_through_the_api(client: TestClient, alice: Account) -> None:
    created = client.post("/api/v1/users/me/tokens", headers=alice.headers, json={"name": "ci"})
    assert created.status_code == 201
    secret = created.json()["token"]
    assert created.json()["prefix"] == secret[:12] and created.json()["name"] == "ci"
    new = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/users/me", headers=new).json()["name"] == "alice"
    listed = client.get("/api/v1/users/me/tokens", headers=new).json()
    assert listed["count"] == 2 and all("token" not in t and "token_hash" not in t for t in listed["data"])
    revoked = client.delete(f"/api/v1/users/me/tokens/{created.json()['id']}", headers=alice.headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert client.get("/api/v1/users/me", headers=new).status_code == 401


def test_users_cannot_revoke_each_others_tokens(client: TestClient, alice: Account, bob: Account) -> None:
    tokens = client.get("/api/v1/users/me/tokens", headers=alice.headers).json()["data"]
    response = client.delete(f"/api/v1/users/me/tokens/{tokens[0]['id']}", headers=bob.headers)
    assert response.status_code == 404
    assert client.get("/api/v1/users/me", headers=alice.headers).status_code == 200


def test_no_auth_mode_is_one_local_user(settings: Settings, store: Store) -> None:
    local = settings.model_copy(update={"no_auth": True})
    with TestClient(create_app(local, store=store)) as client:
        me = client.get("/api/v1/users/me")
        assert me.status_code == 200 and me.json()["name"] == "local" and me.json()["is_admin"]
        assert client.get("/api/v1/users/me", headers={"Authorization": "Bearer junk"}).status_code == 200
        assert client.get("/api/v1/jobs").json() == {"data": [], "count": 0}


def test_loopback_hosts() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.5", "example.com"))

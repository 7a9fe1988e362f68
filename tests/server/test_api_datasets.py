"""Datasets over HTTP: register under the data root (confined), upload (streamed, limited),
synthesize; list and show only your own."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nasrec.store import Store, crud, make_engine
from server.core.config import Settings
from server.core.datasets import _record
from tests.support.service import Account, criteo_lines

API = "/api/v1/datasets"


def _upload(client: TestClient, account: Account, body: bytes, **params: str):
    query = {"name": "up", "format": "criteo", "filename": "train.txt", **params}
    return client.post(f"{API}/upload", headers=account.headers, params=query, content=body)


def test_synthesize_list_show(client: TestClient, alice: Account, bob: Account) -> None:
    created = client.post(
        f"{API}/synthesize", headers=alice.headers, json={"name": "planted", "rows": 500, "seed": 1}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "planted" and body["source"] == "synthesized"
    info = body["info"]
    assert info["name"] == "planted" and sum(info["rows"].values()) == 500 and "path" not in info
    assert len(info["sparse_features"]) == 26 and len(info["dense_features"]) == 13

    again = client.post(f"{API}/synthesize", headers=alice.headers, json={"name": "planted", "rows": 500})
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    theirs = client.post(f"{API}/synthesize", headers=bob.headers, json={"name": "planted", "rows": 100})
    assert theirs.status_code == 201  # names are per user

    listed = client.get(API, headers=alice.headers).json()
    assert listed["count"] == 1 and listed["data"][0]["info"]["rows"] == info["rows"]
    assert client.get(f"{API}/planted", headers=alice.headers).json()["id"] == body["id"]
    assert client.get(f"{API}/planted", headers=bob.headers).json()["id"] != body["id"]


def test_names_up_to_the_rules_length(client: TestClient, alice: Account) -> None:
    """The API takes every name the library does (``nasrec.names``); a long one is cut on disk only."""
    from nasrec.names import DATASET_NAME_MAX_LENGTH

    longest = "n" * DATASET_NAME_MAX_LENGTH
    created = client.post(f"{API}/synthesize", headers=alice.headers, json={"name": longest, "rows": 100})
    assert created.status_code == 201, created.text
    assert created.json()["name"] == longest
    assert client.get(f"{API}/{longest}", headers=alice.headers).json()["id"] == created.json()["id"]
    too_long = longest + "n"
    response = client.post(f"{API}/synthesize", headers=alice.headers, json={"name": too_long, "rows": 100})
    assert response.status_code == 422 and "body.name" in response.text
    assert client.get(f"{API}/{too_long}", headers=alice.headers).status_code == 422


def test_register_raw_file_and_dataset_directory(
    client: TestClient, settings: Settings, alice: Account, bob: Account
) -> None:
    raw = settings.data_root / "criteo" / "train.txt"
    raw.parent.mkdir()
    raw.write_text(criteo_lines(200))
    response = client.post(
        f"{API}/register",
        headers=alice.headers,
        json={"name": "crit", "path": "criteo/train.txt", "ingest": {"format": "criteo"}},
    )
    assert response.status_code == 201, response.text
    info = response.json()["info"]
    assert response.json()["source"] == "ingested" and sum(info["rows"].values()) == 200
    assert info["source"] == ["criteo/train.txt"]  # relative to the data root: no server paths

    from nasrec.data.synth import synthesize

    ready = synthesize("ready", rows=100, seed=0).path
    ready.rename(settings.data_root / "ready")
    response = client.post(f"{API}/register", headers=bob.headers, json={"name": "mine", "path": "ready"})
    assert response.status_code == 201, response.text
    assert response.json()["source"] == "registered"

    response = client.post(f"{API}/register", headers=bob.headers, json={"name": "raw", "path": "criteo"})
    assert response.status_code == 422 and "not a nasrec dataset" in response.json()["detail"]
    response = client.post(
        f"{API}/register",
        headers=bob.headers,
        json={"name": "raw", "path": "criteo/train.txt", "ingest": {"format": "nope"}},
    )
    assert response.status_code == 422 and "unknown format 'nope'" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../outside.txt", "contains '..'"),
        ("criteo/../../outside.txt", "contains '..'"),
        ("/etc/passwd", "is outside the data root"),
        ("link-out/outside.txt", "leads (through a symlink) outside the data root"),
        ("escape.txt", "leads (through a symlink) outside the data root"),
        ("missing.txt", "does not exist under the data root"),
        ("", "non-empty"),
        ("a\x00b", "NUL"),
    ],
)
def test_register_is_confined_to_the_data_root(
    client: TestClient, settings: Settings, alice: Account, path: str, message: str
) -> None:
    outside = settings.data_root.parent / "outside"
    outside.mkdir()
    (outside / "outside.txt").write_text(criteo_lines(20))
    os.symlink(outside, settings.data_root / "link-out")
    os.symlink(outside / "outside.txt", settings.data_root / "escape.txt")
    response = client.post(
        f"{API}/register",
        headers=alice.headers,
        json={"name": "x", "path": path, "ingest": {"format": "criteo"}},
    )
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert str(settings.data_root) not in response.json()["detail"]
    assert client.get(API, headers=alice.headers).json()["count"] == 0


def test_symlinks_inside_the_root_are_fine(client: TestClient, settings: Settings, alice: Account) -> None:
    (settings.data_root / "real.txt").write_text(criteo_lines(60))
    os.symlink(settings.data_root / "real.txt", settings.data_root / "alias.txt")
    response = client.post(
        f"{API}/register",
        headers=alice.headers,
        json={"name": "x", "path": "alias.txt", "ingest": {"format": "criteo"}},
    )
    assert response.status_code == 201, response.text


def test_upload_is_ingested_and_the_staging_file_removed(
    client: TestClient, settings: Settings, alice: Account
) -> None:
    response = _upload(client, alice, criteo_lines(150).encode())
    assert response.status_code == 201, response.text
    assert response.json()["source"] == "uploaded" and sum(response.json()["info"]["rows"].values()) == 150
    assert not any(p.is_file() for p in settings.upload_dir.rglob("*"))
    again = _upload(client, alice, criteo_lines(150).encode())
    assert again.status_code == 409


def test_upload_csv_with_column_options(client: TestClient, alice: Account) -> None:
    rows = ["click;count;city"] + [f"{i % 2};{i};c{i % 3}" for i in range(60)]
    body = ("\n".join(rows) + "\n").encode()
    missing = _upload(client, alice, body, format="csv", filename="t.csv")
    assert missing.status_code == 422 and "column names" in missing.json()["detail"]
    params = {"format": "csv", "label": "click", "dense": "count", "sparse": "city", "delimiter": ";"}
    response = _upload(client, alice, body, **params)
    assert response.status_code == 201, response.text
    info = response.json()["info"]
    assert info["label"] == "click" and info["dense_features"] == ["count"]
    assert [f["name"] for f in info["sparse_features"]] == ["city"]


def test_ingest_options_take_dense_transforms(client: TestClient, settings: Settings, alice: Account) -> None:
    """``dense_transform`` items as on the command line (COL=SPEC), on upload (query) and register (body)."""
    rows = ["click,year,count,city"] + [f"{i % 2},{1922 + i % 77},{i * i % 97},c{i % 3}" for i in range(90)]
    body = ("\n".join(rows) + "\n").encode()
    columns = {"format": "csv", "label": "click", "dense": ["year", "count"], "sparse": "city"}
    bad = _upload(client, alice, body, **columns, dense_transform="year=cubic")
    assert bad.status_code == 422
    assert "dense transform for column 'year': unknown transform 'cubic'" in bad.json()["detail"]
    unknown = _upload(client, alice, body, **columns, dense_transform="yaer=log1p")
    assert (
        unknown.status_code == 422
        and "no such dense column (did you mean 'year'?)" in unknown.json()["detail"]
    )
    response = _upload(client, alice, body, **columns, dense_transform=["count=buckets:4"])
    assert response.status_code == 201, response.text
    info = response.json()["info"]
    assert [(t["column"], t["transform"], t["chosen"]) for t in info["dense_transforms"]] == [
        ("year", "standardize", "auto"), ("count", "buckets", "option"),
    ]  # fmt: skip
    assert info["dense_features"] == ["year"] and [f["name"] for f in info["sparse_features"]] == [
        "city",
        "count",
    ]

    (settings.data_root / "films.csv").write_bytes(body)
    registered = client.post(
        f"{API}/register",
        headers=alice.headers,
        json={
            "name": "films",
            "path": "films.csv",
            "ingest": {**columns, "sparse": ["city"], "dense_transform": ["log1p"]},
        },
    )
    assert registered.status_code == 201, registered.text
    assert {t["transform"] for t in registered.json()["info"]["dense_transforms"]} == {"log1p"}


def test_upload_size_limit(client: TestClient, settings: Settings, alice: Account) -> None:
    too_big = criteo_lines(3000).encode()
    assert len(too_big) > settings.max_upload_bytes
    response = _upload(client, alice, too_big)
    assert response.status_code == 413 and "limit of 262144 bytes" in response.json()["detail"]

    def chunks():  # streamed without Content-Length: cut off once past the limit
        for _ in range(40):
            yield b"x" * 8192

    response = _upload(client, alice, chunks())
    assert response.status_code == 413
    assert not any(p.is_file() for p in settings.upload_dir.rglob("*")), "partial upload left behind"
    assert client.get(API, headers=alice.headers).json()["count"] == 0


def test_bad_uploads(client: TestClient, settings: Settings, alice: Account, nasrec_home: Path) -> None:
    response = _upload(client, alice, b"")
    assert response.status_code == 422 and "empty" in response.json()["detail"]
    response = _upload(client, alice, b"this is not criteo\n" * 10)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert "train.txt" in detail and str(settings.upload_dir) not in detail, detail
    assert _no_stray_dataset_dirs(nasrec_home) == []
    assert not any(p.is_file() for p in settings.upload_dir.rglob("*"))
    response = _upload(client, alice, b"1\t2\n", name="../evil")
    assert response.status_code == 422 and "query.name" in response.json()["detail"]
    response = _upload(client, alice, b"1\t2\n", format="")
    assert response.status_code == 422
    assert client.get(API, headers=alice.headers).json()["count"] == 0


def test_upload_file_names_are_sanitised(client: TestClient, settings: Settings, alice: Account) -> None:
    response = _upload(client, alice, criteo_lines(60).encode(), filename="../../etc/passwd")
    assert response.status_code == 201, response.text
    assert not (settings.upload_dir.parent / "etc").exists()


def _no_stray_dataset_dirs(home: Path) -> list[str]:
    return [p.name for p in (home / "datasets").iterdir() if p.name.startswith(".tmp")]


def _other_writer(database_url: str) -> Store:
    """A second connection that gives up after 1 s if another holds the write lock."""
    return Store(make_engine(database_url, busy_timeout=1.0))


def test_uploads_stream_without_holding_the_database(
    client: TestClient, database_url: str, alice: Account
) -> None:
    other = _other_writer(database_url)
    body = criteo_lines(100).encode()

    def chunks():
        yield body[:1000]
        with other.session(write=True) as session:  # a worker heartbeat, mid-upload
            crud.create_user(session=session, name="writer-during-upload")
        yield body[1000:]

    response = _upload(client, alice, chunks())
    other.dispose()
    assert response.status_code == 201, response.text


def test_dataset_files_are_built_without_holding_the_database(
    store: Store, settings: Settings, database_url: str, alice: Account
) -> None:
    other = _other_writer(database_url)

    def build(disk_name: str):
        with other.session(write=True) as session:  # a worker heartbeat, mid-ingest
            crud.create_user(session=session, name="writer-during-build")
        from nasrec.data import synthesize

        return synthesize(disk_name, rows=100, seed=0)

    with store.session(write=True) as session:
        row = _record(session, settings, alice.user, "built", "synthesized", build)
    other.dispose()
    assert row.name == "built" and row.info["name"] == "built"

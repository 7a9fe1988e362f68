"""Schemathesis over the app's own OpenAPI schema: every operation, at least 100 generated cases
each (valid and invalid inputs), sent to the ASGI app over a real store (SQLite and PostgreSQL)
with a real token. No case may get a 5xx, and every response must match its documented schema.

Module-level schema, not ``schemathesis.pytest.from_fixture``: the latter does not run under
pytest 9 (schemathesis 4.32 reads ``request.node._nodeid``, which pytest 9 removed).

The store holds a job with candidates (real architectures), so ids that exist are hit as well as
ids that do not. A case that revokes the token in use gets a fresh token for the next case.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance

from nasrec.store import Store, crud
from server.core.config import Settings
from server.main import create_app
from tests.support.service import Account, seed_search_job
from tests.support.store import database_url, store  # noqa: F401

MAX_EXAMPLES = 100
CONFIG = {"generation": {"mode": "all", "max-examples": MAX_EXAMPLES}, "seed": 2024}


class TokenHolder:
    """The bearer token the cases use, renewed when a case revokes it."""

    def __init__(self, store: Store, account: Account) -> None:  # noqa: F811
        self.store, self.user_id, self.token = store, account.user.id, account.token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def renew_if_revoked(self) -> None:
        with self.store.session() as session:
            if crud.user_for_token(session=session, token=self.token) is not None:
                return
        with self.store.session(write=True) as session:
            _, self.token = crud.create_token(session=session, user_id=self.user_id)


@pytest.fixture
def app_and_token(store: Store, tmp_path: Path, database_url: str) -> Iterator[tuple[Any, TokenHolder]]:  # noqa: F811
    (tmp_path / "data").mkdir()
    settings_ = Settings(
        database_url=database_url,
        data_root=tmp_path / "data",
        upload_dir=tmp_path / "uploads",
        max_body_bytes=64 * 1024,
        max_upload_bytes=64 * 1024,
        max_synth_rows=200,
    )
    alice = Account.create(store, "alice")
    seed_search_job(store, alice, candidates=6)
    yield create_app(settings_, store=store), TokenHolder(store, alice)


# The schema document does not depend on the store: load it once, from an app that is never
# started; each test sends its cases to its own app (``app=``) over the backend's store.
schema = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="sqlite://")).openapi(), config=SchemathesisConfig.from_dict(CONFIG)
)


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms(case: Any, app_and_token: tuple[Any, TokenHolder]) -> None:
    app, holder = app_and_token
    case.call_and_validate(
        app=app, headers=holder.headers, checks=[not_a_server_error, response_schema_conformance]
    )
    if case.method.upper() == "DELETE":
        holder.renew_if_revoked()

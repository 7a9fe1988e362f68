"""Path and query parameters shared by the routes, bounded so that no value can overflow a
database integer (an out-of-range id is a 422 that says so, never a 500)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from nasrec.names import DATASET_NAME_PATTERN

MAX_ID = 2**31 - 1  # INTEGER primary keys
MAX_EVENT_ID = 2**63 - 1  # BIGINT

JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="a job id")]
CandidateId = Annotated[int, Path(ge=1, le=MAX_ID, description="a candidate id")]
TokenId = Annotated[int, Path(ge=1, le=MAX_ID, description="a token id")]
Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="rows to skip")]
DatasetName = Annotated[str, Path(pattern=DATASET_NAME_PATTERN, description="one of your dataset names")]
Stage = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,32}$", description="only this stage")]
After = Annotated[int, Query(ge=0, le=MAX_EVENT_ID, description="only events with a larger id")]

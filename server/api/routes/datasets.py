"""Datasets: list, show, register a path under the data root, upload a file, synthesize."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from nasrec.store import crud
from server.api.deps import CurrentUser, SessionDep, SettingsDep, run_long
from server.api.params import DatasetName, Limit, Offset
from server.core import datasets as files
from server.models import (
    DatasetPublic,
    DatasetRegister,
    DatasetsPublic,
    DatasetSynthesize,
    DatasetUpload,
    IngestOptions,
)

router = APIRouter(prefix="/datasets", tags=["datasets"])


@router.get("", response_model=DatasetsPublic)
def list_datasets(
    session: SessionDep, current_user: CurrentUser, limit: Limit = 100, offset: Offset = 0
) -> DatasetsPublic:
    rows, count = crud.list_datasets(session=session, owner_id=current_user.id, limit=limit, offset=offset)
    return DatasetsPublic(data=[DatasetPublic.model_validate(d) for d in rows], count=count)


@router.get("/{name}", response_model=DatasetPublic)
def show_dataset(name: DatasetName, session: SessionDep, current_user: CurrentUser) -> object:
    return crud.get_dataset(session=session, owner_id=current_user.id, name=name)


@router.post("/register", response_model=DatasetPublic, status_code=201)
async def register_dataset(
    request: Request,
    body: DatasetRegister,
    session: SessionDep,
    settings: SettingsDep,
    current_user: CurrentUser,
) -> object:
    """Register a path under the server's data root: a nasrec dataset directory as it is, or raw
    file(s) ingested as ``ingest`` says."""
    return await run_long(
        request,
        files.register_dataset,
        session=session,
        settings=settings,
        owner=current_user,
        name=body.name,
        paths=body.paths,
        options=body.ingest,
    )


@router.post(
    "/upload",
    response_model=DatasetPublic,
    status_code=201,
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {}}}}
    },
)
async def upload_dataset(
    request: Request,
    params: Annotated[DatasetUpload, Query()],
    session: SessionDep,
    settings: SettingsDep,
    current_user: CurrentUser,
) -> object:
    """Upload one raw file as the request body (streamed to disk, size-limited) and ingest it::

        curl --data-binary @train.txt -H 'Authorization: Bearer TOKEN' \\
            'http://HOST/api/v1/datasets/upload?name=criteo&format=criteo'
    """
    await run_in_threadpool(
        crud.ensure_dataset_name_free, session=session, owner_id=current_user.id, name=params.name
    )
    await run_in_threadpool(session.commit)  # hold no transaction while the body streams in
    path = await run_in_threadpool(files.upload_path, settings, current_user, params.filename)
    await files.save_stream(request.stream(), path)
    return await run_long(
        request,
        files.ingest_upload,
        session=session,
        settings=settings,
        owner=current_user,
        name=params.name,
        path=path,
        options=IngestOptions.model_validate(params.model_dump(exclude={"name", "filename"})),
    )


@router.post("/synthesize", response_model=DatasetPublic, status_code=201)
async def synthesize_dataset(
    request: Request,
    body: DatasetSynthesize,
    session: SessionDep,
    settings: SettingsDep,
    current_user: CurrentUser,
) -> object:
    """A planted synthetic dataset (Criteo-shaped, with a known teacher)."""
    return await run_long(
        request,
        files.synthesize_dataset,
        session=session,
        settings=settings,
        owner=current_user,
        name=body.name,
        rows=body.rows,
        seed=body.seed,
    )

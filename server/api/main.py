"""The ``/api/v1`` router: only ``include_router`` calls."""

from __future__ import annotations

from fastapi import APIRouter

from server.api.routes import candidates, datasets, jobs, spaces, users
from server.core.config import API_PREFIX

api_router = APIRouter(prefix=API_PREFIX)
api_router.include_router(users.router)
api_router.include_router(datasets.router)
api_router.include_router(spaces.router)
api_router.include_router(jobs.router)
api_router.include_router(candidates.router)
api_router.include_router(candidates.job_router)

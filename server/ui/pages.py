"""The UI's pages: server-rendered shells; the data comes from the JSON API, fetched by
``server/static/js/<page>.js``. The pages read nothing from the store (a bad id is the API's 404,
shown on the page)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from nasrec import __version__
from nasrec.metrics import METRICS
from server.api.params import CandidateId, JobId
from server.core.config import API_PREFIX

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")
# Pages load only this app's scripts; plotly and the diagram need inline styles, and blob: images.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
# The leaderboard's columns and the Pareto plot's axes (the costs: known without validation data).
METRICS_JSON = json.dumps([m.to_dict() for m in METRICS.values()])
COSTS = tuple(m for m in METRICS.values() if m.kind in ("analytic", "measured"))

router = APIRouter(include_in_schema=False)


def _page(request: Request, template: str, **context: Any) -> Response:
    settings = request.app.state.settings
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "api": API_PREFIX,
            "no_auth": settings.no_auth,
            "version": __version__,
            "metrics_json": METRICS_JSON,
            **context,
        },
    )
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/ui/jobs", status_code=307)


@router.get("/ui")
def ui_root() -> RedirectResponse:
    return RedirectResponse("/ui/jobs", status_code=307)


@router.get("/ui/login")
def login_page(request: Request) -> Response:
    return _page(request, "login.html", page="login")


@router.get("/ui/jobs")
def jobs_page(request: Request) -> Response:
    return _page(request, "jobs.html", page="jobs")


@router.get("/ui/jobs/{job_id}")
def job_page(request: Request, job_id: JobId) -> Response:
    return _page(request, "job.html", page="job", job_id=job_id, metrics=METRICS.values(), costs=COSTS)


@router.get("/ui/candidates/{candidate_id}")
def candidate_page(request: Request, candidate_id: CandidateId) -> Response:
    return _page(request, "candidate.html", page="candidate", candidate_id=candidate_id)

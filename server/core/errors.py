"""The one place where errors become HTTP responses: ``{"detail": "<what is wrong>"}``.

NotFoundError     404   (also: someone else's dataset / job / candidate)
ConflictError     409
ConfigError       422   invalid spec, name, value
DataError         422   unreadable data, bad path
NasrecError       400   anything else nasrec raised on purpose
validation        422   with ``errors``: pydantic's list, for programs
database down     503
anything else     500   logged with its traceback; the client gets no internals
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError as DBDataError
from sqlalchemy.exc import OperationalError
from starlette.responses import JSONResponse

from nasrec.errors import ConfigError, ConflictError, DataError, NasrecError, NotFoundError

log = logging.getLogger("nasrec.server")

STATUS: tuple[tuple[type[NasrecError], int], ...] = (
    (NotFoundError, 404),
    (ConflictError, 409),
    (ConfigError, 422),
    (DataError, 422),
    (NasrecError, 400),
)


def status_of(exc: NasrecError) -> int:
    return next(code for cls, code in STATUS if isinstance(exc, cls))


def _loc(loc: tuple | list) -> str:
    parts = [str(p) for p in loc]
    return ".".join(parts) if parts else "request"


def _msg(error: dict) -> str:
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


def readable(exc: RequestValidationError) -> str:
    """``body.rows: Input should be greater than or equal to 10; query.limit: ...``"""
    return "; ".join(f"{_loc(e.get('loc', ()))}: {_msg(e)}" for e in exc.errors())


async def _nasrec_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NasrecError)
    return JSONResponse({"detail": str(exc)}, status_code=status_of(exc))


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{k: v for k, v in e.items() if k in ("type", "loc", "msg")} for e in exc.errors()]
    return JSONResponse({"detail": readable(exc), "errors": jsonable_encoder(errors)}, status_code=422)


# What ``_validation_error`` sends, for the OpenAPI schema (FastAPI documents its own default body,
# ``detail`` as a list, which is not what this app answers).
VALIDATION_ERROR_SCHEMA = {
    "title": "ValidationError",
    "type": "object",
    "properties": {
        "type": {"type": "string", "title": "Type"},
        "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"type": "string", "title": "Message"},
    },
    "required": ["type", "loc", "msg"],
}
HTTP_VALIDATION_ERROR_SCHEMA = {
    "title": "HTTPValidationError",
    "type": "object",
    "properties": {
        "detail": {"type": "string", "title": "Detail", "description": "every problem, readable"},
        "errors": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/ValidationError"},
            "description": "the same problems, for programs (absent when nasrec rejected a value)",
        },
    },
    "required": ["detail"],
}


def document_error_bodies(app: FastAPI) -> None:
    """Make the OpenAPI schema describe the 422 body this app really sends."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schemas = schema.get("components", {}).get("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = HTTP_VALIDATION_ERROR_SCHEMA
                schemas["ValidationError"] = VALIDATION_ERROR_SCHEMA
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _unstorable_value(request: Request, exc: Exception) -> JSONResponse:
    log.info("unstorable value on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "a value in the request cannot be stored (a NUL character, or a number out of range)"},
        status_code=422,
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database error on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": "the database is unavailable or busy; retry shortly"}, status_code=503)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(NasrecError, _nasrec_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DBDataError, _unstorable_value)
    app.add_exception_handler(OverflowError, _unstorable_value)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
    document_error_bodies(app)

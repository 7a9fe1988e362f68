"""Request body limits: a pure ASGI middleware (nothing is buffered), 413 when a body is too big.

The declared ``Content-Length`` is checked before the app runs; the bytes actually received are
counted too (chunked bodies, lying clients), and the read that crosses the limit raises
``PayloadTooLarge``, which FastAPI answers like any HTTPException.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class PayloadTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than the limit of {limit} bytes")


class BodySizeLimit:
    """Limit request bodies to ``default`` bytes, or ``per_path[path]`` for the paths listed."""

    def __init__(self, app: ASGIApp, *, default: int, per_path: dict[str, int] | None = None) -> None:
        self.app = app
        self.default = default
        self.per_path = per_path or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.per_path.get(scope["path"].rstrip("/"), self.default)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await JSONResponse({"detail": "invalid Content-Length header"}, 400)(scope, receive, send)
                return
            if int(declared) > limit:
                await JSONResponse({"detail": PayloadTooLarge(limit).detail}, 413)(scope, receive, send)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(limit)
            return message

        await self.app(scope, counted, send)

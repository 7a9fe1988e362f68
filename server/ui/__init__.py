"""The web UI and the offline API docs, served by the same app.

    install_ui(app)

Pages (``server.ui.pages``) are Jinja2 shells; each loads one small script from ``server/static/js``
that calls the JSON API with the user's bearer token (kept in ``localStorage`` after the login
page; not needed with ``--no-auth``). Every asset is served by this app (``server.ui.assets``):
plotly.js from the plotly package, Swagger UI from swagger-ui-bundle. Nothing comes from a CDN.
"""

from __future__ import annotations

from fastapi import FastAPI

from server.ui.assets import mount_assets
from server.ui.docs import install_docs
from server.ui.pages import router


def install_ui(app: FastAPI) -> None:
    mount_assets(app)
    install_docs(app)
    app.include_router(router)


__all__ = ["install_ui"]

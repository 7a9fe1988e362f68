"""Static files: the UI's own (``server/static``) and vendored libraries from their packages."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
STATIC_URL = "/static"
PLOTLY_URL = f"{STATIC_URL}/vendor/plotly"
SWAGGER_URL = f"{STATIC_URL}/vendor/swagger-ui"


def plotly_dir() -> Path:
    """The directory of ``plotly.min.js`` inside the installed plotly package."""
    import plotly

    return Path(plotly.__file__).parent / "package_data"


def swagger_ui_dir() -> Path:
    """Swagger UI's ``dist`` files inside the installed swagger-ui-bundle package."""
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


def mount_assets(app: FastAPI) -> None:
    # Most specific first: Starlette matches mounts in order.
    app.mount(PLOTLY_URL, StaticFiles(directory=plotly_dir()), name="plotly")
    app.mount(SWAGGER_URL, StaticFiles(directory=swagger_ui_dir()), name="swagger-ui")
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")

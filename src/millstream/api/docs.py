"""The API explorer (Swagger UI) at ``/api/v1/docs``, served by millstream itself.

Its JavaScript and CSS (Swagger UI 5, which reads OpenAPI 3.1) are the static files the
``fastapi-offline`` package ships, served from here, so the explorer works on a machine
without internet access; nothing is loaded from a CDN.
"""

from __future__ import annotations

import importlib.resources

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

SWAGGER_UI_FILES = importlib.resources.files("fastapi_offline") / "static"

ASSETS_PATH = "/docs-assets"

__all__ = ["ASSETS_PATH", "install_docs"]


def install_docs(api: FastAPI) -> None:
    """Serve the explorer at ``/docs`` of ``api``, its assets under ``ASSETS_PATH``."""
    api.mount(ASSETS_PATH, StaticFiles(directory=str(SWAGGER_UI_FILES)), name="docs-assets")

    @api.get("/docs", include_in_schema=False)
    def explorer(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")  # "/api/v1" where mounted
        assets = f"{root}{ASSETS_PATH}"
        return get_swagger_ui_html(
            openapi_url=f"{root}/openapi.json", title=f"{api.title}: explorer",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
        )

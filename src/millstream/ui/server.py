"""The whole web server: the REST API at ``/api/v1``, then the UI's pages."""

from __future__ import annotations

from fastapi import FastAPI

from millstream.api.app import create_api_app
from millstream.config import Settings
from millstream.store.interfaces import Store
from millstream.ui import mount_ui


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """The web server ``millstream webserver`` serves: the API application
    (``create_api_app``, which documents ``settings`` and ``store``) with the UI mounted."""
    app = create_api_app(settings, store)
    mount_ui(app)
    return app

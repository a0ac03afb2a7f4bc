"""The server-rendered web UI: ``mount_ui`` adds its pages and static files to a FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI


def mount_ui(app: FastAPI) -> None:
    """Add the web UI's pages, static files and login to ``app``."""
    from millstream.ui.app import install

    install(app)


__all__ = ["mount_ui"]

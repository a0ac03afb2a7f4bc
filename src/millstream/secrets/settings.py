"""Which settings the secrets code reads: this process's own, or those a server was given."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from millstream.config import Settings

_configured: list[Settings] = []


def use_settings(settings: Settings | None) -> None:
    """Make the secrets code read ``settings`` (None: the settings of this process again).

    A web server built from a ``Settings`` object calls this, so that the Fernet key and
    the secrets file it uses are the ones it was given.
    """
    _configured.clear()
    if settings is not None:
        _configured.append(settings)


@contextlib.contextmanager
def using_settings(settings: Settings) -> Iterator[Settings]:
    """Within the block, the secrets code reads ``settings``."""
    previous = list(_configured)
    use_settings(settings)
    try:
        yield settings
    finally:
        _configured[:] = previous


def current_settings() -> Settings:
    """The settings given with :func:`use_settings`, else this process's (read each time, so
    that a changed environment or settings file is seen)."""
    if _configured:
        return _configured[-1]
    from millstream.config import load_settings

    return load_settings()

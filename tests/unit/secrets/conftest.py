"""Every secrets unit test runs in a home of its own with a Fernet key, and no secret masked."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from millstream.secrets.masking import clear_secrets
from millstream.store.memory import MemoryStore
from tests.autocommit import autocommit

KEY_ENV = "MILLSTREAM__CORE__FERNET_KEY"


@pytest.fixture(autouse=True)
def fernet_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A clean environment: MILLSTREAM_HOME in the test's folder and a fresh Fernet key."""
    for name in list(os.environ):
        if name.startswith("MILLSTREAM") and not name.startswith("MILLSTREAM_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MILLSTREAM_HOME", str(tmp_path))
    key = Fernet.generate_key().decode()
    monkeypatch.setenv(KEY_ENV, key)
    clear_secrets()
    yield key
    clear_secrets()


@pytest.fixture
def store() -> MemoryStore:
    return autocommit(MemoryStore())  # type: ignore[no-any-return]

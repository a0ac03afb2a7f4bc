"""Encryption at rest: secrets encrypted with the Fernet key from the settings, or a clear error.

The key is ``[core] fernet_key`` (settings file or ``MILLSTREAM__CORE__FERNET_KEY``), else
the file ``<home>/fernet.key`` that :func:`ensure_fernet_key` writes on a fresh home
(``millstream db migrate`` and ``millstream standalone`` call it). Several comma-separated
keys rotate: the first encrypts, any of them decrypts. Nothing is ever stored in plain text
for want of a key: without one, writing a secret is a :class:`FernetKeyError`.
"""

from __future__ import annotations

import base64
import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from millstream.private_files import make_private_folder
from millstream.secrets.errors import FernetKeyError
from millstream.secrets.settings import current_settings

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

    from millstream.config import Settings

_cache: dict[str, MultiFernet] = {}


def generate_fernet_key() -> str:
    """A new random Fernet key: 32 random bytes as 44 characters of url-safe base64 (what
    ``Fernet.generate_key`` makes; the library itself is imported when a secret is first
    encrypted or decrypted, not by every process that only makes sure a key exists)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def _key_file(settings: Settings) -> Path:
    from millstream.config import FERNET_KEY_FILE

    return Path(settings.core.home) / FERNET_KEY_FILE


def _no_key(action: str, settings: Settings) -> FernetKeyError:
    home = Path(settings.core.home)
    return FernetKeyError(
        f"cannot {action}: no Fernet key is configured; set [core] fernet_key in "
        f"{home / 'millstream.toml'} or MILLSTREAM__CORE__FERNET_KEY, or run "
        f"`millstream db migrate`, which writes a new key to {_key_file(settings)}"
    )


def fernet(action: str = "encrypt a secret", settings: Settings | None = None) -> MultiFernet:
    """The Fernet of the configured key(s); ``action`` says what needed it, for the error."""
    settings = settings or current_settings()
    secret = settings.core.fernet_key
    if secret is None:
        raise _no_key(action, settings)
    text = secret.get_secret_value()
    found = _cache.get(text)
    if found is None:
        from cryptography.fernet import Fernet, MultiFernet

        found = MultiFernet([Fernet(part.strip().encode("ascii")) for part in text.split(",")])
        _cache.clear()  # one key set at a time is the norm; never let this grow
        _cache[text] = found
    return found


def encrypt(plaintext: str, what: str) -> str:
    """``plaintext`` as Fernet ciphertext; ``what`` names the secret in errors."""
    return fernet(f"encrypt {what}").encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(ciphertext: str, what: str) -> str:
    """The plain text of stored ciphertext, or a FernetKeyError naming ``what``."""
    box = fernet(f"decrypt {what}")
    from cryptography.fernet import InvalidToken

    try:
        return box.decrypt(ciphertext.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise FernetKeyError(
            f"cannot decrypt {what}: the fernet key in settings is not the key it was "
            "encrypted with"
        ) from None


def ensure_fernet_key(settings: Settings | None = None) -> Path | None:
    """Write a new key to ``<home>/fernet.key`` when no key is configured; return its path.

    Returns None when a key is already configured (nothing is written). The file is
    readable by its owner only; a file that appeared meanwhile is kept, never replaced.
    """
    settings = settings or current_settings()
    if settings.core.fernet_key is not None:
        return None
    path = _key_file(settings)
    make_private_folder(path.parent)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(generate_fernet_key() + "\n")
    return path

"""Encryption at rest: the key from the settings, rotation, a generated key file, clear errors."""

from __future__ import annotations

import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from millstream.config import SettingsError, load_settings
from millstream.secrets import crypto, service
from millstream.secrets.errors import FernetKeyError
from millstream.store.memory import MemoryStore

from .conftest import KEY_ENV


def test_encrypt_and_decrypt(fernet_key: str) -> None:
    token = crypto.encrypt("the plaintext ü", "test value")
    assert "plaintext" not in token
    assert crypto.decrypt(token, "test value") == "the plaintext ü"
    assert Fernet(fernet_key.encode()).decrypt(token.encode()) == "the plaintext ü".encode()


def test_without_a_key_nothing_is_encrypted_and_the_error_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: MemoryStore,
) -> None:
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(FernetKeyError) as caught:
        crypto.encrypt("x", "the value of variable 'v'")
    message = str(caught.value)
    assert "cannot encrypt the value of variable 'v': no Fernet key is configured" in message
    assert "MILLSTREAM__CORE__FERNET_KEY" in message and "millstream db migrate" in message
    assert str(tmp_path / "fernet.key") in message
    with pytest.raises(FernetKeyError):
        service.set_variable(store, "v", "plain", "tester", datetime.now(UTC))
    assert store.variables.get("v") is None  # never stored in plain text instead


def test_a_wrong_key_is_a_clear_error_naming_the_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    token = crypto.encrypt("secret", "x")
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())
    with pytest.raises(FernetKeyError) as caught:
        crypto.decrypt(token, "the password of connection 'db'")
    assert str(caught.value) == (
        "cannot decrypt the password of connection 'db': the fernet key in settings is not "
        "the key it was encrypted with"
    )
    with pytest.raises(FernetKeyError, match="not the key it was encrypted with"):
        crypto.decrypt("not even a token", "x")


def test_rotation_new_key_first_old_ones_still_decrypt(
    fernet_key: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    old_token = crypto.encrypt("kept", "x")
    new_key = Fernet.generate_key().decode()
    monkeypatch.setenv(KEY_ENV, f"{new_key}, {fernet_key}")
    assert crypto.decrypt(old_token, "x") == "kept"
    new_token = crypto.encrypt("fresh", "x")
    assert Fernet(new_key.encode()).decrypt(new_token.encode()) == b"fresh"


def test_a_malformed_key_in_the_settings_is_a_settings_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, "too-short")
    with pytest.raises(SettingsError, match=re.escape("core.fernet_key = ***")):
        crypto.encrypt("x", "y")


def test_a_fresh_home_gets_a_key_file_once(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV)
    path = crypto.ensure_fernet_key()
    assert path == tmp_path / "fernet.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = path.read_text().strip()
    settings = load_settings()
    assert settings.core.fernet_key is not None
    assert settings.core.fernet_key.get_secret_value() == written
    assert crypto.ensure_fernet_key() is None  # a key is configured now: nothing written
    assert path.read_text().strip() == written
    token = crypto.encrypt("v", "x")
    assert Fernet(written.encode()).decrypt(token.encode()) == b"v"


def test_a_configured_key_wins_over_the_key_file(fernet_key: str, tmp_path: Path) -> None:
    (tmp_path / "fernet.key").write_text(Fernet.generate_key().decode())
    assert crypto.ensure_fernet_key() is None
    token = crypto.encrypt("v", "x")
    assert Fernet(fernet_key.encode()).decrypt(token.encode()) == b"v"


def test_a_damaged_key_file_is_a_settings_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(KEY_ENV)
    (tmp_path / "fernet.key").write_text("not-a-key\n")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert f"core.fernet_key = *** (from {tmp_path / 'fernet.key'})" in str(caught.value)
    assert "not-a-key" not in str(caught.value)


def test_making_sure_a_key_exists_leaves_the_cryptography_library_unimported(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    probe = (
        "import sys; from millstream.config import load_settings; "
        "from millstream.secrets import crypto; "
        f"path = crypto.ensure_fernet_key(load_settings(home={str(tmp_path)!r}, environ={{}})); "
        "print(path.read_text().strip(), 'cryptography' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[1] == "False"
    key = out[0]
    assert len(key) == 44 and Fernet(key.encode()).decrypt(
        Fernet(key.encode()).encrypt(b"v")) == b"v"

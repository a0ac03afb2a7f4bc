"""The values a try's templated fields were rendered to, as its worker left them on disk."""

from __future__ import annotations

import json
import os
from typing import Any

from millstream.runtime.worker import rendered_path
from millstream.secrets.masking import SecretsMasker
from millstream.store.records import TaskInstanceKey

MAX_BYTES = 2_000_000


def rendered_fields(log_folder: str | os.PathLike[str], key: TaskInstanceKey,
                    try_number: int, masker: SecretsMasker) -> dict[str, str] | None:
    """Each templated field and its rendered value (text as is, the rest as JSON), or None
    when the try left no record (it has not started, or ran elsewhere). The worker masked
    the secrets it knew; every secret ``masker`` knows is masked too."""
    path = rendered_path(log_folder, key, try_number)
    try:
        if path.stat().st_size > MAX_BYTES:
            return {"(too large)": f"{path} holds more than {MAX_BYTES:,} bytes"}
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    shown = {str(name): masker.redact(value, str(name)) for name, value in data.items()}
    return {name: value if isinstance(value, str) else
            json.dumps(value, indent=2, sort_keys=True, default=str)
            for name, value in sorted(shown.items())}


__all__ = ["rendered_fields"]

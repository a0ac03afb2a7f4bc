"""XCom listings in the UI show secret-named values, and the secrets a masker knows, as ***."""

from __future__ import annotations

import json
from pathlib import Path

from millstream.secrets.masking import SecretsMasker
from millstream.ui.routes.task_views import xcom_rows


def test_xcom_rows_mask_secret_fields_and_registered_secrets(clean_home: Path) -> None:
    masker = SecretsMasker()
    masker.add("known-secret-value")
    rows = xcom_rows([
        ("return_value", json.dumps({"password": "hunter22", "rows": 3,
                                     "note": "used known-secret-value"})),
        ("api_token", json.dumps("tok-1234567")),
        ("plain", "not json known-secret-value"),
    ], masker)
    assert [row["key"] for row in rows] == ["return_value", "api_token", "plain"]
    assert json.loads(rows[0]["value"]) == {"note": "used ***", "password": "***", "rows": 3}
    assert json.loads(rows[1]["value"]) == "***"
    assert rows[2]["value"] == "not json ***"

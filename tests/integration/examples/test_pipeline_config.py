"""PipelineConfig: the settings file, its environment overrides, Variables, and clear errors.

Variables come from ``MILLSTREAM_VAR_<KEY>`` or the metadata store (an empty one here).
The settings are read when ``common.config`` is first imported, so each case imports it
in a fresh interpreter with the environment it needs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.integration.examples.conftest import EXAMPLES

SHOW = """
import json, sys
sys.path.insert(0, sys.argv[1])
from millstream.store.current import using_store
from millstream.store.memory import MemoryStore
from common.config import PipelineConfig as C
with using_store(MemoryStore()):  # where variables not set in the environment are looked up
  print(json.dumps({
    "env": C.ENVIRONMENT, "source": C.SOURCE_DB_CONN_ID, "warehouse": C.WAREHOUSE_DB_CONN_ID,
    "batch": C.BATCH_SIZE, "parallel": C.PARALLEL_TASKS,
    "dq": C.ENABLE_DATA_QUALITY_CHECKS, "notify": C.ENABLE_NOTIFICATIONS,
    "alerts": C.ALERT_EMAILS, "orders_per_day": C.DEMO_DATA["orders_per_day"],
    "var": C.get_variable("etl_owner", default="nobody"),
    "json_var": C.get_json_variable("etl_limits", default={"max": 1}),
    "staging": C.get_connection_config("source") if C.ENVIRONMENT == "staging" else None,
  }))
"""


def show(**env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("MILLSTREAM_", "PIPELINE_ENV", "BATCH_SIZE",
                                    "PARALLEL_TASKS", "ENABLE_"))}
    environ.update(env)
    return subprocess.run([sys.executable, "-c", SHOW, str(EXAMPLES)], env=environ,
                          capture_output=True, text=True, timeout=60)


def test_defaults_come_from_the_settings_file(home: object) -> None:
    done = show(MILLSTREAM_HOME=os.environ["MILLSTREAM_HOME"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "env": "development", "source": "sales_db", "warehouse": "warehouse_db",
        "batch": 10000, "parallel": 4, "dq": True, "notify": True,
        "alerts": ["data-alerts@company.com"], "orders_per_day": 2000,
        "var": "nobody", "json_var": {"max": 1}, "staging": None,
    }


def test_environment_variables_and_variables_override_them(home: object) -> None:
    done = show(MILLSTREAM_HOME=os.environ["MILLSTREAM_HOME"], PIPELINE_ENV="staging",
                BATCH_SIZE="500", ENABLE_DQ_CHECKS="false", ENABLE_NOTIFICATIONS="FALSE",
                MILLSTREAM_VAR_ETL_OWNER="data-platform",
                MILLSTREAM_VAR_ETL_LIMITS='{"max": 7, "min": 2}')
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert (shown["env"], shown["source"], shown["warehouse"], shown["staging"]) == (
        "staging", "sales_db_staging", "warehouse_db_staging", "sales_db_staging")
    assert (shown["batch"], shown["dq"], shown["notify"]) == (500, False, False)
    assert shown["var"] == "data-platform"
    assert shown["json_var"] == {"max": 7, "min": 2}


@pytest.mark.parametrize(("env", "message"), [
    ({"PIPELINE_ENV": "qa"}, "PIPELINE_ENV='qa' is not one of development, staging, production"),
    ({"BATCH_SIZE": "lots"}, "BATCH_SIZE='lots' is not a whole number"),
    ({"BATCH_SIZE": "0"}, "BATCH_SIZE='0' must be at least 1"),
    ({"ENABLE_DQ_CHECKS": "yes"}, "ENABLE_DQ_CHECKS='yes': use true or false"),
    ({"MILLSTREAM_VAR_ETL_LIMITS": "[1, 2]"}, "Variable 'etl_limits' must hold a JSON object"),
])
def test_bad_settings_are_errors_that_name_them(
    env: dict[str, str], message: str, home: object,
) -> None:
    done = show(MILLSTREAM_HOME=os.environ["MILLSTREAM_HOME"], **env)
    assert done.returncode == 1
    assert f"PipelineConfigError: {message}" in done.stderr

"""Property-based checks of every operation against the OpenAPI schema (schemathesis):
generated requests, as an admin, never get a 5xx, and every response (status, content
type, body) is one the schema declares.

Each operation is fuzzed twice: with generated path parameters (mostly unknown ids), and
with the ids of a stored DAG, run and task, so that the code behind the 404s runs too.
"""

from __future__ import annotations

import re
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from millstream.model.states import TaskState
from tests.integration.api.api_helpers import ApiEnv

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
KNOWN_IDS = {"dag_id": "api_etl", "dag_run_id": "r1", "task_id": "extract",
             "pool_name": "default_pool", "username": "viewer"}
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 10}


def fuzz(operation: Any, headers: dict[str, str], mode: GenerationMode,
         path_parameters: dict[str, str] | None) -> None:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @given(case=strategy)
    @settings(max_examples=EXAMPLES[mode], deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()


def test_generated_requests_conform_to_the_schema(api: ApiEnv) -> None:
    api.add_run("r1")
    api.start_run("r1")
    api.set_task("r1", "extract", TaskState.SUCCESS)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", api.client.app)
    headers = api.headers("admin")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40
    for operation in operations:
        names = re.findall(r"{(\w+)}", operation.path)
        known = {name: KNOWN_IDS[name] for name in names if name in KNOWN_IDS} or None
        for mode in EXAMPLES:
            for path_parameters in ([None, known] if known else [None]):
                try:
                    fuzz(operation, headers, mode, path_parameters)
                except Unsatisfiable:  # nothing to make invalid: /health has no input
                    assert mode is GenerationMode.NEGATIVE and not names
                except Exception as exc:  # collected, so that one report shows them all
                    failures.append(f"{operation.label} ({mode.value}, ids {path_parameters}):"
                                    f"\n{exc}")
    assert not failures, "\n\n".join(failures)

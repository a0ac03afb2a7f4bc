"""XCom: JSON values with a size limit, pushed and pulled by tasks of one run."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from millstream import DAG, task
from millstream.exceptions import XComError
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator
from millstream.runtime.xcom import MAX_XCOM_BYTES, decode_xcom, encode_xcom

LOGICAL = "2026-01-01"
START = datetime(2026, 1, 1, tzinfo=UTC)


def test_values_round_trip_as_compact_json() -> None:
    value = {"a": [1, 2.5, None, True], "b": {"c": "é"}}
    text = encode_xcom(value, "t", "k")
    assert text == '{"a":[1,2.5,null,true],"b":{"c":"\\u00e9"}}'
    assert decode_xcom(text) == value
    assert decode_xcom(None) is None


@pytest.mark.parametrize("value", [object(), {1, 2}, b"bytes", math.nan, {"x": math.inf}])
def test_values_that_are_not_json_are_refused_naming_task_and_key(value: Any) -> None:
    with pytest.raises(XComError, match=r"task 'producer': XCom 'result' must be JSON"):
        encode_xcom(value, "producer", "result")


def test_a_value_over_the_limit_is_refused_with_a_clear_message() -> None:
    with pytest.raises(XComError) as info:
        encode_xcom("x" * 20, "big_task", "return_value", limit=10)
    message = str(info.value)
    assert "task 'big_task'" in message and "22 bytes" in message and "limit of 10" in message
    assert encode_xcom("x" * 8, "t", "k", limit=10) == '"xxxxxxxx"'


def test_return_value_reaches_the_next_task_and_the_result() -> None:
    with DAG("xcom_return", start_date=START) as dag:
        @task
        def produce() -> list[int]:
            return [1, 2, 3]

        @task
        def consume(values: list[int]) -> int:
            return sum(values)

        consume(produce())
    result = dag.test(LOGICAL)
    assert result.state == "success"
    assert result.xcom_pull("produce") == [1, 2, 3]
    assert result.xcom_pull("consume") == 6


def test_push_and_pull_with_keys_between_classic_operators() -> None:
    got: dict[str, Any] = {}

    def push(ti: Any) -> None:
        ti.xcom_push(key="rows", value=10)
        ti.xcom_push(key="path", value="/tmp/out.csv")

    def pull(ti: Any) -> None:
        got["rows"] = ti.xcom_pull(task_ids="push", key="rows")
        got["path"] = ti.xcom_pull(task_ids="push", key="path")
        got["missing"] = ti.xcom_pull(task_ids="push", key="nope", default="fallback")
        got["return"] = ti.xcom_pull(task_ids="push")

    with DAG("xcom_keys", start_date=START) as dag:
        PythonOperator(task_id="push", python_callable=push) >> PythonOperator(
            task_id="pull", python_callable=pull
        )
    assert dag.test(LOGICAL).state == "success"
    assert got == {"rows": 10, "path": "/tmp/out.csv", "missing": "fallback", "return": None}


def test_a_task_pulls_back_what_it_pushed_itself() -> None:
    got: list[Any] = []

    def own(ti: Any) -> None:
        ti.xcom_push(key="k", value={"n": 1})
        got.append(ti.xcom_pull(key="k"))

    dag = DAG("xcom_own", start_date=START)
    PythonOperator(task_id="own", python_callable=own, dag=dag)
    assert dag.test(LOGICAL).state == "success"
    assert got == [{"n": 1}]


def test_pulling_several_task_ids_gives_a_list_in_their_order() -> None:
    got: list[Any] = []
    with DAG("xcom_many", start_date=START) as dag:
        sources = [PythonOperator(task_id=f"s{i}", python_callable=lambda i=i: i * 10)
                   for i in range(3)]
        sources >> PythonOperator(
            task_id="gather",
            python_callable=lambda ti: got.append(ti.xcom_pull(task_ids=["s2", "s0", "s1"])),
        )
    assert dag.test(LOGICAL).state == "success"
    assert got == [[20, 0, 10]]


def test_pulling_a_mapped_task_gives_its_values_in_map_index_order() -> None:
    got: dict[str, Any] = {}
    with DAG("xcom_mapped", start_date=START) as dag:
        @task
        def square(x: int) -> int:
            return x * x

        def gather(ti: Any) -> None:
            got["all"] = ti.xcom_pull(task_ids="square")
            got["one"] = ti.xcom_pull(task_ids="square", map_indexes=2)
            got["some"] = ti.xcom_pull(task_ids="square", map_indexes=[3, 1])

        square.expand(x=[5, 4, 3, 2, 1, 0]) >> PythonOperator(task_id="gather",
                                                              python_callable=gather)
    result = dag.test(LOGICAL)
    assert result.state == "success"
    assert got == {"all": [25, 16, 9, 4, 1, 0], "one": 9, "some": [16, 4]}
    assert result.xcom_pull("square") == [25, 16, 9, 4, 1, 0]
    assert result.xcom_pull("square", map_index=4) == 1


def test_pulling_chosen_map_indexes_when_some_instances_pushed_nothing() -> None:
    got: dict[str, Any] = {}
    with DAG("xcom_mapped_gaps", start_date=START) as dag:
        @task
        def maybe(x: int) -> int | None:
            return None if x % 2 else x  # odd values push nothing

        def gather(ti: Any) -> None:
            got["all"] = ti.xcom_pull(task_ids="maybe")
            got["some"] = ti.xcom_pull(task_ids="maybe", map_indexes=[2, 4])

        maybe.expand(x=[0, 1, 2, 3, 4]) >> PythonOperator(task_id="gather",
                                                          python_callable=gather)
    assert dag.test(LOGICAL).state == "success"
    assert got == {"all": [0, 2, 4], "some": [2, 4]}


def test_a_non_json_return_value_fails_the_task_naming_it() -> None:
    with DAG("xcom_not_json", start_date=START) as dag:
        PythonOperator(task_id="returns_object", python_callable=object) >> EmptyOperator(
            task_id="after"
        )
    result = dag.test(LOGICAL)
    (failed,) = [t for t in result.tasks if t.label == "returns_object"]
    assert failed.state == "failed"
    assert "task 'returns_object'" in (failed.error or "")
    assert "JSON" in (failed.error or "")
    assert result.task_states["after"] == "upstream_failed"
    assert result.xcom_pull("returns_object") is None


def test_a_non_json_xcom_push_fails_the_task_naming_it() -> None:
    dag = DAG("xcom_push_not_json", start_date=START)
    PythonOperator(task_id="pusher", python_callable=lambda ti: ti.xcom_push("k", {1, 2}),
                   dag=dag)
    result = dag.test(LOGICAL)
    assert result.state == "failed"
    assert "task 'pusher': XCom 'k' must be JSON" in (result.tasks[0].error or "")


def test_an_oversize_return_value_fails_the_task_with_the_limit_in_the_error() -> None:
    dag = DAG("xcom_oversize", start_date=START)
    PythonOperator(task_id="huge", python_callable=lambda: "x" * MAX_XCOM_BYTES, dag=dag)
    result = dag.test(LOGICAL)
    assert result.state == "failed"
    error = result.tasks[0].error or ""
    assert "task 'huge'" in error
    assert f"over the limit of {MAX_XCOM_BYTES}" in error
    assert result.xcom_pull("huge") is None

"""The DAG object: ids, schedules, dates, settings, the context manager and @dag."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from millstream import DAG, Param, dag, task
from millstream.authoring.dag import current_dag
from millstream.exceptions import DagDefinitionError
from millstream.model.cron import CronSchedule
from millstream.model.intervals import DeltaSchedule, NoSchedule, OnceSchedule
from millstream.operators.empty import EmptyOperator
from millstream.operators.python import PythonOperator


@pytest.mark.parametrize("dag_id", ["etl", "sales_etl-v2", "team.daily_report", "A1_b-2.c"])
def test_valid_dag_ids(dag_id):
    assert DAG(dag_id).dag_id == dag_id


@pytest.mark.parametrize("dag_id", ["", "with space", "slash/ed", "ünïcode", "semi;colon", 42])
def test_invalid_dag_ids_are_rejected_naming_the_id(dag_id):
    with pytest.raises(DagDefinitionError) as info:
        DAG(dag_id)
    assert repr(dag_id) in str(info.value)
    assert "letters, digits" in str(info.value)


def test_all_settings_are_kept():
    def on_success(context):
        return None

    def on_failure(context):
        return None

    def on_sla(*args):
        return None

    the_dag = DAG(
        "settings",
        description="everything set",
        schedule="@hourly",
        start_date=datetime(2026, 1, 1),
        end_date=datetime(2026, 12, 31),
        catchup=True,
        default_args={"retries": 3},
        tags=["finance", "daily"],
        max_active_runs=2,
        max_active_tasks=7,
        dagrun_timeout=timedelta(hours=1),
        doc_md="# Settings",
        params={"limit": 10},
        on_success_callback=on_success,
        on_failure_callback=on_failure,
        sla_miss_callback=on_sla,
        template_searchpath="/tmp/templates",
        user_defined_macros={"answer": 42},
    )
    assert the_dag.description == "everything set"
    assert the_dag.schedule == "@hourly"
    assert the_dag.timetable == CronSchedule("@hourly")
    assert the_dag.start_date == datetime(2026, 1, 1, tzinfo=UTC)
    assert the_dag.end_date == datetime(2026, 12, 31, tzinfo=UTC)
    assert the_dag.catchup is True
    assert the_dag.default_args == {"retries": 3}
    assert the_dag.tags == ["finance", "daily"]
    assert the_dag.max_active_runs == 2
    assert the_dag.max_active_tasks == 7
    assert the_dag.dagrun_timeout == timedelta(hours=1)
    assert the_dag.doc_md == "# Settings"
    assert the_dag.params == {"limit": 10}
    assert the_dag.on_success_callback is on_success
    assert the_dag.on_failure_callback is on_failure
    assert the_dag.sla_miss_callback is on_sla
    assert the_dag.template_searchpath == ["/tmp/templates"]
    assert the_dag.user_defined_macros == {"answer": 42}


def test_defaults_of_an_unconfigured_dag():
    the_dag = DAG("plain")
    assert the_dag.schedule is None
    assert isinstance(the_dag.timetable, NoSchedule)
    assert the_dag.catchup is False
    assert the_dag.start_date is None
    assert the_dag.tags == []
    assert the_dag.default_args == {}
    assert the_dag.max_active_runs == 16
    assert the_dag.max_active_tasks == 16


@pytest.mark.parametrize(
    ("preset", "cron"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
    ],
)
def test_presets_mean_their_cron_expressions(preset, cron):
    by_preset = DAG("p", schedule=preset, start_date=datetime(2026, 1, 1)).timetable
    by_cron = DAG("c", schedule=cron, start_date=datetime(2026, 1, 1)).timetable
    moment = datetime(2026, 5, 17, 13, 45, tzinfo=UTC)
    assert by_preset.data_interval_for(moment) == by_cron.data_interval_for(moment)


def test_schedule_kinds():
    assert isinstance(DAG("o", schedule="@once").timetable, OnceSchedule)
    assert isinstance(DAG("n", schedule=None).timetable, NoSchedule)
    every_six = DAG("d", schedule=timedelta(hours=6), start_date=datetime(2026, 1, 1))
    assert every_six.timetable == DeltaSchedule(timedelta(hours=6))
    cron = DAG("c", schedule="30 2 * * 1-5").timetable
    interval = cron.data_interval_for(datetime(2026, 1, 5, 2, 30))  # a Monday
    assert interval.start == datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
    assert interval.end == datetime(2026, 1, 6, 2, 30, tzinfo=UTC)


def test_schedule_interval_is_an_alias_of_schedule():
    the_dag = DAG("alias", schedule_interval="@daily")
    assert the_dag.schedule == "@daily"
    assert the_dag.timetable == CronSchedule("@daily")
    assert DAG("alias_none", schedule_interval=None).timetable == NoSchedule()


def test_schedule_and_schedule_interval_together_is_an_error():
    with pytest.raises(DagDefinitionError) as info:
        DAG("both", schedule="@daily", schedule_interval="@daily")
    assert "'both'" in str(info.value)
    assert "schedule_interval" in str(info.value)


@pytest.mark.parametrize(
    ("schedule", "detail"),
    [
        ("@fortnightly", "unknown schedule preset"),
        ("0 0 * *", "expected 5 fields"),
        ("61 * * * *", "invalid cron expression"),
        ("0 0 30 2 *", "never matches"),
        ("", "empty string"),
        (42, "unsupported schedule"),
        (timedelta(0), "schedule"),
    ],
)
def test_bad_schedules_name_the_dag_and_the_problem(schedule, detail):
    with pytest.raises(DagDefinitionError) as info:
        DAG("bad_schedule", schedule=schedule)
    message = str(info.value)
    assert "DAG 'bad_schedule'" in message
    assert "bad schedule" in message
    assert detail in message


def test_naive_datetimes_are_utc_and_aware_ones_are_converted():
    naive = DAG("naive", start_date=datetime(2026, 1, 1, 8), end_date=datetime(2026, 2, 1))
    assert naive.start_date == datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert naive.start_date.utcoffset() == timedelta(0)
    assert naive.end_date == datetime(2026, 2, 1, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    aware = DAG("aware", start_date=datetime(2026, 1, 1, 8, tzinfo=plus_two))
    assert aware.start_date == datetime(2026, 1, 1, 6, tzinfo=UTC)
    assert DAG("a_date", start_date=date(2026, 3, 1)).start_date == datetime(2026, 3, 1,
                                                                            tzinfo=UTC)


def test_start_date_may_come_from_default_args():
    the_dag = DAG("from_defaults", default_args={"start_date": datetime(2026, 4, 1)})
    assert the_dag.start_date == datetime(2026, 4, 1, tzinfo=UTC)


def test_end_date_before_start_date_is_an_error():
    with pytest.raises(DagDefinitionError, match=r"'backwards'.*end_date is before start_date"):
        DAG("backwards", start_date=datetime(2026, 2, 1), end_date=datetime(2026, 1, 1))


@pytest.mark.parametrize("name", ["max_active_runs", "max_active_tasks"])
@pytest.mark.parametrize("value", [0, -1, 1.5])
def test_concurrency_limits_must_be_positive_integers(name, value):
    with pytest.raises(DagDefinitionError) as info:
        DAG("limits", **{name: value})
    assert "'limits'" in str(info.value) and name in str(info.value)


def test_context_manager_collects_tasks_and_nests():
    assert current_dag() is None
    with DAG("outer") as outer:
        first = EmptyOperator(task_id="first")
        with DAG("inner") as inner:
            assert current_dag() is inner
            nested = EmptyOperator(task_id="nested")
        assert current_dag() is outer
        last = EmptyOperator(task_id="last")
    assert current_dag() is None
    assert outer.task_ids == ["first", "last"]
    assert inner.task_ids == ["nested"]
    assert first.dag is outer and last.dag is outer and nested.dag is inner
    assert first.dag_id == "outer"


def test_context_manager_leaves_no_dag_open_after_an_error():
    with pytest.raises(RuntimeError), DAG("broken"):
        EmptyOperator(task_id="t")
        raise RuntimeError("boom while defining")
    assert current_dag() is None


def test_explicit_dag_argument_without_context_manager():
    the_dag = DAG("explicit")
    a = EmptyOperator(task_id="a", dag=the_dag)
    b = EmptyOperator(task_id="b", dag=the_dag)
    a >> b
    assert the_dag.get_task("b").upstream_task_ids == {"a"}
    assert [t.task_id for t in the_dag.roots] == ["a"]
    assert [t.task_id for t in the_dag.leaves] == ["b"]
    with pytest.raises(KeyError, match=r"DAG 'explicit' has no task 'c'"):
        the_dag.get_task("c")


def test_topological_sort_puts_upstream_first():
    with DAG("topo") as the_dag:
        a, b, c, d = (EmptyOperator(task_id=x) for x in "dcba")  # defined in reverse
        d >> c >> b >> a
    order = [t.task_id for t in the_dag.topological_sort()]
    assert order == ["a", "b", "c", "d"]


def test_dag_decorator_builds_a_dag_from_a_function():
    @dag(schedule="@daily", start_date=datetime(2026, 1, 1), tags=["decorated"])
    def sales_report():
        """Daily sales, summed."""

        @task
        def total() -> int:
            return 3

        total()

    built = sales_report()
    assert isinstance(built, DAG)
    assert built.dag_id == "sales_report"
    assert built.doc_md == "Daily sales, summed."
    assert built.tags == ["decorated"]
    assert built.timetable == CronSchedule("@daily")
    assert built.task_ids == ["total"]
    assert built.fileloc == __file__
    assert current_dag() is None
    result = built.test(logical_date="2026-01-02")
    assert result.state == "success"
    assert result.xcom_pull("total") == 3


def test_dag_decorator_without_arguments_and_with_explicit_id():
    @dag
    def bare():
        EmptyOperator(task_id="only")

    @dag("custom_id", doc_md="explicit doc")
    def named():
        """Ignored: doc_md was given."""
        EmptyOperator(task_id="only")

    assert bare().dag_id == "bare"
    built = named()
    assert built.dag_id == "custom_id"
    assert built.doc_md == "explicit doc"
    # each call builds a new DAG
    assert bare() is not bare()


def test_dag_decorator_params_merge_function_arguments_and_explicit_params():
    @dag(params={"region": Param("eu", enum=["eu", "us"])})
    def with_params(limit: int = 5, verbose: bool = False):
        EmptyOperator(task_id="t")

    built = with_params(verbose=True)
    assert isinstance(built.params["region"], Param)
    assert built.params["limit"] == 5
    assert built.params["verbose"] is True


def test_dag_decorator_validates_the_graph_when_built():
    @dag
    def cyclic():
        a = EmptyOperator(task_id="a")
        b = EmptyOperator(task_id="b")
        a >> b >> a

    with pytest.raises(DagDefinitionError, match=r"DAG 'cyclic' has a cycle"):
        cyclic()
    assert current_dag() is None


def test_dag_callbacks_run_when_the_run_ends():
    calls = []

    def boom():
        raise RuntimeError("task failure")

    for fails in (False, True):
        with DAG(f"dag_callbacks_{fails}",
                 on_success_callback=lambda c: calls.append(("success", c["dag"].dag_id)),
                 on_failure_callback=lambda c: calls.append(("failure", c["dag"].dag_id)),
                 ) as the_dag:
            PythonOperator(task_id="t", python_callable=boom if fails else (lambda: 1))
        the_dag.test(logical_date="2026-01-01")
    assert calls == [("success", "dag_callbacks_False"), ("failure", "dag_callbacks_True")]


def test_dagrun_timeout_fails_the_run_and_skips_what_has_not_started():
    import time

    with DAG("slow_run", dagrun_timeout=timedelta(seconds=0.2)) as the_dag:
        slow = PythonOperator(task_id="slow", python_callable=lambda: time.sleep(0.4))
        slow >> PythonOperator(task_id="never", python_callable=lambda: 1)
    result = the_dag.test(logical_date="2026-01-01")
    assert result.state == "failed"
    assert result.task_states == {"slow": "success", "never": "skipped"}


def test_test_accepts_naive_and_aware_logical_dates():
    with DAG("dates", schedule="@daily") as the_dag:
        PythonOperator(task_id="t", python_callable=lambda ts, data_interval_end: [
            ts, data_interval_end.isoformat()])
    naive = the_dag.test(logical_date=datetime(2026, 1, 1))
    assert naive.xcom_pull("t") == ["2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00"]
    plus_one = timezone(timedelta(hours=1))
    aware = the_dag.test(logical_date=datetime(2026, 1, 2, 1, tzinfo=plus_one))
    assert aware.xcom_pull("t") == ["2026-01-02T00:00:00+00:00", "2026-01-03T00:00:00+00:00"]


def test_empty_dag_runs_to_success():
    result = DAG("nothing").test(logical_date="2026-01-01")
    assert result.state == "success"
    assert result.task_states == {}

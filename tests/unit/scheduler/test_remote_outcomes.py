"""Outcomes recorded by remote workers (the Celery executor): the scheduler is told, by a
note, which tasks to look at; it applies nothing itself."""

from __future__ import annotations

from millstream.authoring.dag import DAG
from millstream.model.states import TaskState
from millstream.operators.empty import EmptyOperator
from millstream.runtime.events import TaskFinishedEvent
from millstream.scheduler.events import apply_finished
from millstream.store.outcome_notes import OutcomeNote
from tests.unit.scheduler.harness import Engine, FakeClock, HeldExecutor


class RemoteExecutor(HeldExecutor):
    """Holds workloads; the test records their outcomes as a worker would, and notes them."""

    def __init__(self, clock: FakeClock, dags: dict[str, DAG]) -> None:
        super().__init__(clock, dags)
        self.notes: list[OutcomeNote] = []
        self.missed = False

    def drain_recorded(self) -> tuple[bool, list[OutcomeNote]]:
        missed, notes = self.missed, self.notes
        self.missed, self.notes = False, []
        return missed, notes


def chain() -> DAG:
    with DAG("remote_chain", schedule=None) as dag:
        EmptyOperator(task_id="extract") >> EmptyOperator(task_id="load")
    return dag


def record_remotely(engine: Engine, executor: RemoteExecutor, task_id: str) -> OutcomeNote:
    """What a worker does at a try's end: the outcome into the store, and its note."""
    workload, _ = executor.held.pop(executor.key(task_id))
    event = TaskFinishedEvent(workload.key, workload.try_number, TaskState.SUCCESS,
                              engine.clock(), engine.clock(), step_id=workload.step_id)
    with engine.raw_store.transaction():
        changed = apply_finished(engine.raw_store, engine.scheduler.dags["remote_chain"], event)
    return OutcomeNote(workload.key, workload.try_number, "success", tuple(sorted(changed)))


def engine_with_remote_executor() -> tuple[Engine, RemoteExecutor, DAG]:
    dag = chain()
    clock = FakeClock()
    executor = RemoteExecutor(clock, {dag.dag_id: dag})
    return Engine(dag, executor=executor, clock=clock), executor, dag


def test_a_note_makes_the_scheduler_look_at_the_tasks_it_names() -> None:
    engine, executor, dag = engine_with_remote_executor()
    run = engine.trigger(dag)
    engine.tick()
    assert executor.held_ids() == {"extract"}
    note = record_remotely(engine, executor, "extract")
    assert note.changed == ("load",)

    engine.tick()  # no note yet: nothing tells the scheduler that extract ended
    assert len(executor.submitted) == 1
    assert engine.ti(run, "load").state is TaskState.NONE

    executor.notes.append(note)
    engine.tick()
    assert executor.held_ids() == {"load"}
    executor.notes.append(record_remotely(engine, executor, "load"))
    engine.tick()
    assert engine.run_record(run).state.value == "success"


def test_notes_that_may_have_been_missed_make_the_scheduler_look_at_everything() -> None:
    engine, executor, dag = engine_with_remote_executor()
    run = engine.trigger(dag)
    engine.tick()
    record_remotely(engine, executor, "extract")  # its note is lost
    engine.tick()
    assert engine.ti(run, "load").state is TaskState.NONE
    executor.missed = True  # the listening connection was opened again
    engine.tick()
    assert executor.held_ids() == {"load"}


def test_a_start_note_changes_nothing() -> None:
    engine, executor, dag = engine_with_remote_executor()
    run = engine.trigger(dag)
    engine.tick()
    key = executor.key("extract")
    executor.notes.append(OutcomeNote(key, 1, "running"))
    engine.tick()
    assert executor.held_ids() == {"extract"}
    assert engine.ti(run, "load").state is TaskState.NONE

"""The seam between ``DAG.test()`` and the in-process runner behind it.

The runner is the whole engine (the scheduler over an in-memory store with an in-process
executor), which sits far above what users write; ``millstream.testing`` provides it and the
package's ``__init__`` registers it, so authoring never imports the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from millstream.authoring.dag import DAG


class DagTestOutcome(Protocol):
    """What ``dag.test()`` returns: the run's state, each task's state, and its XComs."""

    @property
    def dag_id(self) -> str: ...

    @property
    def run_id(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def task_states(self) -> dict[str, str]: ...

    @property
    def tasks(self) -> Sequence[Any]: ...

    @property
    def succeeded(self) -> bool: ...

    def xcom_pull(self, task_id: str, key: str = "return_value",
                  map_index: int | None = None) -> Any:
        """A value a task pushed; a mapped task gives the list of its instances' values."""
        ...


class DagTestRunner(Protocol):
    """Runs one DAG run to completion in this process."""

    def __call__(self, dag: DAG, logical_date: datetime | str | None,
                 conf: dict[str, Any] | None, fast_retries: bool) -> DagTestOutcome: ...


_runner: list[DagTestRunner] = []


def register_dag_test_runner(runner: DagTestRunner) -> None:
    """Make ``runner`` the one ``DAG.test()`` calls (the last registered wins)."""
    _runner[:] = [runner]


def dag_test_runner() -> DagTestRunner:
    """The registered runner; RuntimeError when none is (``import millstream`` registers it)."""
    if not _runner:
        raise RuntimeError("no runner for dag.test() is registered; import millstream first")
    return _runner[0]

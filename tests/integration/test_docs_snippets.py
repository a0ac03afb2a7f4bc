"""Every ```python block of the docs and README runs as written, so the docs cannot rot.

Each block is a complete file: it runs in a fresh namespace named ``__main__`` (so its
``if __name__ == "__main__":`` checks run too), and every DAG it defines must then pass a
``dag.test()`` run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from millstream import DAG

ROOT = Path(__file__).resolve().parents[2]
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def snippets() -> list[Any]:
    found: list[Any] = []
    for doc in DOCS:
        text = doc.read_text()
        for match in FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 2
            name = f"{doc.relative_to(ROOT)}:{line}"
            found.append(pytest.param(match.group(1), name, id=name))
    return found


def test_the_docs_have_python_snippets() -> None:
    assert len(snippets()) >= 5


@pytest.mark.parametrize(("source", "where"), snippets())
def test_snippet_runs(source: str, where: str) -> None:
    namespace: dict[str, object] = {"__name__": "__main__"}
    exec(compile(source, where, "exec"), namespace)
    dags = {id(v): v for v in namespace.values() if isinstance(v, DAG)}
    for dag in dags.values():
        result = dag.test(logical_date="2026-01-01", fast_retries=True)
        assert result.state == "success", f"{where}: {dag.dag_id}: {result.tasks}"

"""Fixtures of the Airflow compatibility tests: the layer off before and after each test, a
home of the test's own, and the orchestration guide's Airflow files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from millstream.compat import airflow as airflow_compat

HERE = Path(__file__).resolve().parent
AIRFLOW_DAGS = HERE / "airflow_dags"
ARTICLE_TESTS = HERE / "article_tests"
# The guide's endpoint; tests never reach outside this machine, so copies point elsewhere.
ARTICLE_API_URL = "https://api.example.com/health"

# The article's files are data for these tests, not tests of this suite.
collect_ignore_glob = ["airflow_dags/*", "article_tests/*", "airflow_examples/*"]


@pytest.fixture(autouse=True)
def layer_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test starts and ends with the layer disabled, in a home of its own with no
    millstream settings, connections or variables from outside."""
    for name in list(os.environ):
        if name.startswith(("MILLSTREAM__", "MILLSTREAM_CONN_", "MILLSTREAM_VAR_",
                            "MILLSTREAM_DAGS_FOLDER")):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("MILLSTREAM_HOME", str(home))
    airflow_compat.disable()
    yield home
    airflow_compat.disable()


def copy_article_dags(target: Path, names: list[str], api_url: str | None = None) -> Path:
    """Copy article files (``conditional_pipeline.py``, ``common/config.py`` ...) into
    ``target``; ``api_url`` replaces the guide's external endpoint in the copies."""
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        text = (AIRFLOW_DAGS / name).read_text(encoding="utf-8")
        if api_url is not None:
            text = text.replace(ARTICLE_API_URL, api_url)
        destination.write_text(text, encoding="utf-8")
    return target


ALL_DAG_FILES = [
    "etl_pipeline.py",
    "parallel_processing_dag.py",
    "conditional_pipeline.py",
    "event_driven_pipeline.py",
    "robust_error_handling.py",
    "pipeline_with_metrics.py",
    "idempotent_tasks.py",
    "common/config.py",
]
LOADABLE_DAG_IDS = {
    "etl_sales_pipeline",
    "conditional_processing_pipeline",
    "event_driven_etl",
    "robust_error_handling_pipeline",
    "pipeline_with_observability",
    "idempotent_etl_example",
}


def copy_all(target: Path, api_url: str | None = None) -> Path:
    return copy_article_dags(target, ALL_DAG_FILES, api_url)


__all__ = ["ALL_DAG_FILES", "LOADABLE_DAG_IDS", "copy_all", "copy_article_dags"]

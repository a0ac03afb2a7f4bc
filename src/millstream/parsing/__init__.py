"""Turning DAG files into DAG objects: import a file, find a DAG by id, or load a DagBag."""

from millstream.parsing.dagbag import DagBag
from millstream.parsing.loader import (
    DagImportError,
    DagNotFound,
    default_dags_folder,
    find_dag,
    iter_dag_files,
    load_dag_file,
)

__all__ = [
    "DagBag",
    "DagImportError",
    "DagNotFound",
    "default_dags_folder",
    "find_dag",
    "iter_dag_files",
    "load_dag_file",
]

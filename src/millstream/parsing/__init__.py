"""Turning DAG files into DAG objects: import a file, or find a DAG by id in a folder."""

from millstream.parsing.loader import (
    DagImportError,
    DagNotFound,
    default_dags_folder,
    find_dag,
    iter_dag_files,
    load_dag_file,
)

__all__ = [
    "DagImportError",
    "DagNotFound",
    "default_dags_folder",
    "find_dag",
    "iter_dag_files",
    "load_dag_file",
]

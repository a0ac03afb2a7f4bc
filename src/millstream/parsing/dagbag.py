"""DagBag: every DAG of a folder loaded in this process, with import errors, for users' tests.

The usual unit test of a DAG folder::

    dagbag = DagBag(dag_folder="dags/", include_examples=False)
    assert len(dagbag.import_errors) == 0
    dag = dagbag.get_dag("etl_sales_pipeline")

Files are imported in this process with :func:`~millstream.parsing.loader.load_dag_file`
(so a test can use the DAG objects directly). The scheduler does not use this: it parses
in worker processes with :mod:`millstream.parsing.processor`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from millstream.authoring.dag import DAG
from millstream.parsing.loader import DagImportError, iter_dag_files, load_dag_file

_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def example_dags_folder() -> Path | None:
    """Where the bundled example DAGs are: inside the package, else in a source checkout."""
    for candidate in (_PACKAGE_DIR / "example_dags", _PACKAGE_DIR.parents[1] / "examples" / "dags"):
        if candidate.is_dir():
            return candidate
    return None


class DagBag:
    """The DAGs found in ``dag_folder`` (a folder or one file), loaded in this process.

    ``dag_folder`` defaults to the ``core.dags_folder`` setting. With ``safe_mode`` (the
    default) only files that mention both "millstream" and "dag" are imported, so helper
    modules next to the DAGs are left alone. A file that fails to import, or that defines a
    dag_id another file already defined, is recorded in :attr:`import_errors` and loading
    goes on.
    """

    def __init__(
        self,
        dag_folder: str | os.PathLike[str] | None = None,
        include_examples: bool = False,
        safe_mode: bool = True,
    ) -> None:
        if dag_folder is None:
            from millstream.config import load_settings

            dag_folder = load_settings().core.dags_folder
        self.dag_folder = Path(dag_folder).expanduser().resolve()
        self.include_examples = include_examples
        self.safe_mode = safe_mode
        self.dags: dict[str, DAG] = {}
        """Every DAG loaded, by dag_id."""
        self.import_errors: dict[str, str] = {}
        """Files that could not be loaded: path -> traceback (or what is wrong)."""
        self.file_dags: dict[str, list[str]] = {}
        """Every file loaded without error: path -> the dag_ids it defines."""
        self.collect_dags(self.dag_folder)
        examples = example_dags_folder() if include_examples else None
        if examples is not None and examples.resolve() != self.dag_folder:
            self.collect_dags(examples)

    def collect_dags(self, folder: str | os.PathLike[str]) -> None:
        """Load every DAG file under ``folder`` (or the one file ``folder`` names)."""
        root = Path(folder).expanduser().resolve()
        if root.is_file():
            self.process_file(root)
            return
        if not root.is_dir():
            self.import_errors[str(root)] = f"dag folder {root} does not exist"
            return
        for path in self._dag_files(root):
            self.process_file(path)

    def _dag_files(self, root: Path) -> Iterator[Path]:
        if self.safe_mode:
            yield from iter_dag_files(root)
            return
        for directory, subdirs, files in os.walk(root):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith((".", "__pycache__")))
            for name in sorted(files):
                if name.endswith(".py") and not name.startswith("."):
                    yield Path(directory) / name

    def process_file(self, path: str | os.PathLike[str]) -> list[DAG]:
        """Load one file and add its DAGs; on failure, record its import error instead."""
        file = str(Path(path).expanduser().resolve())
        try:
            found = load_dag_file(file)
        except DagImportError as exc:
            self.import_errors[file] = exc.message
            return []
        clashes = {
            dag_id: other
            for dag_id in found
            for other, ids in self.file_dags.items()
            if dag_id in ids and other != file
        }
        if clashes:
            self.import_errors[file] = "\n".join(
                f"DuplicateDagId: dag_id {dag_id!r} in {file} is already defined in {other}"
                for dag_id, other in sorted(clashes.items())
            )
            return []
        self.file_dags[file] = sorted(found)
        self.dags.update(found)
        return list(found.values())

    def get_dag(self, dag_id: str) -> DAG | None:
        """The DAG with this id, or None if no file defines it."""
        return self.dags.get(dag_id)

    @property
    def dag_ids(self) -> list[str]:
        """The ids of all loaded DAGs, sorted."""
        return sorted(self.dags)

    def size(self) -> int:
        """How many DAGs were loaded."""
        return len(self.dags)

    def __len__(self) -> int:
        return len(self.dags)

    def __repr__(self) -> str:
        return (f"<DagBag {self.dag_folder}: {len(self.dags)} DAGs, "
                f"{len(self.import_errors)} import errors>")

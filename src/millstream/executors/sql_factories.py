"""How a try opens the SQL metadata store: plain objects naming a URL, so they can be pickled.

The local executor passes its factories to a fork server started as a fresh interpreter
(:mod:`millstream.executors.forkserver_main`). A closure cannot be pickled, and a
factory whose class lived next to the SQL store would import SQLAlchemy into the fork
server the moment it arrived; these import it only when a try first calls them, in
that try's worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from millstream.runtime.xcom import XComReader
    from millstream.store.interfaces import Store


@dataclass(frozen=True, slots=True)
class SqlStoreFactory:
    """Opens the metadata store at ``url`` (a new engine per call)."""

    url: str

    def __call__(self) -> Store:
        from millstream.store.sql.store import SqlStore

        return SqlStore.from_url(self.url)


@dataclass(frozen=True, slots=True)
class SqlXComReaderFactory:
    """An XCom reader over the metadata store at ``url``."""

    url: str

    def __call__(self) -> XComReader:
        from millstream.runtime.xcom import StoreXComReader

        return StoreXComReader(SqlStoreFactory(self.url)())

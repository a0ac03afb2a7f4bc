"""SqlStore: the repositories over one SQLAlchemy session, and the transactions around them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TypeVar, cast

from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from millstream.store.change_signal import ChangeSignalRepo
from millstream.store.deadline_records import DeadlineMissRepo
from millstream.store.interfaces import (
    ApiTokenRepo,
    AssetRepo,
    AuditRepo,
    BrowseRepo,
    ConnectionRepo,
    DagRepo,
    ImportErrorRepo,
    JobRepo,
    ListingRepo,
    LoginSessionRepo,
    PoolRepo,
    RunRepo,
    TaskInstanceRepo,
    TaskRescheduleRepo,
    TriggerRepo,
    UserRepo,
    VariableRepo,
    XComRepo,
)
from millstream.store.overview import OverviewRepo
from millstream.store.sql.asset_repos import SqlAssetRepo
from millstream.store.sql.auth_repos import SqlApiTokenRepo, SqlLoginSessionRepo, SqlUserRepo
from millstream.store.sql.browse_repos import SqlBrowseRepo
from millstream.store.sql.change_signal import SqlChangeSignalRepo
from millstream.store.sql.common import connection_of, forget_connection
from millstream.store.sql.dag_repos import SqlAuditRepo, SqlDagRepo, SqlImportErrorRepo
from millstream.store.sql.deadline_repos import SqlDeadlineMissRepo
from millstream.store.sql.engine import make_engine
from millstream.store.sql.job_repos import SqlJobRepo
from millstream.store.sql.listing_repos import SqlListingRepo
from millstream.store.sql.overview_repos import SqlOverviewRepo
from millstream.store.sql.pool_repos import SqlPoolRepo
from millstream.store.sql.read_only import beginning
from millstream.store.sql.repos import SqlRunRepo, SqlTaskInstanceRepo
from millstream.store.sql.secrets_repos import SqlConnectionRepo, SqlVariableRepo
from millstream.store.sql.state_store_repos import SqlStateStoreRepo
from millstream.store.sql.trigger_repos import SqlTaskRescheduleRepo, SqlTriggerRepo
from millstream.store.sql.xcom_repos import SqlXComRepo
from millstream.store.state_store_records import StateStoreRepo
from millstream.store.transaction_guard import TransactionGuard

_R = TypeVar("_R")


class SqlStore:
    """Every repository over one database session.

    ``transaction()`` is one database transaction: it commits when the block ends
    and rolls back if it raises; a ``transaction()`` inside another joins it. There is
    no other way in: a repository method called outside any transaction raises
    :class:`~millstream.exceptions.StoreUsageError` naming it, so every request, tick
    and command decides where its one transaction begins and ends.

    A store (like its session) belongs to one thread; make one per thread over a
    shared engine.
    """

    def __init__(self, engine: Engine, open_pools: bool = False) -> None:
        self.engine = engine
        self.session = Session(engine, autobegin=False, autoflush=False, expire_on_commit=False)
        self._depth = 0
        # Typed as the interfaces, so that the checker holds each repo to its Protocol.
        self.dags: DagRepo = self._bind(SqlDagRepo(self.session))
        self.import_errors: ImportErrorRepo = self._bind(SqlImportErrorRepo(self.session))
        self.audit: AuditRepo = self._bind(SqlAuditRepo(self.session))
        self.runs: RunRepo = self._bind(SqlRunRepo(self.session))
        self.task_instances: TaskInstanceRepo = self._bind(SqlTaskInstanceRepo(self.session))
        self.xcoms: XComRepo = self._bind(SqlXComRepo(self.session))
        self.pools: PoolRepo = self._bind(SqlPoolRepo(self.session, open_pools=open_pools))
        self.assets: AssetRepo = self._bind(SqlAssetRepo(self.session))
        self.users: UserRepo = self._bind(SqlUserRepo(self.session))
        self.api_tokens: ApiTokenRepo = self._bind(SqlApiTokenRepo(self.session))
        self.login_sessions: LoginSessionRepo = self._bind(SqlLoginSessionRepo(self.session))
        self.jobs: JobRepo = self._bind(SqlJobRepo(self.session))
        self.variables: VariableRepo = self._bind(SqlVariableRepo(self.session))
        self.connections: ConnectionRepo = self._bind(SqlConnectionRepo(self.session))
        self.browse: BrowseRepo = self._bind(SqlBrowseRepo(self.session))
        self.listing: ListingRepo = self._bind(SqlListingRepo(self.session))
        self.triggers: TriggerRepo = self._bind(SqlTriggerRepo(self.session))
        self.task_reschedules: TaskRescheduleRepo = self._bind(
            SqlTaskRescheduleRepo(self.session)
        )
        self.signals: ChangeSignalRepo = self._bind(SqlChangeSignalRepo(self.session))
        self.overview: OverviewRepo = self._bind(SqlOverviewRepo(self.session))
        self.deadline_misses: DeadlineMissRepo = self._bind(SqlDeadlineMissRepo(self.session))
        self.state_stores: StateStoreRepo = self._bind(SqlStateStoreRepo(self.session))

    @classmethod
    def from_url(cls, url: str | URL, open_pools: bool = False) -> SqlStore:
        """A store over a new engine for ``url`` (the schema must already be migrated)."""
        return cls(make_engine(url), open_pools=open_pools)

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    @contextlib.contextmanager
    def transaction(self, read_only: bool = False) -> Iterator[None]:
        """One database transaction: commit at the end, roll back on error; nested calls
        join. ``read_only``: it takes no write lock and refuses writes (see
        :mod:`~millstream.store.sql.read_only`)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            with self.session.begin():
                if read_only:  # begun now, as read-only, whichever path reads first
                    with beginning(read_only=True):
                        connection_of(self.session)
                yield
        finally:
            self._depth = 0
            forget_connection(self.session)

    def close(self) -> None:
        """Release the session's connection (the engine stays usable)."""
        self.session.close()

    def _bind(self, repo: _R) -> _R:
        return cast(_R, TransactionGuard(repo, lambda: self.in_transaction, repr(self.engine.url)))

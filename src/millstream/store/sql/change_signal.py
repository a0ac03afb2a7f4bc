"""The change signal over SQL: one row of the ``change_signal`` table and its counter."""

from __future__ import annotations

from typing import cast

from sqlalchemy import BigInteger, String, Table, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from millstream.store.change_signal import SIGNAL_NAME
from millstream.store.sql.common import insert_or_update
from millstream.store.sql.models import Base

SIGNAL_NAME_LEN = 50


class ChangeSignalRow(Base):
    """A named counter (the migration adds the one row the store uses)."""

    __tablename__ = "change_signal"

    name: Mapped[str] = mapped_column(String(SIGNAL_NAME_LEN), primary_key=True)
    counter: Mapped[int] = mapped_column(BigInteger())


_TABLE = cast(Table, ChangeSignalRow.__table__)
_CURRENT = select(_TABLE.c.counter).where(_TABLE.c.name == bindparam("k_name"))


class SqlChangeSignalRepo:
    """The counter row, raised by one upsert in the writer's transaction.

    The write holds the row's lock until that transaction ends, so writers outside the
    scheduler queue behind each other for that moment; their transactions are short.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def bump(self) -> None:
        # The migration adds the row; an emptied table gets it back on the first bump.
        statement = insert_or_update(self.session, _TABLE).values(name=SIGNAL_NAME, counter=1)
        self.session.execute(statement.on_conflict_do_update(
            index_elements=["name"], set_={"counter": _TABLE.c.counter + 1}
        ))

    def current(self) -> int:
        value = self.session.execute(_CURRENT, {"k_name": SIGNAL_NAME}).scalar_one_or_none()
        return int(value or 0)

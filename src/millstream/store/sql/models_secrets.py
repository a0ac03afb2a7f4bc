"""The ``variable`` and ``connection`` tables: secrets are kept as Fernet ciphertext.

Created by migration 0002; rows hold data only (encryption happens in ``millstream.secrets``).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from millstream.store.sql.models import ID_LEN, Base


class VariableRow(Base):
    """One variable (see ``VariableRecord``)."""

    __tablename__ = "variable"

    key: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    value: Mapped[str] = mapped_column(Text())
    description: Mapped[str | None] = mapped_column(Text())
    is_encrypted: Mapped[bool] = mapped_column(Boolean(), default=False)


class ConnectionRow(Base):
    """One connection (see ``ConnectionRecord``)."""

    __tablename__ = "connection"

    conn_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    conn_type: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text())
    host: Mapped[str | None] = mapped_column(String(500))
    schema: Mapped[str | None] = mapped_column(String(500))
    login: Mapped[str | None] = mapped_column(Text())
    password: Mapped[str | None] = mapped_column(Text())
    port: Mapped[int | None] = mapped_column(Integer())
    extra: Mapped[str | None] = mapped_column(Text())
    is_encrypted: Mapped[bool] = mapped_column(Boolean(), default=False)
    is_extra_encrypted: Mapped[bool] = mapped_column(Boolean(), default=False)

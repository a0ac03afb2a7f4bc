"""Generated sales orders: the source table, a seeded order generator, and the stand-in source.

The same seed and interval always give the same orders, so a re-run sees the data the
first run saw. A small share of the orders is invalid on purpose (a zero quantity or
price), which the transform must drop; optionally some lack a customer or product,
which the warehouse checks must catch.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from common.db import Database

SOURCE_TABLE = "sales_orders"
SOURCE_COLUMNS = (
    "order_id", "customer_id", "product_id", "quantity", "unit_price", "order_date", "region",
)
# Stand-in orders of one day get ids from their own block, so days can be filled in any
# order (and twice by mistake, which the primary key would refuse) without clashing.
ORDER_IDS_PER_DAY = 10_000_000
_EPOCH = date(2000, 1, 1)


def source_table_ddl(timestamp_type: str) -> list[str]:
    """The statements that create the source table if it is missing."""
    return [
        f"""
        CREATE TABLE IF NOT EXISTS {SOURCE_TABLE} (
            order_id BIGINT PRIMARY KEY,
            customer_id INTEGER,
            product_id INTEGER,
            quantity INTEGER,
            unit_price NUMERIC(10, 2),
            order_date {timestamp_type} NOT NULL,
            region TEXT
        )
        """,
        f"CREATE INDEX IF NOT EXISTS {SOURCE_TABLE}_order_date ON {SOURCE_TABLE} (order_date)",
    ]


@dataclass(frozen=True)
class OrderGenerator:
    """Makes reproducible orders: ``OrderGenerator(seed=7).orders(start, end, 1000, 1)``."""

    customers: int = 5000
    products: int = 200
    regions: tuple[str, ...] = ("north", "south", "east", "west", "central")
    invalid_share: float = 0.01
    null_key_share: float = 0.0
    seed: int = 2026

    def __post_init__(self) -> None:
        if self.customers < 1 or self.products < 1 or not self.regions:
            raise ValueError("an OrderGenerator needs at least one customer, product and region")
        for name in ("invalid_share", "null_key_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"OrderGenerator.{name} must be between 0 and 1")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], **overrides: Any) -> OrderGenerator:
        """A generator from the ``demo_data`` settings (unknown keys other than
        ``orders_per_day`` are an error naming them)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in {**settings, **overrides}.items() if k != "orders_per_day"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown demo_data settings: {', '.join(unknown)} "
                             f"(known: orders_per_day, {', '.join(sorted(known))})")
        if "regions" in values:
            values["regions"] = tuple(values["regions"])
        return cls(**values)

    def prices(self) -> list[Decimal]:
        """The unit price of each product (index = product_id - 1), fixed by the seed."""
        rng = random.Random(f"{self.seed}:prices")
        return [Decimal(rng.randint(199, 49_999)) / 100 for _ in range(self.products)]

    def orders(self, start: datetime, end: datetime, count: int, first_order_id: int,
               ) -> Iterator[tuple[Any, ...]]:
        """``count`` orders placed in ``[start, end)``, in time order, with consecutive ids.

        Rows are in :data:`SOURCE_COLUMNS` order; ``order_date`` is UTC text to the second.
        """
        span = int((end - start).total_seconds())
        if span <= 0:
            raise ValueError(f"orders need a non-empty interval, got {start} to {end}")
        rng = random.Random(f"{self.seed}:{start.isoformat()}:{end.isoformat()}")
        prices = self.prices()
        regions = self.regions
        base = start.astimezone(UTC).replace(tzinfo=None) if start.tzinfo else start
        offsets = sorted(rng.randrange(span) for _ in range(count))
        for index, offset in enumerate(offsets):
            product = rng.randrange(self.products)
            customer: int | None = rng.randrange(self.customers) + 1
            product_id: int | None = product + 1
            quantity = rng.randint(1, 10)
            price = prices[product]
            if rng.random() < self.invalid_share:
                if index % 2:
                    quantity = 0
                else:
                    price = Decimal("0.00")
            if self.null_key_share and rng.random() < self.null_key_share:
                if index % 2:
                    customer = None
                else:
                    product_id = None
            moment = base + timedelta(seconds=offset)
            yield (
                first_order_id + index, customer, product_id, quantity, price,
                moment.strftime("%Y-%m-%d %H:%M:%S"), rng.choice(regions),
            )


def _utc_days(start: datetime, end: datetime) -> Iterator[date]:
    day = start.astimezone(UTC).date()
    last = (end.astimezone(UTC) - timedelta(microseconds=1)).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


def ensure_demo_orders(database: Database, start: datetime, end: datetime,
                       generator: OrderGenerator, orders_per_day: int) -> int:
    """Fill each UTC day that ``[start, end)`` touches and that has no orders yet.

    For the stand-in SQLite source only: a real source is never written to. One
    transaction holding the write lock, so two pipelines starting together fill a day
    once. Returns how many orders were added.
    """
    added = 0
    with database.session() as session:
        for statement in source_table_ddl(database.timestamp_type):
            session.execute(statement)
        for day in _utc_days(start, end):
            day_start = datetime.combine(day, time(), UTC)
            day_end = day_start + timedelta(days=1)
            has_orders = session.first(
                f"SELECT 1 FROM {SOURCE_TABLE} WHERE order_date >= %s AND order_date < %s LIMIT 1",
                (day_start, day_end),
            )
            if has_orders:
                continue
            first_id = (day - _EPOCH).days * ORDER_IDS_PER_DAY + 1
            rows = generator.orders(day_start, day_end, orders_per_day, first_id)
            added += session.write_rows(SOURCE_TABLE, SOURCE_COLUMNS, rows)
    return added


__all__ = [
    "ORDER_IDS_PER_DAY",
    "SOURCE_COLUMNS",
    "SOURCE_TABLE",
    "OrderGenerator",
    "ensure_demo_orders",
    "source_table_ddl",
]

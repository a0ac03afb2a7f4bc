"""Fixtures of the Celery executor's tests: a database of their own, a broker, a home.

They need PostgreSQL (MILLSTREAM_TEST_POSTGRES_URL), Redis (MILLSTREAM_TEST_REDIS_URL) and
RabbitMQ (MILLSTREAM_TEST_RABBITMQ_URL); .ci/run sets all three and fails when they skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.celery.celery_helpers import (
    CeleryHome,
    broker_base,
    celery_home,
    fresh_database,
    postgres_base,
)


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database(postgres_base()) as url:
        yield url


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest) -> str:
    """The broker's URL: the test runs once over Redis and once over RabbitMQ."""
    return broker_base(str(request.param))


@pytest.fixture
def redis_broker() -> str:
    return broker_base("redis")


@pytest.fixture
def rabbitmq_broker() -> str:
    return broker_base("rabbitmq")


@pytest.fixture
def home(tmp_path: Path, database: str, broker: str) -> Iterator[CeleryHome]:
    yield from celery_home(tmp_path, database, broker)


@pytest.fixture
def redis_home(tmp_path: Path, database: str, redis_broker: str) -> Iterator[CeleryHome]:
    yield from celery_home(tmp_path, database, redis_broker)


@pytest.fixture
def rabbitmq_home(tmp_path: Path, database: str, rabbitmq_broker: str) -> Iterator[CeleryHome]:
    yield from celery_home(tmp_path, database, rabbitmq_broker)

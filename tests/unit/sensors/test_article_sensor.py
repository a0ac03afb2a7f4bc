"""The article's ApiAvailabilitySensor, copied as written (only its imports changed), in
each of its modes against a real HTTP server: it waits until the API answers 200."""

from __future__ import annotations

from typing import Any

import pytest

from millstream import DAG
from millstream.operators.python import PythonOperator
from millstream.sensors.base import BaseSensorOperator, apply_defaults


# -- from the article, unchanged below this line ----------------------------------------------
# Custom sensor for checking API availability
# This pattern is useful when you need to wait for external services
class ApiAvailabilitySensor(BaseSensorOperator):
    """
    Custom sensor that checks if an API endpoint is available and ready.
    Pokes the endpoint until it returns a successful response.
    """

    @apply_defaults
    def __init__(self, endpoint_url, expected_status=200, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.endpoint_url = endpoint_url
        self.expected_status = expected_status

    def poke(self, context):  # type: ignore[no-untyped-def]
        import logging

        import requests

        logger = logging.getLogger(__name__)

        try:
            response = requests.get(self.endpoint_url, timeout=10)
            is_ready = response.status_code == self.expected_status

            if is_ready:
                logger.info(f"API is ready: {self.endpoint_url}")
            else:
                logger.info(f"API returned {response.status_code}, waiting...")

            return is_ready
        except requests.RequestException as e:
            logger.warning(f"API check failed: {e}")
            return False
# -- end of the article's code ----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_the_articles_sensor_waits_for_the_api_in_each_mode(http_server: Any, mode: str) -> None:
    health = http_server.route("/health", (503, {"status": "starting"}),
                               (503, {"status": "starting"}), (200, {"status": "ok"}))
    default_args = {"owner": "data-engineering", "retries": 1}
    with DAG("event_driven_etl", schedule=None, default_args=default_args) as dag:
        wait_for_api = ApiAvailabilitySensor(
            task_id="wait_for_api",
            endpoint_url=f"{http_server.url}/health",
            expected_status=200,
            poke_interval=30,
            timeout=600,
            mode=mode,
        )
        process = PythonOperator(task_id="process_data",
                                 python_callable=lambda: {"status": "processed"})
        wait_for_api >> process
    result = dag.test(fast_retries=True)
    assert result.task_states == {"wait_for_api": "success", "process_data": "success"}
    assert len(health.requests) == 3
    assert [t.tries for t in result.tasks] == [1, 1]


def test_the_articles_sensor_times_out_when_the_api_never_comes_up(http_server: Any) -> None:
    health = http_server.route("/health", (503, {"status": "down"}))
    with DAG("event_driven_etl", schedule=None, default_args={"retries": 1}) as dag:
        ApiAvailabilitySensor(task_id="wait_for_api", endpoint_url=f"{http_server.url}/health",
                              poke_interval=30, timeout=600, mode="reschedule")
    result = dag.test(fast_retries=True)
    (sensor,) = result.tasks
    assert (sensor.state, sensor.tries) == ("failed", 1)  # a sensor timeout is not retried
    assert len(health.requests) == 21  # at 0, 30, ... 600 s

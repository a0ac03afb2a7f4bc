"""Process-wide state no test inherits from another.

In-process CLI runs and web apps set state meant to last for their process: the settings
the secrets code reads, the Airflow compatibility finder and its environment switch, the
metadata store code inside tasks reaches. In the test process they would leak from one
test into the next, so each test ends by putting them back.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

COMPAT_ENV = "MILLSTREAM__COMPAT__AIRFLOW"


@pytest.fixture(autouse=True)
def _process_state_put_back() -> Iterator[None]:
    compat_env = os.environ.get(COMPAT_ENV)
    yield
    from millstream.secrets.settings import use_settings
    from millstream.store.current import set_store_factory

    use_settings(None)
    set_store_factory(None)
    if os.environ.get(COMPAT_ENV) != compat_env:
        if compat_env is None:
            os.environ.pop(COMPAT_ENV, None)
        else:
            os.environ[COMPAT_ENV] = compat_env
    from millstream.compat.airflow import disable

    disable()  # a test that needs the layer turns it on itself
    if "millstream.observability.emit" in sys.modules:  # StatsD, spans: this test's only
        sys.modules["millstream.observability.emit"].reset()

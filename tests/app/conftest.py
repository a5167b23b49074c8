"""The `app` fixture: a fresh AppTest session of the whole app, run once, without an exception."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from app_helpers import MAIN, TIMEOUT, no_exception


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.run()
    no_exception(at)
    return at

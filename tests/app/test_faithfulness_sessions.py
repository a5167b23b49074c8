"""Two sessions turn Faithfulness on for the same sample photo: the second is served the first's
figures and draws its own progress bar without error (a cached function that drew a progress bar
used to be replayed into the second session and raise)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

MAIN = str(Path(__file__).resolve().parents[2] / "app" / "main.py")


def _session_with_faithfulness() -> AppTest:
    app = AppTest.from_file(MAIN, default_timeout=300)
    app.run()
    app.switch_page("views/attention.py").run()
    app.toggle(key="cam_faithfulness").set_value(True).run()
    return app


def test_a_second_session_gets_the_first_sessions_faithfulness(one_torch_thread):
    first = _session_with_faithfulness()
    assert not first.exception, [e.value for e in first.exception]
    tables = [m.value for m in first.markdown if m.value.startswith("**Faithfulness**")]
    assert tables
    second = _session_with_faithfulness()
    assert not second.exception, [e.value for e in second.exception]
    assert [m.value for m in second.markdown if m.value.startswith("**Faithfulness**")] == tables

"""app/requirements_check.py, and what app/main.py says when the requirements are missing.

The missing modules are simulated (a find_spec that hides one name, a None in sys.modules), so no
test here uninstalls or installs anything.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import requirements_check

ROOT = Path(__file__).resolve().parents[2]
MAIN = str(ROOT / "app" / "main.py")


@pytest.fixture
def hide_module(monkeypatch):
    """Make importlib.util.find_spec answer None for the given top-level module names only."""
    real_find_spec = importlib.util.find_spec

    def hide(*names: str) -> None:
        def find_spec(name, package=None):
            return None if name in names else real_find_spec(name, package)

        monkeypatch.setattr(importlib.util, "find_spec", find_spec)

    return hide


def requirements_file(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "requirements.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the app's import check -----------------------------------------------------------------------
def test_app_modules_name_lines_of_requirements_txt():
    """One source: every module the app checks stands for a line that requirements.txt installs."""
    lines = requirements_check.REQUIREMENTS.read_text(encoding="utf-8").lower()
    names = {line.split("#")[0].split("=")[0].split(">")[0].split("<")[0].strip() for line in lines.splitlines()}
    assert set(requirements_check.APP_MODULES) <= names


def test_nothing_is_missing_here():
    assert requirements_check.missing_modules() == []


def test_a_hidden_module_is_reported_in_one_line_with_what_to_run(hide_module):
    hide_module("plotly", "torch")
    missing = requirements_check.missing_modules()
    assert missing == ["torch", "plotly"]
    message = requirements_check.missing_message(missing)
    assert "\n" not in message
    assert "torch, plotly" in message and "bash scripts/lab" in message
    assert "python -m pip install -r requirements.txt" in message


def test_the_app_shows_one_error_line_instead_of_a_traceback(hide_module):
    hide_module("plotly")
    at = AppTest.from_file(MAIN, default_timeout=60)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert [e.value for e in at.error] == [requirements_check.missing_message(["plotly"])]
    assert not at.title  # the page itself did not start


def run_main(*prelude: str) -> subprocess.CompletedProcess:
    """`python app/main.py`, after `prelude` statements run in the same interpreter."""
    code = "; ".join([*prelude, "import runpy", "runpy.run_path('app/main.py', run_name='__main__')"])
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_without_streamlit_main_py_says_what_to_run_in_one_line():
    result = run_main("import sys", "sys.modules['streamlit'] = None")  # `import streamlit` now fails
    assert result.returncode == 1
    assert result.stderr == requirements_check.missing_message(["streamlit"]) + "\n"


def test_python_app_main_py_points_to_the_launcher():
    result = run_main()
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "start it with `bash scripts/lab`" in result.stderr


# --- requirements.txt against the installed distributions -----------------------------------------
def test_this_environment_meets_requirements_txt():
    """What makes scripts/lab and scripts/test skip pip once everything is installed."""
    assert requirements_check.unmet_requirements() == []


def test_each_kind_of_unmet_line_is_named_with_its_reason(tmp_path):
    numpy_version = importlib.metadata.version("numpy")
    path = requirements_file(
        tmp_path,
        "# a comment",
        "numpy>=1.0  # met",
        "numpy==0.0.1",
        "surely-not-an-installed-distribution==1.0",
        "pandas>=0.1; python_version < '3'",  # marker false: not required here
    )
    assert requirements_check.unmet_requirements(path) == [
        f"numpy==0.0.1 (found {numpy_version})",
        "surely-not-an-installed-distribution==1.0 (not installed)",
    ]


def test_editable_install_must_come_from_this_checkout(tmp_path, monkeypatch):
    path = requirements_file(tmp_path, "-e .")
    assert requirements_check.unmet_requirements(path) == []
    monkeypatch.setattr(requirements_check, "ROOT", tmp_path)  # as if run from another clone
    [unmet] = requirements_check.unmet_requirements(path)
    assert unmet.startswith("-e . (effnet-scaling-lab is not installed editable from")


def test_main_exit_status_is_what_the_scripts_act_on(tmp_path, monkeypatch, capsys):
    assert requirements_check.main([str(requirements_file(tmp_path, "numpy>=1.0"))]) == 0
    assert capsys.readouterr().err == ""
    assert requirements_check.main([str(requirements_file(tmp_path, "numpy==0.0.1"))]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    many = [f"surely-not-installed-{index}==1.0" for index in range(5)]
    assert requirements_check.main([str(requirements_file(tmp_path, *many))]) == 1
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and message.count("(not installed)") == 3 and message.endswith("; and 2 more\n")
    assert requirements_check.main([str(tmp_path / "absent.txt")]) == 2
    assert "no requirements file" in capsys.readouterr().err
    monkeypatch.setattr(requirements_check, "OLDEST_PYTHON", (99, 0))
    assert requirements_check.main([]) == 2
    assert "needs Python 99.0 or newer" in capsys.readouterr().err

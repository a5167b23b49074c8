"""scripts/lab and scripts/test, the README's two commands, and .ci/run calling the same test command.

The scripts are run against a stand-in Python that records what it is asked to do, so these tests
install nothing and start no server; the fresh-clone measurement in the README is the real run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CI = ROOT / ".ci" / "run"

STAND_IN_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$CALLS"
if [ "$1" = app/requirements_check.py ]; then exit "$CHECK_STATUS"; fi
if [ "$2" = pip ]; then exit "$PIP_STATUS"; fi
exit 0
"""


def readme_commands() -> list[str]:
    """The commands in the code blocks between the screenshot and the README's first section."""
    text = README.read_text(encoding="utf-8")
    top = text.split("docs/screenshots/build.png)", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", top, flags=re.DOTALL)]


def ci_test_command() -> str:
    """The last command of .ci/run: the one whose output (pytest's closing line) CI reads."""
    lines = [line.strip() for line in CI.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not line.startswith("#")][-1]


def run_script(script: str, tmp_path: Path, check_status: int, *args: str,
               pip_status: int = 0) -> tuple[int, list[str], str]:
    """Run scripts/`script` with a stand-in Python whose requirements check exits `check_status`
    and whose pip exits `pip_status`; return the script's status, the stand-in's calls, stderr."""
    python = tmp_path / "python"
    python.write_text(STAND_IN_PYTHON, encoding="utf-8")
    python.chmod(0o755)
    calls = tmp_path / "calls"
    env = {**os.environ, "LAB_PYTHON": str(python), "CALLS": str(calls), "CHECK_STATUS": str(check_status),
           "PIP_STATUS": str(pip_status)}
    result = subprocess.run(["bash", str(ROOT / "scripts" / script), *args], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    recorded = calls.read_text(encoding="utf-8").splitlines() if calls.exists() else []
    return result.returncode, recorded, result.stderr


# --- the README and CI agree ----------------------------------------------------------------------
def test_the_readme_opens_with_the_two_commands():
    assert readme_commands() == ["bash scripts/lab", "bash scripts/test"]


def test_ci_runs_exactly_the_readme_test_command():
    text = CI.read_text(encoding="utf-8")
    assert ci_test_command() == readme_commands()[1]
    assert "set -euo pipefail" in text
    assert "python -m pip install -r requirements.txt" in text
    assert re.search(r"apt-get install .*chromium", text)


# --- what the scripts do --------------------------------------------------------------------------
@pytest.mark.parametrize(("script", "command"), [("test", "-m pytest -q"), ("lab", "-m streamlit run app/main.py")])
def test_met_requirements_skip_pip(tmp_path, script, command):
    status, calls, stderr = run_script(script, tmp_path, 0, "--an-argument")
    assert status == 0, stderr
    assert calls == ["app/requirements_check.py requirements.txt", f"{command} --an-argument"]


@pytest.mark.parametrize(("script", "command"), [("test", "-m pytest -q"), ("lab", "-m streamlit run app/main.py")])
def test_unmet_requirements_are_installed_first(tmp_path, script, command):
    status, calls, stderr = run_script(script, tmp_path, 1)
    assert status == 0, stderr
    assert calls == ["app/requirements_check.py requirements.txt", "-m pip install -r requirements.txt", command]
    assert "installing requirements.txt" in stderr


def test_a_python_too_old_stops_before_pip(tmp_path):
    status, calls, _ = run_script("test", tmp_path, 2)
    assert status == 2
    assert calls == ["app/requirements_check.py requirements.txt"]


def test_a_failed_install_stops_the_script(tmp_path):
    status, calls, _ = run_script("test", tmp_path, 1, pip_status=3)
    assert status == 3
    assert calls[-1] == "-m pip install -r requirements.txt"  # pytest never ran


def test_the_real_fast_path_runs_no_pip(tmp_path):
    """With this environment installed, scripts/test goes straight to pytest (here `pytest --version`)."""
    env = {**os.environ, "LAB_PYTHON": sys.executable}
    result = subprocess.run(["bash", str(ROOT / "scripts" / "test"), "--version"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "installing" not in result.stderr
    assert "pytest" in result.stdout + result.stderr

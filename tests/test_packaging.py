"""A built wheel holds the whole package: every subpackage and every data file effnet reads.

setuptools builds the wheel from pyproject.toml here (no network, no build isolation), so a new
subpackage or data file that pyproject.toml does not cover fails this test, not a user's install.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_contains_every_effnet_file(tmp_path):
    pytest.importorskip("setuptools")
    source = tmp_path / "source"  # a clean copy: a build/ folder left by an earlier build would hide a gap
    shutil.copytree(ROOT / "effnet", source / "effnet", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", source)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    wanted = {path.relative_to(ROOT).as_posix() for path in (ROOT / "effnet").rglob("*")
              if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"}
    assert any(name.endswith(".json") for name in wanted)  # the calibration: a data file, not only modules
    assert wanted <= inside, sorted(wanted - inside)

"""Is this Python ready to run the lab? Standard library only, so it answers before anything is installed.

Two questions, two users:

- `missing_modules()`: would the app's imports fail? `app/main.py` asks it on every run and shows one
  line saying what to run instead of an import traceback.
- `unmet_requirements()`: is every line of requirements.txt installed at an allowed version?
  `scripts/lab` and `scripts/test` ask it (`python app/requirements_check.py`) and run
  `pip install -r requirements.txt` only when the answer is no: the check takes a fraction of a
  second, while pip takes several seconds even when everything is already there.

Run as a script it exits 0 when requirements.txt is met, 1 when something is missing (listed on
stderr), 2 when this Python is too old for the project.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements.txt"
OLDEST_PYTHON = (3, 10)  # pyproject.toml's requires-python
PROJECT = "effnet-scaling-lab"  # the `-e .` line of requirements.txt

# The module the app imports for each runtime line of requirements.txt. The weights packages are
# left out on purpose: without them the Attention page already says which one to install.
APP_MODULES = {
    "streamlit": "streamlit",
    "torch": "torch",
    "torchvision": "torchvision",
    "grad-cam": "pytorch_grad_cam",
    "plotly": "plotly",
    "pandas": "pandas",
    "pillow": "PIL",
    "numpy": "numpy",
    "scikit-image": "skimage",
}

INSTALL_HINT = (
    "from the repository root run `bash scripts/lab` (installs requirements.txt, then starts the lab), "
    "or `python -m pip install -r requirements.txt`"
)


def missing_modules() -> list[str]:
    """The modules of `APP_MODULES` this Python cannot import, found without importing them."""
    return [module for module in APP_MODULES.values() if importlib.util.find_spec(module) is None]


def missing_message(modules: list[str]) -> str:
    """One line for a user whose Python lacks `modules`: what is missing and what to run."""
    return f"Missing Python packages ({', '.join(modules)}): {INSTALL_HINT}."


def unmet_requirements(requirements: Path = REQUIREMENTS) -> list[str]:
    """Each line of `requirements` that this Python does not satisfy, with the reason.

    A version line is met when its distribution is installed at a version its specifier allows; the
    `-e .` line when the project is installed editable from this very checkout (an install from
    another clone would import that clone's code).
    """
    Requirement = _requirement_class()
    unmet = []
    for line in requirements.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line in ("-e .", "--editable ."):
            if not _editable_here():
                unmet.append(f"{line} ({PROJECT} is not installed editable from {ROOT})")
            continue
        if Requirement is None:
            unmet.append(f"{line} (cannot read version specifiers: no `packaging` module)")
            continue
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            unmet.append(f"{line} (not installed)")
            continue
        if not requirement.specifier.contains(version, prereleases=True):
            unmet.append(f"{line} (found {version})")
    return unmet


def _requirement_class():
    """`packaging`'s Requirement: installed with streamlit, and vendored in pip before that."""
    try:
        from packaging.requirements import Requirement
    except ImportError:
        try:
            from pip._vendor.packaging.requirements import Requirement
        except ImportError:
            return None
    return Requirement


def _editable_here() -> bool:
    """Whether some installed `effnet-scaling-lab` is an editable install of this checkout.

    Every distribution of that name is looked at: `python -m ...` from the repository root also finds
    the in-tree `effnet_scaling_lab.egg-info` that the editable build leaves, which records no source.
    """
    for distribution in importlib.metadata.distributions(name=PROJECT):
        try:
            origin = json.loads(distribution.read_text("direct_url.json") or "{}")
        except ValueError:
            continue
        if origin.get("dir_info", {}).get("editable") and origin.get("url") == ROOT.as_uri():
            return True
    return False


def main(argv: list[str]) -> int:
    """`python app/requirements_check.py [requirements.txt]`: the exit status the scripts act on."""
    if sys.version_info < OLDEST_PYTHON:
        found = ".".join(map(str, sys.version_info[:3]))
        print(f"the lab needs Python {'.'.join(map(str, OLDEST_PYTHON))} or newer; {sys.executable} is {found}",
              file=sys.stderr)
        return 2
    requirements = Path(argv[0]) if argv else REQUIREMENTS
    if not requirements.is_file():
        print(f"no requirements file at {requirements}", file=sys.stderr)
        return 2
    unmet = unmet_requirements(requirements)
    if unmet:
        shown = "; ".join(unmet[:3]) + (f"; and {len(unmet) - 3} more" if len(unmet) > 3 else "")
        print(f"{requirements.name} not met in {sys.prefix}: {shown}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

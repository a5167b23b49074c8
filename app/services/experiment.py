"""The Experiment page's services (and the Learn page's citation of it): results read once per file
version, the trained networks loaded once per checkpoint and shared, and their panels cached by value.

- `load_results(folder)`: effnet.experiment.read_results, cached by the file's path, mtime and size
  (`st.cache_data`: every caller gets its own copy). Raises ResultsError with one line.
- `network_model(folder, network)`: effnet.experiment.panels.load_checkpoint, the network rebuilt from
  its exact configuration in results.json (`st.cache_resource`: one model per checkpoint for every
  session; read-only, in eval mode; effnet.cam.cam_batch holds the model's lock while it computes).
- `scene_panels`, `watch_panels`, `upload_panels`, `sample_grid_png`: effnet.experiment.panels'
  pictures as PNG bytes (`st.cache_data`).
- `lab_verdicts(task)`: the measured verdicts on compound scaling against each single dimension, read
  from the same results the Experiment page shows; the Learn page cites them through this function,
  so the two pages cannot tell two stories.

Nothing here scores a map, solves a plan or draws a picture: effnet.experiment.panels does. torch is
imported only when a network is loaded, so the Learn page can cite the results without it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from PIL import Image

from effnet.experiment import ResultsError, read_results

ROOT = Path(__file__).resolve().parents[2]
# The two tasks: the committed small-object run, and the large-object one (objects fill 35-90% of the
# side). Each folder can be replaced by an environment variable (a results folder or results.json).
TASKS = {
    "small": ("EFFNET_EXPERIMENT_RESULTS", ROOT / "results" / "experiment"),
    "large": ("EFFNET_EXPERIMENT_RESULTS_LARGE", ROOT / "results" / "experiment-large"),
}
SINGLE_DIMENSIONS = ("depth", "width", "resolution")
CITED_METRICS = ("test_accuracy", "pointing_game_common")  # what the paper claims: accuracy (Table 7), attention (Figure 7)


def results_folder(task: str = "small") -> Path:
    """Where a task's results are: its environment variable, or results/experiment(-large)."""
    variable, default = TASKS[task]
    configured = os.environ.get(variable, "").strip()
    return Path(configured) if configured else default


def results_path(folder: str | Path) -> Path:
    folder = Path(folder)
    return folder / "results.json" if folder.is_dir() or folder.suffix != ".json" else folder


def _stamp(path: Path) -> tuple[int, int]:
    """(mtime in ns, size) of a file, (0, 0) when it is missing: a rewritten file is read again."""
    try:
        status = path.stat()
    except OSError:
        return (0, 0)
    return (status.st_mtime_ns, status.st_size)


@st.cache_data(max_entries=16, show_spinner=False)
def _read(path: str, stamp: tuple[int, int]) -> dict:
    return read_results(path)


def load_results(folder: str | Path) -> tuple[dict, tuple[int, int]]:
    """(The checked results document of `folder`, its file stamp); ResultsError with one line."""
    path = results_path(folder)
    stamp = _stamp(path)
    return _read(str(path), stamp), stamp


# ---------------------------------------------------------------------------------------------
# What the lab measured, for any page that states the paper's claim
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LabVerdicts:
    """The verdicts of one task's results on compound scaling against each single dimension."""

    folder: str
    seeds: int  # 0 when there are no results
    comparisons: tuple[dict, ...]  # the document's own comparisons: compound against depth, width, resolution
    message: str  # why there is no verdict to cite ('' when every comparison was decided by the rule)

    def sentences(self, metric: str) -> list[str]:
        """The document's sentences (effnet.experiment.stats' rule) for `metric`, as written in the file."""
        return [str(c.get("sentence", "")) for c in self.comparisons if c.get("metric") == metric]


def compound_comparisons(document: dict, metrics=CITED_METRICS) -> list[dict]:
    """The comparisons of compound against each single dimension on `metrics`, in the document's order."""
    chosen = []
    for comparison in document.get("comparisons") or []:
        if not isinstance(comparison, dict) or comparison.get("metric") not in metrics:
            continue
        pair = {comparison.get("a"), comparison.get("b")}
        if "compound" in pair and pair & set(SINGLE_DIMENSIONS):
            chosen.append(comparison)
    return chosen


def seed_count(document: dict) -> int:
    seeds = document.get("seeds")
    if isinstance(seeds, list) and seeds:
        return len(seeds)
    return min((len(n.get("seeds") or []) for n in document["networks"]), default=0)


def no_verdict_line(seeds: int) -> str:
    """The one line a page shows instead of a ranking when there are too few seeds."""
    from effnet.experiment.stats import MIN_SEEDS

    return (f"{seeds} seed{'s' if seeds != 1 else ''}: no verdict (at least {MIN_SEEDS} are needed before "
            "any network is ranked above another).")


def lab_verdicts(task: str = "small", folder: str | Path | None = None) -> LabVerdicts:
    """What the committed (or configured) results of `task` say about compound scaling; never raises."""
    folder = results_folder(task) if folder is None else Path(folder)
    try:
        document, _ = load_results(folder)
    except ResultsError as error:
        return LabVerdicts(str(folder), 0, (), f"The lab has no measurement to cite here: {error}.")
    seeds = seed_count(document)
    chosen = tuple(compound_comparisons(document))
    if not chosen:
        return LabVerdicts(str(folder), seeds, (), "The lab's results compare no network with compound scaling.")
    if all(c.get("verdict") == "no verdict" for c in chosen):
        return LabVerdicts(str(folder), seeds, chosen, no_verdict_line(seeds))
    return LabVerdicts(str(folder), seeds, chosen, "")


# ---------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------
@st.cache_resource(max_entries=15, show_spinner=False)
def _model(checkpoint: str, stamp: tuple[int, int], config_json: str):
    from effnet.experiment import panels
    from effnet.scaling import ScalingConfig

    return panels.load_checkpoint(checkpoint, ScalingConfig(**json.loads(config_json)))


def network_model(folder: str | Path, network: dict):
    """A network of the results, rebuilt from its exact configuration (shared and read-only);
    ResultsError naming the network and its checkpoint (one line) if it cannot load."""
    from effnet.experiment import panels

    checkpoint = panels.checkpoint_path(results_path(folder).parent, network)
    panels.network_config(network)  # checks the fields (one line) before they become a cache key
    try:
        return _model(str(checkpoint), _stamp(checkpoint), json.dumps(network["config"], sort_keys=True))
    except ResultsError as error:
        raise ResultsError(f"{network['name']}'s {error}") from None


def _models(folder: str, document: dict) -> dict:
    return {network["name"]: network_model(folder, network) for network in document["networks"]}


@st.cache_data(max_entries=24, show_spinner=False)
def scene_panels(folder: str, stamp: tuple[int, int], start: int, count: int) -> list:
    """effnet.experiment.panels.scene_panels of the results in `folder` (`stamp` keys the file's version)."""
    from effnet.experiment import panels

    document, _ = load_results(folder)
    return panels.scene_panels(document, _models(folder, document), start, count)


@st.cache_data(max_entries=64, show_spinner=False)
def watch_panels(folder: str, stamp: tuple[int, int], epoch: int) -> list:
    """effnet.experiment.panels.watch_panels: the watched scenes' maps after `epoch` (no network loaded)."""
    from effnet.experiment import panels

    document, _ = load_results(folder)
    return panels.watch_panels(document, epoch)


@st.cache_data(max_entries=16, show_spinner=False)
def upload_panels(folder: str, stamp: tuple[int, int], image_digest: str, _image: Image.Image) -> list:
    """effnet.experiment.panels.photo_panels for an uploaded photo (keyed by its digest)."""
    from effnet.experiment import panels

    document, _ = load_results(folder)
    return panels.photo_panels(document, _models(folder, document), _image)


@st.cache_data(max_entries=4, show_spinner=False)
def sample_grid_png(folder: str, stamp: tuple[int, int], resolution: int) -> bytes:
    """One held-out scene per class beside its mask, at `resolution` (the base's), as PNG."""
    from effnet.experiment import panels

    document, _ = load_results(folder)
    return panels.png(panels.sample_picture(document["dataset"], resolution))


def finite(value) -> float | None:
    """A number from results.json, or None where it is missing, null or not finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)

"""The Attention page's sanity check (effnet.sanity): which networks it runs on, and its cached results.

The networks are the shared cached ones (app.services.cam for Lite0/1/2, app.services.experiment for
the scaling experiment's five); effnet.sanity reads each under its lock and randomises a private deep
copy, so a run never changes what other sessions see. Results are kept in one store shared by
every session (`st.cache_resource`, guarded by a lock), keyed by the image's SHA-256, the network and
the methods: a class re-running the same sample shares one run. Not `st.cache_data`: it records the
progress bar's updates made inside the function and replays them on a hit, into a bar that belongs
to another run (Streamlit's CacheReplayClosureError). What is kept is small and read-only: the
figures (SanityResult.as_dict) and one PNG per step and method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import streamlit as st
from PIL import Image

from app.services.store import SharedStore

from app.services import cam as cam_service
from effnet import sanity

LITE = ("lite0", "lite1", "lite2")
MAX_KEPT = 32  # finished runs kept (each about 1 MB of PNGs with all six methods)
TILE = 160  # each map's side on screen, in pixels: eleven fit across a 1280-pixel projector
EXPERIMENT_PREFIX = "experiment:"


@dataclass(frozen=True)
class SanityView:
    """A finished run, ready to draw: the figures and, per method, one overlay PNG per step."""

    figures: dict  # effnet.sanity.SanityResult.as_dict()
    tiles: dict[str, list[bytes]]  # method -> PNG per step, trained first
    step_labels: list[str]


def networks() -> dict[str, str]:
    """{key: label} of the networks the check is offered for: the trained presets on this machine
    (Lite0/1/2 always; B0-B7 and V2 once fetched), then the experiment's five when their results and
    checkpoints are here."""
    import effnet
    from effnet import cam

    here = cam.available_trained()
    offered = {name: f"{effnet.preset(name).label.removeprefix('EfficientNet-')} (ImageNet)"
               for name in (*[n for n in LITE if n in here], *[n for n in here if n not in LITE])}
    try:
        from app.services import experiment

        document, _ = experiment.load_results(str(experiment.results_folder()))
        folder = experiment.results_path(experiment.results_folder()).parent
        for network in document["networks"]:
            checkpoint = folder / str(network.get("checkpoint") or f"{network['name']}.pt")
            if checkpoint.is_file():
                offered[EXPERIMENT_PREFIX + str(network["name"])] = (
                    f"experiment: {network.get('title') or network['name']} ({int(network['resolution'])} px, "
                    "trained on the synthetic patterns)")
    except (ValueError, OSError, KeyError, TypeError):  # no experiment here (ResultsError is a ValueError)
        pass
    return offered


def _png(image: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _view(result: sanity.SanityResult) -> SanityView:
    tiles = {method: [_png(result.overlay(number, method, side=TILE)) for number in range(len(result.steps))]
             for method in result.methods}
    return SanityView(result.as_dict(), tiles, [step.label for step in result.steps])


@st.cache_resource(show_spinner=False)
def _store() -> SharedStore:
    """The finished runs of every session (one store per server)."""
    return SharedStore(MAX_KEPT)


def run(image_digest: str, image: Image.Image, network: str, methods: tuple[str, ...],
        progress: Callable[[float, str], None] | None = None) -> SanityView:
    """effnet.sanity for one image, one network (a key of networks()) and the chosen methods; a run
    already done (by any session) is returned at once, without calling `progress`.

    Raises ConfigError (memory), WeightsUnavailableError or ResultsError with one line."""
    def compute() -> SanityView:
        if network.startswith(EXPERIMENT_PREFIX):
            return _view(_experiment_run(image, network.removeprefix(EXPERIMENT_PREFIX), methods, progress))
        return _view(sanity.sanity_check(cam_service.trained_model(network), image, methods, progress=progress))

    return _store().get_or_compute((image_digest, network, tuple(methods)), compute)


def _experiment_run(image: Image.Image, name: str, methods: tuple[str, ...], progress) -> sanity.SanityResult:
    """A trained experiment network, fed the photo as its photo sets are (shorter side resized,
    centre crop, its normalisation), mapped at the experiment's CAM layer, its own classes as targets."""
    from app.services import experiment
    from effnet.experiment import ResultsError, panels, results

    folder = experiment.results_folder()
    document, _ = experiment.load_results(str(folder))
    network = results.network(document, name)
    if network is None:
        raise ResultsError(f"the experiment has no network called {name!r}")
    model = experiment.network_model(folder, network)
    picture = panels.photo_at(image, int(network["resolution"]))
    x = panels.normalised(picture[None], document["dataset"])
    layer = (document.get("cam") or {}).get("layer") or "stage6"
    classes = [str(c) for c in document["dataset"]["classes"]]
    title = network.get("title") or name
    return sanity.cascading_randomisation(model, x, methods, layer=layer, picture=picture, progress=progress,
                                          class_names=classes, model_label=f"experiment: {title}")

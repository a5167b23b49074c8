"""Cached networks and class-activation maps for the Attention page.

Models are `st.cache_resource`: one object shared by every session, read-only after loading.
effnet.cam computes a map without hooks and without writing `.grad` into the model, and holds one
lock per model around each computation, so the shared models are safe under concurrent use.
Maps are `st.cache_data`, keyed by the image's SHA-256 and every setting that changes the result:
thirty students opening the same sample share one computation.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
import streamlit as st
from PIL import Image

from app.services.store import SharedStore

import effnet
from effnet import cam
from effnet.images import load_image

_CONFIG_HASH = {effnet.ScalingConfig: repr}


@dataclass(frozen=True)
class ModelSource:
    """Which network a panel uses: a trained preset, an untrained config, or an uploaded checkpoint."""

    kind: str  # "trained", "untrained" or "checkpoint"
    name: str = ""  # trained: the preset ('lite0'); checkpoint: the file's name
    config: effnet.ScalingConfig | None = None  # untrained and checkpoint
    checkpoint_digest: str = ""  # checkpoint: SHA-256 of the file's bytes


@dataclass(frozen=True)
class Panel:
    """One computed map, its overlay as PNG bytes (for st.image and the download), ready to show."""

    result: cam.CamResult
    overlay_png: bytes


def digest(data: bytes) -> str:
    """SHA-256 of uploaded bytes: the cache key of an image or a checkpoint."""
    return hashlib.sha256(data).hexdigest()


# A decoded upload can be 40 megapixels (120 MB): keep few of them.
@st.cache_data(max_entries=8, ttl=3600, show_spinner=False)
def decode_image(image_digest: str, _data: bytes, name: str) -> Image.Image:
    """effnet.load_image: validated RGB image; raises effnet ImageError with a one-line message."""
    return load_image(_data, name=name)


@st.cache_resource(max_entries=6, show_spinner=False)
def trained_model(name: str) -> cam.CamModel:
    """An ImageNet-trained preset (Lite0-2 ship with the app), shared by every session."""
    return cam.trained_model(name)


@st.cache_resource(max_entries=2, show_spinner=False, hash_funcs=_CONFIG_HASH)
def untrained_model(config: effnet.ScalingConfig) -> cam.CamModel:
    """The slider configuration with seeded random weights (its maps mean nothing: labelled so)."""
    return cam.untrained_model(config)


@st.cache_resource(max_entries=2, show_spinner=False, hash_funcs=_CONFIG_HASH)
def checkpoint_model(config: effnet.ScalingConfig, checkpoint_digest: str, _data: bytes, name: str) -> cam.CamModel:
    """`config` with an uploaded state dict (torch.load weights_only=True: no code runs)."""
    return cam.checkpoint_model(config, _data, name=name)


def model_for(source: ModelSource, checkpoint: bytes | None = None) -> cam.CamModel:
    if source.kind == "trained":
        return trained_model(source.name)
    if source.kind == "untrained":
        return untrained_model(source.config)
    if source.kind == "checkpoint":
        return checkpoint_model(source.config, source.checkpoint_digest, checkpoint, source.name)
    raise ValueError(f"unknown model source {source.kind!r}")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@st.cache_data(max_entries=128, show_spinner=False, hash_funcs={ModelSource: repr, **_CONFIG_HASH})
def maps(
    image_digest: str,
    _image: Image.Image,
    source: ModelSource,
    method: str,
    target: int | None,
    layers: tuple[str | None, ...] = (None,),
    resolution: int | None = None,
    _checkpoint: bytes | None = None,
) -> list[Panel]:
    """Maps of one image for one network (several layers share one forward and backward pass)."""
    cam_model = model_for(source, _checkpoint)
    results = cam.compute_cams(cam_model, _image, list(layers), method=method, target=target, resolution=resolution)
    return [Panel(result, _png(result.overlay(_image, max_side=640))) for result in results]


def overlap(panels: list[Panel]) -> np.ndarray:
    """Intersection over union of the top-20% regions of every pair of panels (one image)."""
    return cam.overlap_matrix([panel.result for panel in panels])


@st.cache_resource(show_spinner=False)
def _faithfulness_store() -> SharedStore:
    """Finished faithfulness figures of every session (a progress bar runs while they are computed,
    so st.cache_data, which replays a cached function's Streamlit calls, cannot hold them)."""
    return SharedStore(128)


def faithfulness(
    image_digest: str,
    image: Image.Image,
    source: ModelSource,
    method: str,
    target: int | None,
    layers: tuple[str | None, ...],
    resolution: int | None,
    panel: int,
    panel_map: Panel,
    checkpoint: bytes | None = None,
    progress=None,
):
    """effnet.faithfulness of the `panel`-th map of maps(...) with the same arguments, and its baselines.

    Forward passes only: safe beside other sessions on the shared model. Keyed like maps(), plus the
    panel's index (`panel_map` is the map itself: the key already says which it is); a result any
    session computed is returned at once, without calling `progress`."""
    from effnet import faithfulness as measures

    key = (image_digest, repr(source), method, target, tuple(layers), resolution, panel,
           None if checkpoint is None else hashlib.sha256(checkpoint).hexdigest())

    def compute():
        cam_model = model_for(source, checkpoint)
        return measures.for_panel(cam_model, image, panel_map.result, progress=progress)

    return _faithfulness_store().get_or_compute(key, compute)


def weights_catalogue() -> list:
    """effnet.fetch.catalogue(): every preset with trained weights, where they come from, whether here.
    Not cached: it only looks at files, and a fetch in a terminal should show at the next rerun."""
    from effnet import fetch

    return fetch.catalogue()

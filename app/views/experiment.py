"""Experiment: the paper's Table 7 and Figure 7 on trained networks, measured in the lab.

Reads a finished run of `python -m effnet experiment run` (results.json, format effnet-experiment/2,
and one state dict per network and seed): the committed small-object task in results/experiment (or
$EFFNET_EXPERIMENT_RESULTS), the large-object task in results/experiment-large (or
$EFFNET_EXPERIMENT_RESULTS_LARGE), or this session's own quick run. Every sentence that ranks or
compares networks is the document's own (effnet.experiment.stats' one rule); this page types none.
Nothing is trained on this page's script run; "Run it yourself" starts a training in a subprocess
(app.services.training).
"""

from __future__ import annotations

import streamlit as st

from app.components import controls, experiment_charts, projector, units

from app.views.experiment_sections import experiment_panels, experiment_table, run_yourself
from app.components.charts import export_config
from app.components.text import escape_markdown
from app.services import experiment as service
from effnet.experiment import paper_rows, synthetic

SCENES_PER_DRAW = 3
PHOTO_KINDS = ("imagefolder", "imagenette")
TASK_LABELS = {"small": "Small objects (committed)", "large": "Large objects"}
# What each task leans towards, and why: a statement about the task's construction, not a result.
TASK_LINES = {
    "small": (f"Small objects ({100 * synthetic.TARGET_SIZE[0]:.0f}–{100 * synthetic.TARGET_SIZE[1]:.0f} % of the "
              "image side): a small object's pattern repeats every few pixels, so this task favours resolution — "
              "more pixels per pattern period."),
    "large": ("Large objects (35–90 % of the image side): every pattern spans many pixels even at the base's "
              "resolution, so this task favours a receptive field that covers the object and richer features "
              "(depth and width) over more pixels."),
}


def _chart(figure, key: str, name: str) -> None:
    st.plotly_chart(projector.figure(figure), key=key, config=export_config(name), theme=projector.theme())


def _back_to_committed() -> None:
    st.session_state.pop(run_yourself.OWN_RESULTS, None)


def _task() -> str:
    """The task switch, with one line on what each task favours; the large task's absence in one line."""
    task = st.radio("Task", tuple(TASK_LABELS), format_func=TASK_LABELS.get, key="exp_task", horizontal=True)
    for name, line in TASK_LINES.items():
        st.caption(("**" + line + "**") if name == task else line)
    return task


def _document(task: str):
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
    folder = service.results_folder(task)
    try:
        document, stamp = service.load_results(folder)
    except service.ResultsError as error:
        if not service.results_path(folder).exists():
            message = (f"The large-object task has not been run yet (no results at {folder})." if task == "large"
                       else str(error))
            st.info(escape_markdown(message), icon=":material/info:")
        else:
            st.error(escape_markdown(str(error)))
        return None
    return str(folder), document, stamp, False


def _verdicts(document: dict) -> None:
    """The document's own sentences (one rule, effnet.experiment.stats): compound against each single
    dimension first, every pair in an expander; with too few seeds, one line instead of a ranking."""
    seeds = service.seed_count(document)
    comparisons = [c for c in document.get("comparisons") or [] if isinstance(c, dict)]
    if not comparisons or all(c.get("verdict") == "no verdict" for c in comparisons):
        st.info(escape_markdown(service.no_verdict_line(seeds)), icon=":material/balance:")
    else:
        for comparison in service.compound_comparisons(document, metrics=("test_accuracy", "pointing_game_common",
                                                                          "mass_inside_common")):
            st.markdown("- " + escape_markdown(str(comparison.get("sentence", ""))))
        with st.expander(f"Every pairwise comparison ({len(comparisons)})"):
            st.markdown("\n".join("- " + escape_markdown(str(c.get("sentence", ""))) for c in comparisons))
    rule = document.get("verdict_rule")
    if isinstance(rule, str) and rule:
        st.caption("How a sentence is decided: " + escape_markdown(rule))


def _answer(document: dict, own: bool) -> None:
    dataset = document["dataset"]
    seeds = service.seed_count(document)
    st.subheader("The answer, as measured" + (" (your quick run)" if own else ""))
    _verdicts(document)
    projector.table(experiment_table.accuracy_table(document))  # split in parts when too wide for the column
    tests = dataset.get("test_size")
    budget = document.get("budget") or {}
    steps, images = budget.get("steps"), budget.get("images_seen")
    st.caption(
        f"Means ± sd over {seeds} seed{'s' if seeds != 1 else ''} (each seed draws its own training scenes and "
        f"initialisation); every network is tested on the same "
        f"{f'{tests:,} ' if isinstance(tests, int) else ''}held-out images of "
        f"{escape_markdown(str(dataset.get('name', 'the dataset')))}. "
        "Validation gain, last fifth: how much the validation accuracy still rose over the last fifth of "
        f"training (\"still rising\": {100 * experiment_table.STILL_RISING:.0f} points or more, an undertrained "
        "network). The last two columns are "
        "**the paper's** Table 7 (EfficientNet-B0 scaled to about 4.5× on ImageNet; Tan & Le, arXiv 1905.11946v5), "
        "not measured here.")
    facts = []
    if isinstance(budget.get("rule"), str):
        facts.append("Budget: " + escape_markdown(budget["rule"]) + (
            f" Here: {steps:,} optimiser steps, {images:,} images seen per network." if isinstance(steps, int)
            and isinstance(images, int) else ""))
    check = document.get("budget_check")
    if isinstance(check, dict) and isinstance(check.get("sentences"), list):
        facts += ["Budget check: " + escape_markdown(str(sentence)) for sentence in check["sentences"]]
    elif isinstance(budget.get("rule"), str):
        facts.append("Budget check: not run (no longer run to compare with), so whether this budget is long enough "
                     "is not known.")
    if isinstance(document.get("alpha_beta_gamma"), str):
        facts.append("α, β, γ of the compound network: " + escape_markdown(document["alpha_beta_gamma"]) + ".")
    for fact in facts:
        st.caption(fact)


def _attention(document: dict) -> None:
    st.subheader("Where the maps fall")
    projector.table(experiment_table.attention_table(document))
    if not experiment_table.has_masks(document):
        st.caption("Photos have no object mask: pytorch-grad-cam's faithfulness metrics instead of the pointing game.")
        return
    note = (document.get("cam") or {}).get("note")
    st.caption((escape_markdown(note) + " " if isinstance(note, str) else "") +
               "Chance: this network's own maps scored against other scenes' masks (its habits kept, the knowledge "
               "of where this object is removed). Ceiling: the best a map peaking in one cell of its native grid "
               "can score on these scenes; native-grid figures are not comparable across networks.")
    sizes = experiment_table.size_table(document)
    if sizes is not None:
        st.markdown("**By object size** (test accuracy / pointing game on the common grid)")
        projector.table(sizes)
        cuts = experiment_table.size_cuts(document)
        if cuts:
            from effnet.experiment.panels import pattern_period_pixels

            base = int((document.get("base") or {}).get("resolution") or document["networks"][0]["resolution"])
            st.caption(f"Thirds of the targets by size: small below {units.percent(cuts[0])} of the image side, large "
                       f"above {units.percent(cuts[1])}. At the base's {base} px a small target's pattern repeats "
                       f"every {pattern_period_pixels(cuts[0], base):.1f} px or less.")


def _charts(document: dict) -> None:
    networks = document["networks"]
    name = str(document["dataset"].get("name", "held-out data"))
    _chart(experiment_charts.accuracy_vs_flops(networks, paper_rows(), name), "exp_chart_accuracy",
           "experiment_accuracy_vs_flops")
    left, right = projector.columns(2)  # one under the other in projector mode
    with left:
        if experiment_table.has_masks(document):
            _chart(experiment_charts.attention_scores(networks, document.get("common_grid")), "exp_chart_attention",
                   "experiment_attention")
        else:
            _chart(experiment_charts.faithfulness_scores(networks), "exp_chart_attention", "experiment_faithfulness")
    with right:
        _chart(experiment_charts.training_curves(networks), "exp_chart_training", "experiment_training")


def _watch(folder: str, stamp, document: dict) -> None:
    """Attention as it forms: the watched held-out scenes' maps after each epoch (recorded in results.json)."""
    from effnet.experiment.panels import watch_epochs

    epochs = watch_epochs(document)
    st.header("Attention as it forms")
    if epochs == 0:
        st.caption("These results recorded no maps during training.")
        return
    epoch = 1
    if epochs > 1:  # a slider needs two values
        epoch = st.slider("After epoch", min_value=1, max_value=epochs, value=epochs, key="exp_epoch")
    try:
        with st.spinner("Drawing the recorded maps…"):
            rows = service.watch_panels(folder, stamp, int(epoch))
    except service.ResultsError as error:
        st.error(escape_markdown(str(error)))
        return
    st.caption(f"The same {len(rows)} held-out scenes after epoch {epoch} of {epochs} (the first seed's run): each "
               "network's map of its predicted class as recorded during training, enlarged over its own input.")
    experiment_panels.column_headers(document["networks"], with_truth=True)
    for row in rows:
        experiment_panels.panel_row(row.panels, (row.truth_png, row.class_name), document.get("common_grid"))


def _next_draw() -> None:
    st.session_state["exp_draw"] = int(st.session_state.get("exp_draw", 0)) + 1


def _cam_note(document: dict) -> str:
    layer = (document.get("cam") or {}).get("layer", "stage6")
    grids = ", ".join(f"{n['native_grid']}×{n['native_grid']} at {n['resolution']} px" for n in document["networks"]
                      if isinstance(n.get("native_grid"), int))
    return (f"Grad-CAM of each network's predicted class at {escape_markdown(str(layer))} (its maps are {grids}), "
            "enlarged over the network's own input; each map is scaled to 0–1 on its own. The first seed's networks.")


def _scene_panels(folder: str, stamp, document: dict) -> None:
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
            rows = service.scene_panels(folder, stamp, start, SCENES_PER_DRAW)
    except service.ResultsError as error:
        st.error(escape_markdown(str(error)))
        return
    with grid.container():
        experiment_panels.column_headers(document["networks"], with_truth=True)
        for row in rows:
            experiment_panels.panel_row(row.panels, (row.truth_png, row.class_name), document.get("common_grid"))
    st.caption(_cam_note(document))


def _upload_panels(folder: str, stamp, document: dict) -> None:
    from app.services import cam as cam_service
    from effnet.images import EXTENSIONS, MAX_BYTES, ImageError

    uploads = st.file_uploader("Upload photos of these classes", type=list(EXTENSIONS), accept_multiple_files=True,
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


def _panels(folder: str, stamp, document: dict) -> None:
    kind = str(document["dataset"].get("kind", ""))
    if kind == "synthetic":
        _watch(folder, stamp, document)
    st.header("Where each network looks")
    if kind == "synthetic":
        _scene_panels(folder, stamp, document)
        st.caption("Uploads: these networks were trained on synthetic scenes, so a photo would mean nothing to them; "
                   "the upload box appears for results trained on photos (--data PATH or imagenette).")
    elif kind in PHOTO_KINDS:
        _upload_panels(folder, stamp, document)
    else:
        st.info(escape_markdown(f"No pictures for a dataset of kind {kind!r} (known: synthetic, {', '.join(PHOTO_KINDS)})."))


def _how_made(folder: str, stamp, document: dict) -> None:
    dataset = document["dataset"]
    with st.expander("The data the networks learned from"):
        description = dataset.get("description")
        if isinstance(description, str) and description:
            st.markdown(escape_markdown(description))
        if dataset.get("kind") == "synthetic":
            resolution = int((document.get("base") or {}).get("resolution") or document["networks"][0]["resolution"])
            st.image(service.sample_grid_png(folder, stamp, resolution),
                     caption=f"One held-out scene per class beside its mask, at the base's {resolution} px")
    with st.expander("How these results were made"):
        command = document.get("command")
        if isinstance(command, str) and command:
            st.code(command, language="bash")
        facts = []
        for label, value in (("device", document.get("device")), ("mode", document.get("mode")),
                             ("created", document.get("created"))):
            if isinstance(value, str) and value:
                facts.append(f"{label}: {escape_markdown(value)}")
        facts.append(f"wall time: {units.wall_time(service.finite(document.get('wall_seconds')))}")
        facts.append(f"seeds: {service.seed_count(document)}")
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
    task = _task()
    shown = _document(task)
    question = shown[1].get("question") if shown else None
    if isinstance(question, str) and question:
        introduction.markdown(f"**{escape_markdown(question)}**")
    introduction.caption("Five networks trained from scratch with one recipe: the baseline, and the same multiply-adds "
                         "spent on depth only, width only, resolution only, or all three by the compound rule (the "
                         "paper's Table 7 and Figure 7). Their attention is scored against each object's true mask.")
    if shown:
        folder, document, stamp, own = shown
        _answer(document, own)
        _attention(document)
        _charts(document)
        with st.spinner("Loading PyTorch (the first visit after the server starts)…"):
            import torch  # noqa: F401  (the panels below need it; imported here so the spinner says why)
        _panels(folder, stamp, document)
        _how_made(folder, stamp, document)
    run_yourself.section(selection)


if __name__ == "__main__":  # Streamlit runs a page file as __main__ (st.navigation / st.Page)
    render()

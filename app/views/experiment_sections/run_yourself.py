"""Run it yourself: the plan for the sidebar's configuration, the command that trains it, and a
button that trains the quick version on this server.

The training runs in a subprocess owned by app.services.training (one per server); this component
only starts it and polls its status in a fragment that reruns every POLL_SECONDS while a training
runs, so no script run ever waits on it. The Train button sits outside any fragment: in Streamlit
1.67 a page rerun asked for from inside a fragment (st.rerun) draws a new run_every fragment but
never starts its timer (checked in Chromium), while a button's own rerun does. When the session's own run finishes, its folder goes into
this session's state (OWN_RESULTS) and the page shows it instead of the committed results.
"""

from __future__ import annotations

import streamlit as st

import effnet
from app.components import projector, units
from app.components.controls import Selection
from app.components.plan_table import plan_table
from app.components.text import escape_markdown
from app.services import plans, training

OWN_RESULTS = "exp_own_results"  # this session's finished quick run (a folder), shown instead of the committed one
_ADOPTED = "_exp_adopted_run"  # the number of the last run whose folder this session took
POLL_SECONDS = 1.0
DEFAULT_MULTIPLE = 4.5  # the paper's Table 7


def session_owner() -> str:
    """This browser session's id: who started a training."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx(suppress_warning=True)
    return context.session_id if context is not None else "no-session"


def _plan(selection: Selection) -> None:
    config = selection.config
    multiple = st.number_input("FLOPs multiple of the base", min_value=1.2, max_value=16.0, value=DEFAULT_MULTIPLE,
                               step=0.5, format="%.1f", key="exp_flops",
                               help="Table 7 scales B0 to about 4.5× its FLOPs; every network lands within 3%.")
    if getattr(config, "is_v2", False):
        # effnet.experiment.run.base_config keeps d, w, r and the family but not the V2 stage table:
        # the command would train B-layout networks, so no plan is offered for a V2 base.
        st.info(f"{config.label}: the experiment's command line trains EfficientNet-B and -Lite layouts only; "
                "pick a B or Lite configuration in the sidebar to plan a run.")
        return
    base = plans.experiment_base(config)
    st.caption(f"Base: the sidebar's configuration, {config.label}, with {base.num_classes} outputs for the synthetic "
               "task. Closed form: no network is built.")
    if config.is_lite and not config.name:
        st.caption("The command line takes a custom base as d, w, r of the B layout: this plan is for that B network.")
    try:
        rows = plans.matched(base, float(multiple))
    except effnet.ConfigError as refusal:
        st.error(f"{config.label} × {multiple:g}: {refusal}")
        return
    projector.table(plan_table(rows))
    st.markdown("The command that trains these five with the full recipe (on the GPU when there is one; "
                "add `--seeds 3` for mean ± sd over seeds):")
    st.code(plans.run_command(config, float(multiple)), language="bash")


def _busy_text(status: training.Status) -> str:
    return (f"Another training is running on this server (started {units.duration_ms(1000 * status.other_seconds)} ago, "
            f"{units.percent(status.other_fraction)} done). One runs at a time: try again when it ends.")


def _start(owner: str) -> None:
    try:
        training.registry().start(owner)
    except training.TrainingBusy:
        st.session_state["_exp_start_refused"] = True
    except training.TrainingError as error:
        st.session_state["_exp_start_error"] = str(error)


def _status_panel(owner: str, polling: bool) -> None:
    """The training's state for this session: progress while it runs, or the button."""
    registry = training.registry()
    status = registry.status(owner)
    if polling and status.state not in ("running", "busy"):
        st.rerun(scope="app")  # it ended: stop polling and show what it made
    if status.state == "done" and st.session_state.get(_ADOPTED) != status.number:
        st.session_state[_ADOPTED] = status.number
        st.session_state[OWN_RESULTS] = status.out
        st.rerun(scope="app")
    st.session_state.pop("_exp_start_refused", None)  # the busy line below says why
    if st.session_state.get("_exp_start_error"):
        st.error(escape_markdown(st.session_state.pop("_exp_start_error")))
    if status.state == "running":
        st.progress(status.fraction, text=f"{units.percent(status.fraction)} · {status.message} · "
                                          f"{units.duration_ms(1000 * status.seconds)} so far")
        st.code(status.command, language="bash")
        st.button("Stop the training", key="exp_stop", on_click=registry.stop, args=(owner,))
        return
    if status.state == "failed":
        st.error(escape_markdown(f"The quick run stopped: {status.error}"))
    elif status.state == "done":
        st.success(f"Your quick run finished in {units.duration_ms(1000 * status.seconds)}; the page above shows it.")
    if status.other_running:
        st.info(_busy_text(status), icon=":material/hourglass_top:")
    # Outside any fragment when idle: the click reruns the whole page, which then draws the polling fragment.
    st.button("Train the quick version here", key="exp_train", type="primary", icon=":material/model_training:",
              disabled=status.other_running, on_click=_start, args=(owner,))


@st.fragment(run_every=POLL_SECONDS)
def _polling_panel(owner: str) -> None:
    """While a training runs: the same panel, redrawn every POLL_SECONDS without rerunning the page."""
    _status_panel(owner, polling=True)


def _training() -> None:
    from effnet.cli_experiment import QUICK

    owner = session_owner()
    polling = training.registry().status(owner).state in ("running", "busy")
    st.markdown(
        f"**The quick version, on this server**: a tiny base (`{QUICK['base']}`) at {QUICK['flops']:g}× its FLOPs, "
        f"{QUICK['train_size']:,} scenes, {QUICK['epochs']} epochs per network, on one CPU thread at low priority "
        "(or the GPU): a few minutes, far from the committed run's accuracy, but every step is the real one. "
        "Only you see its results; one training runs per server at a time.")
    if polling:
        _polling_panel(owner)
    else:
        _status_panel(owner, polling=False)


def section(selection: Selection) -> None:
    """The 'Run it yourself' section."""
    st.header("Run it yourself")
    _plan(selection)
    _training()

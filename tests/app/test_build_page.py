"""Build & profile: refusals that keep the last good result, units that fit, latency (AppTest)."""

from __future__ import annotations

import re

import pytest

from app_helpers import build_metrics, exact_params, metric, no_exception, number, quantity


# --- refusals keep the last good result ------------------------------------------------------------
def test_an_out_of_range_choice_shows_one_line_and_keeps_the_last_metrics(app):
    app.slider(key="phi").set_value(8.0).run()
    before = build_metrics(app)
    app.number_input(key="alpha").set_value(2.5).run()  # depth 2.5^8 = 1526: beyond what is accepted
    no_exception(app)
    errors = [e.value for e in app.error]
    assert len(errors) == 1 and "depth" in errors[0] and "\n" not in errors[0]
    assert build_metrics(app) == before
    app.number_input(key="alpha").set_value(3.0).run()  # alpha itself out of its range
    assert "alpha" in app.error[0].value
    assert build_metrics(app) == before
    app.number_input(key="alpha").set_value(1.2).run()
    assert not app.error


def test_a_network_too_big_to_build_refuses_latency_but_keeps_its_profile(app):
    app.radio(key="mode").set_value("Manual").run()
    for key, value in (("depth", 8.0), ("width", 8.0), ("resolution", 1024)):
        app.slider(key=key).set_value(value).run()
    no_exception(app)
    assert quantity(metric(app, "Parameters")) > 1e9  # the closed-form profile still shows
    app.button(key="latency_run").click().run()
    no_exception(app)
    assert any("GiB" in e.value for e in app.error)


SCIENTIFIC = re.compile(r"\d[eE][+-]?\d")


def test_the_extreme_configuration_reads_in_units_that_fit(app):
    """Seen on the projector: d=8 w=8 r=1024 showed '2359.00 M' parameters and '3.85e+03 B' FLOPs."""
    app.radio(key="mode").set_value("Manual").run()
    for key, value in (("depth", 8.0), ("width", 8.0), ("resolution", 1024)):
        app.slider(key=key).set_value(value).run()
    no_exception(app)
    shown = build_metrics(app)
    assert shown["Parameters"] == "2.36 G" and quantity(shown["Parameters"]) == pytest.approx(exact_params(app), rel=0.005)
    macs = int(re.search(r"([\d,]+) multiply-adds", next(c.value for c in app.caption if c.value.startswith("Total:")))
               .group(1).replace(",", ""))
    assert shown["FLOPs"] == "3.85 T" and quantity(shown["FLOPs"]) == pytest.approx(macs, rel=0.005)
    assert shown["Activation memory"].endswith("GiB")
    texts = [*shown.values(), *(m.proto.delta for m in app.metric), *(c.value for c in app.caption),
             *(i.value for i in app.info)]
    assert not [text for text in texts if SCIENTIFIC.search(text)]


def test_zero_changes_have_no_arrow_and_b0_is_called_the_baseline(app):
    """Seen on the projector: '↑ +0 px' on B0, and 'B0 is d1 w1 r224, while compound(φ=0) is d1 w1 r224'."""
    from streamlit.proto.Metric_pb2 import Metric

    for preset in ("B0", "Lite0"):
        app.selectbox(key="preset").set_value(preset).run()
        no_exception(app)
        directions = {m.label: m.proto.direction for m in app.metric}
        assert set(directions.values()) == {Metric.MetricDirection.NONE}, directions
        note = " ".join(i.value for i in app.info)
        assert "baseline" in note and "rounded by hand" not in note
    app.selectbox(key="preset").set_value("B2").run()
    directions = {m.label: m.proto.direction for m in app.metric}
    assert directions["Resolution"] == Metric.MetricDirection.UP and directions["Parameters"] == Metric.MetricDirection.UP
    assert "rounded by hand" in " ".join(i.value for i in app.info)
    app.selectbox(key="preset").set_value("Custom").run()
    app.radio(key="mode").set_value("Manual").run()
    app.slider(key="width").set_value(0.5).run()
    assert {m.label: m.proto.direction for m in app.metric}["Parameters"] == Metric.MetricDirection.DOWN


def test_latency_runs_on_this_machine_and_names_the_device(app):
    app.button(key="latency_run").click().run()
    no_exception(app)
    assert number(metric(app, "Median latency")) > 0
    assert re.fullmatch(r"[\d.]+ (µs|ms|s)", metric(app, "Median latency"))
    assert re.fullmatch(r"[\d.]+ [kMGT]?FLOP/s", metric(app, "Achieved"))
    assert any("batch 1" in c.value and "224x224" in c.value for c in app.caption)
    # The device line says the same thing, in the same words, before and after a measurement.
    devices = [c.value for c in app.caption if c.value.startswith("Runs on the CPU (")]
    assert devices and all(not SCIENTIFIC.search(c.value) for c in app.caption)


def test_latency_modes_are_offered_labelled_and_cuda_graphs_explained(app):
    """Seen on the projector: the panel's execution modes; without a GPU, CUDA graphs are one line, not an option."""
    from effnet.cost.latency import cuda_available

    modes = app.selectbox(key="latency_mode")
    assert modes.value == "eager"
    if cuda_available():
        assert "cuda_graphs" in modes.options
        return
    assert list(modes.options) == ["eager", "eager, channels_last", "torch.compile"]  # shown by their labels
    assert any("CUDA graphs" in c.value and "need a GPU" in c.value for c in app.caption)
    app.selectbox(key="preset").set_value("Custom").run()
    app.radio(key="mode").set_value("Manual").run()
    app.slider(key="resolution").set_value(64).run()  # a small input keeps the measurement short
    app.selectbox(key="latency_mode").set_value("channels_last").run()
    app.button(key="latency_run").click().run()
    no_exception(app)
    assert any("eager, channels_last, batch 1" in c.value and "64x64" in c.value for c in app.caption)



"""The Experiment page (AppTest), its services and the training registry.

The results come from a real run of `python -m effnet experiment run --quick` made here, in a
subprocess started by the page's own TrainingRegistry, shrunk to 40 training and 20 held-out scenes
and one epoch (about 20 s on 2 CPU cores): the real files in the real format, five networks, no
dependence on the committed results. A test renders the committed folder too when it exists.
References from outside the page: the paper's Table 7 (Tan & Le, arXiv 1905.11946v5: 79.0, 78.9,
79.1, 81.1 % top-1) and effnet.profile's counts.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import effnet
from app.components import units
from app.services import plans, training
from effnet.experiment import ResultsError, read_results
from effnet.predict import predict

ROOT = Path(__file__).resolve().parents[1]
MAIN = str(ROOT / "app" / "main.py")
PAGE = "views/experiment.py"
TIMEOUT = 300
COMMITTED = ROOT / "results" / "experiment"
TABLE7_TOP1 = {"baseline": "77.3 %", "depth": "79.0 %", "width": "78.9 %", "resolution": "79.1 %", "compound": "81.1 %"}
TINY = ["--train-size", "40", "--test-size", "20", "--epochs", "1"]  # after --quick: these override its sizes

# A stand-in for the training subprocess: the CLI's progress lines on stderr, then a finished run's files.
FAKE_TRAINING = """
import shutil, sys, time
out, source, pause, code = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
for step in (10, 50, 90):
    print(f"[{step:5.1f}%] baseline (seed 0): epoch 1/1, loss 2.3", file=sys.stderr, flush=True)
    time.sleep(pause)
if code:
    print("DataError: the data went away", file=sys.stderr, flush=True)
    sys.exit(code)
shutil.copytree(source, out, dirs_exist_ok=True)
print("[100.0%] done", file=sys.stderr, flush=True)
"""


def fake_command(source: Path, pause: float = 0.2, code: int = 0):
    return lambda out: [sys.executable, "-c", FAKE_TRAINING, str(out), str(source), str(pause), str(code)]


@pytest.fixture(scope="module")
def quick_run():
    """A real quick run, trained through the registry's subprocess path."""
    registry = training.TrainingRegistry(command_for=lambda out: training.quick_command(out) + TINY)
    registry.start("fixture")
    assert registry.wait(600), "the quick run did not finish in 10 minutes"
    status = registry.status("fixture")
    assert status.state == "done", status.error
    out = Path(status.out)
    yield out, status
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture
def results(quick_run, tmp_path) -> Path:
    """A private copy of the quick run (tests may damage it)."""
    copy = tmp_path / "results"
    shutil.copytree(quick_run[0], copy)
    return copy


def page(monkeypatch, folder: Path | str) -> AppTest:
    monkeypatch.setenv("EFFNET_EXPERIMENT_RESULTS", str(folder))
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.switch_page(PAGE).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def joined_table(at: AppTest, *having: str):
    """The first table with one of the columns `having`, its parts joined: a table too wide for the column
    is shown in parts that each start with the Network column (app.components.projector.table)."""
    import pandas as pd

    first = next(t.value for t in at.table if "Network" in t.value.columns and set(having) & set(t.value.columns))
    parts = [t.value for t in at.table if "Network" in t.value.columns
             and list(t.value["Network"]) == list(first["Network"])]
    return pd.concat([parts[0]] + [part.drop(columns="Network") for part in parts[1:]], axis=1)


def answer_table(at: AppTest):
    return joined_table(at, "Test accuracy (95% CI)", "Pointing game (95% CI)", "Paper: top-1 (ImageNet)")


def one_line_messages(at: AppTest) -> list[str]:
    messages = [e.value for e in at.error] + [i.value for i in at.info]
    assert all("\n" not in m and "Traceback" not in m for m in messages), messages
    return messages


# --- the registry ----------------------------------------------------------------------------------
def test_the_quick_run_went_through_the_subprocess_with_progress_lines(quick_run):
    out, status = quick_run
    assert status.fraction == 1.0 and status.command.startswith("python -m effnet experiment run --quick --threads 1 --out")
    lines = (out / "stderr.log").read_text().splitlines()
    progress = [line for line in lines if training.PROGRESS_LINE.match(line)]
    assert len(progress) >= 5 and "epoch 1/1" in " ".join(progress), lines[-5:]
    assert [n["name"] for n in read_results(out)["networks"]] == ["baseline", "depth", "width", "resolution", "compound"]


def test_one_training_per_server_and_only_its_owner_gets_the_results(quick_run):
    registry = training.TrainingRegistry(command_for=fake_command(quick_run[0], pause=0.3))
    assert registry.status("alice").state == "idle"
    registry.start("alice")
    running = registry.status("alice")
    assert running.state == "running"
    with pytest.raises(training.TrainingBusy):
        registry.start("bob")
    busy = registry.status("bob")
    assert busy.state == "busy" and busy.other_running and not busy.out
    assert registry.wait(60)
    done = registry.status("alice")
    assert done.state == "done" and done.fraction == 1.0 and read_results(done.out)
    assert registry.status("bob").state == "idle"  # bob is never handed alice's folder
    shutil.rmtree(done.out, ignore_errors=True)


def test_a_failed_training_says_why_in_one_line(quick_run):
    registry = training.TrainingRegistry(command_for=fake_command(quick_run[0], pause=0.01, code=1))
    registry.start("alice")
    assert registry.wait(60)
    status = registry.status("alice")
    assert status.state == "failed" and status.error == "DataError: the data went away"
    shutil.rmtree(status.out, ignore_errors=True)


def test_a_stopped_training_is_reported_as_stopped(quick_run):
    registry = training.TrainingRegistry(command_for=fake_command(quick_run[0], pause=5))
    registry.start("alice")
    assert not registry.stop("bob") and registry.stop("alice")
    assert registry.wait(30)
    status = registry.status("alice")
    assert status.state == "failed" and "stopped" in status.error
    shutil.rmtree(status.out, ignore_errors=True)


# --- the page --------------------------------------------------------------------------------------
def test_the_page_shows_five_networks_their_figures_and_the_papers_table7(monkeypatch, results):
    from app.services import experiment as service

    at = page(monkeypatch, results)
    document = read_results(results)
    table = answer_table(at)
    deeper, wider, higher, compound = document["networks"][1:]
    assert list(table["Network"]) == [
        "Baseline", f"Deeper (d {units.times(deeper['depth_ratio'])})", f"Wider (w {units.times(wider['width_ratio'])})",
        f"Higher resolution (r {units.times(higher['resolution_ratio'])})",
        f"Compound (d {units.times(compound['depth_ratio'])}, w {units.times(compound['width_ratio'])}, "
        f"r {units.times(compound['resolution_ratio'])})"]
    assert list(table["Paper: top-1 (ImageNet)"]) == list(TABLE7_TOP1.values())
    for row, network in zip(table.to_dict("records"), document["networks"]):
        assert row["r (px)"] == str(network["resolution"])
        assert row["Test accuracy (95% CI)"].startswith(f"{100 * network['test_accuracy']:.1f} %")
        assert row["Pointing game (95% CI)"].startswith(f"{100 * network['pointing_game']:.1f} %")
        assert row["Mass inside (95% CI)"].startswith(f"{100 * network['mass_inside']:.1f} %")
        assert row["Chance level"] == f"{100 * network['object_share']:.1f} %"
        # the counts on screen are effnet.profile's of the configuration each checkpoint loads into
        profile = effnet.profile(service.network_config(document, network))
        assert row["Parameters"] == units.si(network["params"]) and profile.params == network["params"]
        assert row["Multiply-adds"] == units.si(network["macs"]) and profile.macs == network["macs"]
        assert "e+" not in " ".join(map(str, row.values())) and "e-" not in " ".join(map(str, row.values()))
    assert len(at.get("plotly_chart")) == 3
    # Grad-CAM panels: the scene and five networks per row, each captioned right or wrong.
    captions = [c.value for c in at.caption]
    verdicts = [c for c in captions if "right]" in c or "wrong]" in c]
    assert len(verdicts) == 5 * 3
    assert len(at.get("image")) == 3 * 6 + 1  # the scenes, the panels, the sample grid
    assert any("Paper" in c or "paper's" in c for c in captions)


def test_draw_new_images_changes_the_scenes_reproducibly(monkeypatch, results):
    at = page(monkeypatch, results)
    first = [c.value for c in at.caption if c.value.startswith("class:")]
    at.button(key="exp_draw_new").click().run()
    assert at.number_input(key="exp_draw").value == 1
    second = [c.value for c in at.caption if c.value.startswith("class:")]
    assert any("Held-out scenes 3–5" in c.value for c in at.caption)
    at.number_input(key="exp_draw").set_value(0).run()
    assert [c.value for c in at.caption if c.value.startswith("class:")] == first
    assert len(second) == 3


@pytest.mark.parametrize("content, expected", [
    ("{not json", "is not valid JSON"),
    (json.dumps({"format": "something else", "networks": []}), "is not an experiment results file"),
    (json.dumps({"format": "effnet-experiment/1", "networks": [{"name": "depth"}], "dataset": {"classes": []}}), "lacks"),
])
def test_a_bad_results_file_is_one_line(monkeypatch, tmp_path, content, expected):
    (tmp_path / "results.json").write_text(content)
    at = page(monkeypatch, tmp_path)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and expected in errors[0].replace("\\", ""), errors
    one_line_messages(at)
    assert at.number_input(key="exp_flops")  # "Run it yourself" is still there


def test_missing_results_are_one_line_of_information(monkeypatch, tmp_path):
    at = page(monkeypatch, tmp_path / "nowhere")
    assert not at.error
    assert any("no experiment results" in m.replace("\\", "") for m in one_line_messages(at))


def test_a_missing_checkpoint_is_one_line_naming_it(monkeypatch, results):
    (results / "width.pt").unlink()
    at = page(monkeypatch, results)
    errors = [e.value.replace("\\", "") for e in at.error]
    assert errors == [f"width's checkpoint width.pt is missing from {results}"]
    assert answer_table(at) is not None  # the measured figures stay


@pytest.mark.parametrize("base, multiple", [("small", 4.5), ("d0.5,w0.25,r56", 2.5), ("b0", 4.5)])
def test_each_network_is_rebuilt_exactly_although_results_round_d_and_w(base, multiple):
    """results.json writes d and w to 4 decimals: the small base's depth-only network (d = 8/3) written
    as 2.6667 would get 9 layers in a 3-repeat stage instead of 8, and a rounded width can move channels.
    The page rebuilds the exact networks: from the plan, or, without the plan's inputs, by nudging the
    written values within their rounding until the recorded parameters and layers match."""
    from app.services import experiment as service
    from effnet.experiment import matched_plan, plan_as_dicts
    from effnet.experiment.plan import layer_counts
    from effnet.experiment.run import base_config

    config = base_config(base, 10)
    rows = plan_as_dicts(matched_plan(config, multiple))
    document = {"base": {"depth": config.depth, "width": config.width, "resolution": config.resolution, "name": base},
                "flops_multiple": multiple, "dataset": {"classes": list(range(10))}, "networks": rows}
    without_plan = {**document, "base": {}, "flops_multiple": None}
    for row in rows:
        for source in (document, without_plan):
            rebuilt = service.network_config(source, row)
            assert effnet.profile(rebuilt).params == row["params"] and layer_counts(rebuilt) == row["layers"], row["name"]
            assert effnet.profile(rebuilt).macs == row["macs"]
    if base == "small":  # the case that broke: 8/3 written as 2.6667 (files before d and w were stored exactly,
        # the committed run among them)
        written = effnet.ScalingConfig(depth=round(rows[1]["depth"], 4), width=round(rows[1]["width"], 4),
                                       resolution=rows[1]["resolution"])
        assert layer_counts(written) != rows[1]["layers"]


def test_uploads_are_offered_only_for_photo_sets(monkeypatch, results):
    at = page(monkeypatch, results)
    assert not at.get("file_uploader")
    assert any("trained on synthetic scenes" in c.value for c in at.caption)
    document = json.loads((results / "results.json").read_text())
    document["dataset"].update(kind="imagefolder", name="my photos", has_masks=False,
                               normalisation={"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]})
    for network in document["networks"]:
        for key in ("pointing_game", "pointing_game_ci", "mass_inside", "mass_inside_ci", "object_share"):
            network.pop(key, None)
        network["faithfulness"] = {"keep_highlighted": 0.12, "keep_highlighted_ci": [0.1, 0.14],
                                   "road_most_relevant_first": -0.05, "road_most_relevant_first_ci": [-0.07, -0.03]}
    (results / "results.json").write_text(json.dumps(document))
    at = page(monkeypatch, results)
    assert "Keep highlighted" in answer_table(at).columns
    photo = (ROOT / "assets" / "chelsea.jpg").read_bytes()
    at.file_uploader(key="exp_upload").set_value([("chelsea.jpg", photo, "image/jpeg")]).run()
    assert not at.exception, [e.message for e in at.exception]
    predictions = [c.value for c in at.caption if c.value.splitlines()[-1].startswith("predicts")]  # after the network
    assert len(predictions) == 5


def test_the_plan_follows_the_sidebar_and_refuses_in_one_line(monkeypatch, results):
    at = page(monkeypatch, results)
    plan = next(t.value for t in at.table if "× the base" in t.value.columns)
    expected = plans.matched(plans.experiment_base(effnet.compound(0.0)), 4.5)
    assert list(plan["Multiply-adds"]) == [units.si(r["macs"]) for r in expected]
    assert any(c.value.endswith("--base d1,w1,r224 --flops 4.5") for c in at.code)
    at.number_input(key="exp_flops").set_value(16.0).run()
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "16" in errors[0] and "\n" not in errors[0]
    at.selectbox(key="preset").set_value("B4").run()
    at.number_input(key="exp_flops").set_value(2.0).run()
    assert not at.exception and not at.error
    assert any(c.value.endswith("--base b4 --flops 2") for c in at.code)
    plan = next(t.value for t in at.table if "× the base" in t.value.columns)
    assert plan["r"][0] == "380 px"
    at.selectbox(key="preset").set_value("V2-S").run()  # the CLI's base keeps no V2 stage table: no plan
    assert not at.exception and not any("× the base" in t.value.columns for t in at.table)
    assert any("B and -Lite layouts only" in i.value for i in at.info)


def test_the_cli_base_of_the_plan_is_the_one_the_cli_builds():
    from effnet.experiment.run import base_config

    for config in (effnet.preset("b0"), effnet.preset("b5"), effnet.preset("lite2"), effnet.compound(1.3),
                   effnet.ScalingConfig(depth=0.5, width=0.4, resolution=80)):
        assert plans.experiment_base(config) == base_config(plans.base_argument(config), 10)


def test_the_training_button_shows_progress_then_this_sessions_own_results(monkeypatch, results, quick_run):
    registry = training.TrainingRegistry(command_for=fake_command(results, pause=1.0))
    monkeypatch.setattr(training, "_REGISTRY", registry)  # the page's registry(), for this test only
    at = page(monkeypatch, results)
    at.button(key="exp_train").click().run()
    assert not at.exception, [e.message for e in at.exception]
    bars = at.get("progress")
    assert bars, "no progress bar while the training runs"
    assert registry.wait(60)
    at.run()  # the page's poll: the run is over, its folder becomes this session's results
    assert not at.exception, [e.message for e in at.exception]
    assert any("your own quick run" in i.value for i in at.info)
    assert any("finished" in s.value for s in at.success)
    at.button(key="exp_back").click().run()
    assert not any("your own quick run" in i.value for i in at.info)
    shutil.rmtree(registry.status("test session id").out, ignore_errors=True)


def test_another_sessions_training_is_a_clear_message_and_no_button(monkeypatch, results):
    registry = training.TrainingRegistry(command_for=fake_command(results, pause=60))  # stopped below
    monkeypatch.setattr(training, "_REGISTRY", registry)
    registry.start("another session")
    try:
        at = page(monkeypatch, results)
        assert any("Another training is running on this server" in i.value for i in at.info)
        assert at.button(key="exp_train").disabled
    finally:
        registry.stop("another session")
        registry.wait(30)
        shutil.rmtree(registry.status("another session").out, ignore_errors=True)


@pytest.mark.skipif(not (COMMITTED / "results.json").exists(), reason="the committed results (results/experiment) are not there yet")
def test_the_committed_results_render(monkeypatch):
    at = page(monkeypatch, COMMITTED)
    assert not at.error, [e.value for e in at.error]
    table = answer_table(at)
    assert len(table) == 5 and list(table["Paper: top-1 (ImageNet)"]) == list(TABLE7_TOP1.values())
    assert len([c for c in at.caption if "right]" in c.value or "wrong]" in c.value]) == 15


# --- Build & profile and Learn --------------------------------------------------------------------
def test_build_shows_the_same_flops_plan_of_the_current_configuration():
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    plan = joined_table(at, "Layers")
    expected = plans.matched(effnet.compound(0.0), 2.0)
    assert list(plan["Network"]) == ["baseline", "deeper", "wider", "higher resolution", "compound"]
    for row, network in zip(plan.to_dict("records"), expected):
        profile = effnet.profile(effnet.ScalingConfig(depth=network["depth"], width=network["width"],
                                                      resolution=network["resolution"]))
        assert row["Parameters"] == units.si(profile.params)
        assert row["Activation memory"] == units.binary_bytes(profile.activation_bytes)
        assert row["Multiply-adds"].startswith(units.si(profile.macs))
        config = effnet.ScalingConfig(depth=network["depth"], width=network["width"], resolution=network["resolution"])
        for batch in (1, 32):
            assert row[f"H200 batch {batch} (predicted)"] == units.duration_ms(predict(config, "H200 SXM", batch, "float16").latency_ms)
    assert plan["Parameters"][0] == "5.29 M"  # B0: torchvision's 5,288,548
    # the same FLOPs, not the same time: the deeper network launches twice the kernels
    deeper = plan.to_dict("records")[1]
    assert deeper["H200 batch 1 (predicted)"] != plan["H200 batch 1 (predicted)"][0]
    assert any("predicted, not measured" in c.value and "deeper network is predicted" in c.value for c in at.caption)
    at.number_input(key="same_flops_multiple").set_value(16.0).run()
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and "\n" not in warnings[0] and "16" in warnings[0]


def test_learn_ends_with_the_experiment_and_links_to_it():
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.switch_page("views/learn.py").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.main.header[-1].value == "The experiment: same FLOPs, four ways"
    text = at.main.markdown[-1].value
    for top1 in ("79.0 %", "78.9 %", "79.1 %", "81.1 %"):
        assert top1 in text
    link = at.main.get("page_link")[-1]
    assert "Open the experiment" in link.proto.label and link.proto.page.endswith("experiment")


def test_the_shared_networks_give_the_same_maps_to_many_threads_at_once(results):
    """The page's networks are one object per checkpoint for every session: 12 threads computing maps
    on one of them at once get exactly what one thread gets alone (effnet.cam's lock per model)."""
    import threading

    import numpy as np

    from app.services import experiment as service
    from effnet.experiment import synthetic

    document = read_results(results)
    network = document["networks"][-1]
    model = service.network_model(results, document, network)
    images = np.stack([synthetic.render(synthetic.scene(0, "show", i), network["resolution"])[0] for i in range(4)])
    alone = service._maps(model, images, document)
    outcomes, failures = [], []

    def work() -> None:
        try:
            outcomes.append(service._maps(model, images, document))
        except Exception as error:  # noqa: BLE001 - collected and reported below
            failures.append(repr(error))

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures and len(outcomes) == 12
    for maps, predicted, confidence in outcomes:
        assert np.array_equal(maps, alone[0]) and np.array_equal(predicted, alone[1])
        assert np.allclose(confidence, alone[2])

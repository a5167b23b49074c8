"""The Experiment page (AppTest), its services, the Learn page's citation of it, and the training registry.

The results are the session's tiny real run (tests/conftest.py: experiment_results, format
effnet-experiment/2, five networks, three seeds), or results constructed from it where a test needs
the order of two networks to flip. References from outside the page: the paper's Table 7 (Tan & Le,
arXiv 1905.11946v5: 77.3, 79.0, 78.9, 79.1, 81.1 % top-1), effnet.profile's counts, the stride-16
arithmetic of a map's grid, the PNG's own size, and effnet.experiment.stats run on constructed
per-image results.
"""

from __future__ import annotations

import io
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import effnet
from app.components import units
from app.services import plans, training
from effnet.experiment import TITLES, ResultsError, read_results, stats

ROOT = Path(__file__).resolve().parents[2]
MAIN = str(ROOT / "app" / "main.py")
PAGE = "views/experiment.py"
LEARN = "views/learn.py"
TIMEOUT = 300
COMMITTED = ROOT / "results" / "experiment"
TABLE7_TOP1 = {"baseline": "77.3 %", "depth": "79.0 %", "width": "78.9 %", "resolution": "79.1 %", "compound": "81.1 %"}
RANKING_WORDS = ("wins", "in line with the paper", "ahead of", "level with", "behind the best", "measured, not noise")

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


@pytest.fixture
def results(experiment_results, tmp_path) -> Path:
    """A private copy of the session's run (tests may damage it)."""
    copy = tmp_path / "results"
    shutil.copytree(experiment_results, copy)
    return copy


def page(monkeypatch, folder: Path | str, path: str = PAGE, large: Path | str | None = None) -> AppTest:
    monkeypatch.setenv("EFFNET_EXPERIMENT_RESULTS", str(folder))
    monkeypatch.setenv("EFFNET_EXPERIMENT_RESULTS_LARGE", str(large or Path(folder) / "no-large-task-here"))
    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.switch_page(path).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def table_with(at: AppTest, column_start: str, first: str | None = None):
    """The table with a column starting `column_start`, its parts joined: a table too wide for the column
    is shown in parts whose later ones head their first column "... (continued)"
    (app.components.projector.table). `first`: the table's first column (its row names), when several
    tables have such a column."""
    import pandas as pd

    from app.components.projector import CONTINUED

    tables = [t.value for t in at.table]
    index = next(i for i, t in enumerate(tables) if any(str(c).startswith(column_start) for c in t.columns)
                 and (first is None or str(t.columns[0]) in (first, f"{first} {CONTINUED}")))
    while index and str(tables[index].columns[0]).endswith(CONTINUED):
        index -= 1
    head = tables[index]
    parts = [head]
    for later in tables[index + 1:]:
        if str(later.columns[0]) != f"{head.columns[0]} {CONTINUED}":
            break
        parts.append(later.drop(columns=later.columns[0]))
    return pd.concat(parts, axis=1)


def plain(text: str) -> str:
    """Text as shown, without the Markdown escapes the page adds."""
    return text.replace("\\", "")


def shown_text(at: AppTest) -> str:
    return "\n".join(plain(e.value) for e in [*at.markdown, *at.caption, *at.info, *at.error, *at.warning])


def one_line_messages(at: AppTest) -> list[str]:
    messages = [e.value for e in at.error] + [i.value for i in at.info]
    assert all("\n" not in m and "Traceback" not in m for m in messages), messages
    return messages


def percent_sd(mean: float, sd: float | None) -> str:
    return f"{100 * mean:.1f} %" + (f" ± {100 * sd:.1f}" if sd is not None else "")


# --- the registry and the real training path ---------------------------------------------------------
def test_the_buttons_command_is_the_clis_quick_run_on_one_thread(tmp_path):
    """The button's command parses as `python -m effnet experiment run --quick` (its real run, end to end,
    is the browser test's slow case; here no network is trained)."""
    import argparse

    from effnet import cli_experiment

    parser = argparse.ArgumentParser()
    cli_experiment.add_parser(parser.add_subparsers(dest="command"))
    command = training.quick_command(tmp_path / "run")
    assert command[:3] == [sys.executable, "-m", "effnet"]
    args = parser.parse_args(command[3:])
    assert (args.command, args.experiment_command, args.quick, args.threads, args.out) == (
        "experiment", "run", True, 1, tmp_path / "run")


def test_one_training_per_server_and_only_its_owner_gets_the_results(experiment_results):
    registry = training.TrainingRegistry(command_for=fake_command(experiment_results, pause=0.3))
    assert registry.status("alice").state == "idle"
    registry.start("alice")
    assert registry.status("alice").state == "running"
    with pytest.raises(training.TrainingBusy):
        registry.start("bob")
    busy = registry.status("bob")
    assert busy.state == "busy" and busy.other_running and not busy.out
    assert registry.wait(60)
    done = registry.status("alice")
    assert done.state == "done" and done.fraction == 1.0 and read_results(done.out)
    assert registry.status("bob").state == "idle"  # bob is never handed alice's folder
    shutil.rmtree(done.out, ignore_errors=True)


def test_a_failed_training_says_why_in_one_line(experiment_results):
    registry = training.TrainingRegistry(command_for=fake_command(experiment_results, pause=0.01, code=1))
    registry.start("alice")
    assert registry.wait(60)
    status = registry.status("alice")
    assert status.state == "failed" and status.error == "DataError: the data went away"
    shutil.rmtree(status.out, ignore_errors=True)


def test_a_stopped_training_is_reported_as_stopped(experiment_results):
    registry = training.TrainingRegistry(command_for=fake_command(experiment_results, pause=5))
    registry.start("alice")
    assert not registry.stop("bob") and registry.stop("alice")
    assert registry.wait(30)
    status = registry.status("alice")
    assert status.state == "failed" and "stopped" in status.error
    shutil.rmtree(status.out, ignore_errors=True)


# --- the page --------------------------------------------------------------------------------------
def test_the_page_shows_means_over_seeds_each_attention_figure_beside_its_own_chance_and_the_papers_table7(
        monkeypatch, experiment_results):
    at = page(monkeypatch, experiment_results)
    document = read_results(experiment_results)
    accuracy = table_with(at, "Test accuracy")
    deeper, wider, higher, compound = document["networks"][1:]
    assert list(accuracy["Network"]) == [
        "Baseline", f"Deeper (d {units.times(deeper['depth_ratio'])})", f"Wider (w {units.times(wider['width_ratio'])})",
        f"Higher resolution (r {units.times(higher['resolution_ratio'])})",
        f"Compound (d {units.times(compound['depth_ratio'])}, w {units.times(compound['width_ratio'])}, "
        f"r {units.times(compound['resolution_ratio'])})"]
    assert list(accuracy["Paper: top-1 (ImageNet)"]) == list(TABLE7_TOP1.values())
    attention = table_with(at, "Pointing game, common")
    grid = document["common_grid"]
    assert f"Pointing game, common {grid}×{grid} (its chance)" in attention.columns
    for row, attention_row, network in zip(accuracy.to_dict("records"), attention.to_dict("records"), document["networks"]):
        per_seed = [seed["test_accuracy"] for seed in network["seeds"]]
        assert row["Seeds"] == "3" and len(per_seed) == 3
        assert row["Test accuracy (± sd)"] == percent_sd(np.mean(per_seed), np.std(per_seed, ddof=1))
        assert row["r (px)"] == str(network["resolution"])
        # the counts on screen are effnet.profile's of the exact configuration each checkpoint loads into
        profile = effnet.profile(effnet.ScalingConfig(**network["config"]))
        assert row["Parameters"] == units.si(profile.params) and profile.params == network["params"]
        assert row["Multiply-adds"] == units.si(profile.macs) and profile.macs == network["macs"]
        common = [seed["pointing_game_common"] for seed in network["seeds"]]
        assert attention_row[f"Pointing game, common {grid}×{grid} (its chance)"] == (
            f"{percent_sd(np.mean(common), np.std(common, ddof=1))} ({100 * network['pointing_game_common_chance']:.1f} %)")
        native = math.ceil(network["resolution"] / 16)  # stage 6 is at stride 16, 'same' padding
        native_cell = attention_row["Pointing game, native grid (ceiling, chance)"]
        assert native_cell.startswith(f"{native}×{native}: ")
        assert f"({100 * network['pointing_game_native_ceiling']:.1f} %, " in native_cell
        for cell in (*row.values(), *attention_row.values()):
            assert not any(mark in str(cell) for mark in ("e+", "e-", "nan"))
    sizes = table_with(at, "small objects")
    assert list(sizes.columns) == ["Network", "small objects", "medium objects", "large objects"]
    text = shown_text(at)
    assert "object covers the image" not in text and "chance level:" not in text.lower()  # no one chance for all
    assert not any(word in text for word in RANKING_WORDS)
    assert "the paper's (searched on ImageNet for B0), not searched for this task" in text
    assert document["budget"]["rule"] in text
    assert len(at.get("plotly_chart")) == 3


def test_each_networks_last_fifth_validation_gain_is_shown_and_an_undertrained_one_is_marked(monkeypatch, results):
    document = json.loads((results / "results.json").read_text())
    document["networks"][2]["last_fifth_validation_gain"] = 0.061  # still learning when the budget ended
    document["networks"][0]["last_fifth_validation_gain"] = 0.004
    (results / "results.json").write_text(json.dumps(document))
    at = page(monkeypatch, results)
    gains = list(table_with(at, "Test accuracy")["Validation gain, last fifth"])
    assert gains[0] == "+0.4 pts" and gains[2] == "+6.1 pts: still rising"
    assert sum("still rising" in gain for gain in gains) == sum(
        (n.get("last_fifth_validation_gain") or 0) >= 0.02 for n in document["networks"])


def test_the_budget_check_is_shown_as_computed_or_said_to_be_missing(monkeypatch, results):
    """Missing: said so; present: its sentences (effnet.experiment.budget, on a longer run constructed to
    gain 15 points) appear as computed."""
    from effnet.experiment.budget import budget_check

    at = page(monkeypatch, results)
    captions = plain(" ".join(c.value for c in at.caption))
    assert "Budget check: not run" in captions
    document = json.loads((results / "results.json").read_text())
    longer = json.loads(json.dumps(document))
    longer["budget"]["steps"] *= 3
    longer["networks"] = longer["networks"][:1]
    longer["networks"][0]["validation_curves"] = [[curve[-1] + 0.15] for curve in longer["networks"][0]["validation_curves"]]
    document["budget_check"] = budget_check(document, longer, "../long")
    checked = results.parent / "checked"  # another folder: the page's cache keys on the folder and its time stamp
    shutil.copytree(results, checked)
    (checked / "results.json").write_text(json.dumps(document))
    at = page(monkeypatch, checked)
    captions = plain(" ".join(c.value for c in at.caption))
    assert "Budget check: At 3× the steps" in captions and "+15.0 points" in captions and "not met" in captions
    assert "Budget check: not run" not in captions


def test_the_sentences_shown_are_the_documents_own_and_three_seeds_let_the_rule_speak(monkeypatch, experiment_results):
    at = page(monkeypatch, experiment_results)
    document = read_results(experiment_results)
    shown = [plain(m.value).removeprefix("- ") for m in at.markdown if m.value.startswith("- ")]
    compound = [c["sentence"] for c in document["comparisons"] if "compound" in (c["a"], c["b"])
                and ({c["a"], c["b"]} - {"compound"}) <= {"depth", "width", "resolution"}]
    assert compound and all(sentence in shown for sentence in compound)
    every = "\n".join(plain(m.value) for m in at.markdown)
    assert all(c["sentence"] in every for c in document["comparisons"])  # the expander lists every pair
    assert not any("no verdict" in i.value for i in at.info)


def constructed(document: dict, outcome: str) -> dict:
    """`document` with comparisons computed by effnet.experiment.stats from constructed per-image results
    (3 seeds, 200 images): compound right on 150 images and width on 100 ('compound'), the reverse
    ('width'), or both right on the same 120 ('none')."""
    images = np.arange(200)
    right = {"compound": {"compound": 150, "width": 100}, "width": {"compound": 100, "width": 150},
             "none": {"compound": 120, "width": 120}}[outcome]
    runs = {name: [{"correct": images < count, "hit_common": images < count,
                    "chance_hit_common": np.zeros(200, dtype=bool)} for _ in range(3)]  # both blind elsewhere
            for name, count in right.items()}
    comparisons = stats.compare_all(runs, ["width", "compound"], metrics=("test_accuracy", "pointing_game_common"))
    for comparison in comparisons:
        comparison["sentence"] = stats.sentence(comparison, TITLES)
    return {**document, "comparisons": comparisons}


@pytest.mark.parametrize("outcome, expected", [
    ("compound", "Compound (α^φ, β^φ, γ^φ) is more accurate than Wider (width only)"),
    ("width", "Wider (width only) is more accurate than Compound (α^φ, β^φ, γ^φ)"),
    ("none", "Wider (width only) and Compound (α^φ, β^φ, γ^φ) are not distinguishable in accuracy"),
])
def test_when_the_order_flips_or_vanishes_the_sentences_on_both_pages_follow(monkeypatch, results, outcome, expected):
    document = constructed(read_results(results), outcome)
    (results / "results.json").write_text(json.dumps(document))
    sentences = [c["sentence"] for c in document["comparisons"]]
    assert sentences[0].startswith(expected)  # the rule itself, on results with a known answer
    at = page(monkeypatch, results)
    shown = [plain(m.value).removeprefix("- ") for m in at.markdown if m.value.startswith("- ")]
    assert shown[:2] == sentences
    assert not any(word in shown_text(at) for word in RANKING_WORDS)
    learn = page(monkeypatch, results, LEARN)
    citations = [plain(m.value) for m in learn.markdown if m.value.startswith("**What the lab measured**")]
    assert sum(sentences[0] in c for c in citations) >= 1 and sum(sentences[1] in c for c in citations) >= 1


def test_with_fewer_than_three_seeds_the_page_says_no_verdict_instead_of_ranking(monkeypatch, results):
    document = read_results(results)
    images = np.arange(100)
    runs = {"width": [{"correct": images < 30}] * 2, "compound": [{"correct": images < 90}] * 2}
    comparisons = stats.compare_all(runs, ["width", "compound"], metrics=("test_accuracy",))
    document["comparisons"] = comparisons
    document["seeds"] = document["seeds"][:2]
    (results / "results.json").write_text(json.dumps(document))
    at = page(monkeypatch, results)
    assert [plain(i.value) for i in at.info if "no verdict" in i.value] == [
        "2 seeds: no verdict (at least 3 are needed before any network is ranked above another)."]
    assert not [m for m in at.markdown if m.value.startswith("- ")]  # no ranking at all
    learn = page(monkeypatch, results, LEARN)
    assert any("2 seeds: no verdict" in plain(m.value) for m in learn.markdown if "What the lab measured" in m.value)


def test_learn_cites_the_verdicts_of_the_results_the_experiment_page_reads(monkeypatch, experiment_results):
    at = page(monkeypatch, experiment_results, LEARN)
    document = read_results(experiment_results)
    citations = [plain(m.value) for m in at.markdown if m.value.startswith("**What the lab measured**")]
    assert len(citations) == 3  # the compound rule (accuracy) and the experiment (accuracy, maps)
    for metric, paragraph in (("test_accuracy", citations[0]), ("test_accuracy", citations[1]),
                              ("pointing_game_common", citations[2])):
        for comparison in document["comparisons"]:
            pair = {comparison["a"], comparison["b"]}
            if comparison["metric"] == metric and "compound" in pair and pair != {"baseline", "compound"}:
                assert comparison["sentence"] in paragraph
    text = "\n".join(plain(m.value) for m in at.markdown)
    assert "Balanced scaling beats any single dimension at the same FLOPs" not in text  # no longer stated as fact


@pytest.mark.skipif(not (COMMITTED / "results.json").exists(), reason="no committed results (results/experiment)")
def test_learn_cites_the_committed_results_or_says_why_it_cannot(monkeypatch):
    from app.services import experiment as service

    at = page(monkeypatch, COMMITTED, LEARN)
    verdicts = service.lab_verdicts(folder=COMMITTED)
    citations = [plain(m.value) for m in at.markdown if m.value.startswith("**What the lab measured**")]
    assert citations
    for paragraph in citations:
        if verdicts.message:
            assert verdicts.message in paragraph
        else:
            assert any(sentence in paragraph for sentence in verdicts.sentences("test_accuracy")
                       + verdicts.sentences("pointing_game_common"))


@pytest.mark.parametrize("content, expected", [
    ("{not json", "is not valid JSON"),
    (json.dumps({"format": "something else", "networks": []}), "is not an experiment results file"),
    (json.dumps({"format": "effnet-experiment/1", "networks": [{"name": "depth"}], "dataset": {"classes": []}}),
     "older single-seed format"),
])
def test_a_bad_results_file_is_one_line(monkeypatch, tmp_path, content, expected):
    (tmp_path / "results.json").write_text(content)
    at = page(monkeypatch, tmp_path)
    errors = [plain(e.value) for e in at.error]
    assert len(errors) == 1 and expected in errors[0], errors
    one_line_messages(at)
    assert at.number_input(key="exp_flops")  # "Run it yourself" is still there


def test_missing_results_are_one_line_of_information(monkeypatch, tmp_path):
    at = page(monkeypatch, tmp_path / "nowhere")
    assert not at.error
    assert any("no experiment results" in plain(m) for m in one_line_messages(at))


def test_a_missing_checkpoint_is_one_line_naming_it(monkeypatch, results):
    (results / "width-seed0.pt").unlink()
    at = page(monkeypatch, results)
    errors = [plain(e.value) for e in at.error]
    assert errors == [f"width's checkpoint width-seed0.pt is missing from {results}"]
    assert table_with(at, "Test accuracy") is not None  # the measured figures stay


def test_the_task_switch_says_what_each_task_favours_and_that_a_missing_task_has_not_run(monkeypatch, experiment_results):
    at = page(monkeypatch, experiment_results)
    assert at.radio(key="exp_task").value == "small"
    lines = [plain(c.value) for c in at.caption if "this task favours" in c.value]
    assert len(lines) == 2 and "pixels per pattern period" in lines[0] and "receptive field" in lines[1]
    at.radio(key="exp_task").set_value("large").run()
    assert not at.exception and not at.error
    assert [plain(i.value) for i in at.info if "large-object task" in plain(i.value)] == [
        f"The large-object task has not been run yet (no results at {experiment_results / 'no-large-task-here'})."]
    assert not [t for t in at.table if "Test accuracy (± sd)" in t.value.columns]
    shown = page(monkeypatch, experiment_results, large=experiment_results)
    shown.radio(key="exp_task").set_value("large").run()
    assert table_with(shown, "Test accuracy") is not None and not shown.error


def test_each_network_is_rebuilt_exactly_from_its_stored_configuration(experiment_results):
    from app.services import experiment as service
    from effnet.experiment.plan import layer_counts

    document = read_results(experiment_results)
    for network in document["networks"]:
        config = effnet.ScalingConfig(**network["config"])
        assert effnet.profile(config).params == network["params"] and layer_counts(config) == network["layers"]
        model = service.network_model(experiment_results, network)
        assert sum(p.numel() for p in model.parameters()) == network["params"]


def test_the_watched_maps_at_the_last_epoch_are_the_maps_of_the_saved_networks(monkeypatch, experiment_results):
    """Attention as it forms: the slider spans the recorded epochs, and after the last one the recorded
    maps (taken during training) score as the saved checkpoints' maps recomputed now on the same scenes."""
    from app.services import experiment as service

    at = page(monkeypatch, experiment_results)
    document, stamp = service.load_results(experiment_results)
    epochs = len(document["networks"][0]["history"])
    slider = at.slider(key="exp_epoch")
    assert (slider.min, slider.max, slider.value) == (1, epochs, epochs)
    watched = service.watch_panels(str(experiment_results), stamp, epochs)
    drawn = service.scene_panels(str(experiment_results), stamp, 0, 3)
    for recorded, recomputed in zip(watched[:3], drawn):
        assert recorded.class_name == recomputed.class_name
        for a, b in zip(recorded.panels, recomputed.panels):
            assert a.predicted == b.predicted and a.peak_inside == b.peak_inside
            assert a.mass_inside == pytest.approx(b.mass_inside, abs=0.02)
    slider.set_value(1).run()
    assert not at.exception
    assert any("after epoch 1 of" in c.value for c in at.caption)


def test_wall_time_has_a_unit_and_the_sample_is_drawn_at_the_bases_resolution(monkeypatch, experiment_results):
    from app.services import experiment as service

    at = page(monkeypatch, experiment_results)
    document, stamp = service.load_results(experiment_results)
    facts = next(plain(c.value) for c in at.caption if "wall time:" in c.value)
    assert f"wall time: {units.wall_time(document['wall_seconds'])}" in facts and "µs" not in facts
    assert document["wall_seconds"] > 0
    base = document["base"]["resolution"]
    picture = Image.open(io.BytesIO(service.sample_grid_png(str(experiment_results), stamp, base)))
    assert picture.size == (5 * 2 * (base + 2), 2 * (base + 2))  # 5 x 2 classes, each scene beside its mask
    image_captions = [image.proto.imgs[0].caption for image in at.get("image") if image.proto.imgs]
    assert any(caption.endswith(f"at the base's {base} px") for caption in image_captions)


@pytest.mark.parametrize("seconds, text", [(0, "not recorded"), (42.0, "42.0 s"), (150.4, "2.51 min"),
                                           (7200, "2.00 h")])
def test_wall_time_is_written_in_seconds_minutes_or_hours(seconds, text):
    assert units.wall_time(seconds) == text


def test_the_scene_panels_draw_new_images_reproducibly(monkeypatch, experiment_results):
    at = page(monkeypatch, experiment_results)
    verdicts = [c.value for c in at.caption if "right]" in c.value or "wrong]" in c.value]
    assert len(verdicts) == 5 * 3 + 5 * 6  # three drawn scenes and six watched ones, five networks each
    first = [c.value for c in at.caption if c.value.startswith("class:")]
    at.button(key="exp_draw_new").click().run()
    assert at.number_input(key="exp_draw").value == 1
    assert any("Held-out scenes 3–5" in c.value for c in at.caption)
    at.number_input(key="exp_draw").set_value(0).run()
    assert [c.value for c in at.caption if c.value.startswith("class:")] == first


def test_uploads_are_offered_only_for_photo_sets(monkeypatch, results):
    at = page(monkeypatch, results)
    assert not at.get("file_uploader")
    assert any("trained on synthetic scenes" in c.value for c in at.caption)
    document = json.loads((results / "results.json").read_text())
    document["dataset"].update(kind="imagefolder", name="my photos", has_masks=False,
                               normalisation={"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]})
    for network in document["networks"]:
        for key in [k for k in network if k.startswith(("pointing_game", "mass_inside"))] + ["by_object_size"]:
            network.pop(key, None)
        network["faithfulness"] = {"keep_highlighted": 0.12, "road_most_relevant_first": -0.05}
    (results / "results.json").write_text(json.dumps(document))
    at = page(monkeypatch, results)
    assert "Keep highlighted" in table_with(at, "Keep highlighted").columns
    photo = (ROOT / "assets" / "chelsea.jpg").read_bytes()
    at.file_uploader(key="exp_upload").set_value([("chelsea.jpg", photo, "image/jpeg")]).run()
    assert not at.exception, [e.message for e in at.exception]
    predictions = [c.value for c in at.caption if c.value.splitlines()[-1].startswith("predicts")]  # after the network
    assert len(predictions) == 5


def test_the_plan_follows_the_sidebar_and_refuses_in_one_line(monkeypatch, experiment_results):
    at = page(monkeypatch, experiment_results)
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
    assert next(t.value for t in at.table if "× the base" in t.value.columns)["r"][0] == "380 px"
    at.selectbox(key="preset").set_value("V2-S").run()  # the CLI's base keeps no V2 stage table: no plan
    assert not at.exception and not any("× the base" in t.value.columns for t in at.table)
    assert any("B and -Lite layouts only" in i.value for i in at.info)


def test_the_training_button_shows_progress_then_this_sessions_own_results(monkeypatch, results):
    registry = training.TrainingRegistry(command_for=fake_command(results, pause=1.0))
    monkeypatch.setattr(training, "_REGISTRY", registry)  # the page's registry(), for this test only
    at = page(monkeypatch, results)
    at.button(key="exp_train").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.get("progress"), "no progress bar while the training runs"
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


def _committed_v2() -> bool:
    try:
        return read_results(COMMITTED)["format"] == "effnet-experiment/2"
    except ResultsError:
        return False


@pytest.mark.skipif(not _committed_v2(), reason="the committed results (results/experiment) are not in format v2 yet")
def test_the_committed_results_render(monkeypatch):
    at = page(monkeypatch, COMMITTED)
    assert not at.error, [e.value for e in at.error]
    table = table_with(at, "Test accuracy")
    assert len(table) == 5 and list(table["Paper: top-1 (ImageNet)"]) == list(TABLE7_TOP1.values())
    assert len([c for c in at.caption if "right]" in c.value or "wrong]" in c.value]) >= 15
    assert not any(word in shown_text(at) for word in RANKING_WORDS)


# --- Build & profile and Learn --------------------------------------------------------------------
def test_build_shows_the_same_flops_plan_of_the_current_configuration():
    from effnet.cost.predict import predict

    at = AppTest.from_file(MAIN, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    plan = table_with(at, "Layers", first="Network")
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
    deeper = plan.to_dict("records")[1]
    assert deeper["H200 batch 1 (predicted)"] != plan["H200 batch 1 (predicted)"][0]
    assert any("predicted, not measured" in c.value and "deeper network is predicted" in c.value for c in at.caption)
    at.number_input(key="same_flops_multiple").set_value(16.0).run()
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and "\n" not in warnings[0] and "16" in warnings[0]


def test_learn_ends_with_the_experiment_and_links_to_it(monkeypatch, experiment_results):
    at = page(monkeypatch, experiment_results, LEARN)
    assert at.main.header[-1].value == "The experiment: same FLOPs, four ways"
    text = next(m.value for m in at.main.markdown if "Table 7" in m.value)
    for top1 in ("79.0 %", "78.9 %", "79.1 %", "81.1 %"):
        assert top1 in text
    link = at.main.get("page_link")[-1]
    assert "Open the experiment" in link.proto.label and link.proto.page.endswith("experiment")


def test_the_shared_networks_give_the_same_maps_to_many_threads_at_once(experiment_results):
    """The page's networks are one object per checkpoint for every session: 12 threads computing maps
    on one of them at once get exactly what one thread gets alone (effnet.cam's lock per model)."""
    import threading

    from app.services import experiment as service
    from effnet.experiment import panels, synthetic

    document = read_results(experiment_results)
    network = document["networks"][-1]
    model = service.network_model(experiment_results, network)
    images = np.stack([synthetic.render(synthetic.scene(0, "show", i), network["resolution"])[0] for i in range(4)])
    alone = panels.network_maps(model, images, document)
    outcomes, failures = [], []

    def work() -> None:
        try:
            outcomes.append(panels.network_maps(model, images, document))
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

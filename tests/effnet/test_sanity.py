"""effnet.sanity and effnet.similarity: the cascading randomisation test of Adebayo et al. (2018).

Known answers: a map that ignores the weights scores 1 at every step (the paper's definition of a
failing method); a map of the head's activations scores exactly 1 while only the classifier is random
and less once the head is; the re-initialised blocks equal a freshly built seeded network block by
block; the measures agree with scipy and scikit-image; the shared network is left as it was.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import effnet
from effnet import cam, cli_cam, sanity, similarity

ASSETS = Path(__file__).resolve().parents[2] / "assets"
PHOTOS = ("chelsea.jpg", "coffee.jpg", "astronaut.jpg")
SMALL = effnet.ScalingConfig(depth=0.5, width=0.5, resolution=64, num_classes=10)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def small_network(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return effnet.build(SMALL)


# ---------------------------------------------------------------------------------------------
# The measures
# ---------------------------------------------------------------------------------------------
def test_spearman_is_scipys_including_ties():
    from scipy.stats import spearmanr

    generator = np.random.default_rng(0)
    first = generator.integers(0, 5, size=(16, 16)).astype(float)  # many ties
    second = first + generator.normal(0, 2, size=(16, 16))
    assert similarity.spearman(first, second) == pytest.approx(spearmanr(first.ravel(), second.ravel()).statistic, abs=1e-12)
    assert similarity.spearman(first, -first) == pytest.approx(-1)
    assert np.isnan(similarity.spearman(np.ones((4, 4)), first[:4, :4]))


def test_ssim_and_hog_of_a_map_with_itself_and_its_negative():
    from skimage.metrics import structural_similarity

    generator = np.random.default_rng(1)
    heatmap = generator.random((64, 64))
    assert similarity.ssim(heatmap, heatmap) == pytest.approx(1)
    assert similarity.ssim(heatmap, 1 - heatmap) < 0  # anti-correlated structure
    # scaled to 0..1 first: a map and twice the map are the same picture
    assert similarity.ssim(heatmap, 2 * heatmap + 3) == pytest.approx(1)
    other = generator.random((64, 64))
    assert similarity.ssim(heatmap, other) == pytest.approx(
        structural_similarity(similarity.normalised(heatmap), similarity.normalised(other), data_range=1.0))
    assert similarity.hog_correlation(heatmap, heatmap) == pytest.approx(1)
    assert np.isnan(similarity.hog_correlation(np.zeros((64, 64)), heatmap))
    with pytest.raises(ValueError, match="different shapes"):
        similarity.spearman(heatmap, heatmap[:32])


# ---------------------------------------------------------------------------------------------
# The cascade on constructed cases
# ---------------------------------------------------------------------------------------------
def test_a_map_that_ignores_the_weights_scores_one_at_every_step():
    """The paper's failing case: the same map whatever the weights (here: the input's brightness)."""
    network = small_network(1)
    x = torch.randn(1, 3, 64, 64)
    result = sanity.cascading_randomisation(network, x, {"input": lambda state: state.x[0].abs().mean(0).numpy()})
    assert [step.label for step in result.steps] == ["trained", *sanity.randomisation_order(network)]
    assert result.steps[-1].randomised == sanity.randomisation_order(network)
    for measure in similarity.MEASURES:
        assert result.curve("input", measure) == pytest.approx([1.0] * len(result.steps))


def test_a_map_of_the_head_changes_exactly_when_the_head_is_randomised():
    network = small_network(1)
    x = torch.randn(1, 3, 64, 64)
    result = sanity.cascading_randomisation(network, x, {"energy": lambda state: np.abs(state.activation[0]).mean(0)})
    spearman = result.curve("energy")
    assert spearman[:2] == pytest.approx([1.0, 1.0], abs=1e-12)  # trained; classifier random: the head's output is unchanged
    assert all(value < 0.99 for value in spearman[2:])  # the head and everything below: a different network


def test_randomised_blocks_are_a_fresh_seeded_network_and_the_rest_stay_trained():
    trained = small_network(1)
    fresh = small_network(7)  # the network's own initialisation, as build() gives it with seed 7
    seen = []
    sanity.cascading_randomisation(trained, torch.randn(1, 3, 64, 64), {
        "record": lambda state: seen.append({k: v.clone() for k, v in state.model.state_dict().items()}) or np.eye(8)
    }, seed=7)
    trained_state, fresh_state = trained.state_dict(), fresh.state_dict()
    order = sanity.randomisation_order(trained)
    for number, state in enumerate(seen):
        random_blocks = order[:number]
        for key, value in state.items():
            block = "classifier" if key.startswith("classifier") else _block_of(trained, key)
            expected = fresh_state[key] if block in random_blocks else trained_state[key]
            assert torch.equal(value, expected), (number, key)


def _block_of(model: torch.nn.Module, key: str) -> str:
    if key.startswith("stem"):
        return "stem"
    if key.startswith("head"):
        return "head"
    return f"stage{int(key.split('.')[1]) + 2}"  # stages.0 is Table 1's stage 2


def test_the_callers_network_is_untouched_and_progress_reaches_one():
    network = small_network(1)
    before = {k: v.clone() for k, v in network.state_dict().items()}
    flags = [p.requires_grad for p in network.parameters()]
    calls = []
    sanity.cascading_randomisation(network, torch.randn(1, 3, 64, 64), ["gradcam", "sobel"],
                                   progress=lambda fraction, text: calls.append(fraction))
    after = network.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert [p.requires_grad for p in network.parameters()] == flags
    assert all(p.grad is None for p in network.parameters())
    assert len(calls) == len(sanity.randomisation_order(network)) + 1 and calls[-1] == pytest.approx(1)


def test_memory_guard_refuses_in_one_line(monkeypatch):
    giant = effnet.ScalingConfig(depth=2.0, width=2.0, resolution=800)
    with pytest.raises(effnet.ConfigError) as refusal:
        sanity.check_sanity_memory(giant)
    assert "\n" not in str(refusal.value) and "GiB" in str(refusal.value) and "sanity check" in str(refusal.value)
    monkeypatch.setattr(sanity, "MAX_CAM_BYTES", 1)
    with pytest.raises(effnet.ConfigError, match="this server allows"):
        sanity.cascading_randomisation(small_network(1), torch.randn(1, 3, 64, 64), ["sobel"])


# ---------------------------------------------------------------------------------------------
# Trained Lite0 on the sample photos
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lite0_results():
    model = cam.trained_model("lite0")
    before = {k: v.clone() for k, v in model.model.state_dict().items()}
    results = {photo: sanity.sanity_check(model, ASSETS / photo) for photo in PHOTOS}
    return model, before, results


def test_gradcam_falls_below_half_once_the_top_stages_are_random_and_sobel_stays_at_one(lite0_results):
    _, _, results = lite0_results
    for photo, result in results.items():
        top_random = [step.label for step in result.steps].index("stage8")  # classifier, head, stage 8 random
        assert result.curve("gradcam")[top_random] < 0.5, photo
        assert result.curve("sobel") == pytest.approx([1.0] * 11), photo
        for method in result.methods:
            first = result.steps[0].similarity[method]
            assert all(first[m] == pytest.approx(1) for m in similarity.MEASURES), (photo, method)


def test_eigencam_ignores_the_classifier_and_gradcam_does_not(lite0_results):
    """EigenCAM reads only the head's activations, which the classifier does not change: with only the
    classifier random its map is the trained one (similarity exactly 1). Grad-CAM's gradients come
    through the classifier's weights: its map changes at that first step. At the head (followed by
    global average pooling only) HiResCAM's map equals Grad-CAM's, as the HiResCAM paper shows."""
    _, _, results = lite0_results
    for photo, result in results.items():
        classifier_step = result.steps[1]
        assert classifier_step.randomised == ("classifier",)
        assert all(classifier_step.similarity["eigencam"][m] == pytest.approx(1, abs=1e-9) for m in similarity.MEASURES), photo
        assert classifier_step.similarity["gradcam"]["spearman"] < 0.9, photo
        assert result.curve("hirescam") == pytest.approx(result.curve("gradcam"), abs=1e-4), photo


def test_the_trained_step_shows_the_attention_pages_maps(lite0_results):
    model, _, results = lite0_results
    result = results["coffee.jpg"]
    assert result.target_label == "espresso"
    for method in cam.METHODS:
        page = cam.compute_cam(model, ASSETS / "coffee.jpg", method).heatmap
        assert np.abs(result.steps[0].maps[method] - page).max() < 0.01, method


def test_the_shared_cached_model_is_untouched_after_a_sanity_run(lite0_results):
    model, before, _ = lite0_results
    assert model is cam.trained_model("lite0")
    after = model.model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert not model.model.training


def test_threads_sharing_the_cached_model_get_the_figures_of_a_run_alone(lite0_results):
    """Four sessions at once on the one shared Lite0 (as a classroom would): each gets what a run alone gets."""
    from concurrent.futures import ThreadPoolExecutor

    model, before, results = lite0_results
    photos = ["coffee.jpg", "chelsea.jpg"] * 2
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = list(pool.map(lambda photo: sanity.sanity_check(model, ASSETS / photo, ["gradcam", "eigencam"]), photos))
    for photo, result in zip(photos, runs):
        for method in ("gradcam", "eigencam"):
            assert result.curve(method) == pytest.approx(results[photo].curve(method), abs=1e-6), (photo, method)
    after = model.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_the_experiments_networks_run_at_their_cam_layer_with_their_own_classes():
    """The page's plumbing for the scaling experiment's committed networks: the photo as their photo sets
    feed it, the results' CAM layer, the synthetic classes as targets."""
    from PIL import Image

    from app.services import experiment
    from app.services import sanity as sanity_service

    document, _ = experiment.load_results(str(experiment.results_folder()))
    assert "experiment:baseline" in sanity_service.networks()
    view = sanity_service.run("test-digest-baseline", Image.open(ASSETS / "chelsea.jpg").convert("RGB"),
                              "experiment:baseline", ("gradcam", "sobel"))
    figures = view.figures
    assert figures["layer"] == document["cam"]["layer"] and figures["resolution"] == 80
    assert figures["target"] in document["dataset"]["classes"]
    assert len(view.step_labels) == 11 and len(view.tiles["gradcam"]) == 11
    assert all(step["spearman"] == pytest.approx(1) for step in figures["methods"]["sobel"]["steps"])


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------
def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="effnet")
    cli_cam.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_sanity_json_shape(capsys):
    args = parse(["cam", str(ASSETS / "chelsea.jpg"), "--model", "lite0", "--sanity", "--json"])
    assert cli_cam.run(args) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["model"] == "lite0" and record["image"].endswith("chelsea.jpg")
    assert set(record["methods"]) == set(cam.METHODS) | {"sobel"}
    for method, figures in record["methods"].items():
        steps = figures["steps"]
        assert len(steps) == 11
        assert steps[0]["randomised"] == [] and steps[-1]["randomised"][-1] == "stem"
        assert {"randomised", "spearman", "spearman_abs", "ssim", "hog"} <= set(steps[0])
        assert all(steps[0][m] == pytest.approx(1) for m in ("spearman", "spearman_abs", "ssim"))
    assert all(step["spearman"] == pytest.approx(1) for step in record["methods"]["sobel"]["steps"])


@pytest.mark.parametrize("options, message", [
    (["--method", "gradcam,scorecam"], "ScoreCAM is not offered"),
    (["--models", "lite9"], "lite9"),
    (["--resolution", "300"], "--resolution does not apply"),
])
def test_cli_sanity_mistakes_exit_2_with_one_line(capsys, options, message):
    assert cli_cam.run(parse(["cam", str(ASSETS / "chelsea.jpg"), "--sanity", *options])) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and message in error[0]


def test_cli_maps_still_need_an_output_folder(capsys):
    assert cli_cam.run(parse(["cam", str(ASSETS / "chelsea.jpg")])) == 2
    assert "--out DIR is required" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# The Attention page (AppTest; the real browser is tests/test_browser_sanity.py)
# ---------------------------------------------------------------------------------------------
MAIN = str(Path(__file__).resolve().parents[2] / "app" / "main.py")


@pytest.fixture
def attention_page():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(MAIN, default_timeout=300)
    at.run()
    at.switch_page("views/attention.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_page_section_shows_a_row_per_method_and_a_chart(attention_page):
    at = attention_page
    assert "cam_sanity_network" not in [s.key for s in at.selectbox]  # off until asked for: it costs seconds
    at.toggle(key="cam_sanity").set_value(True).run()
    at.selectbox(key="cam_sanity_method").set_value("gradcam").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="cam_sanity_network").options[:3] == ["Lite0 (ImageNet)", "Lite1 (ImageNet)", "Lite2 (ImageNet)"]
    assert any("experiment" in option for option in at.selectbox(key="cam_sanity_network").options)
    assert any("Sanity Checks for Saliency Maps" in m.value and "NeurIPS 2018" in m.value for m in at.markdown)
    assert any("**Grad\\-CAM**" in m.value for m in at.markdown) and any("**Sobel" in m.value for m in at.markdown)
    captions = [c.value for c in at.caption]
    assert captions.count("trained") == 2 and captions.count("stem (all random)") == 2  # Grad-CAM and Sobel rows
    assert len(at.get("plotly_chart")) == 1


def test_page_section_refuses_a_network_over_the_memory_limit_in_one_line(attention_page, monkeypatch):
    import io

    from PIL import Image

    monkeypatch.setattr(sanity, "MAX_CAM_BYTES", 1)
    at = attention_page
    noise = np.random.default_rng().integers(0, 256, size=(96, 128, 3), dtype=np.uint8)  # never seen: not stored
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG")
    at.file_uploader(key="cam_upload").set_value([("noise.png", buffer.getvalue(), "image/png")]).run()
    at.toggle(key="cam_sanity").set_value(True).run()
    assert not at.exception, [e.message for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "this server allows" in errors[0] and "\n" not in errors[0]
    assert len(at.get("plotly_chart")) == 0

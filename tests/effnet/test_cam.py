"""effnet.cam: predictions on the sample photos, maps equal to pytorch-grad-cam's own, thread safety."""

from __future__ import annotations

import copy
import io
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps
from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, LayerCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

import effnet
from effnet import cam
from effnet.images import load_image

ASSETS = Path(__file__).resolve().parents[2] / "assets"
LIBRARY_CLASSES = {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus, "hirescam": HiResCAM, "layercam": LayerCAM, "eigencam": EigenCAM}
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian cat, Siamese cat, Egyptian cat
# chelsea.jpg is 451x300 and the cat fills most of it; its face (both eyes, nose and mouth, judged by
# eye on the photo) lies within x 100..360, y 60..290. The out-of-focus background is the strip right
# of x = 380 (the top right corner).
CAT_FACE = (100, 60, 360, 290)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def chelsea() -> Image.Image:
    return load_image(ASSETS / "chelsea.jpg")


@pytest.fixture(scope="module")
def coffee() -> Image.Image:
    return load_image(ASSETS / "coffee.jpg")


@pytest.fixture(scope="module")
def lite0() -> cam.CamModel:
    return cam.trained_model("lite0")


def test_the_family_recognises_the_sample_photos(chelsea, coffee):
    for result in cam.compare_family(chelsea):
        assert result.trained and result.target_index in CAT_CLASSES, (result.model_label, result.top5)
        assert result.top5[0][0] == result.target_label  # target None = the model's own top-1
    assert [r.resolution for r in cam.compare_family(coffee, names=("lite0",))] == [224]
    for result in cam.compare_family(coffee):
        assert result.top5[0][0] in ("espresso", "cup"), (result.model_label, result.top5)


def test_top5_comes_from_the_same_forward_pass_as_the_module(lite0, chelsea):
    result = cam.compute_cam(lite0, chelsea)
    with torch.no_grad():
        probabilities = torch.softmax(lite0.model(lite0.preprocessing(chelsea).unsqueeze(0))[0], 0)
    categories = effnet.imagenet_categories()
    top = torch.topk(probabilities, 5)
    assert [label for label, _ in result.top5] == [categories[i] for i in top.indices]
    assert np.allclose([p for _, p in result.top5], top.values.numpy(), atol=1e-5)
    assert sum(p for _, p in result.top5) <= 1.0


@pytest.mark.parametrize("method", cam.METHODS)
def test_maps_equal_pytorch_grad_cam_run_its_own_way(lite0, chelsea, method):
    result = cam.compute_cam(lite0, chelsea, method=method, target="Egyptian cat")
    assert result.heatmap.shape == (224, 224) and result.heatmap.dtype == np.float32
    assert result.heatmap.min() >= 0.0 and result.heatmap.max() <= 1.0 and result.heatmap.max() > 0.99
    model = copy.deepcopy(lite0.model)  # the library hooks the model and fills .grad: use a copy
    with LIBRARY_CLASSES[method](model, target_layers=[model.head]) as library_cam:
        expected = library_cam(lite0.preprocessing(chelsea).unsqueeze(0), [ClassifierOutputTarget(285)])[0]
    assert np.allclose(result.heatmap, expected, atol=2e-3)


def test_stage_maps_equal_pytorch_grad_cam_and_separate_passes(lite0, chelsea):
    stages = cam.compare_stages(chelsea, lite0, stages=("stage4", "stage6", "head"), target="tabby")
    assert [r.layer for r in stages] == ["stage4", "stage6", "head"]
    model = copy.deepcopy(lite0.model)
    with GradCAM(model, target_layers=[model.layer("stage6")]) as library_cam:
        expected = library_cam(lite0.preprocessing(chelsea).unsqueeze(0), [ClassifierOutputTarget(281)])[0]
    assert np.allclose(stages[1].heatmap, expected, atol=2e-3)
    for result in stages:
        alone = cam.compute_cam(lite0, chelsea, target=281, layer=result.layer)
        assert np.allclose(result.heatmap, alone.heatmap, atol=1e-5)
    assert not np.allclose(stages[0].heatmap, stages[2].heatmap, atol=0.05)


def test_the_map_lies_on_the_cat_and_follows_a_mirrored_photo(lite0, chelsea):
    result = cam.compute_cam(lite0, chelsea)
    x, y = result.attention.centre
    left, top, right, bottom = CAT_FACE
    assert left <= x * chelsea.width <= right and top <= y * chelsea.height <= bottom
    grid = result.image_grid((chelsea.height, chelsea.width))
    assert grid[:, 380:].sum() < 0.05 * grid.sum()  # little mass on the background strip
    mirrored = cam.compute_cam(lite0, ImageOps.mirror(chelsea), target=result.target_index)
    assert mirrored.attention.centre[0] == pytest.approx(1 - x, abs=0.05)
    assert mirrored.attention.centre[1] == pytest.approx(y, abs=0.05)


def test_targets_by_name_and_their_errors(lite0, chelsea):
    assert cam.compute_cam(lite0, chelsea, target="TABBY").target_index == 281
    assert effnet.imagenet_categories()[281] == "tabby"
    coffee_map = cam.compute_cam(lite0, chelsea, target="espresso")
    assert coffee_map.target_label == "espresso" and coffee_map.target_prob < 0.01
    with pytest.raises(ValueError, match="close matches: 'tabby'"):
        cam.resolve_target("tabbby")
    with pytest.raises(ValueError, match="out of range"):
        cam.resolve_target(1000)
    with pytest.raises(ValueError, match="ScoreCAM is not offered"):
        cam.compute_cam(lite0, chelsea, method="ScoreCAM")
    with pytest.raises(ValueError, match="accepted: stem, stage2"):
        cam.compute_cam(lite0, chelsea, layer="stage10")
    assert cam.normalise_method("Grad-CAM++") == "gradcam++"


def test_resolution_sweep_keeps_the_crop_and_grows_the_map(lite0, chelsea):
    results = cam.compare_resolutions(chelsea, lite0, resolutions=(224, 300))
    assert [r.heatmap.shape for r in results] == [(224, 224), (300, 300)]
    # Lite preprocessing crops size / (size + 32) of the shorter side (300 px) at 224.
    side = 300 * 224 / 256
    assert results[0].crop_box == pytest.approx(((451 - side) / 2, (300 - side) / 2, (451 + side) / 2, (300 + side) / 2))
    assert results[1].crop_box == pytest.approx(results[0].crop_box, abs=1.0)
    matrix = cam.overlap_matrix(results)
    assert matrix.shape == (2, 2) and np.allclose(np.diag(matrix), 1) and 0.3 < matrix[0, 1] < 1


def test_overlay_dims_what_the_network_did_not_see(lite0, chelsea):
    result = cam.compute_cam(lite0, chelsea)
    picture = result.overlay(chelsea)
    assert picture.size == chelsea.size and picture.mode == "RGB"
    original, shown = np.asarray(chelsea, dtype=float), np.asarray(picture, dtype=float)
    assert np.allclose(shown[150, 20], np.rint(0.4 * original[150, 20]), atol=1)  # left of the crop
    assert not np.allclose(shown[150, 225], original[150, 225], atol=10)  # inside: coloured
    with pytest.raises(ValueError, match="image the map was computed on"):
        result.overlay(ImageOps.mirror(chelsea).resize((100, 100)))


def test_untrained_configurations_say_so_and_huge_ones_are_refused(chelsea):
    config = effnet.ScalingConfig(depth=0.5, width=0.5, resolution=128, variant="lite")
    model = cam.untrained_model(config)
    result = cam.compute_cam(model, chelsea)
    assert not result.trained and cam.UNTRAINED_LABEL in result.model_label
    assert result.as_dict()["trained"] is False and cam.UNTRAINED_LABEL in result.as_dict()["label"]
    assert result.heatmap.shape == (128, 128)
    again = cam.compute_cam(cam.untrained_model(config), chelsea)  # seeded: the same random weights
    assert np.allclose(again.heatmap, result.heatmap)
    with pytest.raises(effnet.ConfigError, match="CAM .* GiB"):
        cam.untrained_model(effnet.ScalingConfig(depth=3.0, width=3.0, resolution=1024))


def test_checkpoints_round_trip_and_mismatches_are_clear(lite0, chelsea):
    buffer = io.BytesIO()
    torch.save(lite0.model.state_dict(), buffer)
    loaded = cam.checkpoint_model(effnet.preset("lite0"), buffer.getvalue(), lite0.preprocessing, name="mine.pt")
    assert loaded.model is not lite0.model and "mine.pt" in loaded.label
    ours, theirs = cam.compute_cam(lite0, chelsea), cam.compute_cam(loaded, chelsea)
    assert [label for label, _ in ours.top5] == [label for label, _ in theirs.top5]
    assert np.allclose([p for _, p in ours.top5], [p for _, p in theirs.top5], atol=1e-6)
    assert np.allclose(ours.heatmap, theirs.heatmap, atol=1e-5)
    with pytest.raises(effnet.WeightsError, match="does not fit"):
        cam.checkpoint_model(effnet.preset("lite1"), buffer.getvalue())
    with pytest.raises(effnet.WeightsError, match="could not read"):
        cam.checkpoint_model(effnet.preset("lite0"), b"not a checkpoint")


def test_the_shared_model_is_left_untouched(chelsea):
    model = cam.trained_model("lite0").model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.inference_mode():  # as a caller might be; gradients are switched on inside
        inside = cam.compute_cam(cam.trained_model("lite0"), chelsea, method="gradcam++")
    with torch.no_grad():
        assert np.allclose(cam.compute_cam(cam.trained_model("lite0"), chelsea, method="gradcam++").heatmap, inside.heatmap)
    assert all(p.grad is None for p in model.parameters())
    assert all(not m._forward_hooks and not m._backward_hooks for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert cam.trained_model("lite0") is cam.trained_model(" LITE0 ")


def test_missing_trained_weights_are_refused_without_downloading(monkeypatch):
    offline = cam.available_trained()
    assert offline[:3] == ("lite0", "lite1", "lite2")
    missing = [name for name in effnet.PRETRAINED if name not in offline]
    if not missing:
        pytest.skip("every torchvision EfficientNet weight file is cached on this machine")
    from effnet import fetch

    monkeypatch.setattr(fetch, "_transfer", lambda *a, **k: pytest.fail("tried to download"))
    with pytest.raises(effnet.WeightsUnavailableError, match="not on this machine.*available: lite0, lite1, lite2"):
        cam.trained_model(missing[0])


def test_many_threads_on_one_shared_model_get_the_sequential_maps(lite0, chelsea, coffee):
    astronaut = load_image(ASSETS / "astronaut.jpg")
    images = [chelsea, coffee, astronaut, ImageOps.mirror(chelsea)]
    jobs = [
        (images[i % 4], cam.METHODS[i % len(cam.METHODS)], [None, "tabby", 967, "espresso"][i % 4], ["head", "stage7", "head", "stage6"][(i // 4) % 4])
        for i in range(16)
    ]
    expected = [cam.compute_cam(lite0, image, method, target, layer).heatmap for image, method, target, layer in jobs]

    results: list = [None] * len(jobs)
    errors: list = []
    barrier = threading.Barrier(len(jobs))

    def work(index: int) -> None:
        image, method, target, layer = jobs[index]
        try:
            barrier.wait()
            results[index] = cam.compute_cam(lite0, image, method, target, layer).heatmap
        except Exception as error:  # collected and reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for index, (got, want) in enumerate(zip(results, expected)):
        assert np.allclose(got, want, atol=1e-5), jobs[index][1:]


def test_trained_v2_s_loads_from_the_torch_cache_and_its_cam_ends_at_stage7(tmp_path, monkeypatch, chelsea):
    """torchvision's V2-S file name in a temporary torch cache (a random-weights state dict in
    torchvision's layout): trained_model serves it with V2-S's own preprocessing (384 px, resize to the
    crop, bilinear), and Grad-CAM runs on its six stages (stage2..stage7, no stage8)."""
    import os

    import torchvision
    from effnet import cam_models

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    assert "v2_s" not in cam.available_trained()
    url = torchvision.models.EfficientNet_V2_S_Weights.IMAGENET1K_V1.url
    torch.manual_seed(0)
    torch.save(torchvision.models.efficientnet_v2_s(weights=None).state_dict(), tmp_path / "checkpoints" / os.path.basename(url))
    try:
        assert "v2_s" in cam.available_trained()
        v2_s = cam.trained_model("v2_s")
        assert v2_s.trained and v2_s.resolution == 384 and v2_s.preprocessing == effnet.weight_spec("v2_s").preprocessing
        assert v2_s.model.layer_names[-2:] == ("stage7", "head")
        # a small input keeps it cheap: 96 px is a 3x3 map at the head
        head, last_stage = cam.compute_cams(v2_s, chelsea, ["head", "stage7"], resolution=96)
        assert head.layer == "head" and last_stage.layer == "stage7"
        assert head.heatmap.shape == (96, 96) and 0 <= head.heatmap.min() and head.heatmap.max() <= 1
        assert head.top5 == last_stage.top5
        # as model.layer() numbers it, the point after the last stage is the head (stage9 for B, stage8 here)
        assert np.allclose(cam.compute_cam(v2_s, chelsea, layer="stage8", resolution=96).heatmap, head.heatmap, atol=1e-5)
        with pytest.raises(ValueError, match="unknown layer 'stage9'.*stage7, head"):
            cam.compute_cam(v2_s, chelsea, layer="stage9", resolution=96)
    finally:
        cam_models._TRAINED.pop("v2_s", None)

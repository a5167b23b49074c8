"""EfficientNetV2's weight specs against torchvision's weights metadata (no download)."""

from __future__ import annotations

import pytest
import torchvision.models.efficientnet as tv_efficientnet

import effnet
from effnet.weights import V2_WEIGHT_SPECS


@pytest.mark.parametrize("name", ["v2_s", "v2_m", "v2_l"])
def test_v2_preprocessing_equals_torchvision_eval_transforms(name: str) -> None:
    weights = getattr(tv_efficientnet, f"EfficientNet_{name.upper()}_Weights").IMAGENET1K_V1
    transforms = weights.transforms()
    spec = effnet.weight_spec(name)
    assert spec is V2_WEIGHT_SPECS[name]
    pre = spec.preprocessing
    assert (pre.crop_size, pre.resize_size) == (transforms.crop_size[0], transforms.resize_size[0])
    assert pre.mean == pytest.approx(transforms.mean) and pre.std == pytest.approx(transforms.std)
    assert pre.interpolation.upper() == transforms.interpolation.name
    assert spec.top1 == weights.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    assert pre.crop_size == effnet.preset(name).resolution

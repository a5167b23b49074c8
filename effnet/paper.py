"""The published numbers this project compares itself with, each typed once, each with its source.

Read by the app's charts, the CLI and the tests; nothing else in the package restates them.

Paper: Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
arXiv:1905.11946 v5 (11 Sep 2020). Units as the paper prints them: accuracy in percent (ImageNet
validation, single crop), parameters in millions, "FLOPs" in billions of multiply-adds.

Versions. Table 2's EfficientNet top-1/top-5 changed between the 2019 versions (the ICML 2019
paper; B0 76.3%) and v5 (2020; B0 77.1%); the paper does not say why. `top1`/`top5` hold v5;
`top1_2019`/`top5_2019` hold the 2019 figures. Parameters and FLOPs are the same in both. Table 3
and Table 7's FLOPs are the same in both; Table 7's baseline top-1 is 76.3% in 2019, 77.3% in v5.

How the numbers were checked (2 independent copies each):
- v5 Tables 2, 3, 7: two text extractions of the v5 PDF (both headed "arXiv:1905.11946v5 [cs.LG]
  11 Sep 2020"), which agree on every figure below.
- 2019 Table 2: a transcription of the 2019 text; its EfficientNet top-1 for B0-B5 equals the
  "Acc. from paper" row of tensorflow/tpu models/official/efficientnet/README.md, B6/B7 (84.0,
  84.4) equal the lukemelas/EfficientNet-PyTorch README, and v5's own Table 4 still quotes the
  2019 B1 (78.8%) and B7 (84.4%). The 2019 top-5 figures rest on the transcription alone.
- Lite: tensorflow/tpu models/official/efficientnet/lite/README.md (the Lite models are not in
  the paper).
Left out: GPipe (Table 2 prints no FLOPs for it: 84.3% / 97.0%, 557M parameters).
Typed as printed, although inconsistent: PNASNet's 23B FLOPs (its printed ratio to B4, 6.0x, implies
25B, and osmr/imgclsmob counts 25.1 G multiply-adds for PNASNet-5-Large).
"""

from __future__ import annotations

from dataclasses import dataclass

PAPER = "Tan & Le, EfficientNet, arXiv:1905.11946v5 (2020)"
PAPER_2019 = "Tan & Le, EfficientNet, ICML 2019 (2019 versions of arXiv:1905.11946)"
LITE_SOURCE = "tensorflow/tpu, models/official/efficientnet/lite/README.md"
LITE_LATENCY_NOTE = "Pixel 4 CPU, FP32, batch 1, 4 threads (as published)"


@dataclass(frozen=True)
class PaperModel:
    """One row of Table 2: a network's ImageNet accuracy and cost."""

    model: str  # as the paper names it: "EfficientNet-B0", "ResNet-50"
    preset: str | None  # effnet's preset name ("b0") for EfficientNets, None for the others
    top1: float  # % top-1, v5 (2020)
    top5: float  # % top-5, v5 (2020)
    params_m: float  # millions of parameters, as printed (2 significant digits above 10M)
    flops_b: float  # billions of multiply-adds, as printed (2 significant digits)
    source: str
    top1_2019: float | None = None  # % top-1 in the 2019 versions (EfficientNets and ResNet-50)
    top5_2019: float | None = None  # % top-5 in the 2019 versions
    group: str = ""  # the EfficientNet this row is compared with in the paper ("b3")


@dataclass(frozen=True)
class ScalingResult:
    """One row of Table 3 (or Table 7): a baseline scaled along one dimension or compounded."""

    base: str  # "MobileNetV1" | "MobileNetV2" | "ResNet-50" (Table 3); "EfficientNet-B0" (Table 7)
    scaling: str  # "baseline" | "depth" | "width" | "resolution" | "compound"
    setting: str  # the multipliers as printed ("d=4"); "not stated" where the paper gives none
    flops_b: float  # billions of multiply-adds
    top1: float  # % top-1
    source: str


@dataclass(frozen=True)
class LiteModel:
    """One row of the EfficientNet-Lite table (FP32 columns)."""

    model: str
    preset: str
    params_m: float  # millions of parameters
    top1: float  # % top-1, FP32
    latency_ms: float | None  # Pixel 4 CPU, FP32, batch 1, 4 threads
    source: str
    madds_b: float | None = None  # billions of multiply-adds, as the README prints them


def _effnet(n: int, top1: float, top5: float, params_m: float, flops_b: float, top1_2019: float, top5_2019: float) -> PaperModel:
    return PaperModel(f"EfficientNet-B{n}", f"b{n}", top1, top5, params_m, flops_b, "Table 2", top1_2019, top5_2019, f"b{n}")


def _other(model: str, top1: float, top5: float, params_m: float, flops_b: float, group: str) -> PaperModel:
    return PaperModel(model, None, top1, top5, params_m, flops_b, "Table 2", group=group)


# Table 2, in the paper's order (each EfficientNet followed by the networks it is grouped with).
#                  top-1  top-5  params  FLOPs   2019 top-1, top-5
TABLE2: tuple[PaperModel, ...] = (
    _effnet(0,     77.1,  93.3,  5.3,    0.39,   76.3, 93.2),
    PaperModel("ResNet-50", None, 76.0, 93.0, 26, 4.1, "Table 2", 76.0, 93.0, "b0"),
    _other("DenseNet-169",        76.2, 93.2, 14, 3.5, "b0"),
    _effnet(1,     79.1,  94.4,  7.8,    0.70,   78.8, 94.4),
    _other("ResNet-152",          77.8, 93.8, 60, 11, "b1"),
    _other("DenseNet-264",        77.9, 93.9, 34, 6.0, "b1"),
    _other("Inception-v3",        78.8, 94.4, 24, 5.7, "b1"),
    _other("Xception",            79.0, 94.5, 23, 8.4, "b1"),
    _effnet(2,     80.1,  94.9,  9.2,    1.0,    79.8, 94.9),
    _other("Inception-v4",        80.0, 95.0, 48, 13, "b2"),
    _other("Inception-resnet-v2", 80.1, 95.1, 56, 13, "b2"),
    _effnet(3,     81.6,  95.7,  12,     1.8,    81.1, 95.5),
    _other("ResNeXt-101",         80.9, 95.6, 84, 32, "b3"),
    _other("PolyNet",             81.3, 95.8, 92, 35, "b3"),
    _effnet(4,     82.9,  96.4,  19,     4.2,    82.6, 96.3),
    _other("SENet",               82.7, 96.2, 146, 42, "b4"),
    _other("NASNet-A",            82.7, 96.2, 89, 24, "b4"),
    _other("AmoebaNet-A",         82.8, 96.1, 87, 23, "b4"),
    _other("PNASNet",             82.9, 96.2, 86, 23, "b4"),
    _effnet(5,     83.6,  96.7,  30,     9.9,    83.3, 96.7),
    _other("AmoebaNet-C",         83.5, 96.5, 155, 41, "b5"),
    _effnet(6,     84.0,  96.8,  43,     19,     84.0, 96.9),
    _effnet(7,     84.3,  97.0,  66,     37,     84.4, 97.1),
)

# Table 3, "Scaling Up MobileNets and ResNet" (identical in the 2019 versions and v5).
TABLE3: tuple[ScalingResult, ...] = (
    ScalingResult("MobileNetV1", "baseline", "d=1, w=1, r=1", 0.6, 70.6, "Table 3"),
    ScalingResult("MobileNetV1", "width", "w=2", 2.2, 74.2, "Table 3"),
    ScalingResult("MobileNetV1", "resolution", "r=2", 2.2, 72.7, "Table 3"),
    ScalingResult("MobileNetV1", "compound", "d=1.4, w=1.2, r=1.3", 2.3, 75.6, "Table 3"),
    ScalingResult("MobileNetV2", "baseline", "d=1, w=1, r=1", 0.3, 72.0, "Table 3"),
    ScalingResult("MobileNetV2", "depth", "d=4", 1.2, 76.8, "Table 3"),
    ScalingResult("MobileNetV2", "width", "w=2", 1.1, 76.4, "Table 3"),
    ScalingResult("MobileNetV2", "resolution", "r=2", 1.2, 74.8, "Table 3"),
    ScalingResult("MobileNetV2", "compound", "not stated", 1.3, 77.4, "Table 3"),
    ScalingResult("ResNet-50", "baseline", "d=1, w=1, r=1", 4.1, 76.0, "Table 3"),
    ScalingResult("ResNet-50", "depth", "d=4", 16.2, 78.1, "Table 3"),
    ScalingResult("ResNet-50", "width", "w=2", 14.7, 77.7, "Table 3"),
    ScalingResult("ResNet-50", "resolution", "r=2", 16.4, 77.5, "Table 3"),
    ScalingResult("ResNet-50", "compound", "not stated", 16.7, 78.8, "Table 3"),
)

# Table 7, "Scaled Models Used in Figure 7" (the class activation maps): EfficientNet-B0 scaled one
# way at a time. Top-1 as in v5 (the 2019 baseline row says 76.3%). Only the compound row's FLOPs
# follow from its label: B0 at d=1.4, w=1.2, r=1.3 (291 px) counts 1.80 B multiply-adds, whereas
# d=4, w=2 and r=2 (448 px) count 1.58, 1.45 and 1.54 B, not the printed 1.8, 1.8 and 1.9 B; the paper
# does not say how those three were set up.
TABLE7: tuple[ScalingResult, ...] = (
    ScalingResult("EfficientNet-B0", "baseline", "d=1, w=1, r=1", 0.4, 77.3, "Table 7"),
    ScalingResult("EfficientNet-B0", "depth", "d=4", 1.8, 79.0, "Table 7"),
    ScalingResult("EfficientNet-B0", "width", "w=2", 1.8, 78.9, "Table 7"),
    ScalingResult("EfficientNet-B0", "resolution", "r=2", 1.9, 79.1, "Table 7"),
    ScalingResult("EfficientNet-B0", "compound", "d=1.4, w=1.2, r=1.3", 1.8, 81.1, "Table 7"),
)

# EfficientNet-Lite (no squeeze-and-excitation, ReLU6, fixed stem and head), FP32 columns.
#                       params  top-1  CPU ms  MAdds
LITE: tuple[LiteModel, ...] = (
    LiteModel("EfficientNet-Lite0", "lite0", 4.7,  75.1, 12, LITE_SOURCE, 0.407),
    LiteModel("EfficientNet-Lite1", "lite1", 5.4,  76.7, 18, LITE_SOURCE, 0.631),
    LiteModel("EfficientNet-Lite2", "lite2", 6.1,  77.6, 26, LITE_SOURCE, 0.899),
    LiteModel("EfficientNet-Lite3", "lite3", 8.2,  79.8, 41, LITE_SOURCE, 1.44),
    LiteModel("EfficientNet-Lite4", "lite4", 13.0, 81.5, 76, LITE_SOURCE, 2.64),
)


def table2_by_preset() -> dict[str, PaperModel]:
    """Table 2's EfficientNet rows keyed by effnet preset name: {"b0": PaperModel(...), ...}."""
    return {row.preset: row for row in TABLE2 if row.preset is not None}


def lite_by_preset() -> dict[str, LiteModel]:
    """The Lite table keyed by effnet preset name: {"lite0": LiteModel(...), ...}."""
    return {row.preset: row for row in LITE}


# ---------------------------------------------------------------------------------------------
# EfficientNetV2 (Tan & Le, "EfficientNetV2: Smaller Models and Faster Training", ICML 2021,
# arXiv:2104.00298). Only figures checked here: the ImageNet-1k table of the authors' official code
# (google/automl, efficientnetv2/README.md, "Pretrained EfficientNetV2 Checkpoints"), read from the
# file itself. Left out, because no copy of the paper's text could be read to check them: Table 7
# (its accuracy, parameters, FLOPs, inference and training times) and the paper's latency figures.
# The README's FLOPs are multiply-adds at the evaluation size (8.4B for V2-S: effnet counts 8.37 G
# at 384 px); its V2-M top-1 (85.2%) differs from torchvision's reproduction (85.1%, weights.py).
# ---------------------------------------------------------------------------------------------
V2_SOURCE = "google/automl efficientnetv2/README.md (official EfficientNetV2 code), ImageNet1K table"


@dataclass(frozen=True)
class V2Model:
    """One row of the official EfficientNetV2 ImageNet-1k table."""

    model: str
    preset: str
    top1: float  # % top-1
    params_m: float  # millions of parameters, as printed
    flops_b: float  # billions of multiply-adds, as printed
    source: str


V2: tuple[V2Model, ...] = (
    V2Model("EfficientNetV2-S", "v2_s", 83.9, 21.5, 8.4, V2_SOURCE),
    V2Model("EfficientNetV2-M", "v2_m", 85.2, 54.1, 24.7, V2_SOURCE),
    V2Model("EfficientNetV2-L", "v2_l", 85.7, 119.5, 56.3, V2_SOURCE),
)


def v2_by_preset() -> dict[str, V2Model]:
    """The V2 table keyed by effnet preset name: {"v2_s": V2Model(...), ...}."""
    return {row.preset: row for row in V2}


def published_top1(preset: str) -> tuple[float, str] | None:
    """(ImageNet top-1 %, where it is published) of a preset by effnet's name ('b4', 'lite2', 'v2_s'),
    or None for a name with no published accuracy: a configuration that is a published network is
    shown with that network's accuracy, any other one has none (it was never trained)."""
    if preset in table2_by_preset():
        return table2_by_preset()[preset].top1, f"{PAPER}, Table 2"
    if preset in lite_by_preset():
        return lite_by_preset()[preset].top1, LITE_SOURCE
    if preset in v2_by_preset():
        return v2_by_preset()[preset].top1, V2_SOURCE
    return None

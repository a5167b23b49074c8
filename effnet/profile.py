"""Parameters, multiply-adds and activation memory in closed form, from the stage table alone.

No weights are allocated and nothing is run, so any configuration (B7 at 600x600 included) profiles
in well under a millisecond: fast enough for a slider.

What is counted, and why it matches the paper. The paper's "FLOPs" are multiply-adds (MACs) of the
convolutions and the fully connected layer, the convention of MobileNet/MnasNet and of ptflops'
`aten` backend: a k x k convolution producing an H x W x C_out map from C_in channels in g groups
costs H * W * C_out * (C_in / g) * k * k MACs; the classifier costs C_in * C_out. Squeeze-and-
excitation's two 1x1 convolutions on the pooled vector are counted (they are convolutions). Not
counted: batch norm, activations, the SE gate's element-wise product, the residual additions and the
pooling - all element-wise work of one operation per value, under 2% of the total. FLOPs in the
other common convention (one multiply-add = 2 floating point operations) is `flops = 2 * macs`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from functools import lru_cache

from .scaling import ALPHA, BETA, GAMMA, ConfigError, ScalingConfig, Stage, compound, conv_output_size, stages

BYTES_PER_VALUE = 4  # float32

# Refuse to allocate a network whose weights plus one image's activations would exceed this.
# A classroom server holds several models at once on a 2-core, 24 GiB machine.
MAX_BUILD_BYTES = int(os.environ.get("EFFNET_MAX_BUILD_BYTES", 3 * 2**30))


@dataclass(frozen=True)
class Step:
    """One operation inside a block, for the MBConv explainer: what goes in and out, and its cost."""

    name: str  # "expand", "depthwise", "squeeze-excite", "project", "residual"
    description: str
    input_shape: tuple[int, int, int]  # (channels, height, width)
    output_shape: tuple[int, int, int]
    params: int
    macs: int


def _conv(in_channels: int, out_channels: int, kernel: int, out_size: int, groups: int = 1, bias: bool = False) -> tuple[int, int]:
    """(parameters, MACs) of a convolution followed by batch norm (2 parameters a channel) or a bias."""
    weights = out_channels * (in_channels // groups) * kernel * kernel
    params = weights + (out_channels if bias else 2 * out_channels)
    return params, weights * out_size * out_size


def block_steps(stage: Stage, first: bool = True) -> tuple[Step, ...]:
    """The steps of one MBConv or Fused-MBConv block of `stage` (its first block, or one of the repeats)."""
    in_channels = stage.in_channels if first else stage.out_channels
    stride = stage.stride if first else 1
    size_in = stage.input_resolution if first else stage.output_resolution
    size_out = conv_output_size(size_in, stride)
    hidden = in_channels * stage.expand_ratio
    steps = []
    k = stage.kernel_size
    if stage.kind == "fused_mbconv":
        # one dense k x k conv (to the hidden width, or straight to the output at expansion 1)
        width = hidden if stage.expand_ratio != 1 else stage.out_channels
        p, m = _conv(in_channels, width, k, size_out)
        steps.append(Step("expand", f"{k}x{k} conv {in_channels}->{width}, stride {stride} + BN + act (fused)", (in_channels, size_in, size_in), (width, size_out, size_out), p, m))
        if stage.expand_ratio != 1:
            p, m = _conv(hidden, stage.out_channels, 1, size_out)
            steps.append(Step("project", f"1x1 conv {hidden}->{stage.out_channels} + BN (linear)", (hidden, size_out, size_out), (stage.out_channels, size_out, size_out), p, m))
    else:
        if stage.expand_ratio != 1:
            p, m = _conv(in_channels, hidden, 1, size_in)
            steps.append(Step("expand", f"1x1 conv {in_channels}->{hidden} + BN + act", (in_channels, size_in, size_in), (hidden, size_in, size_in), p, m))
        p, m = _conv(hidden, hidden, stage.kernel_size, size_out, groups=hidden)
        steps.append(Step("depthwise", f"{k}x{k} depthwise conv, stride {stride} + BN + act", (hidden, size_in, size_in), (hidden, size_out, size_out), p, m))
        if stage.squeeze_ratio > 0:
            squeeze = max(1, int(in_channels * stage.squeeze_ratio))
            p1, m1 = _conv(hidden, squeeze, 1, 1, bias=True)
            p2, m2 = _conv(squeeze, hidden, 1, 1, bias=True)
            steps.append(Step("squeeze-excite", f"pool, 1x1 {hidden}->{squeeze}->{hidden}, sigmoid gate", (hidden, size_out, size_out), (hidden, size_out, size_out), p1 + p2, m1 + m2))
        p, m = _conv(hidden, stage.out_channels, 1, size_out)
        steps.append(Step("project", f"1x1 conv {hidden}->{stage.out_channels} + BN (linear)", (hidden, size_out, size_out), (stage.out_channels, size_out, size_out), p, m))
    # both kinds add their input back when the block keeps its size and channels
    if stride == 1 and in_channels == stage.out_channels:
        shape = (stage.out_channels, size_out, size_out)
        steps.append(Step("residual", "add the block's input (stochastic depth in training)", shape, shape, 0, 0))
    return tuple(steps)


@dataclass(frozen=True)
class StageProfile:
    stage: Stage
    params: int
    macs: int
    output_bytes: int  # float32 bytes of the stage's output map for one image

    def as_dict(self) -> dict:
        row = asdict(self.stage)
        row.update(params=self.params, macs=self.macs, output_bytes=self.output_bytes)
        return row


@dataclass(frozen=True)
class Profile:
    config: ScalingConfig
    params: int
    macs: int  # multiply-adds: the paper's "FLOPs"
    stages: tuple[StageProfile, ...]
    # Peak float32 bytes of activations alive at once in an inference pass of one image, as eager
    # PyTorch runs effnet's modules (see "Memory model" below; tests/test_profile.py measures it).
    activation_bytes: int
    # Float32 bytes of the activations autograd keeps for a backward pass of one image in training
    # mode (training, Grad-CAM), weights excluded (see "Memory model" below; measured in the tests).
    training_activation_bytes: int

    @property
    def flops(self) -> int:
        """Floating point operations counting a multiply-add as two (2 x macs)."""
        return 2 * self.macs

    def as_dict(self) -> dict:
        c = self.config
        return {
            "name": c.name,
            "label": c.label,
            "variant": c.variant,
            "depth": c.depth,
            "width": c.width,
            "resolution": c.resolution,
            "phi": c.phi,
            "stage_table": c.stage_table,
            "params": self.params,
            "macs": self.macs,
            "flops": self.flops,
            "activation_bytes": self.activation_bytes,
            "training_activation_bytes": self.training_activation_bytes,
            "stages": [s.as_dict() for s in self.stages],
        }


# Memory model: what eager PyTorch keeps alive when it runs effnet's modules on one image.
# - A convolution's output and its batch norm's output are two tensors (the activation then works in
#   place), so inside a conv + batch norm the live maps are its input and two copies of its output.
# - Under autograd a conv + batch norm + activation keeps three maps: the conv output (for batch
#   norm's backward), a copy of the batch norm output (the in-place activation's backward needs the
#   value it overwrote) and the activation's output (for the next layer). The project conv + batch
#   norm keeps two; squeeze-and-excitation keeps its gated map; in training, stochastic depth keeps
#   the branch output of a residual block too.
# - A module call holds its argument until it returns: the stem's output stays alive through all
#   the stages, a stage's input through all of its blocks.
# Lite networks built with TensorFlow padding (the default for Lite) also keep padded copies of the
# depthwise inputs: up to about 10% more than this model, as the tests measure.
def _profile_stage(stage: Stage, num_classes: int, stem_output: int = 0) -> tuple[int, int, int, int]:
    """(params, macs, peak bytes, stored bytes) of one stage.

    `stem_output`: values in the stem's output map if the caller still holds it while this stage runs
    (every MBConv stage after the first), else 0.
    """
    b = BYTES_PER_VALUE
    if stage.kind == "stem":
        p, m = _conv(3, stage.out_channels, 3, stage.output_resolution)
        out = stage.out_channels * stage.output_resolution**2
        return p, m, b * (3 * stage.input_resolution**2 + 2 * out), b * 3 * out
    if stage.kind == "head":
        size = stage.input_resolution
        p, m = _conv(stage.in_channels, stage.out_channels, 1, size)
        p += stage.out_channels * num_classes + num_classes
        m += stage.out_channels * num_classes
        out = stage.out_channels * size * size
        # the pooled vector is kept twice: by the classifier and by dropout's mask
        return p, m, b * (stage.in_channels * size * size + 2 * out), b * (3 * out + 2 * stage.out_channels)
    params = macs = peak = stored = 0
    stage_input = _numel(stage.input_shape)
    for layer in range(stage.layers):
        steps = block_steps(stage, first=layer == 0)
        params += sum(s.params for s in steps)
        macs += sum(s.macs for s in steps)
        maps = {s.name: _numel(s.output_shape) for s in steps}
        block_input = _numel(steps[0].input_shape)
        held = stem_output + (stage_input if layer > 0 else 0)
        if stage.kind == "fused_mbconv":
            # the fused conv + BN + act, then the project conv + BN (absent at expansion 1)
            expanded, output = maps["expand"], maps.get("project", 0)
            inside = max(2 * expanded, expanded + 2 * output)
            peak = max(peak, b * (held + block_input + inside))
            stored += b * (3 * expanded + 2 * output + maps.get("residual", 0))
            continue
        expanded, depthwise, output = maps.get("expand", 0), maps["depthwise"], maps["project"]
        # expand, then depthwise (the expanded map is still referenced), then project
        inside = max(2 * expanded, expanded + 2 * depthwise, depthwise + 2 * output)
        peak = max(peak, b * (held + block_input + inside))
        stored += b * (3 * expanded + 3 * depthwise + maps.get("squeeze-excite", 0) + 2 * output + maps.get("residual", 0))
    return params, macs, peak, stored


def _numel(shape: tuple[int, int, int]) -> int:
    return shape[0] * shape[1] * shape[2]


def profile(config: ScalingConfig) -> Profile:
    """Parameters, MACs and memory of `config`, exactly as `effnet.build(config)` has them.

    Cached by value (configs are frozen), so repeated slider positions cost nothing. Configs that
    differ only in `phi` (compound(1) and the same multipliers set by hand) build the same network
    and share one computation; the result carries the caller's own config, so its label is right.
    """
    cached = _cached_profile(config)
    return cached if cached.config.phi == config.phi else replace(cached, config=config)


def compute_profile(config: ScalingConfig) -> Profile:
    """profile() without the cache (for benchmarks)."""
    rows = []
    params = macs = peak = stored = 0
    stem_output = 0
    for stage in stages(config):
        # the first MBConv stage's input is the stem's output itself, so it is not held twice
        held = stem_output if stage.kind in ("mbconv", "fused_mbconv") and stage.index > 2 else 0
        p, m, stage_peak, stage_stored = _profile_stage(stage, config.num_classes, held)
        if stage.kind == "stem":
            stem_output = _numel(stage.output_shape)
        rows.append(StageProfile(stage, p, m, BYTES_PER_VALUE * _numel(stage.output_shape)))
        params, macs = params + p, macs + m
        peak, stored = max(peak, stage_peak), stored + stage_stored
    stored += BYTES_PER_VALUE * 3 * config.resolution**2
    return Profile(config, params, macs, tuple(rows), peak, stored)


_cached_profile = lru_cache(maxsize=512)(compute_profile)


def flops_growth(
    phis: tuple[float, ...] = tuple(range(8)),
    alpha: float = ALPHA,
    beta: float = BETA,
    gamma: float = GAMMA,
    variant: str = "b",
) -> list[dict]:
    """FLOPs(compound(phi)) / FLOPs(compound(0)) next to 2**phi and (alpha*beta^2*gamma^2)**phi.

    The paper (Section 3.3) says FLOPs grow by about 2**phi; the exact factor per unit of phi is
    alpha * beta^2 * gamma^2 (1.92 with the paper's values), and rounding of channels, layers and
    resolution moves the real network off both curves.

    Bad coefficients raise ConfigError. Give phis in increasing order: the series ends at the first
    phi whose network leaves the accepted ranges (large coefficients get there before phi = 10).
    """
    base = profile(compound(0.0, alpha, beta, gamma, variant)).macs
    ratio = alpha * beta**2 * gamma**2
    series = []
    for phi in phis:
        try:
            config = compound(float(phi), alpha, beta, gamma, variant)
        except ConfigError:
            break
        macs = profile(config).macs
        series.append(
            {
                "phi": float(phi),
                "depth": config.depth,
                "width": config.width,
                "resolution": config.resolution,
                "macs": macs,
                "actual_ratio": macs / base,
                "two_to_phi": 2.0**phi,
                "constraint_ratio": ratio**phi,
            }
        )
    return series


def check_buildable(config: ScalingConfig, max_bytes: int = MAX_BUILD_BYTES) -> int:
    """Estimated bytes to build `config` and run one image; raises ConfigError above `max_bytes`."""
    p = profile(config)
    needed = 4 * p.params + p.activation_bytes
    if needed > max_bytes:
        raise ConfigError(
            f"{config.label} would need about {needed / 2**30:.1f} GiB ({p.params / 1e6:.0f} M parameters "
            f"at {config.resolution}x{config.resolution}); this server builds networks up to "
            f"{max_bytes / 2**30:.1f} GiB: lower depth, width or resolution"
        )
    return needed

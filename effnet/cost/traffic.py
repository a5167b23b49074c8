"""Memory traffic in closed form: the bytes each layer reads and writes, and so its arithmetic intensity.

The roofline model (Williams, Waterman & Patterson, "Roofline: an insightful visual performance model
for multicore architectures", CACM 2009) bounds a kernel's speed by min(peak FLOP/s, intensity x
memory bandwidth), where intensity = FLOPs / bytes moved to and from memory. `profile` counts the
FLOPs; this module counts the bytes, from the same stage rows (`block_steps`), so the two always
describe the same network.

The traffic model: one kernel per layer, as an inference engine runs the network (batch norm folded
into the convolution as a bias, the activation fused into it), every kernel reading its inputs and
weights from memory and writing its output once, with no reuse across kernels (caches are ignored):
- a convolution reads its input map and weights (+ one bias a channel) and writes its output map;
- squeeze-and-excitation pools the map (one read), runs its two small layers on the pooled vector and
  scales the map by the gate (a second read and a write);
- a residual addition reads two maps and writes one;
- the head's pooling reads the feature map; the classifier reads the pooled vector and its weights.
Eager PyTorch moves more (batch norm and the activation are separate passes over each map); a fused
engine may move less (a depthwise conv and the next layer fused in on-chip memory).
tests/effnet/cost/test_traffic.py checks layers by hand and the convolutions against torch's profiler.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..profile import _conv, block_steps
from ..scaling import ScalingConfig, Stage, stages

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}


def dtype_bytes(dtype: str) -> int:
    """Bytes per value of `dtype` ('float32', 'float16' or 'bfloat16'); ValueError otherwise."""
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPE_BYTES)}, got {dtype!r}")
    return DTYPE_BYTES[dtype]


@dataclass(frozen=True)
class LayerTraffic:
    """One kernel: its multiply-adds for the whole batch and the bytes it reads and writes."""

    name: str  # "stem", "stage3.1 expand", "head pool", ...
    macs: int
    input_bytes: int  # activations read
    weight_bytes: int  # weights (and folded biases) read
    output_bytes: int  # activations written

    @property
    def memory_bytes(self) -> int:
        return self.input_bytes + self.weight_bytes + self.output_bytes

    @property
    def intensity(self) -> float:
        """FLOPs (2 per multiply-add) per byte moved."""
        return 2 * self.macs / self.memory_bytes if self.memory_bytes else 0.0


@dataclass(frozen=True)
class StageTraffic:
    stage: Stage
    layers: tuple[LayerTraffic, ...]

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def memory_bytes(self) -> int:
        return sum(layer.memory_bytes for layer in self.layers)

    @property
    def intensity(self) -> float:
        return 2 * self.macs / self.memory_bytes if self.memory_bytes else 0.0


@dataclass(frozen=True)
class Traffic:
    config: ScalingConfig
    batch: int
    dtype: str
    stages: tuple[StageTraffic, ...]

    @property
    def macs(self) -> int:
        """Multiply-adds of the whole batch."""
        return sum(stage.macs for stage in self.stages)

    @property
    def memory_bytes(self) -> int:
        return sum(stage.memory_bytes for stage in self.stages)

    @property
    def intensity(self) -> float:
        return 2 * self.macs / self.memory_bytes if self.memory_bytes else 0.0

    def as_dict(self) -> dict:
        return {
            "batch": self.batch,
            "dtype": self.dtype,
            "batch_macs": self.macs,
            "memory_bytes": self.memory_bytes,
            "intensity": self.intensity,
            "stages": [
                {"index": s.stage.index, "batch_macs": s.macs, "memory_bytes": s.memory_bytes, "intensity": s.intensity}
                for s in self.stages
            ],
        }


def _numel(shape: tuple[int, ...]) -> int:
    total = 1
    for size in shape:
        total *= size
    return total


def _conv_layer(name: str, in_shape: tuple[int, int, int], out_shape: tuple[int, int, int], kernel: int,
                groups: int, batch: int, size: int) -> LayerTraffic:
    in_channels, out_channels = in_shape[0], out_shape[0]
    weights = out_channels * (in_channels // groups) * kernel * kernel + out_channels  # + the folded bias
    params, macs = _conv(in_channels, out_channels, kernel, out_shape[1], groups=groups)
    return LayerTraffic(name, batch * macs, size * batch * _numel(in_shape), size * weights, size * batch * _numel(out_shape))


def stage_layers(stage: Stage, batch: int = 1, dtype: str = "float32", num_classes: int = 1000) -> tuple[LayerTraffic, ...]:
    """The kernels of one stage with their traffic, for `batch` images in `dtype`."""
    size = dtype_bytes(dtype)
    if stage.kind == "stem":
        return (_conv_layer("stem", stage.input_shape, stage.output_shape, stage.kernel_size, 1, batch, size),)
    if stage.kind == "head":
        r = stage.input_resolution
        features = (stage.out_channels, r, r)
        conv = _conv_layer("head conv", (stage.in_channels, r, r), features, 1, 1, batch, size)
        pool = LayerTraffic("head pool", 0, size * batch * _numel(features), 0, size * batch * stage.out_channels)
        weights = stage.out_channels * num_classes + num_classes
        classifier = LayerTraffic("classifier", batch * stage.out_channels * num_classes,
                                  size * batch * stage.out_channels, size * weights, size * batch * num_classes)
        return (conv, pool, classifier)
    layers = []
    for block in range(stage.layers):
        prefix = f"stage{stage.index}.{block}"
        for step in block_steps(stage, first=block == 0):
            map_values = batch * _numel(step.output_shape)
            if step.name == "residual":
                layers.append(LayerTraffic(f"{prefix} residual", 0, size * 2 * map_values, 0, size * map_values))
            elif step.name == "squeeze-excite":
                hidden = step.output_shape[0]
                squeeze = (step.params - hidden) // (2 * hidden + 1)  # params = 2*hidden*squeeze + squeeze + hidden
                vectors = batch * (2 * hidden + squeeze)  # pooled, squeezed, gate
                layers.append(LayerTraffic(
                    f"{prefix} squeeze-excite", batch * step.macs,
                    size * (2 * map_values + vectors), size * step.params, size * (map_values + vectors),
                ))
            else:
                in_channels = step.input_shape[0]
                kernel = stage.kernel_size if step.name in ("depthwise",) or (step.name == "expand" and stage.kind == "fused_mbconv") else 1
                groups = in_channels if step.name == "depthwise" else 1
                layers.append(_conv_layer(f"{prefix} {step.name}", step.input_shape, step.output_shape, kernel, groups, batch, size))
    return tuple(layers)


def check_batch(batch: int) -> int:
    """`batch` when it is a whole number from 1 to 65536; ValueError otherwise."""
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 65536:
        raise ValueError(f"batch must be a whole number from 1 to 65536, got {batch!r}")
    return batch


def traffic(config: ScalingConfig, batch: int = 1, dtype: str = "float32") -> Traffic:
    """Bytes moved and arithmetic intensity of every layer and stage of `config` (see the module's model)."""
    check_batch(batch)
    dtype_bytes(dtype)
    return Traffic(config, batch, dtype, tuple(
        StageTraffic(stage, stage_layers(stage, batch, dtype, config.num_classes)) for stage in stages(config)
    ))

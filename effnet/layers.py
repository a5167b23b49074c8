"""Every layer's cost: the stage table's figures split down to each convolution, batch norm and activation.

The stage table (`effnet.profile`) says which stage costs what; this module says which layer. Each
row is one operation of the network as `effnet.build` lays it out (the stem's convolution, its batch
norm and its activation; in every block the expansion, the depthwise convolution, the four parts of
squeeze-and-excitation, the projection and the residual addition; the head's convolution, the pooling
and the classifier), with the module it corresponds to, so a hook or a FLOP counter can find it.

Nothing here is counted anew. Parameters and multiply-adds come from `profile.block_steps` (the stage
table's own steps), bytes from `traffic.stage_layers` (the roofline's traffic model) and, when a GPU
is named, time from `predict.predict`, so the layers always add up to the stage table, the traffic
totals and the predicted latency. The splits below only divide each of those figures among the
operations that share it:

- parameters: a convolution has its weights, its batch norm two per channel (scale and shift),
  squeeze-and-excitation's two 1x1 convolutions their weights and biases;
- multiply-adds: the paper's convention (`effnet.profile`): convolutions and the classifier only;
- bytes: the traffic model's, where batch norm and the activation are folded into the convolution
  before them (one kernel), so their `bytes` are 0; `eager_bytes` adds the passes eager PyTorch makes
  over the map for them (what `effnet.cost.predict` charges), so eager's extra traffic is visible per row;
- predicted time: `effnet.cost.predict` times one eager layer (a convolution with its batch norm and
  activation, or all of squeeze-and-excitation) as a whole. Its launch wait is shared equally among
  the kernels the layer dispatches; its GPU time goes first to the rows that do no multiply-adds
  (their eager bytes at the attainable bandwidth), the rest to the rows that do, in proportion to
  their multiply-adds when the layer is compute-bound and to their bytes when it is memory-bound.

Pure Python, closed form, cached by value: B7's 800-odd rows take a few milliseconds, once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from .cost.predict import Layer, LayerPrediction, Prediction, eager_layers, memory_rate, predict
from .cost.traffic import LayerTraffic, check_batch, dtype_bytes, traffic
from .profile import Step, block_steps
from .scaling import ScalingConfig, Stage

KINDS = ("conv", "depthwise", "se", "linear", "bn", "act", "pool", "scale", "add")
# "Where the time goes": every row belongs to one part of the network. Dense k x k convolutions (the
# stem, Fused-MBConv's expansion) are a part of their own: in EfficientNetV2 they are most of the time.
GROUPS = ("depthwise", "pointwise", "squeeze-excite", "dense", "other")
GROUP_LABELS = {
    "depthwise": "depthwise k×k (with its BN and activation)",
    "pointwise": "pointwise 1×1: expand, project, head (with BN and activation)",
    "squeeze-excite": "squeeze-and-excitation (pool, two 1×1, gate, scale)",
    "dense": "dense k×k: stem, Fused-MBConv (with BN and activation)",
    "other": "residual additions, pooling, classifier",
}


@dataclass(frozen=True)
class LayerRow:
    """One operation of the network with its cost. Shapes are (channels, height, width) of one image."""

    name: str  # "stage3.1 depthwise conv", "head pool", "classifier"
    stage: int  # the stage table's index (1 = stem, last = head)
    block: int | None  # the block inside the stage (0 = first), None for the stem and the head
    kind: str  # one of KINDS
    group: str  # one of GROUPS
    module: str | None  # the module's name in effnet.build's network, None for functional operations
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int
    macs: int  # multiply-adds for one image (the paper's "FLOPs")
    bytes: int  # the traffic model's bytes for the whole batch (0 where folded into the layer before)
    eager_bytes: int  # bytes eager PyTorch moves for the row (separate batch-norm, activation, padding passes)
    batch: int
    kernels: int = 0  # kernels eager PyTorch dispatches for the row
    layer: str = ""  # the effnet.cost.traffic / effnet.cost.predict layer the row is part of ("stage3.1 expand")
    predicted_ms: float | None = None  # its part of the predicted eager latency (with a device): GPU time + launch wait
    predicted_gpu_ms: float | None = None  # the GPU-time part alone (what the roofline bounds)
    bound: str | None = None  # 'compute' or 'memory': what binds its predicted layer (rows with MACs)

    @property
    def intensity(self) -> float:
        """FLOPs (2 per multiply-add) per byte the traffic model moves; 0 for rows that move nothing."""
        return 2 * self.macs * self.batch / self.bytes if self.bytes else 0.0

    def as_dict(self, total_ms: float | None = None) -> dict:
        row = {
            "name": self.name, "stage": self.stage, "block": self.block, "kind": self.kind, "group": self.group,
            "module": self.module, "input_shape": list(self.input_shape), "output_shape": list(self.output_shape),
            "params": self.params, "macs": self.macs, "batch_macs": self.macs * self.batch, "bytes": self.bytes,
            "eager_bytes": self.eager_bytes, "intensity": self.intensity, "kernels": self.kernels, "layer": self.layer,
        }
        if self.predicted_ms is not None:
            row["predicted_ms"] = self.predicted_ms
            row["predicted_gpu_ms"] = self.predicted_gpu_ms
            row["predicted_share"] = self.predicted_ms / total_ms if total_ms else 0.0
            row["bound"] = self.bound
        return row


@dataclass(frozen=True)
class LayerProfile:
    """Every layer of `config` for one batch and dtype; with `prediction`, each row's predicted time."""

    config: ScalingConfig
    batch: int
    dtype: str
    layers: tuple[LayerRow, ...]
    prediction: Prediction | None = None

    @property
    def params(self) -> int:
        return sum(row.params for row in self.layers)

    @property
    def macs(self) -> int:
        return sum(row.macs for row in self.layers)

    @property
    def memory_bytes(self) -> int:
        return sum(row.bytes for row in self.layers)

    def share_by_group(self) -> dict[str, float]:
        """Each GROUPS entry's share (0..1) of the predicted latency; empty without a prediction."""
        if self.prediction is None:
            return {}
        total = self.prediction.latency_ms
        shares = dict.fromkeys(GROUPS, 0.0)
        for row in self.layers:
            shares[row.group] += (row.predicted_ms or 0.0) / total
        return shares

    def top(self, count: int = 10) -> list[LayerRow]:
        """The `count` rows with the largest predicted time (empty without a prediction)."""
        if self.prediction is None:
            return []
        return sorted(self.layers, key=lambda row: row.predicted_ms or 0.0, reverse=True)[:count]

    def as_dict(self) -> dict:
        total = self.prediction.latency_ms if self.prediction is not None else None
        document = {"batch": self.batch, "dtype": self.dtype, "layers": [row.as_dict(total) for row in self.layers]}
        if self.prediction is not None:
            document["prediction_label"] = self.prediction.label
            document["predicted_share_by_group"] = self.share_by_group()
        return document


# ---------------------------------------------------------------------------------------------
# rows from the stage table's steps and the traffic model's layers
# ---------------------------------------------------------------------------------------------
def _conv_rows(prefix: str, module: str, stage: int, block: int | None, step_in: tuple, step_out: tuple,
               kernel: int, groups: int, step_params: int, step_macs: int, moved: LayerTraffic, batch: int,
               kind: str, group: str, activation: bool) -> list[LayerRow]:
    """A convolution, its batch norm and (when there is one) its activation: children 0, 1, 2 of `module`."""
    channels = step_out[0]
    weights = channels * (step_in[0] // groups) * kernel * kernel
    assert weights + 2 * channels == step_params, (prefix, weights, step_params)  # profile's own count
    common = dict(stage=stage, block=block, group=group, batch=batch)
    rows = [
        LayerRow(f"{prefix} conv", kind=kind, module=f"{module}.0", input_shape=step_in, output_shape=step_out,
                 params=weights, macs=step_macs, bytes=moved.memory_bytes, eager_bytes=moved.memory_bytes, **common),
        LayerRow(f"{prefix} bn", kind="bn", module=f"{module}.1", input_shape=step_out, output_shape=step_out,
                 params=2 * channels, macs=0, bytes=0, eager_bytes=2 * moved.output_bytes, **common),
    ]
    if activation:
        rows.append(LayerRow(f"{prefix} act", kind="act", module=f"{module}.2", input_shape=step_out, output_shape=step_out,
                             params=0, macs=0, bytes=0, eager_bytes=2 * moved.output_bytes, **common))
    return rows


def _squeeze_excite_rows(prefix: str, module: str, stage: Stage, block: int, step: Step, moved: LayerTraffic,
                         batch: int, size: int) -> list[LayerRow]:
    """Pool, reduce (1x1 + bias), activation, expand (1x1 + bias), sigmoid gate, scale: the traffic
    model's one squeeze-and-excitation layer split into the reads and writes of each part."""
    hidden = step.output_shape[0]
    in_channels = stage.in_channels if block == 0 else stage.out_channels
    squeeze = max(1, int(in_channels * stage.squeeze_ratio))
    reduce_params, expand_params = hidden * squeeze + squeeze, squeeze * hidden + hidden
    map_bytes = size * batch * hidden * step.output_shape[1] * step.output_shape[2]
    vector, squeezed = size * batch * hidden, size * batch * squeeze
    pooled, small = (hidden, 1, 1), (squeeze, 1, 1)
    common = dict(stage=stage.index, block=block, batch=batch, group="squeeze-excite")
    rows = [
        LayerRow(f"{prefix} se pool", kind="pool", module=f"{module}.avgpool", input_shape=step.output_shape,
                 output_shape=pooled, params=0, macs=0, bytes=map_bytes + vector, eager_bytes=map_bytes + vector, **common),
        LayerRow(f"{prefix} se reduce", kind="se", module=f"{module}.fc1", input_shape=pooled, output_shape=small,
                 params=reduce_params, macs=hidden * squeeze, bytes=vector + size * reduce_params + squeezed,
                 eager_bytes=vector + size * reduce_params + squeezed, **common),
        LayerRow(f"{prefix} se act", kind="act", module=f"{module}.activation", input_shape=small, output_shape=small,
                 params=0, macs=0, bytes=0, eager_bytes=0, **common),
        LayerRow(f"{prefix} se expand", kind="se", module=f"{module}.fc2", input_shape=small, output_shape=pooled,
                 params=expand_params, macs=squeeze * hidden, bytes=squeezed + size * expand_params + vector,
                 eager_bytes=squeezed + size * expand_params + vector, **common),
        LayerRow(f"{prefix} se gate", kind="act", module=f"{module}.scale_activation", input_shape=pooled,
                 output_shape=pooled, params=0, macs=0, bytes=0, eager_bytes=0, **common),
        LayerRow(f"{prefix} se scale", kind="scale", module=None, input_shape=step.output_shape,
                 output_shape=step.output_shape, params=0, macs=0, bytes=2 * map_bytes + vector,
                 eager_bytes=2 * map_bytes + vector, **common),
    ]
    assert sum(r.bytes for r in rows) == moved.memory_bytes and reduce_params + expand_params == step.params
    return rows


def _block_rows(stage: Stage, block: int, moved: tuple[LayerTraffic, ...], batch: int, size: int) -> list[list[LayerRow]]:
    """The rows of one block, grouped as the traffic model's layers (one group per traffic layer)."""
    prefix, module = f"stage{stage.index}.{block}", f"stages.{stage.index - 2}.{block}"
    fused = stage.kind == "fused_mbconv"
    groups: list[list[LayerRow]] = []
    for step, layer in zip(block_steps(stage, first=block == 0), moved):
        if step.name == "residual":
            groups.append([LayerRow(f"{prefix} residual", stage.index, block, "add", "other", None, step.output_shape,
                                    step.output_shape, 0, 0, layer.memory_bytes, layer.memory_bytes, batch)])
        elif step.name == "squeeze-excite":
            groups.append(_squeeze_excite_rows(prefix, f"{module}.squeeze_excite", stage, block, step, layer, batch, size))
        else:
            depthwise = step.name == "depthwise"
            dense = fused and step.name == "expand"
            kernel = stage.kernel_size if depthwise or dense else 1
            kind, group = ("depthwise", "depthwise") if depthwise else ("conv", "dense" if dense else "pointwise")
            groups.append(_conv_rows(f"{prefix} {step.name}", f"{module}.{step.name}", stage.index, block,
                                     step.input_shape, step.output_shape, kernel, step.input_shape[0] if depthwise else 1,
                                     step.params, step.macs, layer, batch, kind, group, activation=step.name != "project"))
    return groups


def _stage_rows(stage: Stage, moved: tuple[LayerTraffic, ...], config: ScalingConfig, batch: int, dtype: str) -> list[list[LayerRow]]:
    size = dtype_bytes(dtype)
    if stage.kind == "stem":
        params = stage.out_channels * 3 * stage.kernel_size**2 + 2 * stage.out_channels
        macs = (params - 2 * stage.out_channels) * stage.output_resolution**2
        return [_conv_rows("stem", "stem", stage.index, None, stage.input_shape, stage.output_shape, stage.kernel_size, 1,
                           params, macs, moved[0], batch, "conv", "dense", activation=True)]
    if stage.kind == "head":
        conv, pool, classifier = moved
        r = stage.input_resolution
        features, vector = (stage.out_channels, r, r), (stage.out_channels, 1, 1)
        conv_rows = _conv_rows("head", "head", stage.index, None, (stage.in_channels, r, r), features, 1, 1,
                               stage.in_channels * stage.out_channels + 2 * stage.out_channels,
                               stage.in_channels * stage.out_channels * r * r, conv, batch, "conv", "pointwise", True)
        classes = config.num_classes
        return [
            conv_rows,
            [LayerRow("head pool", stage.index, None, "pool", "other", "pool", features, vector, 0, 0,
                      pool.memory_bytes, pool.memory_bytes, batch)],
            [LayerRow("classifier", stage.index, None, "linear", "other", "classifier", (stage.out_channels,), (classes,),
                      stage.out_channels * classes + classes, stage.out_channels * classes, classifier.memory_bytes,
                      classifier.memory_bytes, batch)],
        ]
    groups: list[list[LayerRow]] = []
    position = 0
    for block in range(stage.layers):
        count = len(block_steps(stage, first=block == 0))
        groups += _block_rows(stage, block, moved[position:position + count], batch, size)
        position += count
    return groups


# ---------------------------------------------------------------------------------------------
# eager kernels and bytes, and predicted time, split among the rows of each eager layer
# ---------------------------------------------------------------------------------------------
def _finish(group: list[LayerRow], layer: Layer, predicted: LayerPrediction | None, bandwidth: float) -> list[LayerRow]:
    """`group`'s rows with the kernels and bytes of one eager layer (effnet.cost.predict's), and with a
    prediction their part of its time (see the module docstring). Conv2dSame's padding pass (a kernel,
    and a read and a write of the input) belongs to the convolution."""
    extra_kernels = layer.kernels - len(group)
    padding = layer.memory_bytes - sum(row.eager_bytes for row in group)
    assert extra_kernels >= 0 and padding >= 0, (group[0].name, extra_kernels, padding)
    kernels = [1 + extra_kernels] + [1] * (len(group) - 1)
    eager = [row.eager_bytes for row in group]
    eager[0] += padding
    if predicted is None:
        return [replace(row, kernels=kernels[i], eager_bytes=eager[i], layer=layer.name) for i, row in enumerate(group)]
    elementwise = [eager[i] / bandwidth if row.macs == 0 else 0.0 for i, row in enumerate(group)]
    rest = max(0.0, predicted.gpu_s - sum(elementwise))
    weights = [(row.macs if predicted.bound == "compute" else eager[i]) if row.macs else 0 for i, row in enumerate(group)]
    total_weight = sum(weights)
    rows = []
    for i, row in enumerate(group):
        gpu = elementwise[i] if row.macs == 0 else rest * weights[i] / total_weight if total_weight else 0.0
        wait = predicted.wait_s * kernels[i] / layer.kernels
        rows.append(replace(row, kernels=kernels[i], eager_bytes=eager[i], layer=layer.name, predicted_ms=1e3 * (wait + gpu),
                            predicted_gpu_ms=1e3 * gpu, bound=predicted.bound if row.macs else None))
    return rows


def layer_profile(config: ScalingConfig, batch: int = 1, dtype: str = "float32", device: str | None = None) -> LayerProfile:
    """Every layer of `config` with its parameters, multiply-adds and bytes for `batch` images in `dtype`;
    with `device` (a GPU name for effnet.cost.predict), each row's predicted share of the eager latency.

    Cached by value: the Build page asks for the same profile on every rerun.
    """
    check_batch(batch)  # the traffic model's checks and messages
    dtype_bytes(dtype)
    prediction = predict(config, device, batch, dtype) if device is not None else None
    return _layer_profile(config, batch, dtype, prediction.device.name if prediction else None)


@lru_cache(maxsize=256)
def _layer_profile(config: ScalingConfig, batch: int, dtype: str, device: str | None) -> LayerProfile:
    moved = traffic(config, batch, dtype)
    grouped = [group for stage in moved.stages for group in _stage_rows(stage.stage, stage.layers, config, batch, dtype)]
    eager = eager_layers(config, batch, dtype, moved)
    assert len(eager) == len(grouped), (len(eager), len(grouped))
    prediction = predict(config, device, batch, dtype) if device is not None else None
    timed = prediction.layers if prediction is not None else [None] * len(grouped)
    bandwidth = memory_rate(prediction.device, prediction.calibration.constants) if prediction is not None else 1.0
    rows = [row for group, (_, layer), predicted in zip(grouped, eager, timed) for row in _finish(group, layer, predicted, bandwidth)]
    return LayerProfile(config, batch, dtype, tuple(rows), prediction)

CSV_COLUMNS = ("name", "stage", "block", "kind", "group", "module", "input_shape", "output_shape", "params", "macs",
               "batch_macs", "bytes", "eager_bytes", "intensity", "kernels", "predicted_ms", "predicted_gpu_ms",
               "predicted_share", "bound")


def to_csv(layers: LayerProfile) -> str:
    """The layer table as CSV (shapes as CxHxW; the predicted columns empty without a prediction)."""
    import csv
    import io

    total = layers.prediction.latency_ms if layers.prediction is not None else None
    text = io.StringIO()
    writer = csv.DictWriter(text, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in layers.layers:
        values = row.as_dict(total)
        values["input_shape"] = "x".join(map(str, row.input_shape))
        values["output_shape"] = "x".join(map(str, row.output_shape))
        writer.writerow({column: "" if values.get(column) is None else values[column] for column in CSV_COLUMNS})
    return text.getvalue()

"""The network out of the lab: an ONNX file of any configuration, for Netron, ONNX Runtime or TensorRT.

`export_onnx(config)` builds the network (trained weights where this machine has them offline: Lite0-2
always, B0-B7 and V2 when torchvision's file is cached; random weights from a seed otherwise), exports
it with torch's exporter (`torch.onnx.export(..., dynamo=True)`, which needs the `onnx` and
`onnxscript` packages; nothing is downloaded) with a dynamic batch dimension, and writes where the
weights came from into the model's metadata, so an untrained file can never pass for a trained one.

Networks whose float32 weights exceed MAX_EXPORT_BYTES are refused before anything is built: the file
is held in memory (the app offers it as a download) and exporting a large network takes minutes on a
small CPU. Exports in one process are serialised by a lock.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .profile import profile
from .scaling import ScalingConfig

OPSET = 21  # ONNX opset 21 (ONNX 1.16): a recent opset that ONNX Runtime 1.18 and later run
# float32 weights; B6 (172 MB) and V2-M (217 MB) pass, B7 (265 MB) and V2-L (474 MB) do not
MAX_EXPORT_BYTES = int(os.environ.get("EFFNET_MAX_EXPORT_BYTES", 250 * 10**6))
INPUT_NAME, OUTPUT_NAME = "images", "logits"
_EXPORT_LOCK = threading.Lock()


class ExportError(ValueError):
    """A network this machine will not export (too large, no such weights); the message says what is accepted."""


@dataclass(frozen=True)
class ExportedModel:
    """A serialised ONNX model and how it was made."""

    data: bytes  # the .onnx file
    config: ScalingConfig
    weights: str  # "trained: <source>", "state dict: <file>" or "untrained: random initialisation, seed N"
    trained: bool
    opset: int
    export_s: float  # seconds the export took

    @property
    def size_bytes(self) -> int:
        return len(self.data)


def weight_bytes(config: ScalingConfig) -> int:
    """float32 bytes of `config`'s weights (from the closed-form profile: nothing is built)."""
    return 4 * profile(config).params


def check_exportable(config: ScalingConfig, max_bytes: int = MAX_EXPORT_BYTES) -> int:
    """The float32 weight bytes of `config`; ExportError (one line) above `max_bytes`."""
    size = weight_bytes(config)
    if size > max_bytes:
        raise ExportError(
            f"{config.label} has {size / 1e6:,.0f} MB of float32 weights; this lab exports networks up to "
            f"{max_bytes / 1e6:,.0f} MB (B6 and V2-M fit, B7 and V2-L do not): choose a smaller configuration"
        )
    return size


def trained_weights_available(config: ScalingConfig) -> bool:
    """True when `config` is a preset whose trained weights load here without a network."""
    from .weights import available_offline

    return bool(config.name) and config.name in available_offline()


def build_for_export(config: ScalingConfig, weights: str = "auto", seed: int = 0, state_dict: str | Path | None = None):
    """(the network in eval mode, a description of its weights, trained or not).

    weights: 'auto' (trained when available offline, else random from `seed`), 'trained' (ExportError
    when unavailable) or 'untrained'. `state_dict` (a file) overrides them.
    """
    import torch

    from .weights import WeightsError, WeightsUnavailableError, build, weight_spec

    if weights not in ("auto", "trained", "untrained"):
        raise ExportError(f"weights must be 'auto', 'trained' or 'untrained', got {weights!r}")
    if state_dict is not None:
        try:
            return build(config, state_dict=state_dict), f"state dict: {Path(state_dict).name}", True
        except (OSError, WeightsError, RuntimeError) as error:
            raise ExportError(f"the state dict {Path(state_dict).name} does not load into {config.label}: {error}") from None
    if weights == "trained" or (weights == "auto" and trained_weights_available(config)):
        try:
            model = build(config, pretrained=True)
        except WeightsUnavailableError as error:
            raise ExportError(str(error)) from None
        return model, f"trained: {weight_spec(config.name).source}", True
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build(config)
    return model, f"untrained: random initialisation (He-normal convolutions), torch seed {seed}", False


def export_onnx(config: ScalingConfig, weights: str = "auto", seed: int = 0, state_dict: str | Path | None = None,
                max_bytes: int = MAX_EXPORT_BYTES, opset: int = OPSET) -> ExportedModel:
    """`config` as an ONNX model (input 'images', N x 3 x r x r float32 with N dynamic; output 'logits').

    Metadata (model.metadata_props): effnet.label, effnet.config (JSON), effnet.weights, effnet.trained,
    effnet.preprocessing (trained presets).
    """
    import onnx
    import torch

    check_exportable(config, max_bytes)
    model, described, trained = build_for_export(config, weights, seed, state_dict)
    example = torch.zeros(1, 3, config.resolution, config.resolution)
    with _EXPORT_LOCK:
        started = time.perf_counter()
        program = torch.onnx.export(
            model, (example,), dynamo=True, opset_version=opset, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1, max=4096)}}, verbose=False,
        )
        proto = program.model_proto
        elapsed = time.perf_counter() - started
    properties = {
        "effnet.label": config.label,
        "effnet.config": json.dumps({key: value for key, value in dataclasses.asdict(config).items()}),
        "effnet.weights": described,
        "effnet.trained": "yes" if trained else "no",
    }
    if trained and config.name and state_dict is None:
        from .weights import weight_spec

        spec = weight_spec(config.name).preprocessing
        properties["effnet.preprocessing"] = json.dumps(dataclasses.asdict(spec))
    onnx.helper.set_model_props(proto, properties)
    proto.doc_string = f"{config.label} exported by effnet ({described})"
    return ExportedModel(proto.SerializeToString(), config, described, trained, opset, elapsed)


def metadata(data: bytes) -> dict[str, str]:
    """The metadata_props of a serialised ONNX model, as a dict."""
    import onnx

    return {entry.key: entry.value for entry in onnx.load_from_string(data).metadata_props}

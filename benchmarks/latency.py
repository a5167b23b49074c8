"""Latency of the EfficientNet presets, as a Markdown table (not a test: figures depend on the machine).

    python benchmarks/latency.py                                   # b0-b3, batch 1, float32, auto device
    python benchmarks/latency.py --presets b0,b7 --batches 1,32 --dtypes float32,float16 --device cuda \
        --time-budget 5 --markdown out.md --json out.json
    python benchmarks/latency.py --presets b0 --modes eager,channels_last,compile --device cpu   # execution modes

Every row names its device, thread count, batch, dtype and resolution; the median and the 10th-90th
percentile spread are per batch of images. Networks are built untrained (timing does not depend on
the weights' values), once per preset. A combination the device cannot run (float16 on a CPU, out of
memory) becomes a row that says why.

--json writes the one results format effnet.cost.recorded reads (described there): copy a GPU run's file into
benchmarks/results/ (e.g. gpu_<device>_<date>.json) and the app, effnet.cost.recorded and
benchmarks/calibrate_prediction.py pick it up.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from pathlib import Path

import torch

import effnet
from effnet.cost.devices import MODES
from effnet.cost.latency import DTYPES, device_description, measure_latency
from effnet.cost.recorded import FORMAT


def parse_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="b0,b1,b2,b3", help="comma-separated presets (default b0,b1,b2,b3)")
    parser.add_argument("--batches", default="1", help="comma-separated batch sizes (default 1)")
    parser.add_argument("--dtypes", default="float32", help=f"comma-separated, from {', '.join(DTYPES)} (default float32)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--runs", type=int, default=None, help="timed runs per row (default: chosen from the warm-up)")
    parser.add_argument("--warmup", type=int, default=None, help="warm-up passes per row (default 2 on CPU, 10 on CUDA)")
    parser.add_argument("--time-budget", type=float, default=None, help="seconds per row, warm-up included")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--modes", default="eager", help=f"comma-separated execution modes, from {', '.join(MODES)} (default eager)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's setting)")
    parser.add_argument("--markdown", type=Path, help="also write the Markdown here")
    parser.add_argument("--json", type=Path, help="also write every measurement as JSON here")
    args = parser.parse_args(argv)

    presets = parse_list(args.presets)
    batches = [int(b) for b in parse_list(args.batches)]
    dtypes = parse_list(args.dtypes)
    modes = parse_list(args.modes)
    try:
        where = device_description(args.device)
    except ValueError as error:
        print(f"latency benchmark: {error}", file=sys.stderr)
        return 2

    header = ["preset", "resolution", "batch", "dtype", "mode", "device", "threads", "median ms", "p10-p90 ms",
              "runs", "images/s", "achieved TFLOP/s", "% of peak", "note"]
    lines = [
        f"Latency of EfficientNet presets on {where}; torch {torch.__version__}"
        + (f", CUDA {torch.version.cuda}" if where.startswith("cuda") else "")
        + f", Python {platform.python_version()}, {datetime.date.today().isoformat()}.",
        "Median and 10th-90th percentile per batch; achieved TFLOP/s = 2 x multiply-adds x batch / median;"
        " peak = the GPU's dense datasheet peak for the dtype (float32: TF32 tensor cores, which cuDNN may use).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    records = []
    for name in presets:
        config = effnet.preset(name)
        model = effnet.build(config)  # untrained; measure_latency times a private copy of it
        for dtype, batch, mode in ((d, b, m) for d in dtypes for b in batches for m in modes):
            try:
                result = measure_latency(
                    model, batch=batch, device=args.device, dtype=dtype, runs=args.runs, warmup=args.warmup,
                    channels_last=args.channels_last, time_budget_s=args.time_budget, threads=args.threads, mode=mode,
                )
            except (ValueError, RuntimeError) as error:  # RuntimeError: a kernel failed; keep the other rows
                why = " ".join(str(error).split())[:200]
                cells = [name, str(config.resolution), str(batch), dtype, mode] + [""] * 8 + [f"skipped: {why}"]
                print(f"{name} batch {batch} {dtype} {mode}: skipped: {why}", file=sys.stderr)
                records.append({"preset": name, "batch": batch, "dtype": dtype, "mode": mode, "skipped": why})
            else:
                print(f"{name}: {result.summary()}", file=sys.stderr)
                low, high = result.spread_ms
                percent = result.percent_of_peak
                note = ("stopped at the time budget; " if result.stopped_early else "") + (
                    f"compiling took {result.compile_s:.0f} s (not timed)" if result.compile_s is not None else "")
                cells = [
                    name, str(result.resolution), str(result.batch), result.dtype, result.mode_label, result.device_name,
                    "-" if result.threads is None else str(result.threads),
                    f"{result.median_ms:.2f}", f"{low:.2f}-{high:.2f}", str(result.runs),
                    f"{result.images_per_second:,.1f}", f"{result.achieved_tflops:.3g}",
                    "-" if percent is None else f"{percent:.2g}%", note.strip("; "),
                ]
                cost = effnet.profile(config)
                records.append({"preset": name, "params": cost.params, "macs": cost.macs, **result.as_dict()})
            lines.append("| " + " | ".join(cells) + " |")
            save(args, lines, where, records)  # after every row, so a run cut short keeps its figures
        del model
    print("\n".join(lines))
    return 0


def save(args: argparse.Namespace, lines: list[str], where: str, records: list[dict]) -> None:
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if args.json:
        meta = {"device": where, "torch": torch.__version__, "cuda": torch.version.cuda, "date": datetime.date.today().isoformat(),
                "python": platform.python_version(), "format": FORMAT}
        args.json.write_text(json.dumps({"meta": meta, "measurements": records}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())

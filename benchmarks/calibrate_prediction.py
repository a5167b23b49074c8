"""Calibrate effnet.cost.predict on the recorded GPU runs and print its error on runs it was not fitted to.

    python benchmarks/calibrate_prediction.py            # fit, print the tables, write the calibration
    python benchmarks/calibrate_prediction.py --check    # fit and print only (writes nothing)

Reads every results file in benchmarks/results/ (effnet.cost.recorded), keeps one run per condition (the
one with most timed runs), fits the free constants on B0, B2, B4 and B6 (batch 1 and 32, float32 and
float16) and reports the error on every run, fitted or held out; then two other splits (fitted on
batch 1 and one batch-32 preset; fitted on float32 only), the plain-sum schedule for comparison, and
how the fit moves when the tensor-core efficiency (held at 1) is lowered. Writes
effnet/cost/data/latency_calibration.json, which effnet.cost.predict reads.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

from effnet.cost import calibrate
from effnet.cost.predict import CALIBRATION_PATH, PREDICTED_MODE, device_for_recorded
from effnet.cost.recorded import RESULTS_DIR, load_recorded


def percent(value: float) -> str:
    """'+13%', '-24%', '0%' (a signed whole percent; no '-0%')."""
    rounded = round(100 * value)
    return f"{rounded:+d}%" if rounded else "0%"


def table(rows: list[dict]) -> list[str]:
    """Markdown: one line a preset, measured -> predicted (error) for batch 1 and 32 in float32 and float16."""
    conditions = [(1, "float32"), (1, "float16"), (32, "float32"), (32, "float16")]
    header = "| preset | " + " | ".join(f"batch {b} {'fp32' if d == 'float32' else 'fp16'}: measured → predicted ms (error)" for b, d in conditions) + " |"
    lines = [header, "|---|" + "---:|" * len(conditions)]
    for name in dict.fromkeys(row["preset"] for row in rows):
        cells = []
        for batch, dtype in conditions:
            found = [r for r in rows if r["preset"] == name and r["batch"] == batch and r["dtype"] == dtype]
            if not found:
                cells.append("–")
                continue
            r = found[0]
            mark = "" if r["fitted"] else " held out"
            cells.append(f"{r['measured_ms']:.2f} → {r['predicted_ms']:.2f} ({percent(r['error'])}{mark})")
        fitted = any(r["fitted"] for r in rows if r["preset"] == name)
        lines.append(f"| {name.upper()}{' (fitted)' if fitted else ''} | " + " | ".join(cells) + " |")
    return lines


def summary(rows: list[dict], label: str) -> str:
    held = [r for r in rows if not r["fitted"]]
    held32 = [abs(r["error"]) for r in held if r["batch"] == 32]
    all32 = [abs(r["error"]) for r in rows if r["batch"] == 32]
    held1 = [abs(r["error"]) for r in held if r["batch"] == 1]
    text = f"{label}: {len(rows) - len(held)} runs fitted, {len(held)} held out"
    if held:
        errors = sorted(abs(r["error"]) for r in held)
        text += f"; held-out |error| median {100 * errors[len(errors) // 2]:.0f}%, max {100 * errors[-1]:.0f}%"
    if held32:
        text += f"; held-out batch 32 max {100 * max(held32):.0f}%"
    if held1:
        text += f"; held-out batch 1 max {100 * max(held1):.0f}%"
    text += f"; every batch-32 run within ±30%: {'yes' if max(all32) <= 0.30 else 'no'} (max {100 * max(all32):.0f}%)"
    return text


def constants_text(fit: calibrate.Fit) -> str:
    c = fit.constants
    return (f"launch {c.launch_us:.2f} µs a kernel, memory efficiency {c.memory_efficiency:.3f}, depthwise efficiency "
            f"{c.depthwise_efficiency:.4f}, tensor-core efficiency {c.tensor_core_efficiency:g}"
            f"{' (held)' if 'tensor_core_efficiency' in calibrate.FIXED else ''}; rms log error on the fitted runs "
            f"{fit.rms_log_error:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="folder of results files (default benchmarks/results)")
    parser.add_argument("--output", type=Path, default=CALIBRATION_PATH, help="where to write the calibration JSON")
    parser.add_argument("--check", action="store_true", help="fit and print only; write nothing")
    args = parser.parse_args(argv)

    try:
        points = calibrate.fit_points(load_recorded(args.results))
    except ValueError as error:
        print(f"calibrate_prediction: {error}", file=sys.stderr)
        return 2
    devices = sorted({p.run.device_name for p in points})
    if devices != ["NVIDIA H200"]:
        print(f"note: recorded GPUs {devices}; the calibration below fits the H200 runs only", file=sys.stderr)
    h200 = calibrate.split(points, lambda run: device_for_recorded(run.device_name).name == "H200 SXM")
    print(f"{len(h200)} recorded eager H200 runs (one per condition) from {', '.join(sorted({p.run.source for p in h200}))}")

    main_fit = calibrate.fit(calibrate.split(h200, lambda run: run.preset in calibrate.FIT_PRESETS))
    main_rows = calibrate.errors(h200, main_fit.constants, main_fit.fitted)
    print("\n## Fitted on B0, B2, B4, B6 (batch 1 and 32, float32 and float16)\n")
    print(constants_text(main_fit))
    print(summary(main_rows, "overlap schedule"))
    print()
    print("\n".join(table(main_rows)))

    others = {
        "fitted on batch 1 (every preset) and B4 at batch 32": lambda run: run.batch == 1 or run.preset == "b4",
        "fitted on float32 only (every preset, batch 1 and 32)": lambda run: run.dtype == "float32",
    }
    splits = []
    for label, keep in others.items():
        other = calibrate.fit(calibrate.split(h200, keep))
        rows = calibrate.errors(h200, other.constants, other.fitted)
        print(f"\n## {label}\n\n{constants_text(other)}\n{summary(rows, 'overlap schedule')}")
        splits.append({"fitted_on": label, "constants": vars(other.constants), "rms_log_error": other.rms_log_error,
                       "summary": summary(rows, "overlap schedule")})

    plain = calibrate.fit(calibrate.split(h200, lambda run: run.preset in calibrate.FIT_PRESETS), overlap=False)
    plain_rows = calibrate.errors(h200, plain.constants, plain.fitted, overlap=False)
    print(f"\n## The plain sum (launch x kernels + GPU time, no overlap), fitted on B0, B2, B4, B6\n\n"
          f"{constants_text(plain)}\n{summary(plain_rows, 'plain sum')}")

    print("\n## Tensor-core efficiency held at lower values (fit on B0, B2, B4, B6)\n")
    profile = []
    for value in (1.0, 0.5, 0.2, 0.1, 0.05):
        held = calibrate.fit(calibrate.split(h200, lambda run: run.preset in calibrate.FIT_PRESETS),
                             fixed={"tensor_core_efficiency": value})
        profile.append({"tensor_core_efficiency": value, "rms_log_error": held.rms_log_error})
        print(f"tensor-core efficiency {value:g}: {constants_text(held)}")

    if args.check:
        return 0
    document = {
        "about": "effnet.cost.predict's constants, fitted by `python benchmarks/calibrate_prediction.py` on recorded runs",
        "device": "H200 SXM",
        "recorded_device_name": "NVIDIA H200",
        "fitted_on": "B0, B2, B4, B6 at batch 1 and 32, float32 (TF32 allowed) and float16, eager",
        "mode": PREDICTED_MODE,
        "schedule": "overlap: a layer starts when the CPU has issued its kernels and the GPU has finished the layer before",
        "constants": vars(main_fit.constants),
        "fixed": sorted(calibrate.FIXED),
        "rms_log_error": main_fit.rms_log_error,
        "sources": sorted({p.run.source for p in h200}),
        "date": datetime.date.today().isoformat(),
        "runs": main_rows,
        "other_splits": splits,
        "plain_sum": {"constants": vars(plain.constants), "summary": summary(plain_rows, "plain sum")},
        "tensor_core_efficiency_profile": profile,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

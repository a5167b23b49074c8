"""How closely the batched renderer (effnet.experiment.render) draws the reference's pictures.

    python benchmarks/render_agreement.py

For both tasks at 80, 224 and 472 px: the share of mask pixels that agree with synthetic.render
(the one-scene numpy reference), and how many image values differ by one level or by more.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from effnet.experiment import render, synthetic  # noqa: E402


def main() -> None:
    for objects in ("small", "large"):
        for resolution, count in ((80, 200), (224, 40), (472, 10)):
            items = synthetic.scenes(0, "test", count, objects=objects)
            images, masks = render.render_batch(items, resolution)
            drawn = [synthetic.render(item, resolution) for item in items]
            difference = np.abs(images.numpy().astype(int) - np.stack([p.transpose(2, 0, 1) for p, _ in drawn]))
            agree = (masks.numpy() == np.stack([m for _, m in drawn])).mean()
            print(f"{objects:5} {resolution:3} px, {count:3} scenes: masks agree on {100 * agree:.4f}% of pixels; "
                  f"image values: {100 * (difference == 1).mean():.4f}% differ by 1 level, "
                  f"{int((difference > 1).sum())} of {difference.size} by more (max {difference.max()})")


if __name__ == "__main__":
    main()

"""An independent re-scoring of the committed experiment reproduces its common-grid figures.

Independent of effnet.cam and effnet.experiment.evaluate: pytorch-grad-cam's own GradCAM class
(hooks on a copy of each network, at the module effnet calls stage 6), and the pooling to the
common grid written here in numpy from its definition (each cell the mean of its pixels; a mask
cell is on the object when any of its pixels is). On the first scenes of the committed test
split, the per-image hits must agree with the committed per-image figures, and those must give
the committed means.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import effnet
from effnet.experiment import read_results
from effnet.experiment.data import SyntheticSource

RESULTS = Path(__file__).resolve().parents[3] / "results" / "experiment"
SCENES = 80


def _cells(size: int, grid: int):
    return [(math.floor(i * size / grid), math.ceil((i + 1) * size / grid)) for i in range(grid)]


def _pool(values: np.ndarray, grid: int, reduce) -> np.ndarray:
    cells = _cells(values.shape[-1], grid)
    return np.array([[reduce(values[r0:r1, c0:c1]) for c0, c1 in cells] for r0, r1 in cells])


def _hit(cam: np.ndarray, mask: np.ndarray, grid: int) -> bool:
    pooled, touched = _pool(cam, grid, np.mean), _pool(mask, grid, np.any)
    peak = pooled == pooled.max()
    return bool(pooled.max() > 0 and touched[peak].all())


@pytest.fixture(scope="module")
def document():
    return read_results(RESULTS)


def test_committed_per_image_figures_give_the_committed_means(document):
    for network in document["networks"]:
        for seed in network["seeds"]:
            stored = np.load(RESULTS / "runs" / seed["checkpoint"].replace(".pt", ".npz"))
            assert stored["hit_common"].mean() == pytest.approx(seed["pointing_game_common"])
            assert stored["correct"].mean() == pytest.approx(seed["test_accuracy"])


@pytest.mark.parametrize("name", ["baseline", "depth", "width", "resolution", "compound"])
def test_pytorch_grad_cam_reproduces_the_common_grid_hits(document, name):
    from pytorch_grad_cam import GradCAM

    torch.set_num_threads(1)
    network = next(n for n in document["networks"] if n["name"] == name)
    seed = network["seeds"][0]
    config = effnet.ScalingConfig(**network["config"])
    model = effnet.build(config, state_dict=torch.load(RESULTS / seed["checkpoint"], weights_only=True)).eval()
    dataset = document["dataset"]
    source = SyntheticSource(dataset["train_size"], SCENES, seed=dataset["seed"], easy=dataset.get("easy", False))
    test = source.split("test", config.resolution)
    mean = torch.tensor(dataset["normalisation"]["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(dataset["normalisation"]["std"]).view(1, 3, 1, 1)
    x = (torch.as_tensor(np.asarray(test.images)).float() / 255 - mean) / std
    masks = np.asarray(test.masks)
    replica = copy.deepcopy(model)
    with GradCAM(model=replica, target_layers=[replica.layer("stage6")]) as cam:
        maps = np.concatenate([cam(input_tensor=x[i: i + 20], targets=None) for i in range(0, SCENES, 20)])
    grid = document["common_grid"]
    mine = np.array([_hit(maps[i], masks[i], grid) for i in range(SCENES)])
    stored = np.load(RESULTS / "runs" / seed["checkpoint"].replace(".pt", ".npz"))["hit_common"][:SCENES]
    agreement = float((mine == stored).mean())
    assert agreement >= 0.95, (name, agreement)
    assert abs(mine.mean() - stored.mean()) <= 0.05


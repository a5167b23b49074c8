"""The batched renderer draws the same scenes as the one-scene numpy renderer (synthetic.render,
kept as the reference), on the CPU and, where there is one, on a GPU.

Tolerances (also in docs/rendering.md): masks agree on at least 99.9% of pixels; image values
agree within one level (of 255) on at least 99.9% of values, with a mean absolute difference under
0.01 levels. float32 against the reference's float64 is the only difference allowed: a supersample
point within about 1e-6 of an edge may fall on the other side, and a value may round the other way.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from effnet.experiment import render, synthetic


def reference(items, resolution):
    drawn = [synthetic.render(item, resolution) for item in items]
    return np.stack([pixels.transpose(2, 0, 1) for pixels, _ in drawn]), np.stack([mask for _, mask in drawn])


def assert_agree(images, masks, expected_images, expected_masks):
    assert (masks == expected_masks).mean() >= 0.999
    difference = np.abs(images.astype(np.int64) - expected_images.astype(np.int64))
    assert (difference <= 1).mean() >= 0.999, difference.max()
    assert difference.mean() < 0.01


@pytest.mark.parametrize("resolution, count", [(80, 40), (224, 12), (472, 4)])
def test_the_same_scenes_as_the_reference(resolution, count):
    # the committed task's scenes from two splits, the easy level and the large-object task
    items = (synthetic.scenes(0, "train", count // 2) + synthetic.scenes(3, "test", count // 4, easy=True)
             + synthetic.scenes(1, "val", count - count // 2 - count // 4, objects="large"))
    images, masks = render.render_batch(items, resolution)
    assert_agree(images.numpy(), masks.numpy(), *reference(items, resolution))


def test_every_outline_and_pattern_at_many_sizes_and_angles():
    """Constructed targets: each pattern on each outline, large and small, turned, on one image each."""
    base = synthetic.scene(0, "test", 0)
    items = []
    rng = np.random.default_rng(5)
    for index, pattern in enumerate(synthetic.PATTERNS):
        for kind in synthetic.OUTLINES:
            radius = float(rng.uniform(0.05, 0.45))
            target = replace(base.target, kind=kind, pattern=pattern, radius=radius, x=0.5, y=0.5,
                             angle=float(rng.uniform(-3, 3)), pattern_angle=float(rng.uniform(-3, 3)))
            items.append(replace(base, target=target, distractors=(), label=index))
    images, masks = render.render_batch(items, 96)
    assert_agree(images.numpy(), masks.numpy(), *reference(items, 96))


def test_a_chunked_batch_equals_one_chunk(monkeypatch):
    items = synthetic.scenes(2, "train", 12)
    whole = render.render_batch(items, 64)
    monkeypatch.setitem(render.PIXEL_BUDGET, "cpu", 1)  # every scene its own chunk
    pieces = render.render_batch(items, 64)
    assert torch.equal(whole[0], pieces[0]) and torch.equal(whole[1], pieces[1])


def test_shapes_types_and_device():
    items = synthetic.scenes(0, "test", 3)
    images, masks = render.render_batch(items, 40, device=torch.device("cpu"))
    assert images.shape == (3, 3, 40, 40) and images.dtype == torch.uint8 and images.device.type == "cpu"
    assert masks.shape == (3, 40, 40) and masks.dtype == torch.bool
    empty_images, empty_masks = render.render_batch([], 40)
    assert empty_images.shape == (0, 3, 40, 40) and empty_masks.shape == (0, 40, 40)
    with pytest.raises(ValueError, match="resolution"):
        render.render_batch(items, 4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_drawn_on_the_gpu_as_on_the_cpu():
    items = synthetic.scenes(0, "test", 16)
    images, masks = render.render_batch(items, 224, device="cuda")
    assert images.device.type == "cuda" and masks.device.type == "cuda"
    assert_agree(images.cpu().numpy(), masks.cpu().numpy(), *reference(items, 224))


def test_render_many_returns_numpy_with_labels():
    items = synthetic.scenes(0, "train", 5)
    images, masks, labels = render.render_many(items, 32)
    assert images.shape == (5, 3, 32, 32) and images.dtype == np.uint8 and masks.dtype == bool
    assert labels.tolist() == [item.label for item in items]


def test_a_disc_covers_pi_r_squared():
    # an outside reference: the area of a disc, not the numpy renderer
    scene = synthetic.scene(0, "train", 0)
    disc = replace(scene.target, kind="disc", x=0.5, y=0.5, radius=0.3)
    _, mask = render.render_batch([replace(scene, target=disc, distractors=())], 200)
    assert mask.float().mean().item() == pytest.approx(np.pi * 0.3**2, rel=0.01)


@pytest.mark.parametrize("kind", synthetic.OUTLINES + synthetic.MARKS)
def test_outline_distance_bounds_the_true_distance(kind):
    """The shortcut that skips supersampling is sound: the bound has the inside test's sign and
    never exceeds the true distance to the edge (an exact distance transform of a fine grid)."""
    from scipy import ndimage

    grid = np.linspace(-1.3, 1.3, 801)
    step = grid[1] - grid[0]
    u, v = np.meshgrid(grid, grid)
    inside = synthetic._inside(kind, u, v)
    bound = render._outline_distance(kind, torch.tensor(u, dtype=torch.float32), torch.tensor(v, dtype=torch.float32)).numpy()
    true = np.where(inside, ndimage.distance_transform_edt(inside), ndimage.distance_transform_edt(~inside)) * step
    assert not ((bound < -1e-5) & ~inside).any() and not ((bound > 1e-5) & inside).any()
    assert (np.abs(bound) <= true + 1.5 * step).all()


@pytest.mark.parametrize("pattern", synthetic.PATTERNS)
def test_pattern_shortcut_is_sound(pattern):
    """Where the shortcut says every point within `reach` is on the centre's side, points on a ring
    of that radius around the centre agree with the reference pattern."""
    rng = np.random.default_rng(1)
    centres_u, centres_v = rng.uniform(-1.2, 1.2, 20000), rng.uniform(-1.2, 1.2, 20000)
    reach = 0.03
    dark, certain = render._pattern_sides(pattern, torch.tensor(centres_u, dtype=torch.float32),
                                          torch.tensor(centres_v, dtype=torch.float32),
                                          torch.full((20000,), reach, dtype=torch.float32))
    dark, certain = dark.numpy(), certain.numpy()
    assert (dark == synthetic._pattern(pattern, centres_u, centres_v)).mean() > 0.999
    assert 0.05 < certain.mean()  # the shortcut does settle pixels
    for angle in np.linspace(0, 2 * np.pi, 16, endpoint=False):
        around = synthetic._pattern(pattern, centres_u + reach * np.cos(angle), centres_v + reach * np.sin(angle))
        assert (around[certain] == dark[certain]).all()

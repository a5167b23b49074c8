"""A seeded, procedurally drawn classification task whose every image knows where its object is.

Why this task. The paper's Figure 7 says the compound-scaled network's maps "tend to focus on more
relevant regions with more object details"; to measure that instead of judging it by eye, every
image needs the mask of the object that defines its class. Each scene holds one *target*: a bright
outline (disc, square, triangle, hexagon or star, any of them) filled with one of ten dark
patterns, and the pattern is the class: horizontal stripes, vertical stripes, rising or falling
diagonals, checks, dots, rings, spokes, grid or waves. Around it lie distractors: plain outlines of
the same shapes and colours with no pattern, and small loose marks (dots and crosses), on a random
dark two-colour gradient with smooth blotches and faint wide stripes, so the network has to find
the one patterned object and read its pattern. Objects have random size (12% to 45% of the image
side, as many small as large), position, slight rotation and colour. Depth, width and resolution
can each matter: the pattern's period scales with its object, so on a small object it is a few
pixels fine and needs resolution (stripes blur into checks or grey at 80 px); large objects need a
wide receptive field; ten patterns among clutter need features. A scene is a list of shapes in
unit coordinates, not pixels: `render(scene, resolution)` draws the same scene at any size
(anti-aliased by supersampling), with its mask drawn alike, so a higher-resolution network sees
more detail of the very same scene, never an upsampled small image. Bright objects on darker
backgrounds were a measured choice: with colours drawn anywhere in [0, 1] (dark objects on light
ground as often as the reverse) and outlines rather than patterns as classes, B0-layout networks
from scratch stayed at chance for 16,000 images on this CPU while memorising the training set.

Everything here is numpy (no torch): scenes are pure data, cheap to make, and scene i of a split is
drawn from its own generator seeded with (seed, split, i), so any held-out image can be redrawn.
`render` draws one scene and is the reference; effnet.experiment.render draws many at once, on
any device, and is what the training data is made with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

OUTLINES: tuple[str, ...] = ("disc", "square", "triangle", "hexagon", "star")
MARKS: tuple[str, ...] = ("dot", "cross")  # loose marks: clutter on the background
# The class is the target's pattern; its period scales with the object, so a small object's
# pattern is a few pixels fine and needs resolution to be read.
PATTERNS: tuple[str, ...] = ("horizontal stripes", "vertical stripes", "rising diagonals", "falling diagonals",
                             "checks", "dots", "rings", "spokes", "grid", "waves")
CLASSES: tuple[str, ...] = PATTERNS
# "show": extra held-out scenes for pictures; "val": held-out scenes for choices made while developing,
# so that the test split is read once, at the end
SPLITS = {"train": 0, "test": 1, "show": 2, "val": 3}

TARGET_SIZE = (0.12, 0.45)  # the target's circumscribed diameter, as a share of the image side
DISTRACTOR_SIZE = (0.10, 0.40)
PLAIN_DISTRACTORS = (1, 3)  # outlines without a pattern
LOOSE_MARKS = (1, 3)  # marks lying on the background
# The easy level, for smoke tests (`experiment run --quick`): large targets, at most one distractor
# of each kind. The same classes and drawing; only the draws' ranges differ.
EASY = {"target_size": (0.35, 0.5), "plain": (0, 1), "loose": (0, 1)}
# The two tasks: the target's circumscribed diameter as a share of the image side. "small" is the
# committed task (objects as small as 12% of the side: the pattern's period is then a few pixels
# at 80 px, so resolution decides); "large" fills 35-90% of the side, closer to ImageNet's
# photos, where a pattern spans many pixels at every resolution and what the network sees at
# once (receptive field) and how many features it has matter more. Distractors are drawn where
# they fit beside the target.
OBJECTS = {"small": TARGET_SIZE, "large": (0.35, 0.90)}
MARK_SCALE = 0.42  # a loose mark's size relative to a mid-sized outline's circumradius
ROTATION = 0.5  # objects turn by up to this many radians either way
SUPERSAMPLE = 3  # 3 x 3 samples per pixel for coverage (anti-aliasing) and the mask


@dataclass(frozen=True)
class Shape:
    """One drawn object in unit coordinates (x to the right, y down, both in [0, 1])."""

    kind: str  # an outline ("disc", ...) or a mark ("dot", "cross")
    x: float
    y: float
    radius: float  # circumradius, as a share of the image side
    angle: float  # radians
    colour: tuple[float, float, float]  # RGB in [0, 1]
    pattern: str | None = None  # the pattern the target carries (None: plain)
    pattern_colour: tuple[float, float, float] = (0.0, 0.0, 0.0)
    pattern_angle: float = 0.0


@dataclass(frozen=True)
class Scene:
    label: int  # index into CLASSES (= PATTERNS)
    target: Shape  # its `pattern` is the class
    distractors: tuple[Shape, ...]  # drawn before the target; they never touch it
    background: tuple[float, ...]  # two colours, a gradient angle, blotches and stripes (see _background)

    @property
    def class_name(self) -> str:
        return CLASSES[self.label]


# ---------------------------------------------------------------------------------------------
# Drawing scenes
# ---------------------------------------------------------------------------------------------
def make_scene(rng: np.random.Generator, label: int | None = None, easy: bool = False, objects: str = "small") -> Scene:
    """One random scene; `label` fixes its class (None: uniform over CLASSES); `easy`: see EASY;
    `objects`: the task, "small" or "large" (see OBJECTS; large targets override EASY's size)."""
    if objects not in OBJECTS:
        raise ValueError(f"unknown objects {objects!r}; accepted: {', '.join(OBJECTS)}")
    label = int(rng.integers(len(CLASSES))) if label is None else int(label)
    target_size = OBJECTS["large"] if objects == "large" else EASY["target_size"] if easy else TARGET_SIZE
    plain_range, loose_range = (EASY["plain"], EASY["loose"]) if easy else (PLAIN_DISTRACTORS, LOOSE_MARKS)
    target = _outline(rng, OUTLINES[int(rng.integers(len(OUTLINES)))], PATTERNS[label], *target_size)
    placed: list[Shape] = [target]
    distractors: list[Shape] = []
    plain = int(rng.integers(plain_range[0], plain_range[1] + 1))
    loose = int(rng.integers(loose_range[0], loose_range[1] + 1))
    wanted = ["plain"] * plain + ["loose"] * loose
    for kind in wanted:
        for _attempt in range(30):  # rejection sampling: a distractor never touches the target
            if kind == "plain":
                shape = _outline(rng, OUTLINES[int(rng.integers(len(OUTLINES)))], None, *DISTRACTOR_SIZE)
            else:
                # a loose mark, small beside a mid-sized outline
                radius = MARK_SCALE * rng.uniform(*DISTRACTOR_SIZE) / 2
                shape = _place(rng, MARKS[int(rng.integers(len(MARKS)))], radius, _colour(rng))
            if all(_apart(shape, other) for other in placed):
                placed.append(shape)
                distractors.append(shape)
                break
    top, bottom = _background_colour(rng), _background_colour(rng)
    background = (*top, *bottom, rng.uniform(0, 2 * math.pi), *rng.uniform(-1, 1, 12), rng.uniform(0, math.pi), rng.uniform(5, 12))
    order = rng.permutation(len(distractors))
    return Scene(label, target, tuple(distractors[i] for i in order), tuple(float(v) for v in background))


def scene(seed: int, split: str, index: int, easy: bool = False, objects: str = "small") -> Scene:
    """Scene `index` of `split` ('train', 'test', 'show', 'val') for `seed`: the same on every machine."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; accepted: {', '.join(SPLITS)}")
    return make_scene(np.random.default_rng((int(seed), SPLITS[split], int(index))), easy=easy, objects=objects)


def scenes(seed: int, split: str, count: int, start: int = 0, easy: bool = False, objects: str = "small") -> list[Scene]:
    """Scenes start .. start + count - 1 of `split`."""
    return [scene(seed, split, i, easy, objects) for i in range(start, start + count)]


def _colour(rng: np.random.Generator) -> tuple[float, float, float]:
    """A bright object colour: objects stand out from the darker backgrounds."""
    return tuple(float(v) for v in rng.uniform(0.55, 1.0, 3))


def _background_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    return tuple(float(v) for v in rng.uniform(0.0, 0.4, 3))


def _contrasting(colour: Sequence[float], rng: np.random.Generator) -> tuple[float, float, float]:
    """A dark pattern on a light outline (a light one on a dark outline), slightly tinted."""
    luminance = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    level = rng.uniform(0.0, 0.2) if luminance > 0.5 else rng.uniform(0.8, 1.0)
    return tuple(float(np.clip(level + rng.uniform(-0.08, 0.08), 0, 1)) for _ in range(3))


def _place(rng: np.random.Generator, kind: str, radius: float, colour: tuple[float, float, float], **extra) -> Shape:
    x, y = rng.uniform(radius, 1 - radius, 2)
    return Shape(kind, float(x), float(y), float(radius), float(rng.uniform(-ROTATION, ROTATION)), colour, **extra)


def _outline(rng: np.random.Generator, kind: str, pattern: str | None, low: float, high: float) -> Shape:
    diameter = math.exp(rng.uniform(math.log(low), math.log(high)))  # small objects as often as large
    colour = _colour(rng)
    return _place(rng, kind, diameter / 2, colour, pattern=pattern, pattern_colour=_contrasting(colour, rng),
                  pattern_angle=float(rng.uniform(-0.25, 0.25)))


def _apart(a: Shape, b: Shape, gap: float = 0.02) -> bool:
    return math.hypot(a.x - b.x, a.y - b.y) > a.radius + b.radius + gap


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------
def _polygon(kind: str) -> np.ndarray | None:
    """Vertices on the unit circle (angle 0), or None for the disc."""
    if kind == "disc":
        return None
    if kind == "star":
        angles = np.arange(10) * math.pi / 5 - math.pi / 2
        radii = np.where(np.arange(10) % 2 == 0, 1.0, 0.5)
        return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    sides = {"square": 4, "triangle": 3, "hexagon": 6}[kind]
    angles = np.arange(sides) * 2 * math.pi / sides - math.pi / 2
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


_CROSS_ARM, _CROSS_HALF_THICKNESS = 0.75, 0.17  # in units of the mark's radius


def _inside(kind: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether points (u, v), in the shape's own frame scaled to its radius, lie inside it."""
    if kind in ("disc", "dot"):
        return u * u + v * v <= 1.0 if kind == "disc" else u * u + v * v <= 0.45**2
    if kind == "cross":
        arm, half = _CROSS_ARM, _CROSS_HALF_THICKNESS
        return ((np.abs(u) <= arm) & (np.abs(v) <= half)) | ((np.abs(v) <= arm) & (np.abs(u) <= half))
    vertices = _polygon(kind)
    inside = np.zeros(u.shape, dtype=bool)
    for (x0, y0), (x1, y1) in zip(vertices, np.roll(vertices, -1, axis=0)):  # even-odd crossing rule
        crosses = (y0 > v) != (y1 > v)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x0 + (v - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (u < x_at)
    return inside


PATTERN_PERIOD = 0.45  # in units of the target's circumradius


def _pattern(name: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Where pattern `name` is dark, at points (u, v) of the target's frame in radius units."""
    p = PATTERN_PERIOD
    if name == "horizontal stripes":
        return np.sin(2 * np.pi * v / p) > 0
    if name == "vertical stripes":
        return np.sin(2 * np.pi * u / p) > 0
    if name == "rising diagonals":
        return np.sin(2 * np.pi * (u + v) / (p * math.sqrt(2))) > 0
    if name == "falling diagonals":
        return np.sin(2 * np.pi * (u - v) / (p * math.sqrt(2))) > 0
    if name == "checks":
        return np.sin(2 * np.pi * u / p) * np.sin(2 * np.pi * v / p) > 0
    if name == "dots":
        return ((u / p) % 1 - 0.5) ** 2 + ((v / p) % 1 - 0.5) ** 2 < 0.3**2
    if name == "rings":
        return np.sin(2 * np.pi * np.hypot(u, v) / p) > 0
    if name == "spokes":
        return np.sin(8 * np.arctan2(v, u)) > 0
    if name == "grid":
        return (np.abs(np.sin(np.pi * u / p)) < 0.35) | (np.abs(np.sin(np.pi * v / p)) < 0.35)
    if name == "waves":
        return np.sin(2 * np.pi * (v + 0.12 * np.sin(2 * np.pi * u / (1.5 * p))) / p) > 0
    raise ValueError(f"unknown pattern {name!r}")


def _frame(x: float, y: float, radius: float, angle: float, px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    cos, sin = math.cos(angle), math.sin(angle)
    dx, dy = (px - x) / radius, (py - y) / radius
    return cos * dx + sin * dy, -sin * dx + cos * dy


def _coverage(kind: str, x: float, y: float, radius: float, angle: float, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    cos, sin = math.cos(angle), math.sin(angle)
    dx, dy = (px - x) / radius, (py - y) / radius
    return _inside(kind, cos * dx + sin * dy, -sin * dx + cos * dy)


def _background(scene: Scene, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    b = scene.background
    top, bottom, angle = np.array(b[0:3]), np.array(b[3:6]), b[6]
    blotch, stripe_angle, stripe_period = b[7:19], b[19], b[20]
    px, py = np.broadcast_arrays(px, py)
    t = 0.5 + (px - 0.5) * math.cos(angle) + (py - 0.5) * math.sin(angle)
    t = np.clip(t, 0, 1)[..., None]
    image = (1 - t) * top + t * bottom
    # smooth blotches: three low-frequency waves per colour-free brightness field
    light = np.zeros_like(px)
    for k in range(3):
        fx, fy, phase, amp = blotch[4 * k: 4 * k + 4]
        light += 0.08 * amp * np.sin(2 * math.pi * (1.5 * fx * px + 1.5 * fy * py) + math.pi * phase)
    stripes = 0.04 * np.sin(2 * math.pi * stripe_period * (px * math.cos(stripe_angle) + py * math.sin(stripe_angle)))
    return image + (light + stripes)[..., None]


def render(scene: Scene, resolution: int, supersample: int = SUPERSAMPLE) -> tuple[np.ndarray, np.ndarray]:
    """The scene as an RGB uint8 image (resolution, resolution, 3) and the target's mask (bool).

    One scene at a time, in numpy and float64: the definition of the picture, kept as the
    reference that effnet.experiment.render (many scenes at once, in torch, on any device) is
    tested against. Training data is drawn with that batched renderer.

    Each object covers a pixel by the share of its supersample x supersample samples that fall
    inside it (anti-aliasing; the smooth background needs one sample); the mask is True where at
    least half of a pixel's samples fall on the target (outline and pattern). Distractors never touch
    the target, so nothing is drawn over it.
    """
    resolution = int(resolution)
    if not 8 <= resolution <= 1024:
        raise ValueError(f"resolution must be between 8 and 1024 pixels, got {resolution}")
    pixel_centres = (np.arange(resolution) + 0.5) / resolution
    image = _background(scene, pixel_centres[None, :], pixel_centres[:, None])
    mask = np.zeros((resolution, resolution), dtype=bool)
    n = resolution * supersample
    samples = (np.arange(n) + 0.5) / n
    for shape in (*scene.distractors, scene.target):
        # only inside the shape's bounding box, in whole pixels
        r0, r1 = max(0, int((shape.y - shape.radius) * resolution) - 1), min(resolution, int((shape.y + shape.radius) * resolution) + 2)
        c0, c1 = max(0, int((shape.x - shape.radius) * resolution) - 1), min(resolution, int((shape.x + shape.radius) * resolution) + 2)
        sub_x = samples[None, c0 * supersample: c1 * supersample]
        sub_y = samples[r0 * supersample: r1 * supersample, None]
        body = _coverage(shape.kind, shape.x, shape.y, shape.radius, shape.angle, sub_x, sub_y)
        layers = [(body, shape.colour)]
        if shape.pattern is not None:  # the target's pattern, turned a little on its own
            u, v = _frame(shape.x, shape.y, shape.radius, shape.pattern_angle, sub_x, sub_y)
            layers.append((_pattern(shape.pattern, u, v) & body, shape.pattern_colour))
        region = image[r0:r1, c0:c1]
        for covered, colour in layers:  # paint by coverage: the share of a pixel's samples inside
            share = covered.reshape(r1 - r0, supersample, c1 - c0, supersample).mean(axis=(1, 3))[..., None]
            region[...] = (1 - share) * region + share * np.asarray(colour)
        if shape is scene.target:
            mask[r0:r1, c0:c1] = body.reshape(r1 - r0, supersample, c1 - c0, supersample).mean(axis=(1, 3)) >= 0.5
    return np.uint8(np.clip(np.rint(image * 255), 0, 255)), mask


def sample_grid(seed: int = 0, resolution: int = 80, columns: int = 5, rows: int = 2, split: str = "show") -> np.ndarray:
    """A picture of the task: one scene per class (rows x columns), each beside its mask.

    Returns RGB uint8 (rows * (resolution + 2), columns * 2 * (resolution + 2), 3); the mask is drawn
    white on black next to its scene.
    """
    picked: dict[int, Scene] = {}
    index = 0
    while len(picked) < min(rows * columns, len(CLASSES)):
        item = scene(seed, split, index)
        picked.setdefault(item.label, item)
        index += 1
    cell = resolution + 2
    grid = np.full((rows * cell, columns * 2 * cell, 3), 255, dtype=np.uint8)
    for position, label in enumerate(sorted(picked)[: rows * columns]):
        pixels, mask = render(picked[label], resolution)
        r, c = divmod(position, columns)
        top, left = r * cell + 1, c * 2 * cell + 1
        grid[top: top + resolution, left: left + resolution] = pixels
        grid[top: top + resolution, left + cell: left + cell + resolution] = np.uint8(mask)[..., None] * 255
    return grid

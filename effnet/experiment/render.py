"""Scenes of the synthetic task drawn many at a time with tensor operations, on any device.

`render_batch(scenes, resolution, device)` draws the same pictures and masks as the one-scene
numpy renderer `synthetic.render` (kept as the reference the tests compare against) for a whole
batch of scenes in a number of tensor operations that does not grow with the batch, so a GPU draws the scenes where the network
trains on them, and one CPU thread draws them several times faster than the scene-by-scene loop.
How it stays the same picture:

- the background is a clipped gradient plus plane waves; each wave is separable,
  sin(a x + b y + c) = sin(a x + c) cos(b y) + cos(a x + c) sin(b y), so all of them together are
  one small batched matrix product per colour;
- every object is evaluated inside the reference's whole-pixel bounding box, padded to one of a
  few square sides; objects of one outline and one padded side form a group, an (n, side, side)
  tensor, so each test runs once per group for the whole batch and per-object values broadcast;
- a pixel's coverage is the share of its supersample x supersample points inside the object, as in
  the reference, but the points are only tested where the answer is in doubt: a bound on each
  outline's and each pattern's distance to its edge says, from the pixel's centre alone, whether
  all its points fall on one side (a signed distance for outlines; |f| / L for a pattern
  "f > 0" whose f changes by at most L per unit of distance). Only pixels near an edge are
  supersampled, which is what makes it fast;
- objects never touch one another (scenes are drawn that way), so painting by coverage in any
  order gives the reference's result: background + coverage x (colour - background), with the
  target's pattern painted over its body last.

What differs: the reference computes in float64, this in float32 where it handles many values, so a
point within about 1e-6 of an edge may fall on the other side, and a pixel may round to the next
level. docs/rendering.md gives the agreement measured at 80, 224 and 472 px.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from . import synthetic
from .synthetic import Scene, Shape

KINDS: tuple[str, ...] = synthetic.OUTLINES + synthetic.MARKS
# box pixels per chunk of scenes (about 50 bytes each at the peak): bounds the memory one call
# holds whatever the number of scenes, while keeping chunks large enough that the fixed number of
# tensor operations per chunk costs little per scene
PIXEL_BUDGET = {"cpu": 3_000_000, "cuda": 40_000_000}
IMAGE_BYTES = {"cpu": 128 << 20, "cuda": 4 << 30}  # the float work image of one chunk
PASS_SCENES = {"cpu": 8, "cuda": 4096}  # scenes per pass over whole images: small on a CPU, to stay in its cache
MARGIN = 1e-4  # slack on every "all points on one side" decision (radius units): float32 rounding


def render_batch(items: Sequence[Scene], resolution: int, device: str | torch.device = "cpu",
                 supersample: int = synthetic.SUPERSAMPLE) -> tuple[torch.Tensor, torch.Tensor]:
    """Images uint8 (N, 3, R, R) and target masks bool (N, R, R) of `items`, made on `device`.

    The scenes are drawn in chunks whose box pixels stay under PIXEL_BUDGET, so the memory held
    stays bounded whatever N is; the outputs are allocated once, on the device.
    """
    resolution = int(resolution)
    if not 8 <= resolution <= 1024:
        raise ValueError(f"resolution must be between 8 and 1024 pixels, got {resolution}")
    device = torch.device(device)
    images = torch.empty((len(items), 3, resolution, resolution), dtype=torch.uint8, device=device)
    masks = torch.zeros((len(items), resolution, resolution), dtype=torch.bool, device=device)
    budget = PIXEL_BUDGET.get(device.type, PIXEL_BUDGET["cuda"])
    most = max(1, IMAGE_BYTES.get(device.type, IMAGE_BYTES["cuda"]) // (3 * 4 * resolution * resolution))
    chunks, start, pixels = [], 0, 0
    for index, item in enumerate(items):
        pixels += sum(_padded_side(_box_side(shape, resolution)) ** 2 for shape in (*item.distractors, item.target))
        if pixels >= budget or index + 1 - start >= most or index == len(items) - 1:
            chunks.append((start, index + 1))
            start, pixels = index + 1, 0
    # one float work image for every chunk: allocated once, so its pages are mapped once
    work = torch.empty(3 * max((stop - begin for begin, stop in chunks), default=0) * resolution**2, device=device)
    for begin, stop in chunks:
        _render_chunk(items[begin:stop], resolution, supersample, images[begin:stop], masks[begin:stop], work)
    return images, masks


def render_many(items: Sequence[Scene], resolution: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, R, R), masks bool (N, R, R), labels int64 (N,)) as numpy, drawn on the CPU.

    One render_batch call (its chunks bound the working memory; the numpy arrays share the
    tensors' memory, so nothing is copied).
    """
    images, masks = render_batch(items, resolution)
    return images.numpy(), masks.numpy(), np.array([item.label for item in items], dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# One chunk of scenes
def _box(shape: Shape, resolution: int) -> tuple[int, int, int, int]:
    """The reference renderer's whole-pixel box (rows r0..r1, columns c0..c1), with its rounding."""
    r0, r1 = max(0, int((shape.y - shape.radius) * resolution) - 1), min(resolution, int((shape.y + shape.radius) * resolution) + 2)
    c0, c1 = max(0, int((shape.x - shape.radius) * resolution) - 1), min(resolution, int((shape.x + shape.radius) * resolution) + 2)
    return r0, r1, c0, c1


def _box_side(shape: Shape, resolution: int) -> int:
    r0, r1, c0, c1 = _box(shape, resolution)
    return max(r1 - r0, c1 - c0)


def _padded_side(side: int) -> int:
    """The smallest of a geometric ladder of sides (steps of about 1.4x) that holds `side`."""
    padded = 4
    while padded < side:
        padded = int(math.ceil(padded * 1.4))
    return padded


class _Objects:
    """Every object of a chunk as two tables on the device, sorted into groups of one outline and
    one padded box side (targets last), so that each group is a contiguous run of rows; targets
    are sorted by pattern within their group, so each pattern is a contiguous run too."""

    def __init__(self, items: Sequence[Scene], resolution: int, device: torch.device) -> None:
        rows, values = [], []
        for scene_index, item in enumerate(items):
            for shape in (*item.distractors, item.target):
                r0, r1, c0, c1 = _box(shape, resolution)
                target = shape is item.target
                rows.append((int(target), KINDS.index(shape.kind), _padded_side(max(r1 - r0, c1 - c0)), scene_index, r0, c0,
                             synthetic.PATTERNS.index(shape.pattern) if target else -1))
                values.append((shape.x, shape.y, shape.radius, shape.angle, shape.pattern_angle, *shape.colour, *shape.pattern_colour))
        order = sorted(range(len(rows)), key=lambda i: (*rows[i][:3], rows[i][6]))
        rows, values = [rows[i] for i in order], [values[i] for i in order]
        self.groups: list[tuple[bool, str, int, int, int]] = []  # (target, kind, side, first row, end row)
        for index, row in enumerate(rows):
            if self.groups and self.groups[-1][:3] == (bool(row[0]), KINDS[row[1]], row[2]):
                self.groups[-1] = (*self.groups[-1][:4], index + 1)
            else:
                self.groups.append((bool(row[0]), KINDS[row[1]], row[2], index, index + 1))
        self.patterns = [row[6] for row in rows]
        self.integers = torch.tensor([row[3:6] for row in rows], dtype=torch.int64).to(device)  # scene, r0, c0
        self.floats = torch.tensor(values, dtype=torch.float64).to(device)


class _Group:
    """One group of objects with their boxes padded to one square side, as (n, side, side) tensors.

    Padding only adds pixels the object does not reach (a box holds its whole object, and objects
    lie inside the image), so per-object values broadcast over the pixels, with nothing gathered.
    `frame(angle)` puts each pixel centre in the object's frame (radius units, turned by the
    outline's or the pattern's angle); every supersample point of a pixel lies within `reach`.
    """

    def __init__(self, objects: _Objects, first: int, end: int, side: int, resolution: int, supersample: int) -> None:
        device = objects.floats.device
        self.side, self.supersample = side, supersample
        integers, floats = objects.integers[first:end], objects.floats[first:end]
        self.floats = floats
        steps = torch.arange(side, device=device)
        self.corner = integers[:, 0] * resolution * resolution + integers[:, 1] * resolution + integers[:, 2]
        self.resolution = resolution
        # the centre's offset from the object, in pixels: whole pixels apart from the fractional
        # part, so float32 holds it to about 1e-7 of a pixel
        x, y = floats[:, 0] * resolution, floats[:, 1] * resolution
        column_steps = steps.to(torch.float32)
        self.dx = ((integers[:, 2] - torch.floor(x)) + 0.5 - (x - torch.floor(x))).to(torch.float32)[:, None] + column_steps
        self.dy = ((integers[:, 1] - torch.floor(y)) + 0.5 - (y - torch.floor(y))).to(torch.float32)[:, None] + column_steps
        self.scale = 1 / (floats[:, 2] * resolution)  # radius units per pixel
        farthest = math.sqrt(2) * (supersample - 1) / (2 * supersample)  # pixels, from the centre
        self.reach = (farthest * self.scale * (1 + 1e-3) + MARGIN).to(torch.float32)[:, None, None]
        offsets = (torch.arange(supersample, dtype=torch.float32, device=device) + 0.5 - supersample / 2) / supersample
        self.offset_x, self.offset_y = offsets.repeat(supersample), offsets.repeat_interleave(supersample)  # row-major

    def frame(self, angle_column: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(u, v) of every pixel centre (n, side, side), and per object cos, sin x radius units per pixel."""
        angle = self.floats[:, angle_column]
        a = (torch.cos(angle) * self.scale).to(torch.float32)
        b = (torch.sin(angle) * self.scale).to(torch.float32)
        dx, dy = self.dx[:, None, :], self.dy[:, :, None]
        u = torch.addcmul(a[:, None, None] * dx, b[:, None, None], dy)
        v = torch.addcmul(a[:, None, None] * dy, b[:, None, None], dx, value=-1)
        return u, v, a, b

    def owner(self, where: torch.Tensor) -> torch.Tensor:
        return torch.div(where, self.side * self.side, rounding_mode="floor")

    def pixels(self, where: torch.Tensor, owner: torch.Tensor) -> torch.Tensor:
        """Indices of pixels `where` (of the flattened group) in one (N, R, R) plane of the chunk."""
        local = where - owner * (self.side * self.side)
        row = torch.div(local, self.side, rounding_mode="floor")
        return self.corner.index_select(0, owner) + row * self.resolution + (local - row * self.side)


def _points(u: torch.Tensor, v: torch.Tensor, a: torch.Tensor, b: torch.Tensor, offset_x: torch.Tensor,
            offset_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The supersample points (P, S*S) around centres (u, v) (P,), for objects turned by (a, b) (P,)."""
    a, b = a[:, None], b[:, None]
    point_u = torch.addcmul(a * offset_x, b, offset_y).add_(u[:, None])
    point_v = torch.addcmul(a * offset_y, b, offset_x, value=-1).add_(v[:, None])
    return point_u, point_v


def _render_chunk(items: Sequence[Scene], resolution: int, supersample: int, images: torch.Tensor, masks: torch.Tensor,
                  work: torch.Tensor) -> None:
    device = images.device
    image = work[: 3 * len(items) * resolution * resolution].view(3, len(items), resolution, resolution)
    _background(items, resolution, image)
    flat = image.view(3, -1)  # channels first: (3, N R R)
    objects = _Objects(items, resolution, device)
    colours = (255 * objects.floats[:, 5:11] + 0.5).to(torch.float32)  # levels, + 0.5 as the background
    for target, kind, side, first, end in objects.groups:
        group = _Group(objects, first, end, side, resolution, supersample)
        coverage, bits = _coverage(group, kind, keep_points=target)
        pattern = _pattern_share(group, coverage, bits, objects.patterns[first:end]) if target else None
        covered = (coverage > 0).view(-1).nonzero().squeeze(1)
        owner = group.owner(covered)
        pixel = group.pixels(covered, owner)
        share = coverage.view(-1).index_select(0, covered)
        # paint: background + coverage x (colour - background); objects never overlap. Colours,
        # like the background, are in levels 0..255 with 0.5 added, so truncating later rounds.
        under = flat.index_select(1, pixel)
        painted = (colours[first:end, :3].index_select(0, owner).T - under).mul_(share)
        if not target:
            flat.index_add_(1, pixel, painted)
            continue
        # a target: its mask, and its pattern painted over its body (one target per scene, so
        # its pixels are its own)
        masks.view(-1).index_fill_(0, pixel[share >= 0.5], True)
        painted.add_(under)
        dark = pattern.view(-1).index_select(0, covered)
        painted.add_((colours[first:end, 3:].index_select(0, owner).T - painted).mul_(dark))
        flat.index_copy_(1, pixel, painted)

    # to uint8: clip and truncate (float -> int16 -> uint8 is the fast conversion on a CPU)
    per_pass = PASS_SCENES.get(device.type, PASS_SCENES["cuda"])
    for start in range(0, len(items), per_pass):
        images[start: start + per_pass].copy_(image[:, start: start + per_pass].clamp_(0, 255).to(torch.int16).transpose(0, 1))


def _coverage(group: _Group, kind: str, keep_points: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Each pixel's share of supersample points inside the outline (n, side, side) float32, and (if
    `keep_points`) which points those are, as bits (int16; all 9 points of 3 x 3: 511)."""
    u, v, a, b = group.frame(angle_column=3)
    distance = _outline_distance(kind, u, v)
    reach = group.reach
    coverage = (distance < -reach).to(torch.float32)
    samples = group.supersample**2
    doubtful = (distance.abs() <= reach).view(-1).nonzero().squeeze(1)
    owner = group.owner(doubtful)
    inside = _inside(kind, *_points(u.view(-1).index_select(0, doubtful), v.view(-1).index_select(0, doubtful),
                                    a.index_select(0, owner), b.index_select(0, owner), group.offset_x, group.offset_y))
    coverage.view(-1).index_copy_(0, doubtful, inside.sum(1).to(torch.float32) / samples)
    if not keep_points:
        return coverage, None
    bits = (coverage * ((1 << samples) - 1)).to(torch.int16)
    weights = 1 << torch.arange(samples, device=u.device)
    bits.view(-1).index_copy_(0, doubtful, (inside * weights).sum(1).to(torch.int16))
    return coverage, bits


def _pattern_share(group: _Group, coverage: torch.Tensor, bits: torch.Tensor, patterns: list[int]) -> torch.Tensor:
    """Each target pixel's share of points both on the body and dark in its pattern (n, side, side).

    The group's targets are sorted by pattern, so each pattern is one slice of the group. Where the
    pattern's edge is farther than a pixel's reach, the share is the body's coverage (dark) or 0
    (light) without looking at points; the other pixels count their points.
    """
    u, v, a, b = group.frame(angle_column=4)
    share = torch.zeros_like(coverage)
    weights = 1 << torch.arange(group.supersample**2, device=u.device)
    first = 0
    while first < len(patterns):
        end = first + 1
        while end < len(patterns) and patterns[end] == patterns[first]:
            end += 1
        name = synthetic.PATTERNS[patterns[first]]
        run_u, run_v, run_coverage = u[first:end], v[first:end], coverage[first:end]
        dark, certain = _pattern_sides(name, run_u, run_v, group.reach[first:end])
        share[first:end] = torch.where(dark & certain, run_coverage, 0.0)
        doubtful = (~certain & (run_coverage > 0)).view(-1).nonzero().squeeze(1)
        owner = group.owner(doubtful) + first
        points = _points(run_u.reshape(-1).index_select(0, doubtful), run_v.reshape(-1).index_select(0, doubtful),
                         a.index_select(0, owner), b.index_select(0, owner), group.offset_x, group.offset_y)
        on_body = (bits[first:end].reshape(-1).index_select(0, doubtful).to(torch.int64)[:, None] & weights) != 0
        counted = (_pattern(name, *points) & on_body).sum(1).to(torch.float32) / weights.numel()
        share[first:end].view(-1).index_copy_(0, doubtful, counted)
        first = end
    return share


def _background(items: Sequence[Scene], resolution: int, image: torch.Tensor) -> None:
    """Fill `image` (3, N, R, R) float32 with 255 x synthetic._background at every pixel centre,
    plus 0.5 (so that truncating rounds).

    The gradient is clipped per pixel; the blotches and the faint stripes are plane waves, each a
    sum of two products of a column function and a row function, so with the gradient's corner
    colour they are one batched (R x 9) @ (9 x R) product per colour.
    """
    device = image.device
    b = torch.tensor([item.background for item in items], dtype=torch.float64, device=device)
    centres = (torch.arange(resolution, dtype=torch.float64, device=device) + 0.5) / resolution
    top, bottom, angle = 255 * b[:, 0:3], 255 * b[:, 3:6], b[:, 6]
    # waves: amplitude, x frequency, y frequency, phase (radians per unit image side)
    blotch = b[:, 7:19].view(-1, 3, 4)
    amplitude = 255 * torch.cat([0.08 * blotch[:, :, 3], torch.full_like(b[:, :1], 0.04)], 1)
    stripe_angle, stripe_period = b[:, 19:20], b[:, 20:21]
    x_frequency = torch.cat([2 * math.pi * 1.5 * blotch[:, :, 0], 2 * math.pi * stripe_period * torch.cos(stripe_angle)], 1)
    y_frequency = torch.cat([2 * math.pi * 1.5 * blotch[:, :, 1], 2 * math.pi * stripe_period * torch.sin(stripe_angle)], 1)
    phase = torch.cat([math.pi * blotch[:, :, 2], torch.zeros_like(b[:, :1])], 1)
    along_x = x_frequency[:, :, None] * centres + phase[:, :, None]  # (N, 4, R)
    along_y = y_frequency[:, :, None] * centres
    ones = torch.ones_like(centres).expand(len(items), 1, resolution)
    by_row = torch.cat([torch.cos(along_y) * amplitude[:, :, None], torch.sin(along_y) * amplitude[:, :, None], ones], 1)
    by_row = by_row.transpose(1, 2).to(torch.float32).contiguous()  # (N, R, 9): bmm is slow on a transposed operand
    step = (bottom - top).T.contiguous().to(torch.float32)
    gradient_x = ((centres[None, :] - 0.5) * torch.cos(angle)[:, None]).to(torch.float32)
    gradient_y = ((centres[None, :] - 0.5) * torch.sin(angle)[:, None] + 0.5).to(torch.float32)
    per_pass = PASS_SCENES.get(device.type, PASS_SCENES["cuda"])
    for colour in range(3):
        by_column = torch.cat([torch.sin(along_x), torch.cos(along_x), (top[:, colour] + 0.5)[:, None, None].expand(-1, 1, resolution)], 1)
        torch.bmm(by_row, by_column.to(torch.float32), out=image[colour])
    for start in range(0, len(items), per_pass):  # the clipped gradient, a few scenes at a time
        stop = min(len(items), start + per_pass)
        t = (gradient_x[start:stop, None, :] + gradient_y[start:stop, :, None]).clamp_(0, 1)
        image[:, start:stop].addcmul_(t[None], step[:, start:stop, None, None])


# ---------------------------------------------------------------------------------------------
# ---------------------------------------------------------------------------------------------
# Outlines
# ---------------------------------------------------------------------------------------------
def _half_planes(vertices: np.ndarray) -> list[tuple[float, float, float]]:
    """A convex polygon as half-planes a u + b v <= c with (a, b) of unit length, pointing out."""
    centre = vertices.mean(axis=0)
    planes = []
    for (x0, y0), (x1, y1) in zip(vertices, np.roll(vertices, -1, axis=0)):
        a, b = y1 - y0, x0 - x1
        length = math.hypot(a, b)
        a, b = a / length, b / length
        c = a * x0 + b * y0
        if a * centre[0] + b * centre[1] > c:  # the normal points inwards: turn it round
            a, b, c = -a, -b, -c
        planes.append((float(a), float(b), float(c)))
    return planes


_PLANES = {kind: _half_planes(synthetic._polygon(kind)) for kind in ("square", "triangle", "hexagon")}


def _star_fold() -> tuple[float, float]:
    """The star folded onto one tenth of itself: (angle of its edge's outward normal, the edge's
    distance from the centre), in the frame where a tip lies at angle 0 and an inner corner at pi/5."""
    tip = np.array([1.0, 0.0])
    corner = 0.5 * np.array([math.cos(math.pi / 5), math.sin(math.pi / 5)])
    along = corner - tip
    normal = np.array([along[1], -along[0]]) / np.hypot(*along)
    normal = normal if normal @ tip > 0 else -normal
    return float(math.atan2(normal[1], normal[0])), float(normal @ tip)


_STAR_NORMAL, _STAR_APOTHEM = _star_fold()


def _outline_distance(kind: str, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """A bound d on the distance to the outline's edge: inside where d < 0, and every point within
    |d| of (u, v) lies on the same side (d is the signed distance, or smaller in magnitude).

    A convex polygon: the largest of its half-plane values. The star: folded by its symmetry
    (five turns and a mirror) onto the tenth between a tip and an inner corner, where its edge is
    one line; folding never moves two points apart, so the bound holds for the whole star.
    """
    if kind in ("disc", "dot"):
        return torch.hypot(u, v).sub_(1.0 if kind == "disc" else 0.45)
    if kind == "cross":
        arm, half = synthetic._CROSS_ARM, synthetic._CROSS_HALF_THICKNESS
        au, av = u.abs(), v.abs()
        return torch.minimum(torch.maximum(au - arm, av - half), torch.maximum(av - arm, au - half))
    if kind == "star":  # tips at -pi/2 + 2 pi k / 5
        sector = 2 * math.pi / 5
        turned = torch.remainder(torch.atan2(v, u).add_(math.pi / 2 + sector / 2), sector).sub_(sector / 2).abs_()
        return torch.hypot(u, v).mul_(torch.cos(turned.sub_(_STAR_NORMAL))).sub_(_STAR_APOTHEM)
    distance = None
    for a, b, c in _PLANES[kind]:  # one plane at a time: whole-array operations vectorise best
        value = torch.mul(u, a).add_(v, alpha=b).sub_(c)
        distance = value if distance is None else torch.maximum(distance, value, out=distance)
    return distance


def _edges(kind: str) -> list[tuple[float, float, float, float]]:
    """The polygon's non-horizontal edges for the even-odd rule: low y, high y, slope dx/dy, x at y = 0."""
    vertices = synthetic._polygon(kind).tolist()
    edges = [(min(y0, y1), max(y0, y1), (x1 - x0) / (y1 - y0), x0 - y0 * (x1 - x0) / (y1 - y0))
             for (x0, y0), (x1, y1) in zip(vertices, vertices[1:] + vertices[:1]) if y0 != y1]
    return edges


_EDGES = {kind: _edges(kind) for kind in ("square", "triangle", "hexagon", "star")}


def _inside(kind: str, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """synthetic._inside on tensors: the same tests, with the even-odd rule for polygons."""
    if kind == "disc":
        return u * u + v * v <= 1.0
    if kind == "dot":
        return u * u + v * v <= 0.45**2
    if kind == "cross":
        arm, half = synthetic._CROSS_ARM, synthetic._CROSS_HALF_THICKNESS
        au, av = u.abs(), v.abs()
        return ((au <= arm) & (av <= half)) | ((av <= arm) & (au <= half))
    inside = torch.zeros(u.shape, dtype=torch.bool, device=u.device)
    for low, high, slope, crossing in _EDGES[kind]:  # one edge at a time: whole-array operations vectorise best
        inside ^= (v >= low) & (v < high) & (torch.add(u, v, alpha=-slope) < crossing)
    return inside


# ---------------------------------------------------------------------------------------------
# Patterns
# ---------------------------------------------------------------------------------------------
def _pattern_sides(name: str, u: torch.Tensor, v: torch.Tensor, reach: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(dark at the centre, whether every point within `reach` is on the centre's side).

    Each pattern is dark where f(u, v) > 0, and f changes by at most L per unit of distance (its
    Lipschitz constant), so |f| > L x reach settles the pixel.
    """
    p = synthetic.PATTERN_PERIOD
    a = 2 * math.pi / p
    if name == "grid":  # dark where either family of lines is: f = 0.35 - |sin(pi u / p)|, or the same in v
        c = math.pi / p
        across = 0.35 - torch.sin(u * c).abs()
        down = 0.35 - torch.sin(v * c).abs()
        slack = reach * c
        dark = (across > 0) | (down > 0)
        certain = (across > slack) | (down > slack) | ((across < -slack) & (down < -slack))
        return dark, certain
    if name == "spokes":  # sin(8 theta) changes by at most 8 / radius per unit of distance
        f = torch.sin(8 * torch.atan2(v, u))
        near = torch.hypot(u, v) - reach
        return f > 0, (near > 0) & (f.abs() * near > 8 * reach)
    if name == "horizontal stripes":
        f, lipschitz = torch.sin(v * a), a
    elif name == "vertical stripes":
        f, lipschitz = torch.sin(u * a), a
    elif name == "rising diagonals":
        f, lipschitz = torch.sin((u + v) * (a / math.sqrt(2))), a
    elif name == "falling diagonals":
        f, lipschitz = torch.sin((u - v) * (a / math.sqrt(2))), a
    elif name == "checks":
        f, lipschitz = torch.sin(u * a) * torch.sin(v * a), a
    elif name == "dots":
        f, lipschitz = 0.3**2 - (torch.remainder(u / p, 1) - 0.5) ** 2 - (torch.remainder(v / p, 1) - 0.5) ** 2, math.sqrt(2) / p
    elif name == "rings":
        f, lipschitz = torch.sin(torch.hypot(u, v) * a), a
    elif name == "waves":
        bend = 0.12 * a / 1.5  # the wave's steepest slope
        f, lipschitz = torch.sin((v + 0.12 * torch.sin(u * (a / 1.5))) * a), a * math.sqrt(1 + bend**2)
    else:
        raise ValueError(f"unknown pattern {name!r}")
    return f > 0, f.abs() > lipschitz * reach


def _pattern(name: str, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """synthetic._pattern on tensors."""
    p = synthetic.PATTERN_PERIOD
    tau = 2 * math.pi
    if name == "horizontal stripes":
        return torch.sin(v * (tau / p)) > 0
    if name == "vertical stripes":
        return torch.sin(u * (tau / p)) > 0
    if name == "rising diagonals":
        return torch.sin((u + v) * (tau / (p * math.sqrt(2)))) > 0
    if name == "falling diagonals":
        return torch.sin((u - v) * (tau / (p * math.sqrt(2)))) > 0
    if name == "checks":
        return torch.sin(u * (tau / p)) * torch.sin(v * (tau / p)) > 0
    if name == "dots":
        return (torch.remainder(u / p, 1) - 0.5) ** 2 + (torch.remainder(v / p, 1) - 0.5) ** 2 < 0.3**2
    if name == "rings":
        return torch.sin(torch.hypot(u, v) * (tau / p)) > 0
    if name == "spokes":
        return torch.sin(8 * torch.atan2(v, u)) > 0
    if name == "grid":
        return (torch.sin(u * (math.pi / p)).abs() < 0.35) | (torch.sin(v * (math.pi / p)).abs() < 0.35)
    if name == "waves":
        return torch.sin((v + 0.12 * torch.sin(u * (tau / (1.5 * p)))) * (tau / p)) > 0
    raise ValueError(f"unknown pattern {name!r}")

"""The matched-FLOPs plan: four ways to spend the same multiply-adds (the paper's Table 7).

Given a base configuration and a FLOPs multiple m, find

    depth-only       d = base.depth * x,  width and resolution as the base
    width-only       w = base.width * x
    resolution-only  r = base.resolution * x, rounded to a multiple of 8
    compound         d = base.depth * alpha**phi, w = base.width * beta**phi,
                     r = base.resolution * gamma**phi,  phi solved

each with MACs within +-3% of m * MACs(base) after rounding (whole layers, channels a multiple of 8,
resolution a multiple of 8). Everything is closed form through effnet.profile: no network is built,
so a plan costs a few milliseconds and can run on every slider move.

MACs never decrease as one multiplier grows, so each solve is a bisection over a step function,
followed by a look at the step on either side of the target.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

from ..paper import TABLE7
from ..profile import profile
from ..scaling import (
    ALPHA,
    BETA,
    DEPTH_RANGE,
    GAMMA,
    RESOLUTION_MULTIPLE,
    RESOLUTION_RANGE,
    WIDTH_RANGE,
    STAGE_TABLES,
    ConfigError,
    ScalingConfig,
    stages,
)

BLOCK_KINDS = ("mbconv", "fused_mbconv")

NAMES: tuple[str, ...] = ("baseline", "depth", "width", "resolution", "compound")
TITLES = {
    "baseline": "Baseline",
    "depth": "Deeper (depth only)",
    "width": "Wider (width only)",
    "resolution": "Higher resolution (resolution only)",
    "compound": "Compound (α^φ, β^φ, γ^φ)",
}
TOLERANCE = 0.03  # the plan's promise: every network within +-3% of the target MACs
FLOPS_MULTIPLE_RANGE = (1.2, 16.0)


@dataclass(frozen=True)
class PlannedNetwork:
    """One network of the plan: its configuration and its cost relative to the base."""

    name: str  # one of NAMES
    config: ScalingConfig
    params: int
    macs: int
    flops_multiple: float  # macs / base macs
    target_multiple: float
    phi: float | None = None  # the compound network's solved phi

    @property
    def error(self) -> float:
        """Relative miss of the target MACs (+0.013 = 1.3% above)."""
        return self.flops_multiple / self.target_multiple - 1.0

    def as_dict(self, base: ScalingConfig) -> dict:
        c = self.config
        return {
            "name": self.name,
            "title": TITLES[self.name],
            # exact: rounded, d = 8/3 would rebuild a 3-repeat stage with 9 layers instead of 8
            "depth": c.depth,
            "width": c.width,
            "resolution": c.resolution,
            "depth_ratio": round(c.depth / base.depth, 4),
            "width_ratio": round(c.width / base.width, 4),
            "resolution_ratio": round(c.resolution / base.resolution, 4),
            "params": self.params,
            "macs": self.macs,
            "flops_multiple": round(self.flops_multiple, 4),
            "target_multiple": self.target_multiple,
            "error": round(self.error, 4),
            "phi": None if self.phi is None else round(self.phi, 4),
            "layers": layer_counts(c),
        }


def layer_counts(config: ScalingConfig) -> list[int]:
    """Blocks (MBConv and Fused-MBConv) per stage of `config`, from its own stage table: B0's
    stages 2-8, or a V2 table's; Lite keeps its first and last stage at their base repeats."""
    return [stage.layers for stage in stages(config) if stage.kind in BLOCK_KINDS]


def _scaled_repeats(config: ScalingConfig) -> list[tuple[int, int]]:
    """(layers, base repeats) of each stage whose layers follow the depth multiplier."""
    table = STAGE_TABLES[config.stage_table]
    pairs = list(zip(layer_counts(config), (stage.repeats for stage in table)))
    return pairs[1:-1] if config.is_lite else pairs  # Lite's first and last stage are not scaled


def _solve(macs_at: Callable[[float], int], low: float, high: float, target: float, steps: int = 60) -> float:
    """The x in [low, high] whose MACs are nearest `target`, for MACs non-decreasing in x.

    Bisection finds where the step function crosses the target; the best of the last value below
    and the first value at or above it wins.
    """
    if macs_at(high) < target:
        return high
    below, above = low, high
    for _ in range(steps):
        middle = 0.5 * (below + above)
        if macs_at(middle) < target:
            below = middle
        else:
            above = middle
    return min((below, above), key=lambda x: abs(macs_at(x) - target))


def _depth_for_layers(config: ScalingConfig) -> float:
    """The largest depth multiplier with the same whole layers as `config` (d=4, not 3.76, for B0's 4x).

    ceil(d * repeats) stays the same up to min(layers / repeats) over the scaled stages.
    """
    return min(layers / repeats for layers, repeats in _scaled_repeats(config))


def matched_plan(
    base: ScalingConfig,
    flops_multiple: float = 4.5,
    alpha: float = ALPHA,
    beta: float = BETA,
    gamma: float = GAMMA,
    strict: bool = True,
) -> list[PlannedNetwork]:
    """The baseline and its four scaled networks at `flops_multiple` times its MACs.

    strict=False keeps a network that lands outside the 3% only because its dimension moves in
    steps (whole layers, channels in multiples of 8) at the nearest step, with its real multiple, for
    a table that shows it; a network that would leave the lab's ranges is refused either way.

    Raises ConfigError when the multiple is outside FLOPS_MULTIPLE_RANGE, or when a network would
    leave the accepted ranges of depth, width or resolution before reaching the target.
    """
    low, high = FLOPS_MULTIPLE_RANGE
    if isinstance(flops_multiple, bool) or not isinstance(flops_multiple, (int, float)) or not math.isfinite(flops_multiple) \
            or not low <= flops_multiple <= high:
        raise ConfigError(f"the FLOPs multiple must be between {low:g} and {high:g}, got {flops_multiple!r}")
    flops_multiple = float(flops_multiple)
    base = replace(base, name="", phi=None)
    base_profile = profile(base)
    target = flops_multiple * base_profile.macs

    def at(**changes) -> ScalingConfig:
        return replace(base, **changes)

    def macs(config: ScalingConfig) -> int:
        return profile(config).macs

    # depth only
    depth = _solve(lambda d: macs(at(depth=d)), base.depth, DEPTH_RANGE[1], target)
    depth_config = at(depth=_depth_for_layers(at(depth=depth)))
    # width only (channels move in multiples of 8; report the multiplier to 3 decimals when that
    # keeps the same channels)
    width = _solve(lambda w: macs(at(width=w)), base.width, WIDTH_RANGE[1], target)
    width_config = at(width=width)
    rounded = at(width=round(width, 3))
    if macs(rounded) == macs(width_config):
        width_config = rounded
    # resolution only: multiples of 8
    first = -(-base.resolution // RESOLUTION_MULTIPLE) * RESOLUTION_MULTIPLE  # B3's 300 px -> 304
    resolution_config = min(
        (at(resolution=r) for r in range(first, RESOLUTION_RANGE[1] + 1, RESOLUTION_MULTIPLE)),
        key=lambda c: abs(macs(c) - target),
    )

    # compound: phi solved. The resolution is a multiple of 8 next to base.resolution * gamma**phi,
    # rounded down, to the nearest or up: whichever lands nearest the target. Whole layers and
    # channels in multiples of 8 make MACs jump as phi grows (B0 at 4.5x: from 3.9x to 4.7x at
    # phi = 1.9); the free rounding of the resolution lands inside the gap.
    def compound_at(phi: float, rounding: Callable[[float], float]) -> ScalingConfig:
        exact = base.resolution * gamma**phi / RESOLUTION_MULTIPLE
        resolution = int(RESOLUTION_MULTIPLE * max(1, rounding(exact)))
        return at(depth=min(DEPTH_RANGE[1], base.depth * alpha**phi), width=min(WIDTH_RANGE[1], base.width * beta**phi),
                  resolution=min(RESOLUTION_RANGE[1], max(RESOLUTION_RANGE[0], resolution)))

    max_phi = math.log(high * 4) / math.log(alpha * beta**2 * gamma**2)
    roundings = (round, math.floor, math.ceil)  # nearest first: it wins ties
    crossings = [_solve(lambda p, r=rounding: macs(compound_at(p, r)), 0.0, max_phi, target) for rounding in roundings]
    # each rounding's crossing, and around the first one every phi on a 0.01 grid: the nearest to the
    # target wins, then the smallest move of phi away from the crossing
    solved = crossings[0]
    phis = crossings + [solved + k / 100 for k in range(-30, 31) if k and solved + k / 100 > 0]
    candidates = [(abs(macs(compound_at(p, rounding)) - target), abs(p - solved), order, p, rounding)
                  for p in phis for order, rounding in enumerate(roundings)]
    _, _, _, phi, rounding = min(candidates, key=lambda c: c[:3])
    compound_config = compound_at(phi, rounding)

    plan = [PlannedNetwork("baseline", base, base_profile.params, base_profile.macs, 1.0, 1.0)]
    for name, config, solved_phi in (("depth", depth_config, None), ("width", width_config, None),
                                     ("resolution", resolution_config, None), ("compound", compound_config, phi)):
        p = profile(config)
        plan.append(PlannedNetwork(name, config, p.params, p.macs, p.macs / base_profile.macs, flops_multiple, solved_phi))
    for network in plan[1:]:
        if abs(network.error) <= TOLERANCE:
            continue
        name = TITLES[network.name].split(" (")[0].lower()
        c = network.config
        if c.depth >= DEPTH_RANGE[1] or c.width >= WIDTH_RANGE[1] or c.resolution >= RESOLUTION_RANGE[1]:
            reach = largest_multiple(base)
            choice = (f"choose a multiple up to {math.floor(reach * 10) / 10:g} or a smaller base" if reach >= low
                      else "choose a smaller base")
            limit = (f"depth ×{DEPTH_RANGE[1]:g}" if c.depth >= DEPTH_RANGE[1] else f"width ×{WIDTH_RANGE[1]:g}"
                     if c.width >= WIDTH_RANGE[1] else f"{RESOLUTION_RANGE[1]} px (a plan may pass the sidebar's slider)")
            raise ConfigError(f"the {name} network would pass the lab's limit, {limit}, before {flops_multiple:g}×: "
                              f"this base reaches at most {reach:.2f}×; {choice}")
        if strict:
            raise ConfigError(
                f"no {name} network within {TOLERANCE:.0%} of {flops_multiple:g}x the base's multiply-adds "
                f"(nearest: {network.flops_multiple:.2f}x); try another multiple or a larger base"
            )
    return plan


def largest_multiple(base: ScalingConfig) -> float:
    """The largest FLOPs multiple every single-dimension network of `base` can reach inside the lab's
    ranges (depth and width up to their maximum, resolution up to its maximum): the most a plan can ask."""
    base = replace(base, name="", phi=None)
    macs = profile(base).macs
    return min(profile(replace(base, **{key: value})).macs / macs for key, value in
               (("depth", DEPTH_RANGE[1]), ("width", WIDTH_RANGE[1]), ("resolution", RESOLUTION_RANGE[1])))


def plan_as_dicts(plan: list[PlannedNetwork]) -> list[dict]:
    """The plan, JSON-ready (the base is the plan's first network)."""
    base = plan[0].config
    return [network.as_dict(base) for network in plan]


def paper_rows() -> dict[str, dict]:
    """The paper's Table 7 keyed like the plan ('baseline', 'depth', ...): setting, FLOPs (B), top-1 (%)."""
    return {row.scaling: {"setting": row.setting, "flops_b": row.flops_b, "top1": row.top1, "source": f"{row.source}, {row.base}"}
            for row in TABLE7}

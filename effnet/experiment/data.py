"""Where the experiment's images come from: the synthetic task, a folder of photos, or Imagenette.

Every source hands the trainer whole splits as tensors at the resolution a network asks for (the
airbench way: data in memory, on the device when there is a GPU): uint8 images (N, 3, R, R), int64
labels (N,) and, for the synthetic task only, bool object masks (N, R, R).

- `SyntheticSource`: the seeded scenes of effnet.experiment.synthetic, drawn anew at each
  resolution (never an upsampled small image), masks drawn alike, many at a time by
  effnet.experiment.render (on the training device when `split(..., device=...)` names one).
  Two tasks (`objects`): "small", the committed one, where targets are 12-45% of the image side
  and a small target's pattern repeats every few pixels at the base's 80 px, so it favours
  resolution (pixels per pattern period); and "large", targets filling 35-90% of the side as
  ImageNet's objects mostly do, where every resolution resolves the pattern and what decides is
  seeing the whole object at once (receptive field: depth) and telling ten patterns apart among
  outlines (features: width). Train, validation and test scenes come from separate seeded
  streams; replicates vary the training scenes (`train_seed`) but never the held-out ones.
- `ImageFolderSource`: any folder in torchvision's ImageFolder layout (one sub-folder per class; or
  train/ and val/ (or test/) folders each holding that layout). No masks: attention is measured by
  faithfulness instead. Without train/val folders a seeded 80/20 split is made.
- `imagenette_source`: torchvision's Imagenette (10 ImageNet classes), downloaded only when asked;
  offline it fails with one line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from . import synthetic

if TYPE_CHECKING:
    import torch

Progress = Callable[[float, str], None]
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
MAX_PHOTOS = int(os.environ.get("EFFNET_EXPERIMENT_MAX_PHOTOS", 30_000))


class DataError(ValueError):
    """A data source that cannot be used; the message says why and what is accepted."""


@dataclass(frozen=True)
class Split:
    """numpy arrays, or torch tensors on a device when the split was drawn there."""

    images: np.ndarray | torch.Tensor  # uint8 (N, 3, R, R)
    labels: np.ndarray | torch.Tensor  # int64 (N,)
    masks: np.ndarray | torch.Tensor | None  # bool (N, R, R), or None where the source has no masks


@dataclass
class SyntheticSource:
    """The synthetic patterns task: `train_size`, `val_size` and `test_size` scenes.

    Validation and test scenes come from `seed`; training scenes from `train_seed` (None: `seed`),
    so replicates with different training data are still compared on the same held-out images.
    """

    train_size: int = 6000
    test_size: int = 1500
    seed: int = 0
    easy: bool = False  # synthetic.EASY: large targets, few distractors (smoke tests)
    val_size: int = 500
    train_seed: int | None = None  # the training scenes' seed (None: seed)
    objects: str = "small"  # the task: synthetic.OBJECTS, "small" (committed) or "large"
    kind: str = field(default="synthetic", init=False)
    mean: tuple[float, float, float] = field(default=(0.5, 0.5, 0.5), init=False)
    std: tuple[float, float, float] = field(default=(0.25, 0.25, 0.25), init=False)
    _cache: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("train_size", "test_size", "val_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 10 <= value <= 1_000_000:
                raise DataError(f"{name} must be a whole number from 10 to 1000000, got {value!r}")
        if self.objects not in synthetic.OBJECTS:
            raise DataError(f"objects must be one of {', '.join(synthetic.OBJECTS)}, got {self.objects!r}")
        if self.train_seed is not None and (isinstance(self.train_seed, bool) or not isinstance(self.train_seed, int)):
            raise DataError(f"train_seed must be a whole number or None, got {self.train_seed!r}")

    @property
    def classes(self) -> tuple[str, ...]:
        return synthetic.CLASSES

    @property
    def has_masks(self) -> bool:
        return True

    def split(self, name: str, resolution: int, progress: Progress | None = None, device: str | torch.device | None = None) -> Split:
        """Split `name` ("train", "val" or "test") at `resolution` px: numpy arrays, or with `device`
        torch tensors drawn on that device (no copy from the host). Splits of one resolution are
        kept (a new resolution replaces them)."""
        from .render import render_batch

        if name not in ("train", "val", "test"):
            raise DataError(f"unknown split {name!r}; accepted: train, val, test")
        key = (name, resolution, None if device is None else str(device))
        if key not in self._cache:
            count = {"train": self.train_size, "val": self.val_size, "test": self.test_size}[name]
            seed = self.train_seed if name == "train" and self.train_seed is not None else self.seed
            items = synthetic.scenes(seed, name, count, easy=self.easy, objects=self.objects)
            if progress is not None:
                progress(0.0, f"drawing {count} {name} scenes at {resolution} px")
            images, masks = render_batch(items, resolution, device="cpu" if device is None else device)
            labels = np.array([item.label for item in items], dtype=np.int64)
            if device is None:
                drawn = Split(images.numpy(), labels, masks.numpy())
            else:
                import torch

                drawn = Split(images, torch.from_numpy(labels).to(images.device), masks)
            self._cache = {k: v for k, v in self._cache.items() if k[1] == resolution}  # keep one size
            self._cache[key] = drawn
        return self._cache[key]

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "name": "synthetic patterns" + (" (large objects)" if self.objects == "large" else "")
                    + (" (easy level)" if self.easy else ""),
            "classes": list(self.classes),
            "train_size": self.train_size,
            "val_size": self.val_size,
            "test_size": self.test_size,
            "seed": self.seed,
            "train_seed": self.seed if self.train_seed is None else self.train_seed,
            "objects": self.objects,
            "easy": self.easy,
            "has_masks": True,
            "normalisation": {"mean": list(self.mean), "std": list(self.std)},
            "description": (synthetic.__doc__ or "").split("\n\n")[1].replace("\n", " ").strip() + (
                " Large-object task: every target fills 35% to 90% of the image side." if self.objects == "large" else ""),
        }


@dataclass
class ImageFolderSource:
    """Photos in ImageFolder layout, resized (shorter side) and centre-cropped to each resolution."""

    path: Path
    seed: int = 0
    test_share: float = 0.2
    name: str = ""
    kind: str = field(default="imagefolder", init=False)
    mean: tuple[float, float, float] = field(default=IMAGENET_MEAN, init=False)
    std: tuple[float, float, float] = field(default=IMAGENET_STD, init=False)
    _files: dict = field(default_factory=dict, init=False, repr=False)
    _classes: tuple[str, ...] = field(default=(), init=False, repr=False)
    _cache: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.path.is_dir():
            raise DataError(f"{self.path} is not a folder; accepted: a folder with one sub-folder of images per class")
        train_dir = next((self.path / n for n in ("train",) if (self.path / n).is_dir()), None)
        test_dir = next((self.path / n for n in ("val", "test") if (self.path / n).is_dir()), None)
        if train_dir is not None and test_dir is not None:
            train, classes = _list_images(train_dir)
            test, test_classes = _list_images(test_dir)
            if test_classes != classes:
                raise DataError(f"{train_dir} and {test_dir} must hold the same class folders")
        else:
            every, classes = _list_images(self.path)
            order = np.random.default_rng(self.seed).permutation(len(every))
            cut = max(1, int(round(len(every) * self.test_share)))
            test = [every[i] for i in sorted(order[:cut])]
            train = [every[i] for i in sorted(order[cut:])]
        if len(train) + len(test) > MAX_PHOTOS:
            raise DataError(f"{self.path} holds {len(train) + len(test)} images; this lab trains on up to {MAX_PHOTOS}")
        if not train or not test:
            raise DataError(f"{self.path} has too few images for a train and a test split")
        self._files, self._classes = {"train": train, "test": test}, classes

    @property
    def classes(self) -> tuple[str, ...]:
        return self._classes

    @property
    def has_masks(self) -> bool:
        return False

    def split(self, name: str, resolution: int, progress: Progress | None = None) -> Split:
        from PIL import Image

        from ..images import ImageError, load_image

        key = (name, resolution)
        if key not in self._cache:
            files = self._files["train" if name == "train" else "test"]
            images = np.empty((len(files), 3, resolution, resolution), dtype=np.uint8)
            for i, (file, _) in enumerate(files):
                try:
                    picture = load_image(file)
                except ImageError as bad:
                    raise DataError(f"{file}: {bad}") from None
                scale = resolution / min(picture.size)
                size = (max(resolution, round(picture.width * scale)), max(resolution, round(picture.height * scale)))
                picture = picture.resize(size, Image.Resampling.BILINEAR)
                left, top = (picture.width - resolution) // 2, (picture.height - resolution) // 2
                images[i] = np.asarray(picture.crop((left, top, left + resolution, top + resolution))).transpose(2, 0, 1)
                if progress is not None and i % 200 == 0:
                    progress(i / len(files), f"reading {name} photos at {resolution} px")
            labels = np.array([label for _, label in files], dtype=np.int64)
            self._cache = {k: v for k, v in self._cache.items() if k[1] == resolution}
            self._cache[key] = Split(images, labels, None)
        return self._cache[key]

    def describe(self) -> dict:
        return {
            "kind": self.kind,
            "name": self.name or self.path.name,
            "classes": list(self.classes),
            "train_size": len(self._files["train"]),
            "test_size": len(self._files["test"]),
            "seed": self.seed,
            "has_masks": False,
            "normalisation": {"mean": list(self.mean), "std": list(self.std)},
            "description": "photos in ImageFolder layout, shorter side resized and centre-cropped to each network's resolution",
        }


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def _list_images(folder: Path) -> tuple[list[tuple[Path, int]], tuple[str, ...]]:
    classes = tuple(sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")))
    if len(classes) < 2:
        raise DataError(f"{folder} needs at least 2 class sub-folders (ImageFolder layout), found {len(classes)}")
    files = [(f, label) for label, name in enumerate(classes) for f in sorted((folder / name).rglob("*"))
             if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES]
    return files, classes


def imagenette_source(root: str | Path, seed: int = 0, download: bool = True) -> ImageFolderSource:
    """torchvision's Imagenette (160 px version) under `root`, downloaded only if not there yet.

    Offline the download fails with DataError (one line saying so and where to put the files).
    """
    root = Path(root)
    folder = root / "imagenette2-160"
    if not (folder / "train").is_dir():
        if not download:
            raise DataError(f"Imagenette is not in {folder}; run with download allowed, online")
        import socket

        from torchvision.datasets import Imagenette

        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(15)
        try:
            Imagenette(str(root), split="train", size="160px", download=True)
        except Exception:  # no route, DNS, timeouts, HTTP errors: all mean "could not fetch it"
            raise DataError(
                f"could not download Imagenette: it needs an internet connection (or unpack imagenette2-160.tgz into {root})"
            ) from None
        finally:
            socket.setdefaulttimeout(previous)
    source = ImageFolderSource(folder, seed=seed, name="Imagenette (160 px)")
    source.kind = "imagenette"
    return source

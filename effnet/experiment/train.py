"""One training recipe for every network of the experiment, from scratch, as the paper trains.

    recipe = Recipe(epochs=8)
    model, run = train_network(config, source, recipe, device="auto", checkpoint=Path("out/depth"))

The loop reads top to bottom (nanoGPT style): data in memory as uint8 (on the GPU when there is
one), a shuffled order per epoch from the seed, AdamW with linear warm-up and cosine decay, label
smoothing, random half turns; on CUDA mixed precision (float16 with a gradient scaler) and
channels_last. After every epoch the model, optimiser, schedule, history and random state go to
`<checkpoint>.partial.pt` (plain tensors and numbers: `torch.load(..., weights_only=True)` reads
it), so an interrupted run resumes from its last finished epoch; the end result is a plain state
dict at `<checkpoint>.pt` that `effnet.build(config, state_dict=...)` loads.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..model import EfficientNet, build
from ..scaling import ScalingConfig
from .data import Split

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Recipe:
    """Every setting of the training, one value for all five networks."""

    epochs: int = 6
    batch_size: int = 32
    learning_rate: float = 2e-3  # AdamW peak, reached after the warm-up
    weight_decay: float = 0.05
    warmup_epochs: float = 0.5  # linear warm-up, then cosine decay to zero
    label_smoothing: float = 0.1
    # random half turns (both axes flipped): they keep every pattern's class. A horizontal flip alone
    # would swap rising and falling diagonals (a first run with it confused exactly those two).
    half_turns: bool = True
    optimizer: str = "AdamW"
    zero_init_classifier: bool = True  # start from equal logits (see train_network)
    # dropout and stochastic depth are the config's own (effnet's defaults: 0.2 and 0.2)

    def __post_init__(self) -> None:
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or not 1 <= self.epochs <= 1000:
            raise ValueError(f"epochs must be a whole number from 1 to 1000, got {self.epochs!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or not 2 <= self.batch_size <= 4096:
            raise ValueError(f"batch size must be a whole number from 2 to 4096, got {self.batch_size!r}")

    def as_dict(self) -> dict:
        return asdict(self)


def pick_device(device: str = "auto") -> torch.device:
    """'auto' (CUDA when present), 'cpu' or 'cuda'; ValueError for anything else or a missing GPU."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda was asked for, but torch sees no CUDA GPU on this machine; use --device cpu or auto")
    return torch.device("cuda" if device == "cuda" or (device == "auto" and torch.cuda.is_available()) else "cpu")


class Normaliser:
    """uint8 (N, 3, R, R) -> normalised float on the device, in batches."""

    def __init__(self, mean, std, device: torch.device, channels_last: bool) -> None:
        self.mean = torch.tensor(mean, device=device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(std, device=device).view(1, 3, 1, 1) * 255
        self.channels_last = channels_last

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = (batch.float() - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, normalise: Normaliser, batch_size: int = 256) -> torch.Tensor:
    """Predicted classes for uint8 images (eval mode, autocast on CUDA)."""
    model.eval()
    device = images.device
    out = []
    for start in range(0, len(images), batch_size):
        with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
            out.append(model(normalise(images[start: start + batch_size])).argmax(1))
    return torch.cat(out)


def train_network(
    config: ScalingConfig,
    train: Split,
    test: Split,
    recipe: Recipe,
    mean,
    std,
    seed: int = 0,
    device: str = "auto",
    checkpoint: Path | None = None,
    progress: Progress | None = None,
) -> tuple[EfficientNet, dict]:
    """Train `config` from scratch on `train`; returns the model (eval mode, on the CPU) and a record.

    The record: seed, epochs, history (per epoch: train loss, train accuracy, test accuracy,
    seconds), train_seconds, images_per_second, device, resumed_from_epoch.
    `checkpoint`: a path stem; `<stem>.partial.pt` is written after each epoch and read to resume.
    """
    target = pick_device(device)
    cuda = target.type == "cuda"
    torch.manual_seed(seed)
    model = build(config).to(target)
    if recipe.zero_init_classifier:
        # The official initialisation draws the classifier from U(+-1/sqrt(classes)): made for 1000
        # classes, with 10 it starts with logits several units apart and a loss above ln 10, and the
        # small networks here then stayed at chance for hundreds of steps. Zero weights start every
        # network from equal logits; the rest of the initialisation is the official one.
        nn.init.zeros_(model.classifier.weight)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    if recipe.optimizer == "SGD":
        optimiser = torch.optim.SGD(model.parameters(), lr=recipe.learning_rate, momentum=0.9, nesterov=True,
                                    weight_decay=recipe.weight_decay)
    else:
        optimiser = torch.optim.AdamW(model.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    steps_per_epoch = math.ceil(len(train.labels) / recipe.batch_size)
    total_steps = recipe.epochs * steps_per_epoch
    warmup = max(1, int(recipe.warmup_epochs * steps_per_epoch))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total_steps - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimiser, schedule)
    scaler = torch.amp.GradScaler("cuda", enabled=cuda)
    loss_function = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    normalise = Normaliser(mean, std, target, channels_last=cuda)

    images = torch.from_numpy(train.images).to(target)
    labels = torch.from_numpy(train.labels).to(target)
    test_images = torch.from_numpy(test.images).to(target)
    test_labels = torch.from_numpy(test.labels).to(target)

    history: list[dict] = []
    start_epoch, seconds_before = 0, 0.0
    partial = Path(f"{checkpoint}.partial.pt") if checkpoint is not None else None
    if partial is not None and partial.exists():
        state = torch.load(partial, map_location=target, weights_only=True)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["rng"].cpu())
        history, start_epoch, seconds_before = list(state["history"]), int(state["epoch"]), float(state["seconds"])

    trained_seconds = seconds_before
    for epoch in range(start_epoch, recipe.epochs):
        model.train()
        began = time.perf_counter()
        order_generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        order = torch.randperm(len(labels), generator=order_generator).to(target)
        total_loss = correct = seen = 0.0
        for step in range(steps_per_epoch):
            index = order[step * recipe.batch_size: (step + 1) * recipe.batch_size]
            x, y = normalise(images[index]), labels[index]
            if recipe.half_turns:
                turned = torch.rand(len(index), device=target) < 0.5
                x = torch.where(turned.view(-1, 1, 1, 1), x.flip(2, 3), x)
            with torch.autocast(target.type, dtype=torch.float16, enabled=cuda):
                logits = model(x)
                loss = loss_function(logits, y)
            optimiser.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
            scheduler.step()
            total_loss += float(loss.detach()) * len(index)
            correct += float((logits.argmax(1) == y).sum())
            seen += len(index)
            if progress is not None and step % 10 == 0:
                done = (epoch + step / steps_per_epoch) / recipe.epochs
                progress(done, f"epoch {epoch + 1}/{recipe.epochs}, loss {total_loss / seen:.3f}")
        if cuda:
            torch.cuda.synchronize()
        epoch_seconds = time.perf_counter() - began
        trained_seconds += epoch_seconds
        test_accuracy = float((predict(model, test_images, normalise) == test_labels).float().mean())
        history.append({
            "epoch": epoch + 1,
            "train_loss": round(total_loss / seen, 5),
            "train_accuracy": round(correct / seen, 5),
            "test_accuracy": round(test_accuracy, 5),
            "learning_rate": round(float(scheduler.get_last_lr()[0]), 7),
            "seconds": round(epoch_seconds, 2),
        })
        if partial is not None:
            partial.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"model": model.state_dict(), "optimizer": optimiser.state_dict(), "scheduler": scheduler.state_dict(),
                        "scaler": scaler.state_dict(), "rng": torch.get_rng_state(), "history": history,
                        "epoch": epoch + 1, "seconds": trained_seconds}, partial)

    model = model.to("cpu", memory_format=torch.contiguous_format).eval()
    images_seen = len(labels) * (recipe.epochs - start_epoch)
    record = {
        "seed": seed,
        "epochs": recipe.epochs,
        "history": history,
        "train_seconds": round(trained_seconds, 2),
        "images_per_second": round(images_seen / max(1e-9, trained_seconds - seconds_before), 1) if images_seen else None,
        "device": str(target),
        "resumed_from_epoch": start_epoch,
    }
    return model, record


def finish_checkpoint(model: nn.Module, checkpoint: Path) -> Path:
    """Write the final plain state dict `<checkpoint>.pt` and drop the partial one."""
    final = Path(f"{checkpoint}.pt")
    final.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), final)
    Path(f"{checkpoint}.partial.pt").unlink(missing_ok=True)
    return final


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)

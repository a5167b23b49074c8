"""One quick training per server, in a subprocess, with its progress read from stderr.

The Experiment page's "Train the quick version" button starts

    python -m effnet experiment run --quick --threads 1 --out <a new temporary folder>

as a child process (at low priority where `nice` exists). Training there never touches the server's
torch (its global thread count, its memory) and never holds a script run: a reader thread parses the
CLI's progress lines ("[ 12.3%] baseline (seed 0): epoch 1/4, loss 2.301") into the registry, and
pages poll `status()`. The registry allows one training at a time per server process; a second
session is told that another training is running. A finished run belongs to the session that
started it: only that session is handed its folder.
"""

from __future__ import annotations

import atexit
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from effnet.experiment import ResultsError, read_results

ROOT = Path(__file__).resolve().parents[2]
PROGRESS_LINE = re.compile(r"^\[\s*(\d+(?:\.\d+)?)%\]\s*(.*)$")
MAX_SECONDS = 30 * 60  # a quick run takes minutes; one that takes this long is stopped
KEEP_FINISHED = 4  # folders of finished runs kept on disk (the sessions that own them still show them)
NICE = 10


QUICK_ARGS_ENV = "EFFNET_QUICK_RUN_ARGS"  # extra CLI arguments for the button, e.g. "--train-size 600 --epochs 1"


def quick_command(out: Path) -> list[str]:
    """The command line the button runs: the CLI's quick experiment on one CPU thread (or the GPU).

    A server on a slow machine (or a test) may shrink it with $EFFNET_QUICK_RUN_ARGS; they come after
    `--quick`, so they override its sizes, and the page shows the command as it was really run.
    """
    extra = shlex.split(os.environ.get(QUICK_ARGS_ENV, ""))
    return [sys.executable, "-m", "effnet", "experiment", "run", "--quick", *extra, "--threads", "1", "--out", str(out)]


def shown_command(command: list[str]) -> str:
    """The command as a user would type it (python instead of the interpreter's full path)."""
    return " ".join(["python" if part == sys.executable else part for part in command])


class TrainingError(RuntimeError):
    """A training that cannot start; the message says why in one line."""


class TrainingBusy(TrainingError):
    """Another training is running on this server."""


@dataclass
class Training:
    """One training subprocess and what its stderr said so far (guarded by the registry's lock)."""

    number: int
    owner: str  # the session that started it
    out: Path
    command: list[str]
    started: float = field(default_factory=time.monotonic)
    fraction: float = 0.0
    message: str = "starting Python and PyTorch…"
    tail: deque = field(default_factory=lambda: deque(maxlen=20))
    process: subprocess.Popen | None = None
    returncode: int | None = None
    ended: float | None = None
    error: str | None = None
    stopped: bool = False
    stdout: object = None  # the open log file the child writes its stdout to


@dataclass(frozen=True)
class Status:
    """What one session should show: 'idle', 'running', 'busy' (another session's run), 'done' or 'failed'."""

    state: str
    number: int = 0
    fraction: float = 0.0
    message: str = ""
    seconds: float = 0.0
    out: str = ""
    error: str = ""
    command: str = ""
    other_running: bool = False  # another session's training holds the server
    other_fraction: float = 0.0  # ... this far along
    other_seconds: float = 0.0  # ... started this long ago


class TrainingRegistry:
    """At most one running training per server; thread-safe (one lock around every change)."""

    def __init__(self, command_for: Callable[[Path], list[str]] = quick_command, max_seconds: float = MAX_SECONDS) -> None:
        self.command_for = command_for
        self.max_seconds = max_seconds
        self._lock = threading.Lock()
        self._running: Training | None = None
        self._finished: list[Training] = []
        self._count = 0

    # -- starting and stopping ------------------------------------------------------------------
    def start(self, owner: str) -> Status:
        """Start a training for session `owner`; TrainingBusy when one is running (any session's)."""
        with self._lock:
            if self._running is not None:
                raise TrainingBusy("another training is running on this server")
            self._count += 1
            out = Path(tempfile.mkdtemp(prefix=f"effnet-experiment-{self._count}-"))
            command = list(self.command_for(out))
            training = Training(self._count, owner, out, command)
            launch = (["nice", "-n", str(NICE)] if shutil.which("nice") else []) + command
            try:
                training.stdout = open(out / "stdout.log", "wb")
                training.process = subprocess.Popen(
                    launch, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=training.stdout,
                    stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace", bufsize=1,
                    env=_child_environment(),
                )
            except OSError as error:
                if training.stdout is not None:
                    training.stdout.close()
                shutil.rmtree(out, ignore_errors=True)
                raise TrainingError(f"the training could not start: {error}") from None
            self._running = training
        threading.Thread(target=self._follow, args=(training,), name=f"effnet-training-{training.number}", daemon=True).start()
        return self.status(owner)

    def stop(self, owner: str) -> bool:
        """Stop `owner`'s running training (another session's cannot be stopped)."""
        with self._lock:
            training = self._running
            if training is None or training.owner != owner or training.process is None:
                return False
            training.stopped = True
            training.process.terminate()
        return True

    def shutdown(self) -> None:
        """Stop whatever runs (the server is exiting)."""
        with self._lock:
            training = self._running
        if training is not None and training.process is not None and training.process.poll() is None:
            training.process.terminate()

    # -- reading ----------------------------------------------------------------------------------
    def status(self, owner: str) -> Status:
        """What session `owner` should see now: its own running training, else its latest finished one,
        else another session's running one (state 'busy'), else 'idle'. `other_running` says whether
        someone else's training holds the server."""
        with self._lock:
            running = self._running
            if running is not None and running.process is not None and running.process.poll() is None \
                    and time.monotonic() - running.started > self.max_seconds:
                running.error = f"stopped after {self.max_seconds / 60:.0f} minutes"
                running.process.terminate()
            other_running = running is not None and running.owner != owner
            other = dict(other_running=other_running)
            if other_running:
                other.update(other_fraction=running.fraction, other_seconds=time.monotonic() - running.started)
            if running is not None and not other_running:
                return Status("running", running.number, running.fraction, running.message,
                              time.monotonic() - running.started, str(running.out), command=shown_command(running.command))
            mine = [t for t in self._finished if t.owner == owner]
            if mine:
                last = mine[-1]
                seconds = (last.ended or time.monotonic()) - last.started
                state = "failed" if last.error else "done"
                return Status(state, last.number, last.fraction, last.message, seconds, str(last.out), last.error or "",
                              shown_command(last.command), **other)
            if other_running:
                return Status("busy", running.number, running.fraction, "", time.monotonic() - running.started, **other)
            return Status("idle")

    def wait(self, timeout: float) -> bool:
        """Block until no training runs (tests and scripts; pages poll instead). True if none runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._running is None:
                    return True
            time.sleep(0.05)
        return False

    # -- the reader thread ------------------------------------------------------------------------
    def _follow(self, training: Training) -> None:
        process = training.process
        assert process is not None and process.stderr is not None
        with open(training.out / "stderr.log", "w", encoding="utf-8") as log:
            for line in process.stderr:
                log.write(line)
                text = line.strip()
                if not text:
                    continue
                with self._lock:
                    training.tail.append(text)
                    match = PROGRESS_LINE.match(text)
                    if match:
                        training.fraction = min(1.0, max(0.0, float(match.group(1)) / 100))
                        training.message = match.group(2)
        returncode = process.wait()
        training.stdout.close()
        error = None
        if training.stopped:
            error = "stopped before it finished"
        elif returncode != 0:
            error = _last_line(training.tail) or f"the training exited with code {returncode}"
        else:
            try:
                read_results(training.out)
            except ResultsError as bad:
                error = f"the training finished but its results cannot be read: {bad}"
        with self._lock:
            training.returncode, training.ended = returncode, time.monotonic()
            training.error = training.error or error
            if not training.error:
                training.fraction, training.message = 1.0, "done"
            self._running = None
            self._finished.append(training)
            dropped, self._finished = self._finished[:-KEEP_FINISHED], self._finished[-KEEP_FINISHED:]
        for old in dropped:
            shutil.rmtree(old.out, ignore_errors=True)


def _last_line(lines) -> str:
    """The error line of a failed run: its last line that is not a progress line."""
    for line in reversed(list(lines)):
        if not PROGRESS_LINE.match(line):
            return line[:300]
    return ""


def _child_environment() -> dict:
    import os

    environment = dict(os.environ)
    # One thread for every library that reads these: the server's other sessions keep their cores.
    environment.update(PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return environment


_REGISTRY = TrainingRegistry()
atexit.register(_REGISTRY.shutdown)


def registry() -> TrainingRegistry:
    """The server's one registry (this module is imported once per server process)."""
    return _REGISTRY

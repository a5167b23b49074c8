"""Capacity: how many sessions one lab server (or N replicas behind nginx) holds, without browsers.

For each N, starts a fresh server (`streamlit run app/main.py`, or `deploy/serve`'s replicas and nginx
with --replicas), opens the Attention page once to load the trained networks, then opens it in N
sessions at once (or spread over --ramp seconds) with deploy/load.py's protocol-level client: no
browser runs on the server's cores. A session is served when its three Grad-CAM panels were drawn
and their images fetched. Prints one row per N: sessions served, errors, median and 95th-percentile
seconds from a session's first request to its panels, the server's CPU (share of this machine's cores
over the load, nginx included) and its peak resident memory, and the client's own CPU.

    python benchmarks/capacity.py --sessions 10 30 60                 # one server, the sample photo
    python benchmarks/capacity.py --sessions 10 30 60 --photos unique  # every session uploads a new photo
    python benchmarks/capacity.py --sessions 10 30 60 --replicas 2     # deploy/serve: 2 replicas + nginx

`--photos sample`: every session opens the page with its default sample, which the lab computes once
and then serves from its cache (what a class opening the same link costs). `--photos unique`: every
session then uploads its own photo, three Grad-CAM computations each (what a class uploading its
own photos costs). Exit code 1 if any session failed. Not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.components import units  # noqa: E402  (standard library only)
from deploy import load, serve  # noqa: E402

LOGS = Path(tempfile.gettempdir()) / "lab-capacity-logs"  # the servers' logs of the last run, outside the repository
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by `pids` (from /proc/<pid>/stat)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLOCK_TICKS


def resident_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
        except OSError:
            continue
    return total


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, every process counted (/proc/stat)."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) / CLOCK_TICKS, sum(values) / CLOCK_TICKS


class MemoryWatch(threading.Thread):
    """Samples the resident memory of a set of process trees every 0.2 s and keeps the peak."""

    def __init__(self, roots: list[int]) -> None:
        super().__init__(daemon=True)
        self.roots = roots
        self.peak = 0
        self._finished = threading.Event()

    def pids(self) -> list[int]:
        return [pid for root in self.roots for pid in serve.process_tree(root)]

    def run(self) -> None:
        while not self._finished.wait(0.2):
            self.peak = max(self.peak, resident_bytes(self.pids()))

    def stop(self) -> int:
        self._finished.set()
        self.join()
        return max(self.peak, resident_bytes(self.pids()))


class SingleServer:
    """One `streamlit run app/main.py` on a free port, as `bash scripts/lab` serves it."""

    def __init__(self, log: Path) -> None:
        self.port = serve.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log

    def __enter__(self) -> "SingleServer":
        self._log = open(self.log, "w", encoding="utf-8")
        threads = max(1, os.cpu_count() or 1)
        self.process = subprocess.Popen(serve.replica_command(self.port), cwd=ROOT, stdout=self._log,
                                        stderr=subprocess.STDOUT,
                                        env=serve.replica_environment("capacity-benchmark", threads))
        deadline = time.monotonic() + 180
        while not serve.healthy(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise SystemExit(f"streamlit did not start: see {self.log}")
            time.sleep(0.25)
        return self

    def pids(self) -> list[int]:
        return [self.process.pid]

    def __exit__(self, *exc_info) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.close()


@dataclass
class Row:
    sessions: int
    served: int
    errors: list[str]
    median: float | None
    p95: float | None
    wall: float
    server_cpu_share: float  # of all this machine's cores, over the load's wall time
    machine_busy_share: float  # every process on the machine, other work included
    peak_rss: int
    client_cpu_share: float


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value with at least `fraction` of the values at or below it."""
    ordered = sorted(values)
    rank = math.ceil(round(fraction * len(ordered), 9))  # round: 0.95 * 60 is 57.000000000000007 in floats
    return ordered[max(0, rank - 1)]


def measure(url: str, roots: list[int], sessions: int, unique: bool, ramp: float, timeout: float, warm: bool) -> Row:
    if warm:  # the networks load once, before the clock starts (deploy/serve warms each replica itself)
        first = load.run_sessions(url, 1, timeout=timeout)[0]
        if first.problem:
            raise SystemExit(f"the warm-up session failed: {first.problem}")
    watch = MemoryWatch(roots)
    pids = watch.pids()
    server_before, machine_before, client_before = cpu_seconds(pids), machine_busy_seconds(), os.times()
    watch.start()
    started = time.monotonic()
    results = load.run_sessions(url, sessions, unique=unique, ramp_seconds=ramp, timeout=timeout)
    wall = time.monotonic() - started
    server_after, machine_after, client_after = cpu_seconds(watch.pids()), machine_busy_seconds(), os.times()
    peak = watch.stop()
    cores = os.cpu_count() or 1
    times = [result.seconds for result in results if not result.problem]
    client = (client_after.user - client_before.user) + (client_after.system - client_before.system)
    return Row(
        sessions=sessions, served=len(times), errors=[f"session {r.number}: {r.problem}" for r in results if r.problem],
        median=statistics.median(times) if times else None, p95=percentile(times, 0.95) if times else None,
        wall=wall, server_cpu_share=(server_after - server_before) / (wall * cores),
        machine_busy_share=(machine_after[0] - machine_before[0]) / max(1e-9, machine_after[1] - machine_before[1]),
        peak_rss=peak, client_cpu_share=client / (wall * cores),
    )


def seconds(value: float | None) -> str:
    return units.NOT_A_NUMBER if value is None else f"{value:.1f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[10, 30, 60], help="N, one row each")
    parser.add_argument("--replicas", type=int, default=0, help="0: one streamlit server; N: deploy/serve's N replicas + nginx")
    parser.add_argument("--photos", choices=("sample", "unique"), default="sample")
    parser.add_argument("--ramp", type=float, default=0.0, help="seconds over which the sessions start (0: all at once)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds each session may take")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    where = f"{args.replicas} replicas behind nginx (deploy/serve)" if args.replicas else "one server"
    LOGS.mkdir(exist_ok=True)
    print(f"{where}, photos: {args.photos}, sessions {'at once' if not args.ramp else f'over {args.ramp:.0f} s'}, "
          f"{cores} cores, load average before: {os.getloadavg()[0]:.2f}", flush=True)
    print("| sessions | served | errors | median | p95 | wall | server CPU (of all cores) | machine busy | peak RSS | client CPU |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    failed = False
    for sessions in args.sessions:
        if args.replicas:
            settings = serve.Settings(replicas=args.replicas, port=serve.free_port(), address="127.0.0.1", warm=True,
                                      log_dir=str(LOGS / f"replicas-{args.replicas}-{sessions}"))
            with serve.Deployment(settings, say=lambda line: print(line, file=sys.stderr)) as deployment:
                row = measure(deployment.url, deployment.pids(), sessions, args.photos == "unique", args.ramp,
                              args.timeout, warm=False)
        else:
            with SingleServer(LOGS / f"single-{sessions}.log") as server:
                row = measure(server.url, server.pids(), sessions, args.photos == "unique", args.ramp, args.timeout,
                              warm=True)
        print(f"| {row.sessions} | {row.served} | {len(row.errors)} | {seconds(row.median)} | {seconds(row.p95)} "
              f"| {seconds(row.wall)} | {100 * row.server_cpu_share:.0f} % | {100 * row.machine_busy_share:.0f} % "
              f"| {units.binary_bytes(row.peak_rss)} | {100 * row.client_cpu_share:.0f} % |", flush=True)
        for error in row.errors[:5]:
            print(f"    {error}", flush=True)
        failed = failed or bool(row.errors)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

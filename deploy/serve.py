"""Serve a school: N replicas of the lab on local ports and Debian's nginx in front, on one address.

Streamlit runs all of a server's sessions in one Python process, so one server holds what one
process can: a classroom. `deploy/serve --replicas N --port P` starts N `streamlit run app/main.py`
processes on 127.0.0.1 and an unprivileged nginx on P that spreads sessions over them, keeps each
session on its replica (sticky on Streamlit's `_streamlit_xsrf` cookie) and passes websockets and
uploads through. It prints the address and stops everything it started on Ctrl-C, SIGTERM or SIGHUP
(on Linux the children also get SIGTERM if this process is killed outright).

Every replica gets the same cookie secret (STREAMLIT_SERVER_COOKIE_SECRET): a session's cookie is
then valid on whichever replica it lands. Each replica loads the trained models once (Streamlit's
cache_resource, per process) and keeps its own caches, its own training slot and its own latency
lock: nothing a session needs is shared between replicas.

Every flag has an environment variable (LAB_REPLICAS, LAB_PORT, ...); a flag wins over it.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import re
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib  # Python 3.11 and newer
except ModuleNotFoundError:  # Python 3.10, which the lab supports: read the one setting needed by hand
    tomllib = None

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).with_name("nginx.conf.template")
STREAMLIT_CONFIG = ROOT / ".streamlit" / "config.toml"
STREAMLIT_DEFAULT_UPLOAD_MB = 200  # Streamlit's own server.maxUploadSize when the config sets none
MULTIPART_ROOM_MB = 1  # Streamlit accepts a request this much larger than maxUploadSize (the form's framing)
HEALTH = "/_stcore/health"
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class Settings:
    """What `deploy/serve` starts; `from_arguments` fills it from flags and environment variables."""

    replicas: int = 2
    port: int = 8080  # nginx: the one address students open
    address: str = "0.0.0.0"  # nginx listens here; replicas always listen on 127.0.0.1 only
    replica_base_port: int = 0  # replicas on base, base+1, ...; 0: free ports picked at start
    nginx: str = "nginx"
    cookie_secret: str = ""  # empty: a random one for this start (sessions do not outlive a restart anyway)
    threads: int = 0  # torch threads per replica; 0: the cores shared evenly among the replicas
    warm: bool = True  # open the Attention page once on each replica before nginx opens
    log_dir: str = ""  # where the logs go and stay; empty: a temporary folder removed at the end
    health_timeout: float = 180.0

    def __post_init__(self) -> None:
        if not 1 <= self.replicas <= 64:
            raise ValueError(f"--replicas must be between 1 and 64, not {self.replicas}")
        for name, port in (("--port", self.port), ("--replica-base-port", self.replica_base_port)):
            if not (0 <= port <= 65535) or (name == "--port" and port == 0):
                raise ValueError(f"{name} must be a port number between 1 and 65535, not {port}")
        if self.replica_base_port and self.replica_base_port + self.replicas - 1 > 65535:
            raise ValueError(f"--replica-base-port {self.replica_base_port} leaves no room for {self.replicas} replicas")
        if self.threads < 0:
            raise ValueError(f"--threads must be 0 (automatic) or more, not {self.threads}")


def max_upload_mb(config_path: Path = STREAMLIT_CONFIG) -> int:
    """The app's upload limit in MB: server.maxUploadSize of .streamlit/config.toml, else Streamlit's default."""
    if not config_path.exists():
        return STREAMLIT_DEFAULT_UPLOAD_MB
    if tomllib is not None:
        with config_path.open("rb") as file:
            return int(tomllib.load(file).get("server", {}).get("maxUploadSize", STREAMLIT_DEFAULT_UPLOAD_MB))
    return _max_upload_mb_by_hand(config_path.read_text())


def _max_upload_mb_by_hand(text: str) -> int:
    """server.maxUploadSize from TOML text without a TOML parser: the key inside the [server] table."""
    section = ""
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("["):
            section = line.strip("[] ")
        elif section == "server" and (found := re.fullmatch(r"maxUploadSize\s*=\s*(\d+)", line)):
            return int(found.group(1))
    return STREAMLIT_DEFAULT_UPLOAD_MB


def nginx_config(replica_ports: list[int], address: str, port: int, prefix: Path, upload_mb: int) -> str:
    """nginx.conf for `replica_ports` on 127.0.0.1, listening on address:port, every path under `prefix`."""
    if not replica_ports:
        raise ValueError("nginx needs at least one replica to send sessions to")
    servers = "\n".join(f"        server 127.0.0.1:{replica} max_fails=3 fail_timeout=10s;" for replica in replica_ports)
    listen = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    return string.Template(TEMPLATE.read_text(encoding="utf-8")).substitute(
        prefix=str(prefix), servers=servers, listen=listen, max_body_mb=upload_mb + MULTIPART_ROOM_MB)


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def replica_command(port: int) -> list[str]:
    """One replica: the lab as `bash scripts/lab` starts it, on 127.0.0.1 only (nginx is the way in)."""
    return [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.headless", "true",
            "--server.port", str(port), "--server.address", "127.0.0.1"]


def replica_environment(cookie_secret: str, threads: int, chosen: bool = False) -> dict[str, str]:
    """The replica's environment: the shared cookie secret (Streamlit refuses it as a flag) and its torch
    threads, which replace an OMP_NUM_THREADS already set only when `chosen` (given as --threads)."""
    environment = {**os.environ, "STREAMLIT_SERVER_COOKIE_SECRET": cookie_secret, "PYTHONUNBUFFERED": "1",
                   "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    if chosen or not environment.get("OMP_NUM_THREADS"):
        environment["OMP_NUM_THREADS"] = str(threads)
    return environment


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when deploy/serve dies, even by SIGKILL (Linux prctl)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: Ctrl-C and SIGTERM still stop everything through deploy/serve itself


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants alive now (nginx's workers are its master's children), from /proc."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            children = [int(child) for task in Path(f"/proc/{current}/task").iterdir()
                        for child in (task / "children").read_text().split()]
        except OSError:  # gone already
            continue
        found.append(current)
        todo += children
    return found


def healthy(url: str) -> bool:
    try:
        with _OPENER.open(url + HEALTH, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class Deployment:
    """The replicas and nginx of one `deploy/serve`, as a context manager that stops all it started."""

    def __init__(self, settings: Settings, say=print) -> None:
        self.settings = settings
        self.say = say
        self.cookie_secret = settings.cookie_secret or secrets.token_hex(32)
        self.threads = settings.threads or max(1, (os.cpu_count() or 1) // settings.replicas)
        self.replica_ports: list[int] = []
        self.replicas: dict[int, subprocess.Popen] = {}
        self.nginx: subprocess.Popen | None = None
        self.restarts = 0
        self._own_folder = not settings.log_dir
        self.folder = Path(settings.log_dir or tempfile.mkdtemp(prefix="lab-serve-")).resolve()
        self._logs: list = []

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.settings.address in ("0.0.0.0", "::") else self.settings.address
        return f"http://{host}:{self.settings.port}"

    @property
    def access_log(self) -> Path:
        return self.folder / "access.log"

    def pids(self) -> list[int]:
        """Every process started, nginx's master first (its workers are its own children)."""
        processes = ([self.nginx] if self.nginx else []) + list(self.replicas.values())
        return [process.pid for process in processes]

    def __enter__(self) -> "Deployment":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        nginx = shutil.which(self.settings.nginx) or shutil.which(self.settings.nginx, path="/usr/sbin:/sbin")
        if nginx is None:
            raise ValueError(f"nginx not found ({self.settings.nginx}): install it with `apt-get install -y nginx`")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o755)  # nginx's workers run as 'nobody' under root and write their temp files here
        base = self.settings.replica_base_port
        self.replica_ports = ([base + number for number in range(self.settings.replicas)] if base
                              else [free_port() for _ in range(self.settings.replicas)])
        for port in self.replica_ports:
            self._start_replica(port)
        self._wait(lambda: all(healthy(f"http://127.0.0.1:{port}") for port in self.replica_ports),
                   f"{self.settings.replicas} replicas")
        if self.settings.warm:
            self._warm()
        config = self.folder / "nginx.conf"
        config.write_text(nginx_config(self.replica_ports, self.settings.address, self.settings.port, self.folder,
                                       max_upload_mb()), encoding="utf-8")
        command = [nginx, "-p", str(self.folder), "-c", str(config), "-e", str(self.folder / "error.log"),
                   "-g", "daemon off;"]
        self.nginx = subprocess.Popen(command, stdout=self._log("nginx.out"), stderr=subprocess.STDOUT,
                                      start_new_session=True, preexec_fn=_die_with_parent)
        self._wait(lambda: healthy(self.url), "nginx")

    def _log(self, name: str):
        log = open(self.folder / name, "a", encoding="utf-8")
        self._logs.append(log)
        return log

    def _start_replica(self, port: int) -> None:
        # Its own session (process group): a Ctrl-C reaches deploy/serve alone, which stops nginx first.
        self.replicas[port] = subprocess.Popen(
            replica_command(port), cwd=ROOT,
            env=replica_environment(self.cookie_secret, self.threads, chosen=bool(self.settings.threads)),
            stdout=self._log(f"replica-{port}.log"), stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent)

    def _wait(self, ready, what: str) -> None:
        deadline = time.monotonic() + self.settings.health_timeout
        while not ready():
            dead = [port for port, process in self.replicas.items() if process.poll() is not None]
            if dead or (self.nginx and self.nginx.poll() is not None):
                which = f"replica on port {dead[0]}" if dead else "nginx"
                raise RuntimeError(f"the {which} exited while starting: see its log in {self.folder}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not answer {HEALTH} within {self.settings.health_timeout:.0f} s "
                                   f"(logs in {self.folder})")
            time.sleep(0.25)

    def _warm(self) -> None:
        """Load each replica's trained networks now, so the first student does not wait for them."""
        from deploy import load  # streamlit's protobufs: imported only when warming

        for port in self.replica_ports:
            result = load.run_sessions(f"http://127.0.0.1:{port}", 1, timeout=self.settings.health_timeout)[0]
            if result.problem:
                self.say(f"warning: replica on port {port} did not draw the Attention page: {result.problem}")

    def check(self) -> None:
        """Restart a replica that exited; nginx exiting ends the deployment (RuntimeError)."""
        if self.nginx and self.nginx.poll() is not None:
            raise RuntimeError(f"nginx exited with code {self.nginx.returncode}: see {self.folder / 'error.log'}")
        for port, process in list(self.replicas.items()):
            if process.poll() is not None:
                self.restarts += 1
                self.say(f"replica on port {port} exited with code {process.returncode}; starting it again")
                self._start_replica(port)

    def stop(self, grace: float = 20.0) -> None:
        """nginx first (no new requests), then the replicas; SIGKILL for whatever outlives `grace` seconds."""
        processes = ([self.nginx] if self.nginx else []) + list(self.replicas.values())
        for process in processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + grace
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self._logs:
            log.close()
        self._logs.clear()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)


def _environment_default(name: str, default, kind=str):
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        return kind(value)
    except ValueError:
        expected = {int: "a whole number", _flag: "yes or no"}.get(kind, "another value")
        raise ValueError(f"{name}={value!r}: {expected} expected") from None


def _flag(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{value!r} is not yes or no")


def parse_arguments(argv: list[str] | None = None) -> Settings:
    """Settings from flags, then LAB_* environment variables, then the defaults."""
    defaults = Settings()
    parser = argparse.ArgumentParser(
        prog="deploy/serve", description="Serve the lab to a school: N replicas of the app behind nginx on one address.",
        epilog="Each flag's environment variable is in brackets; a flag wins over it.")
    parser.add_argument("--replicas", type=int, help=f"app processes [LAB_REPLICAS, default {defaults.replicas}]")
    parser.add_argument("--port", type=int, help=f"the address's port, served by nginx [LAB_PORT, default {defaults.port}]")
    parser.add_argument("--address", help=f"nginx listens on this interface [LAB_ADDRESS, default {defaults.address}: all]")
    parser.add_argument("--replica-base-port", type=int,
                        help="replicas on this port and the next ones, on 127.0.0.1 [LAB_REPLICA_BASE_PORT, default: free ports]")
    parser.add_argument("--threads", type=int,
                        help="torch threads in each replica [LAB_THREADS, default: the cores divided by the replicas]")
    parser.add_argument("--nginx", help=f"the nginx program [LAB_NGINX, default {defaults.nginx}]")
    parser.add_argument("--log-dir", help="keep nginx's and the replicas' logs here [LAB_LOG_DIR, default: a temporary "
                                          "folder removed at the end]")
    parser.add_argument("--no-warm", action="store_true",
                        help="skip opening the Attention page once on each replica before nginx opens [LAB_WARM=no]")
    arguments = parser.parse_args(argv)
    warm = _environment_default("LAB_WARM", defaults.warm, _flag) and not arguments.no_warm

    def pick(flag, variable: str, default, kind=str):
        return flag if flag is not None else _environment_default(variable, default, kind)

    return Settings(
        replicas=pick(arguments.replicas, "LAB_REPLICAS", defaults.replicas, int),
        port=pick(arguments.port, "LAB_PORT", defaults.port, int),
        address=pick(arguments.address, "LAB_ADDRESS", defaults.address),
        replica_base_port=pick(arguments.replica_base_port, "LAB_REPLICA_BASE_PORT", defaults.replica_base_port, int),
        threads=pick(arguments.threads, "LAB_THREADS", defaults.threads, int),
        nginx=pick(arguments.nginx, "LAB_NGINX", defaults.nginx),
        cookie_secret=os.environ.get("STREAMLIT_SERVER_COOKIE_SECRET", ""),
        warm=warm,
        log_dir=pick(arguments.log_dir, "LAB_LOG_DIR", defaults.log_dir),
    )


def _stop_on_signal(signal_number, frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signal_number).name)


def main(argv: list[str] | None = None) -> int:
    try:
        settings = parse_arguments(argv)
    except ValueError as error:
        print(f"deploy/serve: {error}", file=sys.stderr)
        return 2
    for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(number, _stop_on_signal)
    deployment = Deployment(settings)
    status = 0
    try:
        print(f"starting {settings.replicas} replica(s) and nginx…", flush=True)
        deployment.start()
        ports = ", ".join(map(str, deployment.replica_ports))
        print(f"EfficientNet Scaling Lab: {deployment.url} ({settings.replicas} replica(s) on 127.0.0.1:{ports}, "
              f"nginx on {settings.address}:{settings.port}; logs in {deployment.folder})", flush=True)
        print("Ctrl-C stops everything.", flush=True)
        while True:
            deployment.check()
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    except (ValueError, RuntimeError, OSError) as error:
        print(f"deploy/serve: {error}", file=sys.stderr)
        status = 1
    finally:
        for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(number, signal.SIG_IGN)  # a second Ctrl-C must not cut the stopping short
        print("stopping nginx and every replica…", flush=True)
        deployment.stop()
        print("stopped.", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())

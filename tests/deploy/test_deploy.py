"""deploy/serve: the lab's replicas behind nginx, checked for real on 127.0.0.1.

nginx itself judges the generated configuration (`nginx -t`); the running deployment is driven by
deploy/load.py's protocol-level client (no browser on the server's cores); nginx's own access log
says which replica held each websocket. Tests that need nginx skip without it, with the install hint.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # `deploy` is a folder of the repository, not an installed package

from deploy import load, serve  # noqa: E402
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx not found (apt-get install -y nginx)")
MIB = 2**20


def test_settings_refuse_impossible_values_in_one_line():
    for bad, words in (({"replicas": 0}, "--replicas"), ({"port": 70000}, "--port"),
                       ({"replica_base_port": 65535, "replicas": 2}, "no room")):
        with pytest.raises(ValueError, match=words) as error:
            serve.Settings(**bad)
        assert "\n" not in str(error.value)


def test_flags_win_over_environment_and_environment_over_defaults(monkeypatch):
    monkeypatch.setenv("LAB_REPLICAS", "3")
    monkeypatch.setenv("LAB_PORT", "9090")
    monkeypatch.setenv("LAB_WARM", "no")
    settings = serve.parse_arguments(["--port", "8181"])
    assert (settings.replicas, settings.port, settings.warm) == (3, 8181, False)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # the user's own setting stays unless --threads says otherwise
    assert serve.replica_environment("secret", 1)["OMP_NUM_THREADS"] == "7"
    assert serve.replica_environment("secret", 1, chosen=True)["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("LAB_REPLICAS", "many")
    with pytest.raises(ValueError, match="LAB_REPLICAS='many'"):
        serve.parse_arguments([])


def test_serve_says_what_is_wrong_without_a_traceback():
    result = subprocess.run(["deploy/serve", "--replicas", "0"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "--replicas must be between 1 and 64" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_unique_photo_has_the_sample_pixels_and_other_bytes():
    from PIL import Image

    name, data = load.unique_photo(7, "run-a")
    sample = load.SAMPLE.read_bytes()
    assert name == "student-7.jpg"
    assert hashlib.sha256(data).hexdigest() != hashlib.sha256(sample).hexdigest()
    assert load.unique_photo(7, "run-b")[1] != data  # another run's photo is new to the server too
    with Image.open(io.BytesIO(data)) as changed, Image.open(load.SAMPLE) as original:
        assert changed.tobytes() == original.tobytes()


def test_capacity_percentile_is_the_nearest_rank():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from capacity import percentile

    # Nearest rank: the ceil(0.95 n)-th smallest value, counted by hand.
    assert percentile(list(range(1, 61)), 0.95) == 57
    assert percentile(list(range(1, 11)), 0.95) == 10
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0


@needs_nginx
def test_nginx_accepts_the_generated_configuration(tmp_path):
    config = tmp_path / "nginx.conf"
    config.write_text(serve.nginx_config([18501, 18502], "127.0.0.1", 18080, tmp_path, serve.max_upload_mb()))
    result = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(config), "-e", str(tmp_path / "error.log")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """`deploy/serve --replicas 2` (the executable) on 127.0.0.1, its logs kept in a temporary folder."""
    if NGINX is None:
        pytest.skip("nginx not found (apt-get install -y nginx)")
    logs = tmp_path_factory.mktemp("serve")
    port = _free_port()
    output = open(logs / "serve.out", "w")
    process = subprocess.Popen(
        ["deploy/serve", "--replicas", "2", "--port", str(port), "--address", "127.0.0.1", "--no-warm",
         "--log-dir", str(logs)],
        cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
        env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
    )
    url = f"http://127.0.0.1:{port}"
    try:  # whatever fails from here on, deploy/serve is stopped (and stops its children) at the end
        deadline = time.monotonic() + 180
        while "Ctrl-C stops everything" not in (logs / "serve.out").read_text() or not serve.healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"deploy/serve did not answer on {url}: {(logs / 'serve.out').read_text()[-2000:]}")
            time.sleep(0.25)
        printed = (logs / "serve.out").read_text()
        ports = [int(p) for p in re.search(r"on 127\.0\.0\.1:([\d, ]+), nginx", printed).group(1).split(", ")]
        yield {"process": process, "url": url, "logs": logs, "replica_ports": ports, "printed": printed}
    finally:
        if process.poll() is None:
            process.terminate()  # its own clean stop: nginx and the replicas go with it
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()  # the children still get SIGTERM (PR_SET_PDEATHSIG)
                process.wait()
        output.close()


def _websockets_per_replica(access_log: Path) -> dict[str, int]:
    """Upgraded websockets (status 101) by the replica nginx sent them to, from nginx's own log."""
    counts: dict[str, int] = {}
    for line in access_log.read_text().splitlines():
        match = re.search(r'"GET /_stcore/stream HTTP/1\.1" 101 .* upstream=(\S+)', line)
        if match:
            counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    return counts


def test_a_classroom_through_nginx_reaches_both_replicas(deployment):
    printed, url = deployment["printed"], deployment["url"]
    assert url in printed  # the address is printed
    # Six students at once, each uploading a photo new to the lab: three Grad-CAM maps each.
    results = load.run_sessions(url, 6, unique=True, timeout=150)
    assert [result.problem for result in results] == [""] * 6
    assert all(result.images_fetched == load.PANELS for result in results)
    # Sticky sessions hash each session's random cookie: 8 sessions all land on one replica with
    # probability about 1/128, so a few more light sessions (the cached sample) settle it.
    for _ in range(4):
        if len(_websockets_per_replica(deployment["logs"] / "access.log")) >= 2:
            break
        more = load.run_sessions(url, 4, timeout=120)
        assert [result.problem for result in more] == [""] * 4
    time.sleep(1.0)  # nginx writes a websocket's line when it closes
    counts = _websockets_per_replica(deployment["logs"] / "access.log")
    assert set(counts) == {f"127.0.0.1:{port}" for port in deployment["replica_ports"]}, counts
    log = (deployment["logs"] / "access.log").read_text()
    assert not re.search(r'" 5\d\d ', log), "nginx answered a server error"
    for port in deployment["replica_ports"]:
        assert "Traceback" not in (deployment["logs"] / f"replica-{port}.log").read_text()


def _status_of_put(url: str, content_length: int) -> int:
    """The status nginx answers to an upload announced at `content_length` bytes (the body never sent)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall((f"PUT /_stcore/upload_file/no-session/no-file HTTP/1.1\r\nHost: {host}:{port}\r\n"
                            f"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {content_length}\r\n"
                            "Connection: close\r\n\r\n").encode())
        return int(connection.recv(200).split()[1])


def test_uploads_up_to_the_apps_limit_pass_nginx(deployment):
    # .streamlit/config.toml: maxUploadSize = 300 (MB, Streamlit counts MiB), and Streamlit allows 1 MiB
    # of multipart framing on top. Below that nginx passes the request on, and Streamlit refuses
    # this unauthenticated one itself (403: no XSRF token); above it nginx answers 413.
    limit = (300 + 1) * MIB
    assert _status_of_put(deployment["url"], limit) == 403
    assert _status_of_put(deployment["url"], limit + 1) == 413


def test_a_replica_that_dies_is_started_again(deployment):
    port = deployment["replica_ports"][0]
    tree = serve.process_tree(deployment["process"].pid)
    replica = next(pid for pid in tree[1:] if f"--server.port\0{port}\0".encode() in Path(f"/proc/{pid}/cmdline").read_bytes())
    os.kill(replica, signal.SIGKILL)
    deadline = time.monotonic() + 120
    while "starting it again" not in (deployment["logs"] / "serve.out").read_text() or not serve.healthy(
            f"http://127.0.0.1:{port}"):
        assert time.monotonic() < deadline, "the replica was not started again"
        time.sleep(0.25)
    assert f"replica on port {port} exited with code -9" in (deployment["logs"] / "serve.out").read_text()
    assert replica not in serve.process_tree(deployment["process"].pid)
    results = load.run_sessions(f"http://127.0.0.1:{port}", 1, timeout=120)  # the new replica draws the page
    assert results[0].problem == ""


def test_sigterm_stops_every_process_it_started(deployment):
    process = deployment["process"]
    started = serve.process_tree(process.pid)
    names = sorted(Path(f"/proc/{pid}/comm").read_text().strip() for pid in started[1:])
    assert names.count("nginx") == 2 and len(names) == 4, names  # nginx master + worker, 2 replicas
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    time.sleep(0.5)
    alive = [pid for pid in started if Path(f"/proc/{pid}").exists()
             and "zombie" not in Path(f"/proc/{pid}/status").read_text()]
    assert alive == []
    assert not serve.healthy(deployment["url"])
    assert "stopped." in (deployment["logs"] / "serve.out").read_text()


def test_the_upload_limit_reads_the_same_without_a_toml_parser():
    """Python 3.10 has no tomllib: the hand reader finds the real config's server.maxUploadSize (300 MB)
    and only inside [server]."""
    text = serve.STREAMLIT_CONFIG.read_text()
    assert serve._max_upload_mb_by_hand(text) == serve.max_upload_mb() == 300
    assert serve._max_upload_mb_by_hand("[client]\nmaxUploadSize = 5\n[server]\nport = 1  # maxUploadSize = 7\n") == 200

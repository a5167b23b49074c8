"""Fetching torchvision's weights through the real code path, from a local HTTP server on 127.0.0.1.

Only the registry (effnet.fetch.torchvision_url) and the torch cache folder are redirected; the
transfer, the resumption, torchvision's hash check and the final rename are the code users run.
Nothing leaves this machine.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import threading
from pathlib import Path

import pytest
import torch

from effnet import cli, fetch


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves FILES[path]; honours Range; with CUT set, the first full response stops halfway."""

    files: dict[str, bytes] = {}
    log: list[tuple[str, str | None]] = []
    cut_first = False

    def do_GET(self):  # noqa: N802 - http.server's name
        body = self.files.get(self.path)
        self.log.append((self.path, self.headers.get("Range")))
        if body is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if type(self).cut_first and not start:
            type(self).cut_first = False
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(2)  # the transfer breaks halfway
            return
        self.wfile.write(body[start:])

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def server():
    _Handler.files, _Handler.log, _Handler.cut_first = {}, [], False
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub" / "checkpoints"


def _weights_file(seed: int = 0) -> tuple[bytes, str]:
    """A small state dict saved by torch.save and the torchvision-style name its hash gives it."""
    import io

    buffer = io.BytesIO()
    torch.manual_seed(seed)
    torch.save({"weight": torch.randn(300, 300)}, buffer)  # about 360 kB: several chunks
    data = buffer.getvalue()
    return data, f"efficientnet_b0_test-{hashlib.sha256(data).hexdigest()[:8]}.pth"


def _serve(server, monkeypatch, name: str, data: bytes | None) -> str:
    if data is not None:
        _Handler.files[f"/models/{name}"] = data
    url = f"http://127.0.0.1:{server.server_address[1]}/models/{name}"
    monkeypatch.setattr(fetch, "torchvision_url", lambda preset: url)
    return url


def test_fetch_downloads_checks_the_hash_and_lands_in_the_torch_cache(server, cache, monkeypatch):
    data, name = _weights_file()
    _serve(server, monkeypatch, name, data)
    seen = []
    path = fetch.fetch("b0", progress=lambda fraction, text: seen.append(fraction))
    assert path == cache / name and path.read_bytes() == data
    assert not list(cache.glob("*.partial"))
    assert seen and seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
    assert torch.equal(torch.load(path, weights_only=True)["weight"], torch.load(__import__("io").BytesIO(data))["weight"])
    requests = len(_Handler.log)
    assert fetch.fetch("b0") == path and len(_Handler.log) == requests  # already here: no second download


def test_a_broken_transfer_is_resumed_with_a_range_request(server, cache, monkeypatch):
    data, name = _weights_file(1)
    _serve(server, monkeypatch, name, data)
    _Handler.cut_first = True
    path = fetch.fetch("b0")
    assert path.read_bytes() == data
    assert _Handler.log[0][1] is None and _Handler.log[1][1].startswith("bytes=")  # the second asks for the rest
    assert int(_Handler.log[1][1].removeprefix("bytes=").rstrip("-")) > 0


def test_a_damaged_file_fails_torchvisions_hash_check_and_is_deleted(server, cache, monkeypatch):
    data, name = _weights_file(2)
    _serve(server, monkeypatch, name, data[:-10] + b"0123456789")  # same name, other bytes
    with pytest.raises(fetch.FetchError, match="damaged"):
        fetch.fetch("b0")
    assert not list(cache.iterdir())


def test_offline_is_one_line_naming_the_file_and_where_to_copy_it(cache, monkeypatch, capsys):
    import socket

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens here: the connection is refused, as with no network
    url = f"http://127.0.0.1:{port}/models/efficientnet_b0_rwightman-7f5810bc.pth"
    monkeypatch.setattr(fetch, "torchvision_url", lambda preset: url)
    assert cli.main(["weights", "fetch", "b0"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and url in err and str(cache / "efficientnet_b0_rwightman-7f5810bc.pth") in err


def test_fetch_refuses_unknown_names_before_downloading(capsys):
    assert cli.main(["weights", "fetch", "b0", "lite0"]) == 2
    assert "lite0" in capsys.readouterr().err
    assert cli.main(["weights", "fetch"]) == 2


def test_list_json_with_and_without_the_files(cache, monkeypatch, capsys):
    assert cli.main(["weights", "list", "--json"]) == 0
    before = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert {"lite0", "lite1", "lite2", "b0", "b7"} <= set(before)
    assert all(before[n]["available"] for n in ("lite0", "lite1", "lite2"))
    assert not before["b0"]["available"] and before["b0"]["fetch_command"] == "python -m effnet weights fetch b0"
    assert before["b0"]["url"].startswith("https://download.pytorch.org/models/") and before["b0"]["top1"] == pytest.approx(77.692)
    assert before["b7"]["size_bytes"] > 250 * 2**20

    cache.mkdir(parents=True)
    torch.save({}, cache / os.path.basename(before["b0"]["url"]))  # a file where torchvision keeps B0's
    assert cli.main(["weights", "list", "--json"]) == 0
    after = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert after["b0"]["available"] and after["b0"]["fetch_command"] is None
    assert Path(after["b0"]["path"]) == cache / os.path.basename(before["b0"]["url"])
    assert not after["b1"]["available"]

"""A light Streamlit client: what a browser does to open the Attention page, without a browser.

A browser on the server's own cores costs more CPU than the session it measures (20 Chromium pages
on the 2 cores of the classroom benchmark). This client speaks Streamlit's own protocol instead, the
way the browser's JavaScript does, in a few kilobytes of memory per session:

1. GET `/attention` (the HTML page) and `/_stcore/health` (which sets the `_streamlit_xsrf` cookie);
2. open the websocket `/_stcore/stream` with that cookie and token, and send a `rerun_script`
   BackMsg for the page `attention`;
3. read the ForwardMsgs until the run's `script_finished`: the page is "served" when that run drew
   three Grad-CAM panels (an image and a "Target:" line each: what benchmarks/classroom.py waits for
   in Chromium) and no exception or error box;
4. GET each panel's image (`/media/...`) with the session's cookie, as the browser would.

With `unique=True` the session then uploads its own photo, through the same steps as the browser's
file uploader (a `file_urls_request`, a PUT of the file, a rerun carrying the uploader's state), and
is served when the panels of that photo are drawn. The photo is the sample cat with a JPEG comment
naming the session: the pixels are the same, the bytes are not, and the lab's caches are keyed by
the file's SHA-256, so every session costs three real Grad-CAM computations.

Not done: the page's JavaScript and CSS (a browser caches them after the first visit) and the
browser's own rendering. Used by benchmarks/capacity.py and tests/test_deploy.py.
"""

from __future__ import annotations

import asyncio
import http.cookies
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "assets" / "chelsea.jpg"
PANELS = 3  # the default comparison: trained Lite0, Lite1, Lite2
XSRF_COOKIE = "_streamlit_xsrf"
# Only localhost traffic and no proxy from the environment: the benchmark talks to its own servers.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class SessionResult:
    """One session: seconds from its first request to its panels (None when it failed) and why not."""

    number: int
    seconds: float | None = None
    problem: str = ""
    images_fetched: int = 0


@dataclass
class _Run:
    """What one script run drew, counted as a browser would see it."""

    panels_text: int = 0  # "Target: ..." lines
    image_urls: list[str] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)
    problem: str = ""
    finished: bool = False


def unique_photo(number: int, tag: str = "") -> tuple[str, bytes]:
    """The sample cat with a JPEG comment (COM segment) naming session `number` and the run's `tag`:
    other bytes, same pixels, so a server that has seen earlier runs still computes it anew."""
    data = SAMPLE.read_bytes()
    comment = f"capacity benchmark session {number} {tag}".encode()
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return f"student-{number}.jpg", data[:2] + segment + data[2:]


def _request(url: str, cookie: str = "", method: str = "GET", body: bytes | None = None,
             headers: dict[str, str] | None = None, timeout: float = 60.0) -> tuple[int, list[str], bytes]:
    """(status, Set-Cookie headers, body) of one HTTP request; HTTP errors are returned, not raised."""
    request = urllib.request.Request(url, data=body, method=method,
                                     headers={**({"Cookie": cookie} if cookie else {}), **(headers or {})})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, response.headers.get_all("Set-Cookie") or [], response.read()
    except urllib.error.HTTPError as error:
        return error.code, [], error.read()


def _multipart(name: str, data: bytes) -> tuple[str, bytes]:
    """(content type, body) of a form with one file field, as the browser's uploader sends it."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


class _Session:
    """One browser-like session on `base_url` (http://host:port); HTTP calls run on `pool`'s threads."""

    def __init__(self, base_url: str, number: int, pool: ThreadPoolExecutor, tag: str = "") -> None:
        self.base_url = base_url.rstrip("/")
        self.tag = tag
        self.number = number
        self.pool = pool
        self.xsrf = ""

    async def http(self, path: str, method: str = "GET", body: bytes | None = None,
                   headers: dict[str, str] | None = None) -> tuple[int, list[str], bytes]:
        """One request with the session's cookie, on a pool thread (urllib blocks; the websockets do not)."""
        cookie = f"{XSRF_COOKIE}={self.xsrf}" if self.xsrf else ""
        return await asyncio.get_running_loop().run_in_executor(
            self.pool, lambda: _request(self.base_url + path, cookie, method, body, headers))

    async def handshake(self) -> None:
        """The page and the health check, as the browser loads them; keeps the XSRF cookie."""
        status, _, _ = await self.http("/attention")
        if status != 200:
            raise RuntimeError(f"GET /attention answered {status}")
        status, set_cookies, _ = await self.http("/_stcore/health")
        if status != 200:
            raise RuntimeError(f"GET /_stcore/health answered {status}")
        cookies = http.cookies.SimpleCookie()
        for header in set_cookies:
            cookies.load(header)
        if XSRF_COOKIE in cookies:
            self.xsrf = cookies[XSRF_COOKIE].value

    async def read_run(self, socket, run: _Run, state: dict) -> None:
        """ForwardMsgs until `run` finishes; a `new_session` message starts a new run and resets it."""
        while not run.finished:
            message = ForwardMsg()
            message.ParseFromString(await socket.recv())
            kind = message.WhichOneof("type")
            if kind == "new_session":
                state["session_id"] = message.new_session.initialize.session_id or state.get("session_id", "")
                run.__init__()  # a new run starts: forget what the previous one drew
            elif kind == "page_not_found":
                run.problem = "page not found"
            elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                element = message.delta.new_element
                which = element.WhichOneof("type")
                if which == "markdown" and element.markdown.body.startswith("Target:"):
                    run.panels_text += 1
                elif which == "imgs":
                    run.image_urls += [image.url for image in element.imgs.imgs]
                elif which == "heading":
                    run.headings.append(element.heading.body.replace("\\", ""))  # markdown escapes
                elif which == "file_uploader":
                    state["uploader_id"] = element.file_uploader.id
                elif which == "exception":
                    run.problem = f"exception: {element.exception.type}: {element.exception.message}"[:200]
                elif which == "alert" and element.alert.format == Alert.ERROR:
                    run.problem = f"error: {element.alert.body}"[:200]
            elif kind == "script_finished":
                if message.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                    run.finished = True
            elif kind == "file_urls_response":
                state["file_urls"] = message.file_urls_response

    async def upload(self, socket, state: dict, name: str, data: bytes) -> None:
        """The browser uploader's steps: ask for upload URLs, PUT the file, rerun with the uploader's state."""
        request = BackMsg()
        request.file_urls_request.request_id = uuid.uuid4().hex
        request.file_urls_request.file_names.append(name)
        request.file_urls_request.session_id = state["session_id"]
        await socket.send(request.SerializeToString())
        while "file_urls" not in state:  # the first run is over: other messages here are of no interest
            message = ForwardMsg()
            message.ParseFromString(await socket.recv())
            if message.WhichOneof("type") == "file_urls_response":
                state["file_urls"] = message.file_urls_response
        response = state["file_urls"]
        if response.error_msg or not response.file_urls:
            raise RuntimeError(f"no upload URL: {response.error_msg or 'empty answer'}")
        urls = response.file_urls[0]
        content_type, body = _multipart(name, data)
        status, _, answer = await self.http(urls.upload_url, method="PUT", body=body,
                                            headers={"Content-Type": content_type, "X-Xsrftoken": self.xsrf})
        if status not in (200, 204):
            raise RuntimeError(f"upload answered {status}: {answer[:120].decode(errors='replace')}")
        rerun = BackMsg()
        rerun.rerun_script.page_name = "attention"
        widget = rerun.rerun_script.widget_states.widgets.add()
        widget.id = state["uploader_id"]
        info = widget.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = name, len(data), urls.file_id
        info.file_urls.CopyFrom(urls)
        await socket.send(rerun.SerializeToString())

    async def open_attention(self, unique: bool) -> SessionResult:
        result = SessionResult(self.number)
        started = time.monotonic()
        await self.handshake()
        socket_url = "ws" + self.base_url.removeprefix("http") + "/_stcore/stream"
        subprotocols = ["streamlit", self.xsrf] if self.xsrf else ["streamlit"]
        headers = {"Cookie": f"{XSRF_COOKIE}={self.xsrf}"} if self.xsrf else {}
        async with connect(socket_url, subprotocols=subprotocols, origin=self.base_url, additional_headers=headers,
                           max_size=None, open_timeout=60, ping_interval=None) as socket:
            first = BackMsg()
            first.rerun_script.page_name = "attention"
            await socket.send(first.SerializeToString())
            state: dict = {}
            run = _Run()
            await self.read_run(socket, run, state)
            if unique and not run.problem:
                name, data = unique_photo(self.number, self.tag)
                await self.upload(socket, state, name, data)
                while True:  # the run that draws the upload is the one that names it in a heading
                    run = _Run()
                    await self.read_run(socket, run, state)
                    if run.problem or name in " ".join(run.headings):
                        break
            if run.problem:
                result.problem = run.problem
                return result
            if run.panels_text < PANELS or len(run.image_urls) < PANELS:
                result.problem = f"{run.panels_text} panels and {len(run.image_urls)} images instead of {PANELS}"
                return result
            for url in run.image_urls:
                status, _, body = await self.http(url)
                if status != 200 or not body:
                    result.problem = f"GET {url} answered {status}"
                    return result
                result.images_fetched += 1
            result.seconds = time.monotonic() - started
        return result


async def _one(base_url: str, number: int, pool: ThreadPoolExecutor, unique: bool, delay: float,
               timeout: float, tag: str) -> SessionResult:
    await asyncio.sleep(delay)
    try:
        return await asyncio.wait_for(_Session(base_url, number, pool, tag).open_attention(unique), timeout)
    except asyncio.TimeoutError:
        return SessionResult(number, problem=f"no panels after {timeout:.0f} s")
    except Exception as error:  # noqa: BLE001 - any failure of one session is that session's result
        return SessionResult(number, problem=f"{type(error).__name__}: {error}"[:200])


def run_sessions(base_url: str, sessions: int, unique: bool = False, ramp_seconds: float = 0.0,
                 timeout: float = 300.0) -> list[SessionResult]:
    """Open the Attention page in `sessions` sessions, started evenly over `ramp_seconds` (0: all at once)."""
    if sessions < 1:
        raise ValueError(f"sessions must be at least 1, not {sessions}")
    step = ramp_seconds / sessions if ramp_seconds > 0 else 0.0
    tag = uuid.uuid4().hex[:12]  # this run's photos are new to the server even after earlier runs

    async def everyone() -> list[SessionResult]:
        with ThreadPoolExecutor(max_workers=sessions + 2, thread_name_prefix="session-http") as pool:
            return await asyncio.gather(*(_one(base_url, number, pool, unique, number * step, timeout, tag)
                                          for number in range(sessions)))

    return asyncio.run(everyone())

"""A classroom at once: N browser sessions open the Attention page of one server together.

Starts `streamlit run app/main.py` on a free localhost port, opens N Chromium pages at the same
moment (Playwright's async API, Debian's /usr/bin/chromium), each loading the Attention page, which
runs the trained Lite0 -> Lite1 -> Lite2 Grad-CAM comparison on a sample photo at once on the shared,
cached models. Prints, per session, the seconds until its three panels showed, and fails (exit 1) if
any session saw an error, a traceback or no panels, or if the server died.

    python benchmarks/classroom.py --sessions 12

Only localhost traffic: the pages' other requests are aborted. Not a test: the figures depend on the
machine, and N browsers on 2 cores take a while.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SAMPLES = ("chelsea.jpg", "coffee.jpg", "astronaut.jpg")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"streamlit exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"streamlit did not answer within {timeout:.0f} s")


async def session(browser, url: str, number: int, timeout_s: float) -> tuple[int, float | None, str]:
    """(session number, seconds until 3 panels, problem or '')."""
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    await page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url) else route.abort())
    started = time.monotonic()
    try:
        await page.goto(f"{url}/attention", timeout=timeout_s * 1000)
        if number % len(SAMPLES):  # spread the sessions over the three sample photos
            box = page.locator("[data-testid=stSelectbox]").filter(has_text="sample photo")
            await box.click(timeout=timeout_s * 1000)
            await page.get_by_role("option", name=SAMPLES[number % len(SAMPLES)]).click(timeout=timeout_s * 1000)
        deadline = started + timeout_s
        while time.monotonic() < deadline:
            text = await page.locator("[data-testid=stMain]").inner_text()
            if "Traceback" in text or await page.locator("[data-testid=stException]").count():
                return number, None, "traceback on the page"
            if await page.locator("[data-testid=stAlertContentError]").count():
                return number, None, "error: " + (await page.locator("[data-testid=stAlertContentError]").first.inner_text())
            if text.count("Target:") >= 3 and "Running" not in (await page.title()):
                return number, time.monotonic() - started, ""
            await asyncio.sleep(0.5)
        return number, None, f"no panels after {timeout_s:.0f} s"
    finally:
        await context.close()


async def classroom(url: str, sessions: int, timeout_s: float) -> list[tuple[int, float | None, str]]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            return await asyncio.gather(*(session(browser, url, n, timeout_s) for n in range(sessions)))
        finally:
            await browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds each session may take")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"Chromium not found at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 2
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(ROOT / "benchmarks" / "classroom-server.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(url, server)
        started = time.monotonic()
        results = asyncio.run(classroom(url, args.sessions, args.timeout))
        wall = time.monotonic() - started
        alive = server.poll() is None
    finally:
        server.terminate()
        server.wait(timeout=30)
    times = [seconds for _, seconds, problem in results if not problem]
    problems = [(n, problem) for n, _, problem in results if problem]
    print(f"{args.sessions} sessions at once on one server ({'alive' if alive else 'DIED'} at the end), {wall:.1f} s in all")
    if times:
        print(f"seconds until a session's 3 Grad-CAM panels showed: median {statistics.median(times):.1f}, "
              f"fastest {min(times):.1f}, slowest {max(times):.1f} ({len(times)} of {args.sessions} sessions)")
    for number, problem in problems:
        print(f"session {number}: {problem}")
    return 0 if alive and not problems else 1


if __name__ == "__main__":
    sys.exit(main())

"""The live view during a running demo stream (`make demo` paced with --rate), in headless chromium.

The demo is started as a user starts it; the page opens while Kapacitor and the UDF are still scoring
the series, must show points arriving without a reload, and, once the stream is done, hold every point
with the learning period shaded. Screenshots: the test's tmp dir (and INFLUXHTM_SCREENSHOT_DIR).
"""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from influxhtm.htm.params import nab_probation
from influxhtm.stack import synthetic
from tests.conftest import REPO_ROOT

from .test_live_view import LOAD_TIMEOUT_MS, card, chart_state, save_screenshot, trace, wait_for_points

DAYS = 14
RATE = 150  # points/s: the 4,032 points take about 27 s, time enough to watch them arrive


def read_lines(stream, lines: queue.Queue) -> None:
    for text in stream:
        lines.put(text)


def wait_for_line(lines: queue.Queue, start: str, timeout: float, seen: list[str]) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            text = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(text)
        if text.startswith(start):
            return text
    raise AssertionError(f"no line starting {start!r} within {timeout:.0f}s; output so far:\n{''.join(seen)}")


@pytest.mark.stack
def test_live_view_follows_a_running_demo_stream(page, tmp_path):
    demo = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "scripts" / "demo.py"), "--days", str(DAYS), "--rate", str(RATE), "--keep"]
        + ["--plot", str(tmp_path / "demo.png")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=read_lines, args=(demo.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        url = wait_for_line(lines, "live view: ", 300, seen).split()[-1]
        page.goto(url)
        title = "host=demo"
        page.wait_for_selector(f"section.card[data-series-title*='{title}']", timeout=LOAD_TIMEOUT_MS)
        page.evaluate("window.__notReloaded = true")
        first = trace(chart_state(page, title), "value")["n"]
        total = len(synthetic.generate(days=DAYS).values)
        assert first < total, "the stream was over before the page opened; nothing to watch arrive"
        page.wait_for_function(
            "([part, n]) => Number(document.querySelector(`section.card[data-series-title*='${part}']`)"
            ".dataset.points) > n",
            arg=[title, first],
            timeout=30_000,
        )
        save_screenshot(page, tmp_path, "demo_live_view_streaming.png")

        wait_for_line(lines, "Where to look:", 300, seen)
        wait_for_points(page, title, total, 30_000)
        assert page.evaluate("window.__notReloaded === true")
        state = chart_state(page, title)
        assert trace(state, "value")["n"] == total and trace(state, "anomaly score")["n"] == total
        assert trace(state, "prediction")["n"] > 0
        # the learning period: from the first point up to the first point past the probation
        (shade,) = state["shapes"]
        assert shade["name"] == "learning (probation)"
        assert card(page, title).locator(".badge.records").inner_text() == f"records seen {total:,}"
        assert total > nab_probation(total) and card(page, title).locator(".badge.state").inner_text() == "LIVE"
        save_screenshot(page, tmp_path, "demo_live_view_done.png")
    finally:
        # leave the page first: its polling would otherwise hit the stopped server and log a console error
        page.goto("about:blank")
        demo.send_signal(signal.SIGTERM)
        try:
            demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
    assert demo.returncode == 0, "".join(seen)

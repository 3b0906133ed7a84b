"""The live web page: what a browser sees, what several clients cost, and the bad inputs of --serve.

Only 127.0.0.1 is ever listened on. The browser test drives Debian's
Chromium through Playwright (never a downloaded browser) and skips when
either is missing.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from edge_runtime.dataset import load_recording
from edge_runtime.landmarks import HandFrame
from edge_runtime.recognizer import FrameView, RunStats, SignEvent
from edge_runtime.web import LiveView, WebConfig
from edge_runtime.web.pacing import Looped, RealTime
from test_recognizer import Demo, demo  # noqa: F401  (the session fixture: tiny trained model + recordings)
from test_segment import hand

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LABELS = ["circle", "wave", "형,오빠"]


def frame_view(i: int, image: np.ndarray | None = None) -> FrameView:
    landmarks = np.zeros((2, 21, 3), np.float32)
    landmarks[1] = hand(0.5, 0.5, 0.08)
    return FrameView(timestamp_s=i / 30, image=image, hands=HandFrame(landmarks, np.array([False, True])),
                     in_sign=True, last_event=None, fps=30.0)


def sign_event(label: str, confidence: float = 0.9, known: bool = True) -> SignEvent:
    return SignEvent(label=label, confidence=confidence, known=known, start_s=0.2, end_s=1.4,
                     top3=[(label, confidence), ("circle", 0.05), ("wave", 0.01)], frames=36, hand_frames=36,
                     landmarks_ms_per_frame=0.0, landmarks_ms_total=0.0, inference_ms=0.4, reason="hands_gone")


# --- the shared slot: encoding cost does not grow with clients ------------------------------------------------

def test_pictures_are_encoded_once_per_tick_and_only_while_watched() -> None:
    live = LiveView(LABELS, WebConfig(fps=10))
    stats = RunStats(frames=0)
    for i in range(100):  # the recogniser hands in 100 frames between two ticks: one reference kept, no work
        stats.frames += 1
        live.on_frame(frame_view(i), aspect=16 / 9, stats=stats)
    assert live.tick() and live.encodes == 0 and live.jpeg() == (0, None)  # nobody watches: no JPEG at all
    with live.watching(), live.watching(), live.watching():  # three streams open
        assert live.watchers == 3
        live.tick()
        assert live.encodes == 1
        assert not live.tick() and live.encodes == 1  # no new frame, nothing to do
        stats.frames += 1
        live.on_frame(frame_view(100), aspect=16 / 9, stats=stats)
        live.tick()
        seq, jpeg = live.jpeg()
    assert live.watchers == 0 and live.encodes == 2 and seq == 2
    assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"  # a whole JPEG
    import cv2

    picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (360, 640, 3)  # a replay has no image: the hands are drawn on a blank canvas
    assert picture.max() > 200 and np.median(picture) < 20  # bright skeleton on black

    live.on_event(sign_event("형,오빠"))
    live.on_event(sign_event("wave", 0.3, known=False))
    live.tick()
    state = json.loads(live.state()[1])
    assert state["word"]["label"] == "wave" and state["word"]["known"] is False and state["word"]["best"] == "wave"
    assert [w["label"] for w in state["history"]] == ["wave", "형,오빠"] and state["words"] == 2
    assert state["frames"] == 101 and state["running"] is True and state["timings"]["jpeg_ms"] > 0
    assert state["timings"]["landmarks_ms_per_frame"] is None  # a replay: no landmark model ran
    stats.frames += 4
    stats.landmarks_ms += 4 * 12.5  # the run's total: four frames of 12.5 ms since the last state
    live.on_frame(frame_view(101), aspect=16 / 9, stats=stats)
    live.tick()
    assert json.loads(live.state()[1])["timings"]["landmarks_ms_per_frame"] == 12.5  # what the page shows per frame
    live.finish("the stream has ended")
    live.tick()
    assert json.loads(live.state()[1])["running"] is False


def test_the_publisher_thread_caps_encodes_per_second_however_fast_frames_come() -> None:
    live = LiveView(LABELS, WebConfig(fps=20))
    image = np.zeros((120, 160, 3), np.uint8)
    with live, live.watching():
        start = time.monotonic()
        handed = 0
        while time.monotonic() - start < 1.0:
            live.on_frame(frame_view(handed, image), aspect=4 / 3)
            handed += 1
        elapsed = time.monotonic() - start
    assert handed > 1000  # on_frame is a reference swap: the recogniser runs at full speed
    assert 5 <= live.encodes <= 20 * elapsed + 2, (live.encodes, elapsed)


def test_pacing_holds_items_back_and_loops_keep_time_increasing() -> None:
    items = [(i / 10, i) for i in range(5)]
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    assert list(RealTime(items, clock=lambda: now[0], sleep=sleep)) == items
    assert slept == [0.1] * 4  # each item waits for its own time, the first starts at once
    looped = list(Looped(items, times=3))
    stamps = [t for t, _ in looped]
    assert [v for _, v in looped] == [0, 1, 2, 3, 4] * 3
    assert stamps == pytest.approx([i / 10 for i in range(15)])  # the next pass starts one frame later
    assert Looped(items).__iter__() is not None and list(Looped([], times=None)) == []


# --- the server in this process: routes, read-only, several clients -------------------------------------------

@pytest.fixture
def served():
    pytest.importorskip("uvicorn", reason="needs the web extra (pip install 'signedge[web]')")
    from edge_runtime.web import open_server

    live = LiveView(LABELS, WebConfig(port=0, fps=20), {"source": "test frames", "model": "none"})
    stop = threading.Event()

    def feed() -> None:  # a stand-in recogniser: 100 frames per second
        image = np.full((90, 160, 3), 40, np.uint8)
        i = 0
        while not stop.is_set():
            live.on_frame(frame_view(i, image), aspect=16 / 9)
            i += 1
            stop.wait(0.01)

    feeder = threading.Thread(target=feed, daemon=True)
    with live, open_server(live) as server:
        feeder.start()
        yield live, server
        stop.set()
        feeder.join()


def read_parts(url: str, parts: int, timeout: float = 10.0) -> list[bytes]:
    """The first ``parts`` JPEGs of an MJPEG stream."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        assert response.headers["Content-Type"] == "multipart/x-mixed-replace; boundary=signedge-frame"
        data = b""
        while data.count(b"\xff\xd9\r\n") < parts:
            chunk = response.read1(65536)
            assert chunk, "stream ended"
            data += chunk
    return [m.group(1) for m in re.finditer(rb"Content-Length: \d+\r\n\r\n(.*?\xff\xd9)\r\n", data, re.S)][:parts]


def test_routes_are_read_only_and_serve_page_stream_and_state(served) -> None:
    live, server = served
    assert server.url == f"http://127.0.0.1:{server.port}/"
    with urllib.request.urlopen(server.url, timeout=5) as page:
        html = page.read().decode("utf-8")
        csp = page.headers["Content-Security-Policy"]
    assert '<img id="picture" src="stream.mjpg"' in html and "default-src 'none'" in csp and "sha256-" in csp
    state = json.loads(urllib.request.urlopen(server.url + "state", timeout=5).read())
    assert state["source"] == "test frames" and state["running"] is True
    jpegs = read_parts(server.url + "stream.mjpg", 3)
    assert len(jpegs) == 3 and all(j.startswith(b"\xff\xd8") for j in jpegs)
    with urllib.request.urlopen(server.url + "events", timeout=5) as events:
        assert events.headers["Content-Type"].startswith("text/event-stream")
        first = events.readline()
        assert first.startswith(b"data: {") and json.loads(first[6:])["source"] == "test frames"
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path in ("", "state", "events", "stream.mjpg"):
            request = urllib.request.Request(server.url + path, data=b"x=1", method=method)
            with pytest.raises(urllib.error.HTTPError) as answer:
                urllib.request.urlopen(request, timeout=5)
            assert answer.value.code == 405, (method, path)
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(server.url + "settings", timeout=5)
    assert answer.value.code == 404


def test_many_stream_clients_share_the_same_encodes(served) -> None:
    live, server = served
    clients, parts = 8, 6
    results: list[list[bytes]] = []
    errors: list[BaseException] = []

    def client() -> None:
        try:
            results.append(read_parts(server.url + "stream.mjpg", parts))
        except BaseException as err:  # reported below
            errors.append(err)

    before, start = live.encodes, time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    elapsed = time.monotonic() - start
    assert not errors and len(results) == clients and all(len(r) == parts for r in results)
    # 8 clients x 6 pictures, but encodes follow the clock (20/s), not the number of clients
    assert live.encodes - before <= 20 * elapsed + 2, (live.encodes - before, elapsed)
    wait_for(lambda: live.watchers == 0)  # closed streams are no longer counted


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# --- sign-recognize --serve -----------------------------------------------------------------------------------

def run_cli(args: list[str]) -> int:
    from edge_runtime.cli.recognize import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)
    return int(exit_info.value.code)


@pytest.mark.slow
def test_bad_serve_inputs_are_one_line_each(demo: Demo, monkeypatch, capsys) -> None:
    pytest.importorskip("uvicorn", reason="needs the web extra (pip install 'signedge[web]')")
    base = ["--model", str(demo.models["float"]), "--source", str(demo.held_out[0]), "--serve"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        cases = {
            "port in use": (["--port", str(port)], f"cannot serve on 127.0.0.1:{port}: the port is in use"),
            # TEST-NET-1 is never an address of this machine: binding fails before anything listens
            "foreign host": (["--host", "192.0.2.1", "--port", "0"], "192.0.2.1 is not an address of this machine"),
        }
        for name, (extra, message) in cases.items():
            assert run_cli(base + extra) == 2, name
            out, err = capsys.readouterr()
            assert out == "" and err.count("\n") == 1 and err.startswith("sign-recognize: error: "), (name, err)
            assert message in err, (name, err)
    assert run_cli(base + ["--port", "70000"]) == 2
    assert "port must be within 0..65535" in capsys.readouterr().err
    assert run_cli(["--model", str(demo.models["float"]), "--source", "clip.mp4", "--loop"]) == 2
    assert "--loop repeats a .npz replay" in capsys.readouterr().err

    monkeypatch.delitem(sys.modules, "edge_runtime.web.server", raising=False)
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as where the web extra is not installed
    assert run_cli(base + ["--port", "0"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == "sign-recognize: error: --serve needs uvicorn: pip install 'signedge[web]' " \
                                "(Starlette and uvicorn)\n"


def start_serving(args: list[str]) -> tuple[subprocess.Popen, str]:
    """``sign-recognize ... --serve --port 0`` in a subprocess, and the URL it printed."""
    process = subprocess.Popen([sys.executable, "-m", "edge_runtime.cli.recognize", *args, "--serve", "--port", "0"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8")
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"web view at (http://127\.0\.0\.1:\d+/)", line)
        if match:
            return process, match.group(1)
    process.kill()
    raise AssertionError("no URL printed: " + "".join(lines) + process.stderr.read())


def stop_serving(process: subprocess.Popen) -> tuple[int, str, str]:
    process.send_signal(signal.SIGINT)  # Ctrl-C ends the run cleanly
    try:
        out, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, out, err


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.is_file():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.mark.slow
def test_the_page_in_chromium_shows_the_replayed_korean_word(demo: Demo, chromium, tmp_path) -> None:
    pytest.importorskip("uvicorn", reason="needs the web extra (pip install 'signedge[web]')")
    take = next(p for p in demo.held_out if load_recording(p).label == "형,오빠")
    process, url = start_serving(["--model", str(demo.models["int8"]), "--source", str(take), "--json"])
    try:
        from playwright.sync_api import expect

        page = chromium.new_page(viewport={"width": 1200, "height": 720})
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(url, wait_until="domcontentloaded")
        # the paced replay (about 2 s) reaches its sign; the word arrives as HTML text over the event stream
        expect(page.locator("#word")).to_have_text("형,오빠", timeout=20_000)
        expect(page.locator("#status")).to_have_text("the stream has ended", timeout=20_000)
        expect(page.locator("#history li")).to_have_count(1)
        assert page.inner_text("#history").startswith("형,오빠")
        assert re.fullmatch(r"\d+%", page.inner_text("#confidence"))
        assert page.inner_text("#inference").endswith(" ms") and page.inner_text("#fps") != "—"
        wait_for(lambda: page.evaluate("document.getElementById('picture').naturalWidth") == 640)
        assert errors == []  # the page's own script runs under its strict Content-Security-Policy
        shot = tmp_path / "web-view.png"
        page.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000
        page.close()
    finally:
        code, out, err = stop_serving(process)
    assert code == 0, err
    [event] = [json.loads(line) for line in out.splitlines()]
    assert event["label"] == "형,오빠" and event["known"] is True
    assert "the page stays up" in err and "1 sign(s) reported" in err

"""The Raspberry Pi camera source, tested with a fake ``picamera2`` module put in ``sys.modules``.

The fake follows picamera2's documented surface (``global_camera_info``,
``Picamera2(n)``, ``create_video_configuration``, ``configure``,
``camera_configuration``, ``start``, ``capture_array``, ``stop``, ``close``)
and lays out pixels in memory the way libcamera does for each format, so the
tests check that every frame leaves as BGR whatever the camera chose.
"""

from __future__ import annotations

import sys
import threading
import types

import numpy as np
import pytest

from edge_runtime.capture import CameraSource
from edge_runtime.errors import SourceError
from edge_runtime.picam import INSTALL_HINT, open_picam, requested_size
from edge_runtime.sources import open_source
from test_recognizer import Demo, demo  # noqa: F401  (the session fixture: tiny trained model + recordings)

RED, GREEN, BLUE = 200, 100, 10  # the colour every fake frame shows, plus a frame number in pixel (0, 1)
MEMORY_ORDER = {  # the bytes of one pixel in memory, per picamera2 format (libcamera names read the other way)
    "RGB888": (BLUE, GREEN, RED),
    "BGR888": (RED, GREEN, BLUE),
    "XRGB8888": (BLUE, GREEN, RED, 255),
    "XBGR8888": (RED, GREEN, BLUE, 255),
    "YUV420": None,
}


class FakePicamera2:
    """One fake camera; ``allow(n)`` lets it deliver n more frames (no timing in the tests)."""

    cameras: list[dict] = [{"Model": "imx708", "Num": 0, "Id": "/base/fake/imx708@1a"}]
    delivers = "RGB888"  # the format the camera really configures (it may differ from the one asked for)
    instances: list["FakePicamera2"] = []

    def __init__(self, camera_num: int = 0) -> None:
        if camera_num >= len(self.cameras):
            raise IndexError("list index out of range")
        self.num = camera_num
        self.asked: dict | None = None
        self.config: dict | None = None
        self.started = self.stopped = self.closed = False
        self.produced = 0
        self.permits = threading.Semaphore(0)
        FakePicamera2.instances.append(self)

    @classmethod
    def global_camera_info(cls) -> list[dict]:
        return [dict(info) for info in cls.cameras]

    def create_video_configuration(self, main: dict | None = None, **kwargs: object) -> dict:
        self.asked = dict(main or {})
        return {"main": {"format": "XBGR8888", "size": (1280, 720), **self.asked}, **kwargs}

    def configure(self, config: dict) -> None:
        self.config = {**config, "main": {**config["main"], "format": self.delivers}}

    def camera_configuration(self) -> dict:
        return self.config

    def start(self) -> None:
        self.started = True

    def allow(self, frames: int) -> None:
        for _ in range(frames):
            self.permits.release()

    def capture_array(self, name: str = "main", wait: object = None) -> np.ndarray:
        if not self.permits.acquire(timeout=0.05):
            raise TimeoutError("no frame yet")  # what picamera2 raises when wait= is a timeout
        self.produced += 1
        width, height = self.config["main"]["size"]
        pixel = MEMORY_ORDER[self.config["main"]["format"]]
        frame = np.empty((height, width, len(pixel)), np.uint8)
        frame[:] = pixel
        frame[0, 1, :3] = self.produced  # the frame's number, in every channel
        return frame

    def stop(self) -> None:
        self.stopped = True

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def picamera2(monkeypatch: pytest.MonkeyPatch) -> type[FakePicamera2]:
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2
    monkeypatch.setitem(sys.modules, "picamera2", module)
    monkeypatch.setattr(FakePicamera2, "instances", [])
    monkeypatch.setattr(FakePicamera2, "delivers", "RGB888")  # restored after each test, like the two below
    monkeypatch.setattr(FakePicamera2, "cameras", list(FakePicamera2.cameras))
    return FakePicamera2


def _opened(fake: type[FakePicamera2], spec: str = "picam", **kwargs: object) -> tuple[CameraSource, FakePicamera2]:
    """Open the source while the fake camera is allowed its first frame."""
    result: dict = {}
    opener = threading.Thread(target=lambda: result.update(source=open_source(spec, **kwargs)))
    opener.start()
    while not fake.instances or fake.instances[-1].config is None:
        if not opener.is_alive():
            break
        threading.Event().wait(0.005)
    if fake.instances:
        fake.instances[-1].allow(1)
    opener.join(timeout=10)
    return result["source"], fake.instances[-1]


def wait_until(condition, timeout: float = 10.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout / 0.002)):
        if condition():
            return
        done.wait(0.002)
    raise AssertionError("timed out")


@pytest.mark.parametrize("fmt", ["RGB888", "BGR888", "XRGB8888", "XBGR8888"])
def test_every_picamera2_format_arrives_as_bgr(picamera2, fmt: str) -> None:
    picamera2.delivers = fmt  # the camera may configure another format than the one asked for
    source, cam = _opened(picamera2, max_width=64)
    with source:
        assert cam.asked == {"size": (64, 36), "format": "RGB888"}  # the ISP scales: asked at the size we use
        t, frame = next(iter(source))
        assert frame.shape == (36, 64, 3) and frame.dtype == np.uint8 and frame.flags.c_contiguous
        assert tuple(int(v) for v in frame[5, 5]) == (BLUE, GREEN, RED), fmt
        assert (source.width, source.height) == (64, 36) and source.aspect == pytest.approx(64 / 36)
    assert cam.started and cam.stopped and cam.closed


def test_a_slow_consumer_gets_the_newest_pi_camera_frame(picamera2) -> None:
    source, cam = _opened(picamera2, "picam:0", max_width=32)
    with source:
        frames = iter(source)
        assert int(next(frames)[1][0, 1, 0]) == 1
        cam.allow(5)  # five frames arrive while the consumer is busy
        wait_until(lambda: source.frames_read == 6)
        assert int(next(frames)[1][0, 1, 0]) == 6  # the newest; 2..5 were dropped, not queued
        assert (source.frames_yielded, source.frames_dropped) == (2, 4)
        assert source.name == "picam 0"
    assert cam.closed


def test_missing_or_unusable_pi_cameras_are_one_line_errors(picamera2) -> None:
    with pytest.raises(SourceError, match=r"^picam 1: no such Pi camera, 1 camera\(s\) found$"):
        open_picam(1)
    picamera2.delivers = "YUV420"
    with pytest.raises(SourceError, match="delivers YUV420 frames; signedge needs one of RGB888"):
        open_picam(0)
    assert picamera2.instances[-1].closed  # released although it never started
    picamera2.cameras = []
    with pytest.raises(SourceError, match="no camera found"):
        open_picam(0)


def test_a_pi_camera_that_never_delivers_names_itself(picamera2) -> None:
    with pytest.raises(SourceError, match=r"^picam 0: opened, but no frame arrived within 0.3 s$"):
        open_picam(0, first_frame_timeout=0.3)


def test_requested_size_follows_the_flags() -> None:
    assert requested_size(None, None, None) == (1280, 720)
    assert requested_size(None, None, 640) == (640, 360)
    assert requested_size(800, 600, 640) == (800, 600)  # explicit sizes win (then --max-width downscales)
    assert requested_size(641, None, None) == (640, 360)  # even sizes for the ISP


@pytest.mark.slow
def test_without_picamera2_sign_recognize_says_how_to_install_it(demo: Demo, monkeypatch, tmp_path, capsys) -> None:
    from edge_runtime.cli.recognize import main

    monkeypatch.setitem(sys.modules, "picamera2", None)  # what `import picamera2` meets where it is not installed
    for spec in ("picam", "picam:1"):
        with pytest.raises(SystemExit) as exit_info:
            main(["--model", str(demo.models["float"]), "--source", spec, "--hand-model", str(tmp_path / "h.task")])
        out, err = capsys.readouterr()
        assert exit_info.value.code == 2 and out == ""
        assert err == f"sign-recognize: error: {INSTALL_HINT}\n"
        assert "sudo apt install python3-picamera2" in err and "--system-site-packages" in err

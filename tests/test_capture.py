"""Frame sources: a video file read frame by frame, a camera that never lags (tested with a fake capture)."""

from __future__ import annotations

import csv
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_runtime.capture import CameraSource, VideoFileSource, scaled_size
from edge_runtime.errors import SourceError


def write_video(path: Path, frames: int, fps: float = 10.0, size: tuple[int, int] = (160, 120)) -> Path:
    """A small mp4 whose frame k is uniformly grey with level 20 * k (so frames can be told apart)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert writer.isOpened()
    for k in range(frames):
        writer.write(np.full((size[1], size[0], 3), min(20 * k, 255), np.uint8))
    writer.release()
    return path


def test_video_file_yields_every_frame_with_container_timestamps(tmp_path: Path) -> None:
    video = write_video(tmp_path / "grey.mp4", frames=12, fps=10.0)
    with VideoFileSource(video) as source:
        assert (source.width, source.height, source.fps, source.frame_count) == (160, 120, 10.0, 12)
        assert source.aspect == pytest.approx(4 / 3)
        items = list(source)
    assert [t for t, _ in items] == pytest.approx([k / 10.0 for k in range(12)])
    levels = [float(frame.mean()) for _, frame in items]
    assert all(abs(level - 20 * k) < 6 for k, level in enumerate(levels)), levels
    assert all(frame.shape == (120, 160, 3) and frame.dtype == np.uint8 for _, frame in items)


def test_max_width_downscales_and_keeps_the_aspect(tmp_path: Path) -> None:
    video = write_video(tmp_path / "grey.mp4", frames=3, size=(320, 180))
    with VideoFileSource(video, max_width=100) as source:
        shapes = {frame.shape for _, frame in source}
        assert (source.width, source.height) == (100, 56)
        assert (source.source_width, source.source_height) == (320, 180)
    assert shapes == {(56, 100, 3)}
    with VideoFileSource(video, max_width=640) as source:  # never upscaled
        assert {frame.shape for _, frame in source} == {(180, 320, 3)}
    assert scaled_size(1280, 720, 640) == (640, 360)


def test_a_video_source_is_read_once(tmp_path: Path) -> None:
    with VideoFileSource(write_video(tmp_path / "v.mp4", frames=2)) as source:
        assert len(list(source)) == 2
        with pytest.raises(SourceError, match="only once"):
            list(source)


@pytest.mark.parametrize("content", [b"", b"this is not a video\n" * 50])
def test_a_file_that_is_not_a_video_is_one_clear_error(tmp_path: Path, content: bytes) -> None:
    bogus = tmp_path / "broken.mp4"
    bogus.write_bytes(content)
    with pytest.raises(SourceError) as err:
        VideoFileSource(bogus)
    assert str(bogus) in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(SourceError, match="not found"):
        VideoFileSource(tmp_path / "missing.mp4")


class FakeCapture:
    """Stands in for cv2.VideoCapture: a camera that produces numbered frames at a fixed pace."""

    def __init__(self, period: float = 0.002, frames: int | None = None, opened: bool = True) -> None:
        self.period = period
        self.limit = frames
        self.opened = opened
        self.produced = 0
        self.released = threading.Event()

    def isOpened(self) -> bool:  # the cv2 method name
        return self.opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        time.sleep(self.period)
        if self.limit is not None and self.produced >= self.limit:
            return False, None
        self.produced += 1
        frame = np.zeros((48, 64, 3), np.uint8)
        frame[0, 0, :] = self.produced % 256
        frame[0, 1, 0] = self.produced // 256
        return True, frame

    def set(self, *args: object) -> bool:
        return True

    def release(self) -> None:
        self.released.set()


def frame_number(frame: np.ndarray) -> int:
    return int(frame[0, 0, 0]) + 256 * int(frame[0, 1, 0])


class SteppedCapture(FakeCapture):
    """A fake camera that delivers a frame only when the test allows one: no timing in the test."""

    def __init__(self) -> None:
        super().__init__(period=0.0)
        self.permits = threading.Semaphore(0)

    def allow(self, frames: int) -> None:
        for _ in range(frames):
            self.permits.release()

    def read(self) -> tuple[bool, np.ndarray | None]:
        if not self.permits.acquire(timeout=0.05):
            return False, None  # "no frame yet"; the reader retries
        return super().read()


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_a_slow_consumer_gets_the_newest_camera_frame_and_the_rest_are_dropped() -> None:
    fake = SteppedCapture()
    fake.allow(1)
    with CameraSource(0, capture=fake) as camera:
        frames = iter(camera)
        assert frame_number(next(frames)[1]) == 1
        fake.allow(5)  # the camera delivers 5 frames while the consumer is busy
        wait_until(lambda: camera.frames_read == 6)
        assert frame_number(next(frames)[1]) == 6  # the newest one; 2..5 are dropped, not queued
        fake.allow(1)
        wait_until(lambda: camera.frames_read == 7)
        assert frame_number(next(frames)[1]) == 7
        assert (camera.frames_yielded, camera.frames_dropped) == (3, 4)
        assert (camera.width, camera.height) == (64, 48)
    assert fake.released.is_set()


def test_camera_timestamps_increase_and_downscale_applies() -> None:
    with CameraSource(0, max_width=32, capture=FakeCapture(period=0.005)) as camera:
        items = []
        for item in camera:
            items.append(item)
            if len(items) == 5:
                break
    stamps = [t for t, _ in items]
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))
    assert {frame.shape for _, frame in items} == {(24, 32, 3)}


def test_a_camera_that_gives_no_frame_or_dies_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="camera 3"):
        CameraSource(3, capture=FakeCapture(frames=0), first_frame_timeout=2.0)
    with pytest.raises(SourceError, match="cannot open"):
        CameraSource(4, capture=FakeCapture(opened=False))
    with CameraSource(5, capture=FakeCapture(period=0.001, frames=5)) as camera:
        with pytest.raises(SourceError, match="stopped delivering frames"):
            for _ in camera:
                time.sleep(0.01)


def test_closing_a_camera_ends_iteration_and_releases_it() -> None:
    fake = FakeCapture(period=0.002)
    camera = CameraSource(0, capture=fake)
    got = []
    for _, frame in camera:
        got.append(frame)
        camera.close()
    assert len(got) == 1 and fake.released.is_set()


def test_shared_ksl_videos_read_completely(ksl_videos: list[Path]) -> None:
    with open(ksl_videos[0].parent / "manifest.csv", encoding="utf-8", newline="") as fh:
        expected = {row["file"]: row for row in csv.DictReader(fh)}
    for video in ksl_videos[:3]:
        row = expected[video.name]
        with VideoFileSource(video, max_width=640) as source:
            frames = list(source)
            assert source.fps == pytest.approx(float(row["fps"]), abs=0.01)
            assert (source.source_width, source.source_height) == (int(row["width"]), int(row["height"]))
            assert source.aspect == pytest.approx(16 / 9)
        assert len(frames) == int(row["frames"])
        assert frames[-1][0] == pytest.approx((len(frames) - 1) / source.fps)
        assert frames[0][1].shape == (360, 640, 3)

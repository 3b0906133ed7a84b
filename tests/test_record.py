"""``sign-record``: samples cut from a video (or a camera) land in a dataset folder with their videos."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import exit_code, need

from edge_runtime.capture import CameraSource, VideoFileSource
from edge_runtime.dataset import Dataset, read_manifest
from edge_runtime.landmarks import open_backend
from train.cli.record import main
from train.extract.config import BackendSettings
from train.record import RecordConfig, Session


def ksl_frames(ksl_videos: list[Path], names: list[str], size: tuple[int, int] = (640, 360)) -> list[np.ndarray]:
    frames = []
    for name in names:
        cap = cv2.VideoCapture(str(next(v for v in ksl_videos if v.name == name)))
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
        cap.release()
    return frames


@pytest.fixture(scope="module")
def session_video(ksl_videos: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One take of two signs in a row (65 + 58 frames at 29.97 fps), written with cv2.VideoWriter."""
    need("mediapipe")
    path = tmp_path_factory.mktemp("take") / "session.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 29.97, (640, 360))
    for frame in ksl_frames(ksl_videos, ["가족__남편.mp4", "시간__오늘.mp4"]):
        writer.write(frame)
    writer.release()
    return path


def test_a_video_is_cut_into_samples_and_later_sessions_merge(
        session_video: Path, hand_task: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    out = tmp_path / "mine"
    common = ["--source", str(session_video), "--landmarks", "mediapipe", "--hand-model", str(hand_task)]
    assert exit_code(main, [str(out), "--word", "남편", "--samples", "2", "--seconds", "2", "--signer", "kim", "--show",
                    *common]) == 0
    captured = capsys.readouterr()
    assert "--show: no display" in captured.err and "recording headless" in captured.err
    assert "saved 2 of 2 samples of '남편'" in captured.out

    ds = Dataset(out)
    assert [r.file for r in ds.rows] == ["recordings/남편/session-01.npz", "recordings/남편/session-02.npz"]
    for row, rec in zip(ds.rows, ds, strict=True):
        assert (rec.num_frames, rec.label, rec.signer, rec.group) == (60, "남편", "kim", "session")
        assert rec.fps == pytest.approx(29.97, abs=0.01) and rec.aspect == pytest.approx(16 / 9)
        assert rec.hand_frames > 30 and row.hand_frames == rec.hand_frames
        with VideoFileSource(out / rec.extra["video"]) as video:  # the sample's own video, playable
            assert (video.width, video.height) == (640, 360) and len(list(video)) == 60
    assert ds.info.landmark_backend == "mediapipe"

    # Another session with another word: the manifest keeps the first session's rows.
    assert exit_code(main, [str(out), "--word", "오늘", "--samples", "1", "--seconds", "1", *common]) == 0
    capsys.readouterr()
    rows = read_manifest(out)
    assert [(r.label, r.frames) for r in rows] == [("남편", 60), ("남편", 60), ("오늘", 30)]
    assert len(list((out / "videos").rglob("*.mp4"))) == 3


def test_a_sample_without_hands_is_not_saved(hand_task: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    need("mediapipe")
    blank = tmp_path / "blank.mp4"
    writer = cv2.VideoWriter(str(blank), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (96, 64))
    for k in range(12):
        writer.write(np.full((64, 96, 3), 10 * k, np.uint8))
    writer.release()
    out = tmp_path / "out"
    assert exit_code(main, [str(out), "--word", "hello", "--source", str(blank), "--samples", "1", "--seconds", "1",
                    "--landmarks", "mediapipe", "--hand-model", str(hand_task)]) == 1
    captured = capsys.readouterr()
    assert "sample 1/1: 10 frames, no hand seen: not saved" in captured.err
    assert "saved 0 of 1" in captured.out
    assert not out.exists() or not list(out.rglob("*.npz"))


def test_bad_requests_are_one_line_before_anything_is_written(session_video: Path, hand_task: Path,
                                                              tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    base = ["--source", str(session_video), "--landmarks", "mediapipe", "--hand-model", str(hand_task)]
    cases = [
        (["--word", "hello", "--samples", "5", "--seconds", "2"], "not enough for 5 samples of 2 s"),
        (["--word", " hello"], "leading or trailing spaces"),
        (["--word", "hello", "--seconds", "0"], "--seconds must be positive"),
        (["--word", "hello", "--source", str(tmp_path / "nope.mp4")], "video file not found"),
    ]
    for extra, message in cases:
        assert exit_code(main, [str(out), *base, *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert not out.exists()


class VideoAsCamera:
    """A fake cv2.VideoCapture that plays frames like a 30 fps camera, looping."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames, self.k = frames, 0
        self.released = threading.Event()

    def isOpened(self) -> bool:  # the cv2 method name
        return True

    def read(self) -> tuple[bool, np.ndarray]:
        time.sleep(1 / 30)
        self.k += 1
        return True, self.frames[self.k % len(self.frames)]

    def set(self, *args: object) -> bool:
        return True

    def release(self) -> None:
        self.released.set()


def test_a_camera_session_counts_down_and_measures_its_frame_rate(
        ksl_videos: list[Path], hand_task: Path, tmp_path: Path) -> None:
    need("mediapipe")
    frames = ksl_frames(ksl_videos, ["가족__남편.mp4"], size=(320, 180))[20:50]  # both hands up
    config = RecordConfig(out_dir=tmp_path / "cam", word="남편", samples=2, seconds=0.5, countdown=0.3,
                          source="0", signer="lee",
                          backend=BackendSettings("mediapipe", str(hand_task)))
    backend = open_backend("mediapipe", str(hand_task), live=True)
    start = time.monotonic()
    with CameraSource(0, capture=VideoAsCamera(frames)) as camera:
        session = Session(config, camera, backend)
        results = [session.save(index, take) for index, take in session.takes()]
    backend.close()
    assert time.monotonic() - start >= 2 * (0.3 + 0.5)  # two countdowns and two samples
    assert [r.index for r in results] == [1, 2] and all(r.row is not None for r in results)
    ds = Dataset(config.out_dir)
    for rec in ds:
        assert rec.source_id.startswith("남편-lee-") and rec.group == rec.source_id
        assert 5 <= rec.num_frames <= 16  # about 0.5 s of a camera the consumer may not keep up with
        assert 5 < rec.fps <= 31 and rec.hand_frames > 0
        assert rec.extra["start_s"] >= 0.3

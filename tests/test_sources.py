"""``--source``: one grammar (text → kind), one opener, and the commands' flag built from them."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pytest

from edge_runtime.capture import VideoFileSource
from edge_runtime.dataset import Recording, save_recording
from edge_runtime.errors import SourceError
from edge_runtime.replay import RecordingReplay
from edge_runtime.sources import HELP, Source, SourceKind, add_source_argument, open_source, parse_source
from test_capture import write_video

CAMERA, PICAM, VIDEO, REPLAY = SourceKind.CAMERA, SourceKind.PICAM, SourceKind.VIDEO, SourceKind.REPLAY


@pytest.mark.parametrize("text, kind, number, path, live", [
    ("0", CAMERA, 0, None, True),
    (" 12 ", CAMERA, 12, None, True),
    ("/dev/video2", CAMERA, None, "/dev/video2", True),
    ("/dev/v4l/by-id/usb-cam-video-index0", CAMERA, None, "/dev/v4l/by-id/usb-cam-video-index0", True),
    ("picam", PICAM, 0, None, True),
    ("PiCam:1", PICAM, 1, None, True),
    ("take.npz", REPLAY, None, "take.npz", False),
    ("data/수학/synth-03.NPZ", REPLAY, None, "data/수학/synth-03.NPZ", False),
    ("clip.mp4", VIDEO, None, "clip.mp4", False),
    ("0.mp4", VIDEO, None, "0.mp4", False),
    ("picamera.mkv", VIDEO, None, "picamera.mkv", False),
])
def test_each_kind_of_source_is_read_from_its_text(text, kind, number, path, live):
    source = parse_source(text)
    assert (source.kind, source.number, source.live) == (kind, number, live)
    assert source.path == (Path(path) if path else None)
    assert source.has_images == (kind is not REPLAY) and str(source) == text.strip()


@pytest.mark.parametrize("text, message", [
    ("", "an empty source"),
    ("picam:left", "'picam:left': a Pi camera is 'picam' or 'picam:N'"),
    ("picam:", "a Pi camera is 'picam' or 'picam:N'"),
])
def test_a_malformed_source_is_one_line(text, message):
    with pytest.raises(SourceError, match=message) as err:
        parse_source(text)
    assert "\n" not in str(err.value)


def test_a_service_gets_absolute_files_and_cameras_as_typed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert parse_source("takes/a.npz").for_service() == str(tmp_path / "takes" / "a.npz")
    assert parse_source("clip.mp4").for_service() == str(tmp_path / "clip.mp4")
    for text in ("0", "picam:1", "/dev/v4l/by-id/usb-cam-video-index0"):  # a stable link is not resolved
        assert parse_source(text).for_service() == text


def test_the_flag_parses_shows_the_grammar_and_rejects_a_bad_value_in_one_line(capsys):
    p = argparse.ArgumentParser(prog="demo")
    add_source_argument(p)
    assert p.parse_args([]).source == Source(CAMERA, "0", number=0)  # the default goes through the grammar too
    assert p.parse_args(["--source", "picam:2"]).source == parse_source("picam:2")
    assert HELP in " ".join(p.format_help().split())
    with pytest.raises(SystemExit):
        p.parse_args(["--source", "picam:x"])
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == ("demo: error: argument --source: 'picam:x': a Pi camera is 'picam' or 'picam:N' "
                                    "(N = 0, 1, ...)")


def test_open_source_opens_each_kind(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", frames=2)
    with open_source(str(video), max_width=80) as source:
        assert isinstance(source, VideoFileSource) and source.width == 80
    take = tmp_path / "take.npz"
    save_recording(take, Recording(np.zeros((5, 2, 21, 3)), np.zeros((5, 2), bool), "수학", 30.0, "take"))
    replay = open_source(parse_source(str(take)), replay=True)
    assert isinstance(replay, RecordingReplay) and len(replay) == 5 and replay.true_label == "수학"
    with pytest.raises(SourceError, match=r"take.npz: a recording holds hand landmarks, not pictures"):
        open_source(str(take))  # a command that needs pictures (sign-record) says so
    start = time.monotonic()
    for text, message in (("97", "camera 97: cannot open it"), ("/dev/video97", "camera /dev/video97: cannot open")):
        with pytest.raises(SourceError, match=message):
            open_source(text)  # no such camera here: fails fast instead of hanging
    assert time.monotonic() - start < 10.0


@pytest.mark.slow
def test_sign_recognize_reads_its_source_through_the_grammar(capsys):
    from edge_runtime.cli.recognize import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--model", "m.tflite", "--source", "picam:left"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.splitlines()[-1].startswith(
        "sign-recognize: error: argument --source: 'picam:left': a Pi camera is")
    with pytest.raises(SystemExit):
        main(["--help"])
    assert HELP in " ".join(capsys.readouterr().out.split())

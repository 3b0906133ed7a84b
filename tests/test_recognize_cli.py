"""sign-recognize as a user runs it: replayed recordings, JSON lines, bad inputs, no TensorFlow on the device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import exit_code
from test_classifier import with_description
from test_recognizer import Demo, demo  # noqa: F401  (the session fixture: tiny trained model + recordings)

from edge_runtime.cli.recognize import main
from edge_runtime.dataset import Recording, load_recording, save_recording
from edge_runtime.model_info import read_model_info, sidecar_path

REPO = Path(__file__).resolve().parents[1]
EVENT_KEYS = {"label", "confidence", "known", "start_s", "end_s", "top3", "frames", "hand_frames",
              "landmarks_ms_per_frame", "landmarks_ms_total", "inference_ms", "reason"}

pytestmark = pytest.mark.slow


def run_subprocess(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120,
                          env=env)


def test_json_line_per_recognised_sign(demo: Demo, capsys):
    for path in demo.held_out[:3]:
        rec = load_recording(path)
        assert exit_code(main, ["--model", str(demo.models["int8"]), "--source", str(path), "--json"]) == 0
        out, err = capsys.readouterr()
        [line] = out.splitlines()
        event = json.loads(line)
        assert set(event) == EVENT_KEYS | {"true_label"}  # a labelled recording: its label goes with each sign
        assert list(event)[:2] == ["label", "true_label"] and event["true_label"] == rec.label
        assert event["label"] == rec.label and event["known"] is True
        assert 0.5 <= event["confidence"] <= 1.0 and event["top3"][0] == {"label": rec.label, "p": event["confidence"]}
        assert [t["label"] for t in event["top3"]] != [] and len(event["top3"]) == 3
        assert 0 <= event["start_s"] < event["end_s"] <= rec.num_frames / rec.fps
        assert event["frames"] == event["hand_frames"] > 0 and event["inference_ms"] > 0
        assert event["reason"] == "hands_gone" and event["landmarks_ms_per_frame"] == event["landmarks_ms_total"] == 0.0
        if not rec.label.isascii():
            assert rec.label in line  # UTF-8 labels stay readable, not \\u escapes
        # stderr: which interpreter ran, the source, and the summary; stdout holds only the events
        assert "on ai_edge_litert" in err and "int8" in err and "1 sign(s) reported" in err


def test_readable_lines_and_onnx(demo: Demo, capsys):
    rec = load_recording(demo.held_out[1])
    assert exit_code(main, ["--model", str(demo.models["onnx"]), "--source", str(demo.held_out[1])]) == 0
    out, err = capsys.readouterr()
    [line] = out.splitlines()
    assert f"  {rec.label}  " in line and "frames" in line and "inference" in line
    assert f"(recorded as {rec.label})" in line and "landmarks 0.0 ms/frame (0 ms in all)" in line
    assert "on onnxruntime" in err


def test_a_recording_without_hands_prints_nothing_and_says_so(demo: Demo, tmp_path, capsys):
    empty = tmp_path / "empty.npz"
    save_recording(empty, Recording(np.zeros((45, 2, 21, 3)), np.zeros((45, 2), bool), "none", 30.0, "empty"))
    # a run that worked but saw no hands is not an error: stdout stays empty, stderr says why
    assert exit_code(main, ["--model", str(demo.models["float"]), "--source", str(empty), "--json"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "no hands were found in any of the 45 frames" in err


def _sidecar(demo: Demo, tmp_path: Path, name: str, change: dict) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    model = folder / demo.models["float"].name
    model.write_bytes(demo.models["float"].read_bytes())
    data = read_model_info(demo.models["float"]).to_dict()
    data.update(change)
    sidecar_path(model).write_text(json.dumps(data), encoding="utf-8")
    return model


def test_bad_inputs_are_one_line_and_a_non_zero_exit(demo: Demo, tmp_path, capsys):
    source = str(demo.held_out[0])
    good = read_model_info(demo.models["float"]).to_dict()
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(b"\x00garbage" * 64)
    sidecar_path(corrupt).write_text(json.dumps(good), encoding="utf-8")
    bare = tmp_path / "bare" / "model.tflite"
    bare.parent.mkdir()
    bare.write_bytes(demo.models["float"].read_bytes())
    bad_json = with_description(demo.models["float"], tmp_path / "bad-json", b"{not json")
    no_labels = with_description(demo.models["onnx"], tmp_path / "no-labels", json.dumps(
        {k: v for k, v in good.items() if k not in ("labels", "input", "output")}).encode())
    broken_npz = tmp_path / "broken.npz"
    broken_npz.write_bytes(b"PK\x03\x04 not really a zip")
    cases = {
        "missing model": (["--model", str(tmp_path / "none.tflite"), "--source", source], "model file not found"),
        "corrupt model": (["--model", str(corrupt), "--source", source], "not a usable TFLite model"),
        "missing sidecar": (["--model", str(bare), "--source", source], "no sidecar model.tflite.json"),
        "corrupt embedded description": (["--model", str(bad_json), "--source", source],
                                         f"{bad_json} (embedded description): not valid JSON"),
        "embedded description without labels": (["--model", str(no_labels), "--source", source],
                                                 f"{no_labels} (embedded description): malformed model description "
                                                 "(missing 'labels')"),
        "other spec": (["--model", str(_sidecar(demo, tmp_path, "v2", {"spec": dict(good["spec"], version=2)})),
                        "--source", source], "feature spec hands-xy-angles-v2 is not computed by this runtime"),
        "missing recording": (["--model", str(demo.models["float"]), "--source", str(tmp_path / "x.npz")],
                              "recording file not found"),
        "corrupt recording": (["--model", str(demo.models["float"]), "--source", str(broken_npz)],
                              "cannot read recording"),
        "video without hand model": (["--model", str(demo.models["float"]), "--source", "clip.mp4"],
                                     "--hand-model is required"),
    }
    for name, (args, message) in cases.items():
        assert exit_code(main, args) == 2, name
        out, err = capsys.readouterr()
        assert out == "", name
        assert err.count("\n") == 1 and err.startswith("sign-recognize: error: ") and message in err, (name, err)

    assert exit_code(main, ["--model", str(demo.models["float"]), "--source", source, "--threshold", "1.5"]) == 2
    assert "threshold must be within -1..1" in capsys.readouterr().err


def test_the_device_path_never_imports_tensorflow_or_mediapipe(demo: Demo):
    code = f"""
import sys
import edge_runtime, edge_runtime.classifier, edge_runtime.recognizer, edge_runtime.segment, edge_runtime.replay
import edge_runtime.display, edge_runtime.cli.recognize
heavy = [m for m in ("tensorflow", "keras", "mediapipe") if m in sys.modules]
assert not heavy, "import edge_runtime loaded " + ", ".join(heavy)
from edge_runtime.cli.recognize import main
for model in ({str(demo.models["int8"])!r}, {str(demo.models["onnx"])!r}):
    try:
        main(["--model", model, "--source", {str(demo.held_out[0])!r}, "--json"])
    except SystemExit as exit:
        assert exit.code == 0, exit.code
heavy = [m for m in ("tensorflow", "keras", "mediapipe") if m in sys.modules]
assert not heavy, "sign-recognize loaded " + ", ".join(heavy)
print("clean")
"""
    result = run_subprocess(code)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "clean" and len(lines) == 3 and all(json.loads(x)["known"] for x in lines[:2])


@pytest.mark.parametrize("display", [None, ":99"], ids=["no-DISPLAY", "unreachable-X-server"])
def test_show_without_a_display_warns_once_and_runs_headless(demo: Demo, display):
    """OpenCV's Qt window would abort the process on an unreachable X server: it must be a warning instead."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    if display:
        env["DISPLAY"] = display
    code = f"""
from edge_runtime.cli.recognize import main
main(["--model", {str(demo.models["float"])!r}, "--source", {str(demo.held_out[2])!r}, "--show", "--json"])
"""
    result = run_subprocess(code, env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["label"] == load_recording(demo.held_out[2]).label
    warnings = [line for line in result.stderr.splitlines() if "--show" in line]
    assert len(warnings) == 1 and "continuing headless" in warnings[0]
    assert ("cannot connect to the X display :99" if display else "no display") in warnings[0]


# --- camera and video: need OpenCV, edge_runtime.capture and a landmark backend --------------------------------

@pytest.fixture(scope="module")
def capture():
    return pytest.importorskip("edge_runtime.capture", reason="needs edge_runtime.capture (camera/video input)")


def test_camera_that_does_not_exist_and_unreadable_video(demo: Demo, capture, tmp_path, capsys):
    hand_model = tmp_path / "unused.task"  # the source is checked before the hand model is opened
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("just text")
    for source, message in (("57", "camera 57: cannot open it"), (str(not_video), "cannot open as a video"),
                            (str(tmp_path / "gone.mp4"), "video file not found")):
        assert exit_code(main, ["--model", str(demo.models["float"]), "--source", source,
                        "--hand-model", str(hand_model)]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and message in err, err


def _black_video(path: Path, frames: int = 20) -> Path:
    cv2 = pytest.importorskip("cv2")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (320, 240))
    for _ in range(frames):
        writer.write(np.zeros((240, 320, 3), np.uint8))
    writer.release()
    return path


@pytest.mark.shared
def test_video_without_hands_and_a_real_ksl_video(demo: Demo, capture, hand_task, ksl_videos, tmp_path, capsys):
    pytest.importorskip("edge_runtime.landmarks.litert", reason="needs the LiteRT landmark backend")
    black = _black_video(tmp_path / "black.mp4")
    assert exit_code(main, ["--model", str(demo.models["float"]), "--source", str(black), "--hand-model", str(hand_task),
                    "--json"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "no hands were found in any of the 20 frames" in err and "(320x240)" in err

    # one word per video: one segment each, also where the signer holds the sign, then drops the hands (동생)
    for word, frames in (("남편", 65), ("동생", 161)):
        video = next(v for v in ksl_videos if v.stem.endswith(f"__{word}"))
        assert exit_code(main, ["--model", str(demo.models["int8"]), "--source", str(video), "--hand-model", str(hand_task),
                        "--max-width", "480", "--json", "--threshold", "0"]) == 0
        out, err = capsys.readouterr()
        # the tiny synthetic model does not know KSL words: this checks the pipeline and the cut, not the word
        [event] = [json.loads(line) for line in out.splitlines()]
        assert "(480x270)" in err and "litert landmarks" in err and f"{frames} frames" in err
        assert "true_label" not in event and event["end_s"] - event["start_s"] >= 0.5  # a video has no label
        assert event["landmarks_ms_total"] == pytest.approx(event["landmarks_ms_per_frame"] * event["frames"], rel=0.01)
        assert 0 < event["landmarks_ms_per_frame"] < event["landmarks_ms_total"]


def test_first_ctrl_c_finishes_the_sign_and_the_summary(demo: Demo):
    """On a device the user stops a live run with Ctrl-C (systemd with SIGTERM): the open sign is still reported."""
    import signal

    from edge_runtime.classifier import load_classifier
    from edge_runtime.cli.recognize import stop_on_signal
    from edge_runtime.recognizer import Recognizer
    from edge_runtime.replay import RecordingReplay

    rec = load_recording(demo.held_out[0])
    first, end = rec.extra["sign_frames"]
    seen = []

    def on_frame(view) -> None:
        seen.append(view)
        if len(seen) == end - 5:
            os.kill(os.getpid(), signal.SIGINT)

    recognizer = Recognizer(RecordingReplay(rec), None, load_classifier(demo.models["float"]), on_frame=on_frame)
    before = signal.getsignal(signal.SIGINT)
    with stop_on_signal(recognizer):
        events = list(recognizer)
    assert signal.getsignal(signal.SIGINT) is before
    assert len(seen) == end - 5 and [e.reason for e in events] == ["end_of_stream"]
    assert events[0].label == rec.label


def test_recognition_from_video_with_litert_landmarks_imports_neither_tensorflow_nor_mediapipe(
        demo: Demo, hand_task, ksl_videos):
    """The device's whole path (video → LiteRT landmarks → features → int8 classifier) on a real video."""
    video = next(v for v in ksl_videos if v.name.endswith("남편.mp4"))
    code = f"""
import sys
from edge_runtime.cli.recognize import main
try:
    main(["--model", {str(demo.models["int8"])!r}, "--source", {str(video)!r}, "--hand-model", {str(hand_task)!r},
          "--landmarks", "litert", "--threshold", "0", "--json"])
except SystemExit as exit:
    assert exit.code == 0, exit.code
heavy = [m for m in ("tensorflow", "keras", "mediapipe") if m in sys.modules]
print("HEAVY:" + ",".join(heavy))
"""
    result = run_subprocess(code)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert events and events[0]["landmarks_ms_per_frame"] > 0 and events[0]["hand_frames"] > 10
    assert result.stdout.splitlines()[-1] == "HEAVY:"

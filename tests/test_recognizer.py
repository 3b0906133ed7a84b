"""The Recognizer API: a trained (tiny) classifier recognises replayed recordings of its classes.

``demo_bundle`` makes the test world once per session: synthetic recordings of
three signs (training and held-out takes, different random seeds), a small
model trained on the training takes, exported as float/int8 TFLite and ONNX
with sidecars. The CLI tests reuse it; a shared fixture that trains and exports
the project's real demo model can replace it without changing the tests.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from edge_runtime.classifier import load_classifier
from edge_runtime.dataset import Recording, load_recording, save_recording
from edge_runtime.errors import SourceError
from edge_runtime.hands import HandSequence
from edge_runtime.landmarks import HandFrame, LandmarkBackend
from edge_runtime.recognizer import Recognizer, RecognizerConfig
from edge_runtime.replay import RecordingReplay
from edge_runtime.segment import DecisionConfig, sign_span
from edge_runtime.spec import FeatureSpec
from test_classifier import export_tiny_model, fit_tiny_model
from test_segment import hand

SPEC = FeatureSpec(frames=16)
SIGNS = ("wave", "circle", "형,오빠")  # a Korean label with a comma, as in the shared KSL videos
FPS = 30.0


def perform(label: str, rng: np.random.Generator, fps: float = FPS, lead_s: float | None = None,
            tail_s: float | None = None) -> Recording:
    """One synthetic take: no hands, the sign (1.0-1.5 s), no hands again; position, size and speed vary."""
    lead = rng.uniform(0.2, 0.4) if lead_s is None else lead_s
    tail = rng.uniform(0.4, 0.6) if tail_s is None else tail_s
    sign = rng.uniform(1.0, 1.5)
    n_lead, n_sign, n_tail = (int(round(s * fps)) for s in (lead, sign, tail))
    n = n_lead + n_sign + n_tail
    landmarks = np.zeros((n, 2, 21, 3), np.float32)
    present = np.zeros((n, 2), bool)
    x0, y0 = rng.uniform(0.4, 0.6), rng.uniform(0.45, 0.6)
    size = rng.uniform(0.07, 0.09)
    for k in range(n_sign):
        phase = k / max(n_sign - 1, 1)
        i = n_lead + k
        if label == "wave":  # right hand, open, side to side twice
            landmarks[i, 1] = hand(x0 + 0.12 * np.sin(4 * np.pi * phase), y0, size)
            present[i, 1] = True
        elif label == "circle":  # right hand, open, one circle
            a = 2 * np.pi * phase
            landmarks[i, 1] = hand(x0 + 0.1 * np.cos(a), y0 + 0.1 * np.sin(a), size)
            present[i, 1] = True
        else:  # both hands, curled, rising together
            for h, dx in ((0, 0.12), (1, -0.12)):  # the signer's left hand is on the image's right
                landmarks[i, h] = hand(x0 + dx, y0 + 0.1 - 0.2 * phase, size, curl=0.5)
            present[i] = True
    landmarks[present] += rng.normal(0, 0.002, landmarks[present].shape).astype(np.float32)
    return Recording(landmarks=landmarks, present=present, label=label, fps=fps, source_id=f"synthetic-{label}",
                     aspect=16 / 9, extra={"sign_frames": [n_lead, n_lead + n_sign]})


def concatenate(takes: list[Recording], label: str = "stream") -> Recording:
    """Several takes back to back, as one long stream (each keeps its own no-hand lead and tail)."""
    return Recording(landmarks=np.concatenate([r.landmarks for r in takes]),
                     present=np.concatenate([r.present for r in takes]), label=label, fps=takes[0].fps,
                     source_id="stream", aspect=takes[0].aspect)


def sign_only(rec: Recording) -> HandSequence:
    """The frames the device will classify: training on the whole take (with its no-hand lead and tail)
    would teach the model a timing the device never shows it."""
    start, stop = sign_span(rec.hands, rec.fps)
    return rec.hands.frames(start, stop)


@dataclass
class Demo:
    folder: Path
    models: dict[str, Path]  # float / int8 / onnx
    held_out: list[Path]  # recordings never seen in training, one file each
    labels: list[str]


def demo_bundle(folder: Path) -> Demo:
    """Build (once; later calls reuse the folder) the synthetic demo: recordings and a trained, exported model."""
    labels = sorted(SIGNS)
    held_out = [folder / "held-out" / f"{i}.npz" for i in range(3 * len(SIGNS))]
    models = {"float": folder / "model_float.tflite", "int8": folder / "model_int8.tflite",
              "onnx": folder / "model_float.onnx"}
    if not (folder / "done").exists():
        rng = np.random.default_rng(1)
        train = [perform(label, rng) for label in SIGNS for _ in range(8)]
        X = np.stack([SPEC.model_input(sign_only(r)) for r in train])
        y = np.array([labels.index(r.label) for r in train])
        model = fit_tiny_model(X, y, len(labels), epochs=60)
        export_tiny_model(model, folder, labels, SPEC, X)
        test_rng = np.random.default_rng(2)
        for i, path in enumerate(held_out):
            save_recording(path, perform(SIGNS[i % len(SIGNS)], test_rng))
        (folder / "done").write_text("ok")
    return Demo(folder, models, held_out, labels)


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Demo:
    return demo_bundle(tmp_path_factory.getbasetemp() / "signedge-demo")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["float", "int8", "onnx"])
def test_each_replayed_sign_is_recognised_once(demo, fmt):
    clf = load_classifier(demo.models[fmt], threads=1, expected_spec=FeatureSpec())
    for path in demo.held_out:
        rec = load_recording(path)
        replay = RecordingReplay(path)
        events = list(Recognizer(replay, None, clf))
        assert [e.label for e in events] == [rec.label], f"{path.name} ({rec.label})"
        [event] = events
        first, end = rec.extra["sign_frames"]
        assert event.known and event.confidence >= 0.5 and event.top3[0] == (rec.label, event.confidence)
        assert event.start_s == pytest.approx(first / FPS) and event.end_s == pytest.approx((end - 1) / FPS)
        assert event.frames == end - first and event.reason == "hands_gone"
        assert event.landmarks_ms_per_frame == event.landmarks_ms_total == 0.0 and event.inference_ms > 0
        assert event.true_label == rec.label  # what the recording holds, whatever the model said


@pytest.mark.slow
def test_a_stream_of_signs_gives_one_event_per_sign_in_order(demo):
    takes = [load_recording(p) for p in demo.held_out]
    stream = concatenate(takes)
    recognizer = Recognizer(RecordingReplay(stream), None, load_classifier(demo.models["int8"], threads=1))
    events = list(recognizer)
    assert [e.label for e in events] == [t.label for t in takes]
    offset = 0
    for event, take in zip(events, takes):
        first, _ = take.extra["sign_frames"]
        assert event.start_s == pytest.approx((offset + first) / FPS)
        offset += take.num_frames
    stats = recognizer.stats
    assert stats.frames == stream.num_frames and stats.hand_frames == stream.hand_frames
    assert stats.segments == stats.events == len(takes) and stats.unknown == 0


@pytest.mark.slow
def test_sliding_windows_report_each_sign_once(demo):
    """At 10 fps a window of T=16 frames (1.6 s) holds a whole sign; the cooldown merges overlapping windows."""
    rng = np.random.default_rng(5)
    order = ["wave", "형,오빠", "circle", "wave"]
    takes = [perform(label, rng, fps=10.0, lead_s=0.6, tail_s=1.2) for label in order]
    config = RecognizerConfig(sliding=True, stride=2, decision=DecisionConfig(threshold=0.8, report_unknown=False))
    clf = load_classifier(demo.models["float"], threads=1)
    events = list(Recognizer(RecordingReplay(concatenate(takes)), None, clf, config))
    assert [e.label for e in events] == order
    assert all(e.frames == 16 and e.reason == "window" for e in events)


class ScriptedBackend:
    """A landmark 'detector' that reads the hands from a recording by frame number (the image holds it)."""

    name = "mediapipe"
    model_sha256 = "0" * 64

    def __init__(self, rec: Recording) -> None:
        self.rec = rec
        self.timestamps: list[int] = []
        self.closed = False

    def process(self, image_bgr: np.ndarray, timestamp_ms: int) -> HandFrame:
        self.timestamps.append(timestamp_ms)
        i = int(image_bgr[0, 0, 0]) + 256 * int(image_bgr[0, 0, 1])
        time.sleep(0.001)
        return HandFrame(self.rec.landmarks[i], self.rec.present[i], self.rec.present[i].astype(np.float32))

    def close(self) -> None:
        self.closed = True


def video_frames(rec: Recording, width: int = 64, height: int = 36):
    for i in range(rec.num_frames):
        image = np.zeros((height, width, 3), np.uint8)
        image[0, 0, :2] = (i % 256, i // 256)
        yield i / rec.fps, image


@pytest.mark.slow
def test_camera_like_source_goes_through_the_landmark_backend(demo, caplog):
    rec = load_recording(demo.held_out[1])
    backend = ScriptedBackend(rec)
    assert isinstance(backend, LandmarkBackend)
    clf = load_classifier(demo.models["float"], threads=1)
    with caplog.at_level(logging.WARNING):
        recognizer = Recognizer(video_frames(rec), backend, clf)
    # the model card says its data came from litert; this backend calls itself mediapipe
    assert "'litert' landmark backend, this run uses 'mediapipe'" in caplog.text
    [event] = list(recognizer)
    assert event.label == rec.label
    assert recognizer.aspect == pytest.approx(64 / 36)
    assert backend.timestamps == sorted(set(backend.timestamps)) and len(backend.timestamps) == rec.num_frames
    # landmark time per frame (each took >= 1 ms) and summed over the segment's frames; the run's total
    assert event.landmarks_ms_per_frame >= 1.0 and recognizer.stats.landmarks_ms >= rec.num_frames * 1.0
    assert event.landmarks_ms_total == pytest.approx(event.landmarks_ms_per_frame * event.frames)
    assert event.true_label is None and "true_label" not in event.to_dict()  # images carry no label


@pytest.mark.slow
def test_frames_without_hands_are_no_sign_and_no_crash(demo):
    rec = load_recording(demo.held_out[0])
    empty = Recording(np.zeros_like(rec.landmarks), np.zeros_like(rec.present), "none", FPS, "empty")
    clf = load_classifier(demo.models["float"], threads=1)
    recognizer = Recognizer(RecordingReplay(empty), None, clf)
    assert list(recognizer) == []
    assert recognizer.stats.frames == rec.num_frames and recognizer.stats.hand_frames == 0
    assert "0 with hands" in recognizer.stats.summary()

    with pytest.raises(SourceError, match="a landmark backend is needed"):
        list(Recognizer(video_frames(rec), None, clf))


@pytest.mark.slow
def test_stopping_mid_sign_flushes_it(demo):
    rec = load_recording(demo.held_out[2])
    first, end = rec.extra["sign_frames"]
    clf = load_classifier(demo.models["float"], threads=1)
    views = []

    def on_frame(view) -> None:
        views.append(view)
        if len(views) == end - 3:
            recognizer.stop()

    recognizer = Recognizer(RecordingReplay(rec), None, clf, on_frame=on_frame)
    events = list(recognizer)
    assert len(views) == end - 3 and views[-1].in_sign and views[0].image is None
    [event] = events
    assert event.reason == "end_of_stream" and event.frames == end - 3 - first


def test_show_draws_the_hands_and_the_word_on_the_frame(demo):
    """What --show puts in its window (drawn without one: the test machine is headless)."""
    pytest.importorskip("cv2")
    from edge_runtime.display import draw_frame
    from edge_runtime.recognizer import FrameView, SignEvent

    rec = load_recording(demo.held_out[0])
    i = rec.extra["sign_frames"][0] + 5
    hands = HandFrame(rec.landmarks[i], rec.present[i], rec.present[i].astype(np.float32))
    event = SignEvent("형,오빠", 0.9, True, 0.0, 1.0, [("형,오빠", 0.9)], 30, 30, 0.0, 0.0, 0.1, "hands_gone")
    image = np.zeros((360, 640, 3), np.uint8)
    drawn = draw_frame(FrameView(1.0, image, hands, True, event, 29.5), demo.labels)
    assert drawn.shape == image.shape and not image.any()  # the camera frame itself is left alone
    h, w = image.shape[:2]
    for hand_slot in np.flatnonzero(rec.present[i]):
        x, y = (rec.landmarks[i, hand_slot, 0, :2] * (w, h)).round().astype(int)
        assert drawn[y, x].any(), "no skeleton drawn at the wrist"
    assert drawn[:40].any() and drawn[h - 60:].any()  # FPS at the top, the word at the bottom
    # a replay has no image: the hands are drawn on a black canvas of the recording's aspect
    canvas = draw_frame(FrameView(1.0, None, hands, False, None, 30.0), demo.labels, aspect=16 / 9)
    assert canvas.shape == (360, 640, 3) and canvas.any()

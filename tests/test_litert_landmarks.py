"""The LiteRT hand pipeline: MediaPipe's geometry rebuilt with numpy/cv2, checked piece by piece and end to end."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_runtime.errors import ModelError, SignedgeError, SourceError
from edge_runtime.landmarks import HandFrame, LandmarkBackend
from edge_runtime.landmarks.anchors import AnchorOptions, ssd_anchors
from edge_runtime.landmarks.litert import LiteRTHands, _duplicates
from edge_runtime.landmarks.palm import Palms, decode_palms, sigmoid_scores, weighted_nms
from edge_runtime.landmarks.roi import (
    HAND_TARGET_ANGLE, PALM_TARGET_ANGLE, Rect, crop_matrix, project_points, rect_from_landmarks, rect_from_palm,
    rotation_to_vertical, transform_rect, unproject_points)
from edge_runtime.landmarks.task_file import DETECTOR, LANDMARKER
from edge_runtime.hands import LEFT, RIGHT

REPO = Path(__file__).resolve().parents[1]
VIDEO = "가족__남편.mp4"  # both hands in view from frame ~13 to ~50


# ---------------------------------------------------------------- anchors ----------------------------------------

def test_palm_anchors_follow_the_graph_options():
    anchors = ssd_anchors()
    assert anchors.shape == (2016, 4)
    # Stride 8: a 24x24 grid with 2 anchors per cell, then the three stride-16 layers share a 12x12 grid, 6 per cell.
    np.testing.assert_allclose(anchors[0], [0.5 / 24, 0.5 / 24, 1, 1])
    np.testing.assert_allclose(anchors[1], anchors[0])
    np.testing.assert_allclose(anchors[2], [1.5 / 24, 0.5 / 24, 1, 1])
    np.testing.assert_allclose(anchors[24 * 24 * 2], [0.5 / 12, 0.5 / 12, 1, 1])
    np.testing.assert_allclose(anchors[24 * 24 * 2 + 5], [0.5 / 12, 0.5 / 12, 1, 1])
    np.testing.assert_allclose(anchors[-1], [11.5 / 12, 11.5 / 12, 1, 1])


def test_anchor_sizes_when_not_fixed_use_scale_and_interpolated_scale():
    anchors = ssd_anchors(AnchorOptions(fixed_anchor_size=False))
    s0 = 0.1484375
    s1 = s0 + (0.75 - s0) / 3
    np.testing.assert_allclose(anchors[0, 2:], [s0, s0], rtol=1e-6)
    np.testing.assert_allclose(anchors[1, 2:], [math.sqrt(s0 * s1)] * 2, rtol=1e-6)
    np.testing.assert_allclose(anchors[-1, 2:], [math.sqrt(0.75 * 1.0)] * 2, rtol=1e-6)  # last layer: next scale 1


# ---------------------------------------------------------------- palm decoding and NMS -------------------------

def test_decode_turns_anchor_offsets_into_boxes_and_keypoints():
    anchors = ssd_anchors()
    raw = np.zeros((1, 2016, 18), np.float32)
    logits = np.full((1, 2016, 1), -10.0, np.float32)
    i = 100  # anchor centre (4.5/24, 2.5/24)
    raw[0, i, :4] = [19.2, -9.6, 48.0, 96.0]  # dx, dy, w, h in input pixels (192)
    raw[0, i, 4:6] = [0.0, 19.2]  # keypoint 0: 0.1 below the anchor centre
    logits[0, i, 0] = 2.0
    palms = decode_palms(raw, logits, anchors, min_score=0.5)
    assert len(palms) == 1
    cx, cy = anchors[i, 0] + 0.1, anchors[i, 1] - 0.05
    np.testing.assert_allclose(palms.boxes[0], [cx - 0.125, cy - 0.25, cx + 0.125, cy + 0.25], atol=1e-6)
    np.testing.assert_allclose(palms.keypoints[0, 0], [anchors[i, 0], anchors[i, 1] + 0.1], atol=1e-6)
    assert palms.scores[0] == pytest.approx(1 / (1 + math.exp(-2.0)))


def test_scores_are_clipped_before_the_sigmoid_and_low_scores_dropped():
    assert sigmoid_scores(np.array([1e4, -1e4, 0.0])).tolist() == pytest.approx([1.0, 0.0, 0.5])
    raw = np.zeros((1, 2016, 18), np.float32)
    assert len(decode_palms(raw, np.full((1, 2016, 1), -1.0, np.float32), ssd_anchors(), 0.5)) == 0


def test_weighted_nms_merges_overlapping_palms_by_score():
    boxes = np.array([[0.10, 0.10, 0.30, 0.30],   # best
                      [0.12, 0.12, 0.32, 0.32],   # overlaps the best (IoU ~0.68): merged into it
                      [0.60, 0.60, 0.80, 0.80]],  # elsewhere: its own palm
                     np.float32)
    keypoints = np.zeros((3, 7, 2), np.float32)
    keypoints[:, 0] = boxes[:, :2]
    palms = Palms(boxes, keypoints, np.array([0.9, 0.6, 0.7], np.float32))
    out = weighted_nms(palms)
    assert len(out) == 2
    np.testing.assert_allclose(out.scores, [0.9, 0.7])
    np.testing.assert_allclose(out.boxes[0], (0.9 * boxes[0] + 0.6 * boxes[1]) / 1.5, atol=1e-6)
    np.testing.assert_allclose(out.keypoints[0, 0], (0.9 * boxes[0, :2] + 0.6 * boxes[1, :2]) / 1.5, atol=1e-6)
    np.testing.assert_allclose(out.boxes[1], boxes[2])
    assert len(weighted_nms(palms, max_count=1)) == 1


# ---------------------------------------------------------------- ROI geometry --------------------------------

def test_rotation_turns_the_wrist_to_knuckle_vector_upright():
    assert rotation_to_vertical(100, 200, 100, 100) == pytest.approx(0.0)  # already pointing up
    assert rotation_to_vertical(100, 200, 200, 200) == pytest.approx(math.pi / 2)  # pointing right
    assert rotation_to_vertical(100, 200, 0, 200) == pytest.approx(-math.pi / 2)  # pointing left
    assert abs(rotation_to_vertical(100, 100, 100, 200)) == pytest.approx(math.pi)  # pointing down


def test_palm_region_points_the_fingers_up_in_the_crop():
    w, h = 1280, 720
    wrist, knuckle = np.array([0.40, 0.60]), np.array([0.50, 0.60 - 0.10 * w / h])  # up and right, 45 degrees
    box = np.array([0.38, 0.40, 0.52, 0.62])
    keypoints = np.zeros((7, 2))
    keypoints[0], keypoints[2] = wrist, knuckle
    upright = rect_from_palm(box, keypoints, w, h, target=HAND_TARGET_ANGLE)
    assert upright.rotation == pytest.approx(math.pi / 4)
    m = crop_matrix(upright, w, h, 224, 224)
    crop_wrist = m @ [wrist[0] * w, wrist[1] * h, 1]
    crop_knuckle = m @ [knuckle[0] * w, knuckle[1] * h, 1]
    assert crop_knuckle[0] == pytest.approx(crop_wrist[0], abs=1e-6)
    assert crop_knuckle[1] < crop_wrist[1]  # the fingers point up in the crop
    assert upright.width * w == pytest.approx(upright.height * h)  # square in pixels
    # MediaPipe Tasks' detector graph gives the target angle 90 as radians: 0.4646 rad more than upright.
    tasks = rect_from_palm(box, keypoints, w, h)
    assert PALM_TARGET_ANGLE == 90.0
    assert tasks.rotation - upright.rotation == pytest.approx(90.0 - 14 * 2 * math.pi - math.pi / 2)


def test_transform_shifts_towards_the_fingers_and_squares_the_long_side():
    w, h = 1000, 500
    up = transform_rect(Rect(0.5, 0.5, 0.1, 0.4), w, h, scale=2.0, shift_y=-0.5)
    assert (up.x_center, up.y_center) == pytest.approx((0.5, 0.5 - 0.2))
    assert (up.width * w, up.height * h) == pytest.approx((400.0, 400.0))  # long side 0.4 * 500 = 200, x2
    right = transform_rect(Rect(0.5, 0.5, 0.1, 0.2, math.pi / 2), w, h, scale=1.0, shift_y=-0.5)
    assert right.x_center == pytest.approx(0.5 + 0.5 * 0.2 * h / w)  # fingers point right: the box moves right
    assert right.y_center == pytest.approx(0.5)


def test_projection_round_trip_and_agreement_with_the_crop():
    rng = np.random.default_rng(0)
    w, h = 1280, 720
    rect = Rect(0.45, 0.55, 300 / w, 300 / h, 0.7)
    unit = rng.uniform(0, 1, (21, 3)).astype(np.float32)
    image = project_points(unit, rect)
    np.testing.assert_allclose(unproject_points(image, rect), unit, atol=1e-5)
    # A crop pixel projected back must land where the crop matrix took it from.
    m = crop_matrix(rect, w, h, 224, 224)
    pix = np.c_[image[:, 0] * w, image[:, 1] * h, np.ones(21)]
    np.testing.assert_allclose((pix @ m.T) / 224, unit[:, :2], atol=1e-5)
    assert image[:, 2] == pytest.approx(unit[:, 2] * rect.width)  # z scales like x


def _hand(angle: float, w: int, h: int, center=(0.5, 0.5), size=100.0) -> np.ndarray:
    """An upright synthetic hand (pixels: wrist at the bottom, fingers up) turned by ``angle`` on screen."""
    pts = np.zeros((21, 3))
    xs = [0, -40, -55, -65, -75, -30, -32, -34, -36, 0, 0, 0, 0, 25, 26, 27, 28, 45, 48, 50, 52]
    ys = [0, -20, -40, -55, -70, -80, -110, -130, -150, -85, -120, -145, -165, -80, -112, -134, -152, -70, -95, -110,
          -125]
    local = np.c_[xs, ys] * size / 100.0
    c, s = math.cos(angle), math.sin(angle)
    turned = local @ np.array([[c, s], [-s, c]])  # rotate clockwise on screen (y down)
    pts[:, 0] = center[0] + turned[:, 0] / w
    pts[:, 1] = center[1] + turned[:, 1] / h
    return pts.astype(np.float32)


@pytest.mark.parametrize("angle", [0.0, 0.5, -1.2, 2.8])
def test_tracking_region_follows_the_hand_rotation(angle):
    w, h = 1280, 720
    rect = rect_from_landmarks(_hand(angle, w, h), w, h)
    assert math.remainder(rect.rotation - angle, 2 * math.pi) == pytest.approx(0.0, abs=0.05)
    assert rect.width * w == pytest.approx(rect.height * h)
    m = crop_matrix(rect, w, h, 224, 224)
    crop = np.c_[_hand(angle, w, h)[:, :2] * (w, h), np.ones(21)] @ m.T
    assert (crop > 0).all() and (crop < 224).all()  # the whole hand is inside the next crop
    assert crop[12, 1] < crop[0, 1]  # fingertip above the wrist


def test_duplicate_hands_are_dropped_and_distinct_hands_kept():
    w, h = 1280, 720
    a = _hand(0.0, w, h, center=(0.4, 0.6))
    near = a + np.float32(0.002)
    far = _hand(0.0, w, h, center=(0.7, 0.6))
    assert _duplicates([a, near, far], w, h) == {1}


def test_slots_follow_handedness_and_the_surer_hand_keeps_a_disputed_slot():
    hand = np.zeros((21, 3), np.float32)
    frame = LiteRTHands._to_frame([(hand + 1, 0.9, 0.7), (hand + 2, 0.9, 0.95)])  # both say "right"
    assert frame.present.tolist() == [True, True]
    assert frame.landmarks[RIGHT, 0, 0] == 2 and frame.landmarks[LEFT, 0, 0] == 1
    assert frame.score.tolist() == pytest.approx([0.7, 0.95])
    frame = LiteRTHands._to_frame([(hand, 0.9, 0.1)])
    assert frame.present.tolist() == [True, False] and frame.score[LEFT] == pytest.approx(0.9)


# ---------------------------------------------------------------- bad inputs -----------------------------------

def test_a_task_without_the_two_models_is_one_clear_error(tmp_path):
    bundle = tmp_path / "other.task"
    with zipfile.ZipFile(bundle, "w") as z:
        z.writestr("face_detector.tflite", b"x")
    with pytest.raises(ModelError, match="missing hand_detector.tflite"):
        LiteRTHands(bundle)
    text = tmp_path / "notes.task"
    text.write_text("not a zip")
    with pytest.raises(ModelError, match="not a zip"):
        LiteRTHands(text)
    with pytest.raises(ModelError, match="not found"):
        LiteRTHands(tmp_path / "absent.task")
    with pytest.raises(ModelError, match="two .tflite"):
        LiteRTHands([tmp_path / "a.tflite"])


def test_bad_settings_are_refused():
    with pytest.raises(SignedgeError, match="max_hands"):
        LiteRTHands("unused.task", max_hands=3)
    with pytest.raises(SignedgeError, match="min_presence"):
        LiteRTHands("unused.task", min_presence=1.5)


@pytest.fixture(scope="module")
def tflite_pair(hand_task, tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    with zipfile.ZipFile(hand_task) as z:
        (folder / "detector.tflite").write_bytes(z.read(DETECTOR))
        (folder / "landmarks.tflite").write_bytes(z.read(LANDMARKER))
    return folder / "detector.tflite", folder / "landmarks.tflite"


def test_models_with_unexpected_shapes_are_one_clear_error(tflite_pair, tmp_path):
    detector, landmarks = tflite_pair
    with pytest.raises(ModelError, match=r"hand detector: input is \[1, 224, 224, 3\] float32, expected \[1, 192"):
        LiteRTHands((landmarks, landmarks))
    with pytest.raises(ModelError, match="hand landmark model: output sizes"):
        LiteRTHands((detector, detector))
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"\0" * 64)
    with pytest.raises(ModelError, match="not a usable TFLite model"):
        LiteRTHands((garbage, landmarks))


def test_a_pair_of_tflite_files_works_like_the_bundle(tflite_pair, hand_task):
    with LiteRTHands(tflite_pair, threads=1) as pair, LiteRTHands(hand_task, threads=1) as bundle:
        assert isinstance(pair, LandmarkBackend)
        assert pair.model_sha256 != bundle.model_sha256 and len(pair.model_sha256) == 64
        frame = _frames(_video(), 30, 31)[0]
        a, b = pair.process(frame, 0), bundle.process(frame, 0)
        np.testing.assert_array_equal(a.present, b.present)
        np.testing.assert_allclose(a.landmarks, b.landmarks, atol=1e-6)


def test_bad_frames_and_timestamps_are_one_clear_error(hand_task):
    with LiteRTHands(hand_task, threads=1) as hands:
        with pytest.raises(SourceError, match="BGR uint8"):
            hands.process(np.zeros((64, 64), np.uint8), 0)
        with pytest.raises(SourceError, match="BGR uint8"):
            hands.process(np.zeros((64, 64, 3), np.float32), 0)
        assert hands.process(np.zeros((120, 160, 3), np.uint8), 5).num_hands == 0
        assert hands.process(np.zeros((120, 160, 3), np.uint8), 5).num_hands == 0  # a camera clock may repeat
        with pytest.raises(SourceError, match="timestamps must not go back"):
            hands.process(np.zeros((120, 160, 3), np.uint8), 4)
        hands.reset()  # a new video may start again at 0
        assert hands.process(np.zeros((120, 160, 3), np.uint8), 0).num_hands == 0
    with pytest.raises(SignedgeError, match="closed"):
        hands.process(np.zeros((120, 160, 3), np.uint8), 10)


# ---------------------------------------------------------------- real video -----------------------------------

_VIDEO_DIR = REPO.parent / "shared" / "data" / "ksl-expert-videos"


def _video() -> Path:
    path = _VIDEO_DIR / VIDEO
    if not path.is_file():
        pytest.skip(f"needs {path}")
    return path


def _frames(video: Path, start: int, stop: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    frames = []
    for i in range(stop):
        ok, frame = cap.read()
        assert ok, f"{video} has fewer than {stop} frames"
        if i >= start:
            frames.append(frame)
    cap.release()
    return frames


@pytest.fixture(scope="module")
def clip(ksl_videos) -> list[np.ndarray]:
    video = next((v for v in ksl_videos if v.name == VIDEO), None)
    if video is None:
        pytest.skip(f"needs {VIDEO} among the shared videos")
    return _frames(video, 8, 28)


def _run(backend, frames) -> list[HandFrame]:
    return [backend.process(f, 1000 + 33 * i) for i, f in enumerate(frames)]


def test_finds_both_hands_and_tracks_them_without_the_palm_detector(hand_task, clip):
    with LiteRTHands(hand_task, threads=1) as hands:
        result = _run(hands, clip)
        both = [i for i, r in enumerate(result) if r.num_hands == 2]
        assert len(both) >= 10
        i = both[0]
        runs = hands.palm_runs
        hands.process(clip[-1], 10**6)  # two hands tracked: the detector must not run
        assert hands.palm_runs == runs
        assert hands.palm_runs < len(clip) + 1
        # Un-mirrored studio video facing the camera: the signer's right hand is on the image's left.
        r = result[i]
        assert r.landmarks[RIGHT, 0, 0] < r.landmarks[LEFT, 0, 0]
        assert ((r.landmarks[r.present][..., :2] > 0) & (r.landmarks[r.present][..., :2] < 1)).all()


def test_agrees_with_the_mediapipe_backend(hand_task, clip):
    if importlib.util.find_spec("edge_runtime.landmarks.mediapipe_tasks") is None:
        pytest.skip("the mediapipe backend module is not there")
    if importlib.util.find_spec("mediapipe") is None:
        pytest.skip("mediapipe is not installed")
    from edge_runtime.landmarks.mediapipe_tasks import MediaPipeHands

    with LiteRTHands(hand_task, threads=1) as lit, MediaPipeHands(hand_task) as ref:
        ours, theirs = _run(lit, clip), _run(ref, clip)
    found = np.mean([(a.num_hands > 0) == (b.num_hands > 0) for a, b in zip(ours, theirs)])
    assert found >= 0.9
    dist = [np.hypot(*((a.landmarks[s, :, :2] - b.landmarks[s, :, :2]) * (1, 720 / 1280)).T) * 100
            for a, b in zip(ours, theirs) for s in range(2) if a.present[s] and b.present[s]]
    assert len(dist) >= 20
    assert np.median(np.concatenate(dist)) < 0.5  # % of the image width


def test_the_lite_bundle_loads_and_finds_hands(lite_task, clip):
    with LiteRTHands(lite_task, threads=1) as hands:
        result = _run(hands, clip)
    assert sum(r.num_hands == 2 for r in result) >= 10


def test_running_it_imports_neither_tensorflow_nor_mediapipe(hand_task, tmp_path):
    script = f"""
import sys, numpy as np
from edge_runtime.landmarks import open_backend
with open_backend("litert", {str(hand_task)!r}, threads=1) as hands:
    hands.process(np.zeros((240, 320, 3), np.uint8), 0)
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "mediapipe", "keras"))
print("HEAVY:" + ",".join(bad))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "HEAVY:\n" in done.stdout

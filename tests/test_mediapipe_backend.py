"""The MediaPipe Tasks backend: hands in the project's slots, clear errors, no TensorFlow, quiet stderr."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from helpers import need

from edge_runtime.errors import ModelError
from edge_runtime.landmarks import HandFrame, LandmarkBackend, open_backend
from edge_runtime.landmarks.mediapipe_tasks import assign_slots
from edge_runtime.hands import LEFT, RIGHT

WRIST, THUMB_TIP, PINKY_TIP = 0, 4, 20


def test_hands_go_to_the_slot_their_label_names_and_a_duplicate_label_is_not_dropped() -> None:
    assert assign_slots(["Left", "Right"], [0.9, 0.8]) == [LEFT, RIGHT]
    assert assign_slots(["Right"], [0.6]) == [RIGHT]
    assert assign_slots(["Right", "Right"], [0.7, 0.95]) == [LEFT, RIGHT]  # the surer hand keeps "Right"
    assert assign_slots(["Left", "Left"], [0.99, 0.6]) == [LEFT, RIGHT]
    assert assign_slots([], []) == []


@pytest.fixture(scope="module")
def mediapipe_installed() -> None:
    need("mediapipe")


@pytest.fixture(scope="module")
def husband_frame(ksl_videos: list[Path]) -> np.ndarray:
    """Frame 32 of 가족__남편.mp4: the signer's right hand (image left) raises the little finger,
    the left hand (image right) the thumb."""
    import cv2

    video = next(v for v in ksl_videos if v.name == "가족__남편.mp4")
    cap = cv2.VideoCapture(str(video))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 32)
    ok, frame = cap.read()
    cap.release()
    assert ok
    return frame


def test_the_signers_right_hand_lands_in_slot_1(mediapipe_installed: None, hand_task: Path,
                                                husband_frame: np.ndarray) -> None:
    with open_backend("mediapipe", str(hand_task)) as backend:
        assert isinstance(backend, LandmarkBackend) and backend.name == "mediapipe"
        hands = backend.process(husband_frame, 0)
    assert isinstance(hands, HandFrame) and hands.present.tolist() == [True, True]
    left, right = hands.landmarks[LEFT], hands.landmarks[RIGHT]
    assert right[WRIST, 0] < left[WRIST, 0]  # un-mirrored video: the signer's right hand is on the image's left
    assert right[PINKY_TIP, 1] < right[THUMB_TIP, 1]  # little finger raised (y grows downwards)
    assert left[THUMB_TIP, 1] < left[PINKY_TIP, 1]  # thumb raised
    assert np.all((hands.landmarks[..., :2] > 0) & (hands.landmarks[..., :2] < 1))
    assert np.all(hands.score > 0.5)


def test_a_mirrored_image_swaps_the_slots(mediapipe_installed: None, hand_task: Path,
                                          husband_frame: np.ndarray) -> None:
    mirrored = np.ascontiguousarray(husband_frame[:, ::-1])
    with open_backend("mediapipe", str(hand_task)) as a, open_backend("mediapipe", str(hand_task)) as b:
        plain, flipped = a.process(husband_frame, 0), b.process(mirrored, 0)
    assert flipped.present.all()
    # The hand that raised its little finger is now in slot 0, at the mirrored position.
    assert flipped.landmarks[LEFT, WRIST, 0] == pytest.approx(1.0 - plain.landmarks[RIGHT, WRIST, 0], abs=0.02)
    assert flipped.landmarks[LEFT, PINKY_TIP, 1] < flipped.landmarks[LEFT, THUMB_TIP, 1]


def test_timestamps_must_increase_from_a_file_and_are_nudged_live(mediapipe_installed: None, hand_task: Path,
                                                                  husband_frame: np.ndarray) -> None:
    with open_backend("mediapipe", str(hand_task)) as backend:
        backend.process(husband_frame, 100)
        with pytest.raises(ValueError, match="increase"):
            backend.process(husband_frame, 100)
    with open_backend("mediapipe", str(hand_task), live=True) as backend:
        backend.process(husband_frame, 100)
        assert backend.process(husband_frame, 100).present.all()  # camera clocks may repeat a millisecond
    with pytest.raises(ValueError, match="closed"):
        backend.process(husband_frame, 200)
    with open_backend("mediapipe", str(hand_task)) as backend, pytest.raises(ValueError, match="BGR uint8"):
        backend.process(np.zeros((10, 10), np.uint8), 0)


def test_bad_bundles_are_one_line_model_errors(mediapipe_installed: None, tmp_path: Path,
                                               shared_dir: Path) -> None:
    not_zip = tmp_path / "hand.task"
    not_zip.write_text("hello")
    empty_zip = tmp_path / "empty.task"
    with zipfile.ZipFile(empty_zip, "w") as z:
        z.writestr("readme.txt", "no models here")
    lite = shared_dir / "models" / "hand_landmarker_lite.task"
    cases = [(tmp_path / "missing.task", "not found"), (not_zip, "not a zip"),
             (empty_zip, "missing hand_detector.tflite")]
    if lite.is_file():  # a valid bundle that mediapipe Tasks refuses (float input without metadata)
        cases.append((lite, "--landmarks litert"))
    for path, expected in cases:
        with pytest.raises(ModelError) as err:
            open_backend("mediapipe", str(path))
        assert expected in str(err.value) and "\n" not in str(err.value)


def test_mediapipe_loads_without_tensorflow_and_keeps_stderr_quiet(mediapipe_installed: None, hand_task: Path,
                                                                   husband_frame: np.ndarray,
                                                                   tmp_path: Path) -> None:
    """TensorFlow would cost ~2 s and ~570 MB per sign-extract worker; native start-up logs would bury errors."""
    script = (
        "import sys, numpy as np\n"
        "from edge_runtime.landmarks import open_backend\n"
        f"frame = np.load({str(tmp_path / 'frame.npy')!r})\n"
        f"with open_backend('mediapipe', {str(hand_task)!r}) as b:\n"
        "    hands = b.process(frame, 0)\n"
        "print(int(hands.present.sum()), 'tensorflow' in sys.modules)  # no None entry left behind either\n"
    )
    np.save(tmp_path / "frame.npy", husband_frame)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "False"]
    assert done.stderr.strip() == ""

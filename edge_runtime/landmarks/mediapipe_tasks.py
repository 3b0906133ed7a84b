"""The reference landmark backend: MediaPipe Tasks ``HandLandmarker`` on a ``.task`` bundle.

It is the backend the LiteRT one is checked against, and the one to use on a
host where mediapipe installs. It does not run on the device (mediapipe 1.x
aborts on a Raspberry Pi 4 CPU), which is why ``litert`` is the default of
the commands. mediapipe is imported here only, when a backend is created.

Handedness. The project's slot 0 is the signer's own LEFT hand, slot 1 the
RIGHT hand, in an un-mirrored camera or video image. What MediaPipe's label
means has changed over time, so it was checked rather than assumed:

- the legacy Solutions API (``mp.solutions.hands``, gone in mediapipe >= 0.10.30)
  documented that "handedness is determined assuming the input image is
  mirrored" (selfie view), i.e. on an un-mirrored image its labels were swapped
  (google-ai-edge/mediapipe issues #1374, #3256);
- the Tasks API documents the opposite for ``HandLandmarkerResult.handedness``:
  "Left and Right handedness correspond to the subject's hands, not the viewer.
  Passing a horizontally mirrored image will invert these outputs"
  (ai.google.dev / developers.google.com Tasks API reference), and a
  maintainer confirmed that older tasks-vision releases had it reversed and
  newer ones fixed it (google-ai-edge/mediapipe-samples issue #450, 2024);
- measured with mediapipe 1.2.3 and the bundle of the ``mediapipe==0.10.21``
  models: in frame 32 of ``가족__남편.mp4`` (un-mirrored studio video) the
  hand on the image's left, which shows the back of a fist with the little
  finger raised on its inner side, i.e. the signer's right hand, is labelled
  "Right"; the hand on the image's right (palm-side thumbs-up, the signer's
  left) is labelled "Left"; a horizontally flipped frame swaps both labels.
  The raw landmark model agrees: its handedness output is ~0.95 for that right
  hand crop and ~0.01 for the left one.

So with the Tasks API no swap is needed: "Left" goes to slot 0, "Right" to
slot 1 (``tests/test_mediapipe_backend.py`` pins this on that frame).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from edge_runtime.errors import ModelError, SignedgeError
from edge_runtime.hands import LEFT, NUM_HANDS, NUM_POINTS, RIGHT
from edge_runtime.landmarks.task_file import read_task
from edge_runtime.landmarks.types import HandFrame

log = logging.getLogger(__name__)

SLOT_OF_LABEL = {"Left": LEFT, "Right": RIGHT}  # Tasks labels are the subject's own hands (see above)


@contextlib.contextmanager
def _without_tensorflow() -> Iterator[None]:
    """Keep mediapipe from importing TensorFlow.

    ``mediapipe.tasks.python.core.optional_dependencies`` tries
    ``from tensorflow.tools.docs import doc_controls`` (only for its API docs)
    and falls back to a no-op when TensorFlow is absent. On a host where
    TensorFlow is installed that one import costs about 2 s and 570 MB per
    process: every ``sign-extract`` worker would pay it. A ``None`` entry in
    ``sys.modules`` makes that import fail as if TensorFlow were absent; it is
    removed again right after, so later ``import tensorflow`` works normally.
    """
    if "tensorflow" in sys.modules:
        yield
        return
    sys.modules["tensorflow"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if sys.modules.get("tensorflow", 0) is None:
            del sys.modules["tensorflow"]


@contextlib.contextmanager
def _quiet_native_stderr(enabled: bool = True) -> Iterator[None]:
    """Send file descriptor 2 to /dev/null while mediapipe's C++ side starts, runs its first frame and stops.

    MediaPipe and LiteRT log a dozen INFO/WARNING lines to stderr on every
    start (accelerator registry, unaligned buffers, ...) that no environment
    variable turns off; in ``sign-extract`` that is a dozen lines per video
    around the progress bar, and it buries one-line errors. Python-level
    exceptions are unaffected. With ``-vv`` (DEBUG logging) nothing is hidden.
    """
    if not enabled or log.isEnabledFor(logging.DEBUG):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (embedded interpreter, closed stream)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _import_mediapipe() -> tuple[Any, Any, Any]:
    try:
        with _without_tensorflow():
            import mediapipe as mp
            from mediapipe.tasks.python import vision
            from mediapipe.tasks.python.core.base_options import BaseOptions
    except ImportError as err:
        raise SignedgeError(f"the mediapipe landmark backend needs the mediapipe package "
                            f"(pip install 'signedge[mediapipe]'; or use --landmarks litert): {err}") from err
    return mp, vision, BaseOptions


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def assign_slots(labels: Sequence[str], scores: Sequence[float]) -> list[int]:
    """The slot of each detected hand, from its handedness label and score.

    A hand goes to the slot its label names. When two hands claim the same
    label (the classifier is unsure, e.g. hands seen edge-on), the higher
    score keeps that slot and the other hand takes the free one, so a second
    hand is never dropped. Returns one slot per hand, in input order.
    """
    if len(labels) > NUM_HANDS:
        raise ValueError(f"at most {NUM_HANDS} hands can be placed, got {len(labels)}")
    slots = [-1] * len(labels)
    free = set(range(NUM_HANDS))
    for i in sorted(range(len(labels)), key=lambda k: -float(scores[k])):
        wanted = SLOT_OF_LABEL.get(labels[i], LEFT)
        slot = wanted if wanted in free else min(free)
        slots[i] = slot
        free.discard(slot)
    return slots


class MediaPipeHands:
    """``LandmarkBackend`` over MediaPipe Tasks' ``HandLandmarker`` in VIDEO mode (tracks between frames).

    ``live`` marks frames from a camera, whose timestamps come from a clock and
    can repeat within a millisecond: a non-increasing timestamp is then moved
    one millisecond past the previous one. From a file (``live=False``) a
    non-increasing timestamp is a caller bug and raises ValueError. Both use
    VIDEO mode: Tasks' LIVE_STREAM mode only adds an asynchronous callback,
    which gains nothing when the caller already feeds the newest camera frame
    synchronously (``edge_runtime.capture.CameraSource``).

    ``score`` in the returned HandFrame is the handedness confidence: the
    Tasks API exposes no per-hand presence score.
    """

    name = "mediapipe"

    def __init__(self, model_path: str | Path, max_hands: int = 2, live: bool = False,
                 min_detection: float = 0.5, min_presence: float = 0.5, min_tracking: float = 0.5) -> None:
        if not 1 <= max_hands <= NUM_HANDS:
            raise ValueError(f"max_hands must be 1 or 2, got {max_hands}")
        for what, value in (("min_detection", min_detection), ("min_presence", min_presence),
                            ("min_tracking", min_tracking)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{what} must be within 0..1, got {value}")
        models = read_task(model_path)  # a missing file or a zip without the two models: one ModelError line
        self.model_path = models.path
        self.model_sha256 = models.sha256
        self.live = live
        self._mp, vision, base_options = _import_mediapipe()
        options = vision.HandLandmarkerOptions(
            base_options=base_options(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.VIDEO,
            num_hands=max_hands,
            min_hand_detection_confidence=min_detection,
            min_hand_presence_confidence=min_presence,
            min_tracking_confidence=min_tracking,
        )
        try:
            with _quiet_native_stderr():
                self._landmarker = vision.HandLandmarker.create_from_options(options)
        except Exception as err:  # mediapipe raises RuntimeError/ValueError with multi-line C++ status text
            hint = ""
            if "NormalizationOptions" in str(err):
                hint = " (mediapipe cannot run this bundle, e.g. the lite models; --landmarks litert can)"
            raise ModelError(f"{self.model_path}: mediapipe cannot load this hand model: {_first_line(err)}{hint}"
                             ) from err
        self._last_ms: int | None = None
        self._first_frame = True

    def process(self, image_bgr: np.ndarray, timestamp_ms: int) -> HandFrame:
        """Landmarks of one BGR frame in the project's slots; timestamps must increase."""
        image = np.asarray(image_bgr)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected a BGR uint8 image [H, W, 3], got {image.dtype} {list(image.shape)}")
        if self._landmarker is None:
            raise ValueError("this MediaPipeHands backend is closed")
        ts = int(timestamp_ms)
        if self._last_ms is not None and ts <= self._last_ms:
            if not self.live:
                raise ValueError(f"timestamps must increase: got {ts} ms after {self._last_ms} ms")
            ts = self._last_ms + 1
        self._last_ms = ts
        rgb = np.ascontiguousarray(image[:, :, ::-1])
        mp_image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
        with _quiet_native_stderr(enabled=self._first_frame):  # the first frame logs its own warnings
            result = self._landmarker.detect_for_video(mp_image, ts)
        self._first_frame = False
        return self._to_frame(result)

    @staticmethod
    def _to_frame(result: Any) -> HandFrame:
        frame = HandFrame()
        hands = list(result.hand_landmarks)
        if not hands:
            return frame
        labels = [cats[0].category_name if cats else "" for cats in result.handedness]
        scores = [float(cats[0].score) if cats else 0.0 for cats in result.handedness]
        for points, slot, score in zip(hands, assign_slots(labels, scores), scores, strict=True):
            frame.landmarks[slot] = np.array([(p.x, p.y, p.z) for p in points], np.float32).reshape(NUM_POINTS, 3)
            frame.present[slot] = True
            frame.score[slot] = score
        return frame

    def close(self) -> None:
        """Release the graph now: left to ``__del__``, it fails noisily at interpreter exit."""
        landmarker, self._landmarker = getattr(self, "_landmarker", None), None
        if landmarker is not None:
            with _quiet_native_stderr():
                landmarker.close()

    def __enter__(self) -> "MediaPipeHands":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Hand landmarks on the device without mediapipe: the two models of ``hand_landmarker.task`` run directly.

mediapipe 1.x aborts on a Raspberry Pi 4 CPU (no LSE atomics), while LiteRT
runs there, and so do the palm detector and the landmark model inside a
``hand_landmarker.task`` (builtin ops only). This backend is MediaPipe's CPU
hand-landmarker graph rebuilt with numpy and OpenCV:

1. if fewer hands are tracked than ``max_hands``: letterbox the frame to
   192x192, run the palm detector, decode + weighted NMS (:mod:`.palm`), turn
   each palm into a rotated hand region (:mod:`.roi`), and keep the palms that
   do not overlap a tracked hand (IoU > ``min_tracking``, MediaPipe's hand
   association);
2. for every region: crop 224x224, run the landmark model, keep the hand if
   its presence score passes ``min_presence``, project the landmarks back
   and derive next frame's region from them (tracking);
3. drop duplicate hands (MediaPipe's landmark-based de-duplication) and put
   each hand in its slot: 0 = the signer's left hand, 1 = right.

Handedness: the landmark model's handedness output is the probability of a
RIGHT hand in an un-mirrored image. MediaPipe Tasks labels it that way since
its commit ed0c8d8 "Swap left and right hand labels" (2023: label 0 =
"Right" with score = the output); the legacy Hands solution called the same
value "Left" and documented selfie-mirrored input. Checked on the shared KSL
videos: the output is ~0.95 for the hand Tasks labels "Right" (the one on the
image's left in these front-facing, un-mirrored recordings) and sign-parity
finds 99% of hands in the same slot as the mediapipe backend.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from edge_runtime.errors import ModelError, SignedgeError, SourceError
from edge_runtime.hands import LEFT, NUM_HANDS, NUM_POINTS, RIGHT
from edge_runtime.landmarks.anchors import AnchorOptions, ssd_anchors
from edge_runtime.landmarks.palm import NUM_COORDS, decode_palms, weighted_nms
from edge_runtime.landmarks.roi import (
    Rect,
    crop_matrix,
    letterbox_rect,
    project_points,
    rect_from_landmarks,
    rect_from_palm,
    rect_iou,
)
from edge_runtime.landmarks.task_file import read_task
from edge_runtime.landmarks.types import HandFrame
from edge_runtime.tflite import load_interpreter

log = logging.getLogger(__name__)

PALM_INPUT = 192
NUM_ANCHORS = 2016
LANDMARK_Z_NORM = 0.4  # MediaPipe divides z by the crop width and by this
_SCALE = np.float32(1.0 / 255.0)
# Duplicate hands (HandLandmarksDeduplicationCalculator): >= 10 of 21 points within 20% of the hand's
# baseline size, and landmark boxes overlapping by IoU > 0.2.
_DEDUP_MATCHES, _DEDUP_DISTANCE, _DEDUP_IOU = 10, 0.2, 0.2


def _check_input(details: list[dict[str, Any]], what: str, size: int | None) -> int:
    """The input's side length; one clear error when the model does not take one RGB float image."""
    if len(details) != 1:
        raise ModelError(f"{what}: expected 1 input, the model has {len(details)}")
    shape = [int(v) for v in details[0]["shape"]]
    ok = len(shape) == 4 and shape[0] == 1 and shape[3] == 3 and shape[1] == shape[2]
    if not ok or (size is not None and shape[1] != size) or details[0]["dtype"] != np.float32:
        want = f"[1, {size or 'S'}, {size or 'S'}, 3] float32"
        raise ModelError(f"{what}: input is {shape} {np.dtype(details[0]['dtype']).name}, expected {want}")
    return shape[1]


class _Model:
    """One interpreter, fed through a reusable RGB buffer."""

    def __init__(self, content: bytes, threads: int | None, what: str, size: int | None) -> None:
        self.interp, self.runtime = load_interpreter(content, threads)
        self.size = _check_input(self.interp.get_input_details(), what, size)
        self.input_index = self.interp.get_input_details()[0]["index"]
        self.outputs = self.interp.get_output_details()
        self._rgb = np.empty((self.size, self.size, 3), np.uint8)
        self.observer: Callable[[np.ndarray], None] | None = None  # sees a copy of every input (calibration)

    def run(self, crop_bgr: np.ndarray) -> None:
        """Feed a BGR uint8 crop as RGB in 0..1 (the models' metadata: mean 0, std 255) and invoke.

        The crop is converted straight into the interpreter's own input buffer
        (no intermediate float array, no ``set_tensor`` copy); the view is
        dropped before ``invoke`` as the interpreter requires.
        """
        cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2RGB, dst=self._rgb)
        np.multiply(self._rgb, _SCALE, out=self.interp.tensor(self.input_index)()[0], casting="unsafe")
        if self.observer is not None:
            self.observer(self.interp.get_tensor(self.input_index)[0])
        self.interp.invoke()

    def output(self, i: int) -> np.ndarray:
        return self.interp.get_tensor(self.outputs[i]["index"])


def palm_input(image_bgr: np.ndarray) -> tuple[np.ndarray, Rect]:
    """The frame letterboxed to the palm detector's 192x192 BGR input, and the letterbox region."""
    h, w = image_bgr.shape[:2]
    box = letterbox_rect(w, h)
    crop = cv2.warpAffine(image_bgr, crop_matrix(box, w, h, PALM_INPUT, PALM_INPUT), (PALM_INPUT, PALM_INPUT),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return crop, box


def model_input(crop_bgr: np.ndarray) -> np.ndarray:
    """A BGR uint8 crop as the models take it: RGB float32 in 0..1 (mean 0, std 255), shape [1, S, S, 3]."""
    return (cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2RGB).astype(np.float32) * _SCALE)[None]


def _load_bytes(model: str | Path | Sequence[str | Path]) -> tuple[bytes, bytes, str]:
    """Detector bytes, landmark-model bytes and the id (sha256) of what was loaded."""
    if isinstance(model, (str, Path)):
        models = read_task(model)
        return models.detector, models.landmarker, models.sha256
    paths = [Path(p) for p in model]
    if len(paths) != 2:
        raise ModelError(f"expected a .task file or two .tflite files (detector, landmarks), got {len(paths)} paths")
    contents = []
    for p in paths:
        if not p.is_file():
            raise ModelError(f"{p}: model file not found")
        contents.append(p.read_bytes())
    return contents[0], contents[1], hashlib.sha256(contents[0] + contents[1]).hexdigest()


def _baseline(points: np.ndarray) -> float:
    """A hand's size in pixels: the longest side of the wrist / index knuckle / pinky knuckle triangle."""
    a, b, c = points[0], points[5], points[17]
    return float(max(np.linalg.norm(a - b), np.linalg.norm(b - c), np.linalg.norm(c - a)))


def _box_iou(a: np.ndarray, b: np.ndarray) -> float:
    lo, hi = np.maximum(a.min(axis=0), b.min(axis=0)), np.minimum(a.max(axis=0), b.max(axis=0))
    if (hi <= lo).any():
        return 0.0
    inter = float(np.prod(hi - lo))
    union = float(np.prod(np.ptp(a, axis=0)) + np.prod(np.ptp(b, axis=0))) - inter
    return inter / union if union > 0 else 0.0


def _duplicates(hands: list[np.ndarray], image_w: int, image_h: int) -> set[int]:
    """Indices of hands that repeat an earlier kept hand (MediaPipe's de-duplication, earlier hands win)."""
    kept: list[int] = []
    dropped: set[int] = set()
    pix = [h[:, :2] * (image_w, image_h) for h in hands]
    base = [_baseline(p) for p in pix]
    for i in range(len(hands)):
        for j in kept:
            limit = max(base[i], base[j]) * _DEDUP_DISTANCE
            close = int((np.linalg.norm(pix[i] - pix[j], axis=1) < limit).sum())
            if close >= _DEDUP_MATCHES and _box_iou(hands[i][:, :2], hands[j][:, :2]) > _DEDUP_IOU:
                dropped.add(i)
                break
        else:
            kept.append(i)
    return dropped


class LiteRTHands:
    """MediaPipe's hand landmarker (palm detector + landmark model + tracking) on a TFLite interpreter.

    ``model`` is a ``hand_landmarker.task`` bundle or a pair of ``.tflite``
    paths (palm detector, landmark model); a pair is identified by the sha256
    of the two files' bytes, one after the other. Frames of one video must be
    given in order (timestamps never going back): hands found in one frame are
    tracked into the next without running the palm detector. ``reset()``
    starts over, e.g. for the next video.
    """

    name = "litert"

    def __init__(self, model: str | Path | Sequence[str | Path], threads: int | None = None, max_hands: int = 2,
                 min_detection: float = 0.5, min_presence: float = 0.5, min_tracking: float = 0.5) -> None:
        if not 1 <= max_hands <= NUM_HANDS:
            raise SignedgeError(f"max_hands must be 1 or {NUM_HANDS}, got {max_hands}")
        for label, value in (("min_detection", min_detection), ("min_presence", min_presence),
                             ("min_tracking", min_tracking)):
            if not 0.0 <= value <= 1.0:
                raise SignedgeError(f"{label} must be between 0 and 1, got {value}")
        detector, landmarker, self.model_sha256 = _load_bytes(model)
        self._palm = _Model(detector, threads, "hand detector", PALM_INPUT)
        self._hand = _Model(landmarker, threads, "hand landmark model", None)
        self._check_outputs()
        self.runtime = self._palm.runtime
        self.max_hands = max_hands
        self.min_detection, self.min_presence, self.min_tracking = min_detection, min_presence, min_tracking
        self._anchors = ssd_anchors(AnchorOptions(input_width=PALM_INPUT, input_height=PALM_INPUT))
        self._tracked: list[Rect] = []
        self._last_ts: int | None = None
        self._closed = False
        self.frames = 0
        self.palm_runs = 0  # how often the palm detector ran (it is skipped while tracking is enough)
        self.landmark_runs = 0  # how often the landmark model ran (once per tracked or detected hand region)
        log.info("litert hands: %s, %d thread(s), landmark input %d", self.runtime, threads or 0, self._hand.size)

    def _check_outputs(self) -> None:
        shapes = [tuple(int(v) for v in d["shape"]) for d in self._palm.outputs]
        want = {(1, NUM_ANCHORS, NUM_COORDS), (1, NUM_ANCHORS, 1)}
        if len(shapes) != 2 or set(shapes) != want:
            raise ModelError(f"hand detector: outputs are {shapes}, expected [1, {NUM_ANCHORS}, {NUM_COORDS}] boxes "
                             f"and [1, {NUM_ANCHORS}, 1] scores")
        self._box_out = shapes.index((1, NUM_ANCHORS, NUM_COORDS))
        self._score_out = 1 - self._box_out
        sizes = [int(np.prod(d["shape"])) for d in self._hand.outputs]
        if sizes[:3] != [NUM_POINTS * 3, 1, 1]:
            raise ModelError(f"hand landmark model: output sizes are {sizes}, expected 63 landmarks, "
                             "1 presence, 1 handedness (then world landmarks)")

    # -- the graph ----------------------------------------------------------------------------------

    def _detect(self, image: np.ndarray) -> list[Rect]:
        """Hand regions from the palm detector, best first, at most ``max_hands``."""
        h, w = image.shape[:2]
        crop, box = palm_input(image)
        self._palm.run(crop)
        self.palm_runs += 1
        palms = decode_palms(self._palm.output(self._box_out), self._palm.output(self._score_out),
                             self._anchors, self.min_detection, float(PALM_INPUT))
        palms = weighted_nms(palms, max_count=self.max_hands)
        rects = []
        for i in range(len(palms)):
            corners = project_points(palms.boxes[i].reshape(2, 2), box)  # letterbox removal
            keypoints = project_points(palms.keypoints[i], box)
            rects.append(rect_from_palm(corners.reshape(4), keypoints, w, h))
        return rects

    def _landmarks(self, image: np.ndarray, rect: Rect) -> tuple[np.ndarray, float, float]:
        """21 landmarks (normalised image coordinates), presence score and right-hand probability."""
        h, w = image.shape[:2]
        size = self._hand.size
        crop = cv2.warpAffine(image, crop_matrix(rect, w, h, size, size), (size, size),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        self._hand.run(crop)
        self.landmark_runs += 1
        raw = self._hand.output(0).reshape(NUM_POINTS, 3).astype(np.float32)
        presence = float(self._hand.output(1).reshape(-1)[0])
        right = float(self._hand.output(2).reshape(-1)[0])
        unit = raw / np.float32(size)
        unit[:, 2] /= LANDMARK_Z_NORM
        return project_points(unit, rect), presence, right

    def process(self, image_bgr: np.ndarray, timestamp_ms: int) -> HandFrame:
        """Hands in one BGR frame; slot 0 = the signer's left hand, 1 = right (un-mirrored image)."""
        if self._closed:
            raise SignedgeError("this LiteRTHands backend is closed")
        image = self._check_frame(image_bgr, timestamp_ms)
        h, w = image.shape[:2]
        rects = list(self._tracked)
        if len(rects) < self.max_hands:
            for rect in self._detect(image):
                if all(rect_iou(rect, other) <= self.min_tracking for other in rects):
                    rects.append(rect)
            rects = rects[:self.max_hands]
        hands: list[tuple[np.ndarray, float, float]] = []
        for rect in rects:
            points, presence, right = self._landmarks(image, rect)
            if presence > self.min_presence:
                hands.append((points, presence, right))
        dropped = _duplicates([p for p, _, _ in hands], w, h)
        hands = [hand for i, hand in enumerate(hands) if i not in dropped]
        self._tracked = [rect_from_landmarks(points, w, h) for points, _, _ in hands]
        self.frames += 1
        return self._to_frame(hands)

    @staticmethod
    def _to_frame(hands: list[tuple[np.ndarray, float, float]]) -> HandFrame:
        """Slots by handedness; when both hands claim one slot the surer one keeps it, the other moves.

        ``score`` is the handedness confidence (max of p and 1 - p), the same
        number the mediapipe backend reports (Tasks exposes no presence score),
        so recordings mean one thing whichever backend made them.
        """
        frame = HandFrame()
        sure_first = sorted(hands, key=lambda hand: -abs(hand[2] - 0.5))
        for points, _presence, right in sure_first:
            slot = RIGHT if right > 0.5 else LEFT
            if frame.present[slot]:
                slot = 1 - slot
            frame.landmarks[slot] = points
            frame.present[slot] = True
            frame.score[slot] = max(right, 1.0 - right)
        return frame

    def _check_frame(self, image: np.ndarray, timestamp_ms: int) -> np.ndarray:
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            got = f"{image.dtype} {list(image.shape)}" if isinstance(image, np.ndarray) else type(image).__name__
            raise SourceError(f"expected a BGR uint8 image [H, W, 3], got {got}")
        if image.shape[0] < 2 or image.shape[1] < 2:
            raise SourceError(f"image too small: {list(image.shape)}")
        # Tracking needs frames in order, not the times themselves: a repeated reading of a camera clock is
        # fine, going back (a new video without reset(), frames out of order) is a caller bug.
        if self._last_ts is not None and timestamp_ms < self._last_ts:
            raise SourceError(f"timestamps must not go back: got {timestamp_ms} ms after {self._last_ts} ms "
                              "(call reset() before another video)")
        self._last_ts = timestamp_ms
        return image

    def observe_inputs(self, palm: Callable[[np.ndarray], None] | None,
                       landmarks: Callable[[np.ndarray], None] | None) -> None:
        """Call ``palm`` / ``landmarks`` with a copy of every input the two models get ([S, S, 3] float32).

        How calibration sees exactly what the float pipeline feeds its models
        (letterboxed frames, tracked hand crops); None stops observing.
        """
        self._palm.observer, self._hand.observer = palm, landmarks

    def reset(self) -> None:
        """Forget tracked hands and the last timestamp (e.g. before the next video)."""
        self._tracked = []
        self._last_ts = None

    def close(self) -> None:
        """Release the interpreters (idempotent)."""
        self._closed = True
        self._tracked = []
        for model in (getattr(self, "_palm", None), getattr(self, "_hand", None)):
            if model is not None:
                model.interp = None

    def __enter__(self) -> "LiteRTHands":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

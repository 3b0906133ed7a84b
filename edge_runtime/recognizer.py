"""Live sign recognition as a Python API: frames in, :class:`SignEvent` s out.

``Recognizer(source, backend, classifier, config)`` chains the device's
stages: source → landmark backend → segmenter (or sliding window) →
``FeatureSpec.model_input`` → ``Classifier.predict`` → threshold and cooldown.
Iterate it to get one event per recognised sign; ``sign-recognize`` is a thin
shell around it, and a device application can use it the same way::

    clf = load_classifier("model_int8.tflite")
    backend = open_backend("litert", "hand_landmarker.task", live=True)
    with open_source("0") as camera:  # edge_runtime.sources
        for event in Recognizer(camera, backend, clf):
            print(event.label, event.confidence)

A source yields ``(timestamp_s, image_bgr)`` when a backend finds the hands,
or ``(timestamp_s, HandFrame)`` with ``backend=None`` (``RecordingReplay``).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from edge_runtime.classifier import Classifier, landmark_mismatch
from edge_runtime.errors import SourceError
from edge_runtime.landmarks import HandFrame, LandmarkBackend
from edge_runtime.segment import Decider, DecisionConfig, Segment, SegmentConfig, Segmenter, SlidingWindow
from edge_runtime.spec import HANDS, check_computable

log = logging.getLogger(__name__)

# What this pipeline gives a feature spec: hand landmarks (a camera or video through a landmark backend, or a
# replayed recording's hands). It runs no pose stage, so a spec that needs a body reference is refused.
PIPELINE_INPUTS = frozenset({HANDS})


def check_pipeline(classifier: Classifier) -> None:
    """Refuse, in one line, a model whose feature spec needs an input this pipeline does not produce."""
    check_computable(classifier.spec, PIPELINE_INPUTS, f"model {classifier.path.name}", "this device pipeline")


@dataclass
class RecognizerConfig:
    """Segmentation, decision and mode; the CLI flags of ``sign-recognize`` mirror these fields."""

    segment: SegmentConfig = field(default_factory=SegmentConfig)
    decision: DecisionConfig = field(default_factory=DecisionConfig)
    sliding: bool = False  # classify a window of T frames every `stride` frames instead of segments
    stride: int = 8


@dataclass
class SignEvent:
    """One reported sign: when, what, how sure, and what it cost."""

    label: str  # a class label, or "unknown" below the threshold
    confidence: float  # probability of the best class (also when unknown)
    known: bool
    start_s: float  # stream time of the segment's first and last frame
    end_s: float
    top3: list[tuple[str, float]]  # best classes, best first
    frames: int  # frames in the segment
    hand_frames: int  # of which with at least one hand
    landmarks_ms_per_frame: float  # landmark backend time per frame, the mean over the segment (0 for a replay)
    landmarks_ms_total: float  # the same summed over the segment's frames
    inference_ms: float  # the one classifier invoke
    reason: str  # why the segment ended: hands_gone, rest, max_length, end_of_stream, window
    true_label: str | None = None  # the label of a replayed recording (what was signed); None for live input

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start_s"] = round(self.start_s, 3)
        data["end_s"] = round(self.end_s, 3)
        data["confidence"] = round(self.confidence, 4)
        data["top3"] = [{"label": label, "p": round(p, 4)} for label, p in self.top3]
        data["landmarks_ms_per_frame"] = round(self.landmarks_ms_per_frame, 2)
        data["landmarks_ms_total"] = round(self.landmarks_ms_total, 2)
        data["inference_ms"] = round(self.inference_ms, 3)
        true_label = data.pop("true_label")
        if true_label is not None:  # next to what the model said, so a miss reads as one
            data = {"label": data.pop("label"), "true_label": true_label, **data}
        return data

    def to_json(self) -> str:
        """One JSON line (UTF-8 labels kept readable)."""
        return json.dumps(self.to_dict(), ensure_ascii=False)

    def describe(self) -> str:
        """One readable line for a terminal."""
        others = ", ".join(f"{label} {p:.2f}" for label, p in self.top3[1:])
        head = self.label if self.known else f"{self.label} (best: {self.top3[0][0]})"
        return (f"{self.start_s:7.2f}-{self.end_s:6.2f} s  {head}  {self.confidence:.2f}"
                + (f"  [{others}]" if others else "")
                + (f"  (recorded as {self.true_label})" if self.true_label is not None else "")
                + f"  {self.frames} frames, landmarks {self.landmarks_ms_per_frame:.1f} ms/frame "
                  f"({self.landmarks_ms_total:.0f} ms in all), inference {self.inference_ms:.1f} ms")


@dataclass
class FrameView:
    """What a display needs after each frame."""

    timestamp_s: float
    image: np.ndarray | None  # the BGR frame, None for a replay
    hands: HandFrame
    in_sign: bool  # a segment is open
    last_event: SignEvent | None
    fps: float  # frames processed per wall-clock second, smoothed


@dataclass
class RunStats:
    """Totals of one run, for the end-of-stream summary."""

    frames: int = 0
    hand_frames: int = 0
    segments: int = 0  # classified segments or windows
    events: int = 0  # reported (after threshold and cooldown)
    unknown: int = 0
    landmarks_ms: float = 0.0
    inference_ms: float = 0.0
    wall_s: float = 0.0
    stream_s: float = 0.0

    def summary(self) -> str:
        fps = self.frames / self.wall_s if self.wall_s > 0 else 0.0
        text = (f"{self.frames} frames ({self.stream_s:.1f} s of stream), {self.hand_frames} with hands, "
                f"{self.segments} segment(s) classified, {self.events} sign(s) reported")
        if self.unknown:
            text += f" ({self.unknown} unknown)"
        if self.frames:
            text += f"; {fps:.1f} frames/s"
            if self.landmarks_ms:
                text += f", landmarks {self.landmarks_ms / self.frames:.1f} ms/frame"
        if self.segments:
            text += f", inference {self.inference_ms / self.segments:.2f} ms/segment"
        return text


class Recognizer:
    """Iterate over a source to get :class:`SignEvent` s; see the module docstring."""

    def __init__(self, source: Iterable[tuple[float, Any]], backend: LandmarkBackend | None, classifier: Classifier,
                 config: RecognizerConfig | None = None,
                 on_frame: Callable[[FrameView], None] | None = None) -> None:
        self.source = source
        self.backend = backend
        self.classifier = classifier
        self.config = config or RecognizerConfig()
        self.on_frame = on_frame
        self.stats = RunStats()
        self.aspect = float(getattr(source, "aspect", 1.0))
        self._stop = False
        self._last_event: SignEvent | None = None  # the last reported sign, for on_frame
        if self.config.sliding and self.config.stride < 1:
            raise ValueError(f"stride must be >= 1, got {self.config.stride}")
        self.config.segment.validate()
        self.config.decision.validate()
        check_pipeline(classifier)
        if backend is not None:
            warning = landmark_mismatch(classifier.info, backend.name, getattr(backend, "model_sha256", ""))
            if warning:
                log.warning("%s", warning)

    def stop(self) -> None:
        """Finish after the current frame (flushing the open segment), e.g. when the user closes the window."""
        self._stop = True

    def _cutter(self) -> Segmenter | SlidingWindow:
        if self.config.sliding:
            return SlidingWindow(self.classifier.frames, self.config.stride, aspect=self.aspect)
        return Segmenter(self.config.segment, self.aspect)

    def _hands(self, item: Any, last_ms: int) -> tuple[HandFrame, np.ndarray | None, float, int]:
        """The HandFrame of one source item, the image (if any), the backend's time and its timestamp."""
        t, payload = item
        if self.backend is None:
            if not isinstance(payload, HandFrame):
                raise SourceError("this source yields images: a landmark backend is needed to find the hands")
            return payload, None, 0.0, last_ms
        if isinstance(payload, HandFrame):
            return payload, None, 0.0, last_ms
        ts_ms = max(int(round(float(t) * 1000.0)), last_ms + 1)  # backends need strictly increasing times
        start = time.perf_counter()
        hands = self.backend.process(payload, ts_ms)
        return hands, payload, (time.perf_counter() - start) * 1000.0, ts_ms

    def _classify(self, seg: Segment, decider: Decider) -> SignEvent | None:
        features = self.classifier.spec.model_input(seg.hands)
        scored = self.classifier.score(features)
        self.stats.segments += 1
        self.stats.inference_ms += self.classifier.last_invoke_ms
        decision = decider.decide(scored.probabilities, seg.start_s, seg.end_s, scored.score)
        if decision is None:
            return None
        self.stats.events += 1
        self.stats.unknown += 0 if decision.known else 1
        return SignEvent(label=decision.label, confidence=decision.confidence, known=decision.known,
                         start_s=seg.start_s, end_s=seg.end_s, top3=decision.top, frames=seg.num_frames,
                         hand_frames=seg.hand_frames, landmarks_ms_per_frame=float(seg.landmarks_ms.mean()),
                         landmarks_ms_total=float(seg.landmarks_ms.sum()), inference_ms=self.classifier.last_invoke_ms,
                         reason=seg.reason, true_label=getattr(self.source, "true_label", None))

    def __iter__(self) -> Iterator[SignEvent]:
        decider = Decider(self.classifier.labels, self.config.decision, model_threshold=self.classifier.threshold)
        self._last_event = None
        for seg in self.segments():
            event = self._classify(seg, decider)
            if event is not None:
                self._last_event = event
                yield event

    def segments(self) -> Iterator[Segment]:
        """The stream cut into signs (or windows), unclassified: what ``__iter__`` classifies, and what
        ``sign-enroll`` takes as examples, so a word is enrolled from exactly the cuts it is recognised from."""
        cutter: Segmenter | SlidingWindow | None = None
        last_ms, last_t = -1, -np.inf
        first_t: float | None = None
        fps, tick = 0.0, time.perf_counter()
        wall_start = tick
        for item in self.source:
            hands, image, lm_ms, last_ms = self._hands(item, last_ms)
            if cutter is None:
                if image is not None:
                    self.aspect = image.shape[1] / image.shape[0]
                cutter = self._cutter()
            t = max(float(item[0]), last_t + 1e-6)  # a camera may repeat a timestamp
            last_t = t
            first_t = t if first_t is None else first_t
            self.stats.frames += 1
            self.stats.hand_frames += int(hands.present.any())
            self.stats.landmarks_ms += lm_ms
            self.stats.stream_s = t - first_t
            yield from cutter.push(t, hands.landmarks, hands.present, lm_ms)
            if self.on_frame is not None:
                now = time.perf_counter()
                fps = 0.9 * fps + 0.1 / max(now - tick, 1e-6) if fps else 1.0 / max(now - tick, 1e-6)
                tick = now
                in_sign = isinstance(cutter, Segmenter) and cutter.active
                self.on_frame(FrameView(t, image, hands, in_sign, self._last_event, fps))
            if self._stop:
                break
        if cutter is not None:
            yield from cutter.flush()
        self.stats.wall_s = time.perf_counter() - wall_start

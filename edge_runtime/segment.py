"""Where a sign starts and ends in a stream of hand frames, and what gets reported.

Pure numpy, no models: the recognizer feeds it one frame of landmarks at a
time and classifies each finished :class:`Segment` once.

Segment mode (the default) follows the hands:

- a sign STARTS when hands appear, or when hands that were resting move more
  than ``still_radius`` hand sizes;
- it ENDS when the hands are gone for ``end_gap_s`` seconds (ending at the last
  frame with a hand), or when they stay within ``still_radius`` for ``rest_s``
  seconds, or when it reaches ``max_length_s``. The still period stays in the
  segment: many signs end in a held handshape, and that hold is the sign;
- a segment shorter than ``min_length_s`` is dropped (a twitch, a hand passing by),
  and so is one in which no hand ever moved from where it appeared (resting
  hands coming into view, a detector flickering on them).

Everything is measured in seconds from the frames' timestamps, never in frame
counts, so a camera that drops frames or a 15 fps video segments like a 30 fps
one. Hand motion is measured in hand sizes, so the distance from the camera
does not matter.

Sliding mode (:class:`SlidingWindow`) cuts a window of T frames every
``stride`` frames instead, for continuous output.

:class:`Decider` turns probabilities into a report: below ``threshold`` the
sign is ``unknown`` (reported as such in segment mode so the user sees a sign
was seen but not recognised; always suppressed in sliding mode, where most
windows straddle two signs), and the same label again within ``cooldown_s``
seconds of its last report is suppressed, so one sign is not reported twice.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from edge_runtime.hands import NUM_HANDS, NUM_POINTS, HandSequence, hand_size, to_square

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
_EPS = 1e-6


@dataclass
class SegmentConfig:
    """When a sign starts and ends (seconds and hand sizes)."""

    end_gap_s: float = 0.3  # hands gone this long: the sign is over (shorter gaps are detector misses)
    rest_s: float = 0.5  # hands still this long: the sign is over
    still_radius: float = 0.25  # hand sizes; moving less than this counts as still
    min_length_s: float = 0.5  # shorter segments are dropped (a twitch; hands dropping out of view after a held sign)
    max_length_s: float = 5.0  # longer segments are cut and classified

    def validate(self) -> None:
        for name in ("end_gap_s", "rest_s", "still_radius", "min_length_s", "max_length_s"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0) and not (name == "min_length_s" and value == 0):
                raise ValueError(f"{name} must be positive, got {value}")
        if self.max_length_s <= self.min_length_s:
            raise ValueError(f"max_length_s ({self.max_length_s}) must exceed min_length_s ({self.min_length_s})")


@dataclass
class Segment:
    """The frames of one candidate sign, ready for ``FeatureSpec.model_input``."""

    timestamps: np.ndarray  # [n] seconds
    landmarks: np.ndarray  # [n, 2, 21, 3]
    present: np.ndarray  # [n, 2]
    landmarks_ms: np.ndarray  # [n] time the landmark backend spent on each frame
    reason: str  # why it ended: hands_gone, rest, max_length, end_of_stream, window
    aspect: float = 1.0  # the frames' width / height: x times this is in y's unit

    @property
    def hands(self) -> HandSequence:
        """The segment's hands, as a feature spec takes them."""
        return HandSequence(self.landmarks, self.present, self.aspect)

    @property
    def start_s(self) -> float:
        return float(self.timestamps[0])

    @property
    def end_s(self) -> float:
        return float(self.timestamps[-1])

    @property
    def num_frames(self) -> int:
        return int(self.timestamps.shape[0])

    @property
    def hand_frames(self) -> int:
        return int(self.present.any(axis=1).sum())


@dataclass
class _Frame:
    t: float
    landmarks: np.ndarray
    present: np.ndarray
    landmarks_ms: float
    xy: np.ndarray  # [2, 21, 2] points, x scaled by the aspect so x and y share one unit
    size: np.ndarray  # [2] hand sizes in that unit


def _segment(frames: list[_Frame], reason: str, aspect: float) -> Segment:
    return Segment(
        timestamps=np.array([f.t for f in frames], np.float64),
        landmarks=np.stack([f.landmarks for f in frames]).astype(np.float32),
        present=np.stack([f.present for f in frames]),
        landmarks_ms=np.array([f.landmarks_ms for f in frames], np.float64),
        reason=reason,
        aspect=aspect,
    )


def _check_frame(landmarks: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    landmarks = np.asarray(landmarks, np.float32)
    present = np.asarray(present, bool)
    if landmarks.shape != (NUM_HANDS, NUM_POINTS, 3) or present.shape != (NUM_HANDS,):
        raise ValueError(f"a frame is landmarks [2, 21, 3] and present [2], got {list(landmarks.shape)} "
                         f"and {list(present.shape)}")
    # A detector may report a hand with non-finite points; it carries no usable position.
    present = present & np.isfinite(landmarks).all(axis=(1, 2))
    return landmarks, present


class Segmenter:
    """Streaming sign segmentation: ``push`` each frame, collect the segments it returns, ``flush`` at the end."""

    def __init__(self, config: SegmentConfig | None = None, aspect: float = 1.0) -> None:
        self.config = config or SegmentConfig()
        self.config.validate()
        self.aspect = float(aspect)
        self._history: deque[_Frame] = deque()  # the last rest_s seconds, for the stillness test
        self._current: list[_Frame] = []  # frames of the open segment
        self._segment_moved = False  # a hand of the open segment moved, not just appeared or flickered
        self._last_t: float | None = None
        self._last_present_t: float | None = None
        self._last_had_hands = False

    @property
    def active(self) -> bool:
        """A sign is in progress."""
        return bool(self._current)

    def _pose(self, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points [2, 21, 2] with x and y in one unit, and each hand's size in that unit."""
        xy = to_square(landmarks[..., :2], self.aspect)
        return xy, hand_size(xy)

    def _displacement(self, a: _Frame, b: _Frame) -> float | None:
        """Largest motion of a hand seen in both frames, in hand sizes; None when they share no hand.

        Motion is the RMS displacement of the 21 points divided by the hand's
        size, so both moving the hand and changing its shape count.
        """
        moves = []
        for hand in np.flatnonzero(a.present & b.present):
            size = 0.5 * (a.size[hand] + b.size[hand])
            if size > _EPS:
                moves.append(float(np.sqrt(np.mean(np.sum((a.xy[hand] - b.xy[hand]) ** 2, axis=-1)))) / size)
        return max(moves) if moves else None

    def _moved(self, a: _Frame, b: _Frame) -> bool:
        """More than ``still_radius`` of motion between two frames (a hand appearing or leaving counts)."""
        if not np.array_equal(a.present, b.present):
            return True
        moved = self._displacement(a, b)
        return moved is not None and moved > self.config.still_radius

    def _resting(self, frame: _Frame) -> bool:
        """The hands have stayed within ``still_radius`` of where they are now for ``rest_s`` seconds.

        The window runs from the last frame at or before ``t - rest_s`` to now,
        so it covers the whole rest period whatever the frame rate.
        """
        span_start = frame.t - self.config.rest_s
        anchor = next((k for k in range(len(self._history) - 1, -1, -1)
                       if self._history[k].t <= span_start + _EPS), None)
        if anchor is None:
            return False  # not enough history yet
        return not any(self._moved(f, frame) for f in itertools.islice(self._history, anchor, None))

    def push(self, t: float, landmarks: np.ndarray, present: np.ndarray, landmarks_ms: float = 0.0) -> list[Segment]:
        """Add one frame (timestamps must increase); returns the segment it completes, if any."""
        t = float(t)
        if self._last_t is not None and t <= self._last_t:
            raise ValueError(f"timestamps must increase: {t} after {self._last_t}")
        landmarks, present = _check_frame(landmarks, present)
        frame = _Frame(t, landmarks, present, float(landmarks_ms), *self._pose(landmarks))
        has_hands = bool(present.any())
        out: list[Segment] = []
        cfg = self.config

        if self.active:
            self._current.append(frame)
            if has_hands:
                self._last_present_t = t
                if not self._segment_moved:
                    moved = self._displacement(self._current[0], frame)
                    self._segment_moved = moved is None or moved > cfg.still_radius
                if t - self._current[0].t >= cfg.max_length_s - _EPS:
                    out += self._close(len(self._current), "max_length")
                elif self._resting(frame):
                    out += self._close(len(self._current), "rest")
            elif self._last_present_t is not None and t - self._last_present_t >= cfg.end_gap_s - _EPS:
                last = max(i for i, f in enumerate(self._current) if f.present.any())
                out += self._close(last + 1, "hands_gone")
        elif has_hands:
            appeared = not self._last_had_hands
            moved = any(self._moved(f, frame) for f in self._history if f.t >= t - cfg.rest_s - _EPS)
            if appeared or moved:
                self._current = [frame]
                self._segment_moved = False
                self._last_present_t = t
                log.debug("sign starts at %.3f s (%s)", t, "hands appeared" if appeared else "hands moved")

        self._history.append(frame)
        while self._history and self._history[0].t < t - cfg.rest_s - 1.0:
            self._history.popleft()
        self._last_t = t
        self._last_had_hands = has_hands
        return out

    def flush(self) -> list[Segment]:
        """End of stream: close the open segment at its last frame with a hand."""
        if not self.active:
            return []
        with_hands = [i for i, f in enumerate(self._current) if f.present.any()]
        return self._close(with_hands[-1] + 1, "end_of_stream")

    def _close(self, end: int, reason: str) -> list[Segment]:
        frames, self._current = self._current[:end], []
        length = frames[-1].t - frames[0].t
        if not self._segment_moved:
            log.debug("dropped a segment at %.3f s: the hands appeared but never moved", frames[0].t)
            return []
        if length < self.config.min_length_s - _EPS or len(frames) < 2:
            log.debug("dropped a %.2f s segment at %.3f s (shorter than %.2f s)", length, frames[0].t,
                      self.config.min_length_s)
            return []
        return [_segment(frames, reason, self.aspect)]


def segment_sequence(timestamps: np.ndarray, hands: HandSequence,
                     config: SegmentConfig | None = None) -> list[Segment]:
    """All segments of a whole recorded sequence (the streaming segmenter, run to the end)."""
    seg = Segmenter(config, hands.aspect)
    out: list[Segment] = []
    for t, lm, pr in zip(timestamps, hands.landmarks, hands.present):
        out += seg.push(float(t), lm, pr)
    return out + seg.flush()


def sign_span(hands: HandSequence, fps: float, config: SegmentConfig | None = None) -> tuple[int, int] | None:
    """Frame range ``[start, stop)`` of the sign in a one-sign recording, cut as the device cuts it.

    A recording usually has frames without hands (or with resting hands)
    before and after the sign; the device never classifies those. Training on
    this span feeds the model the same frames the device will. When the
    segmenter finds several segments the longest is the sign (the device
    classifies each on its own). None when it finds none.
    """
    timestamps = np.arange(hands.num_frames, dtype=np.float64) / float(fps)
    segments = segment_sequence(timestamps, hands, config)
    if not segments:
        return None
    longest = max(segments, key=lambda s: (s.end_s - s.start_s, -s.start_s))
    if len(segments) > 1:
        log.debug("%d segments in one recording; the longest (%.2f-%.2f s) is taken as the sign", len(segments),
                  longest.start_s, longest.end_s)
    return int(round(longest.start_s * fps)), int(round(longest.end_s * fps)) + 1


class SlidingWindow:
    """A window of the last ``frames`` frames every ``stride`` frames, for continuous recognition.

    Windows in which fewer than ``min_hand_fraction`` of the frames have a
    hand are skipped: there is no sign in them to classify.
    """

    def __init__(self, frames: int, stride: int, min_hand_fraction: float = 0.5, aspect: float = 1.0) -> None:
        if frames < 2 or stride < 1:
            raise ValueError(f"a sliding window needs frames >= 2 and stride >= 1, got {frames} and {stride}")
        self.frames, self.stride, self.min_hand_fraction = frames, stride, min_hand_fraction
        self.aspect = float(aspect)
        self._buffer: deque[_Frame] = deque(maxlen=frames)
        self._since = 0  # frames pushed since the last window was due
        self._emitted = False

    def _window(self) -> list[Segment]:
        frames = list(self._buffer)
        self._since = 0
        self._emitted = True
        hands = sum(1 for f in frames if f.present.any())
        if len(frames) < 2 or hands < self.min_hand_fraction * len(frames):
            return []
        return [_segment(frames, "window", self.aspect)]

    def push(self, t: float, landmarks: np.ndarray, present: np.ndarray, landmarks_ms: float = 0.0) -> list[Segment]:
        landmarks, present = _check_frame(landmarks, present)
        self._buffer.append(_Frame(float(t), landmarks, present, float(landmarks_ms), np.zeros(0), np.zeros(0)))
        self._since += 1
        if len(self._buffer) == self.frames and (not self._emitted or self._since >= self.stride):
            return self._window()
        return []

    def flush(self) -> list[Segment]:
        """End of stream: a stream shorter than one window, or frames since the last window, get one more."""
        if not self._buffer or (self._emitted and self._since == 0):
            return []
        return self._window()


DEFAULT_THRESHOLD = 0.5  # on the top probability, for a model without an open-set threshold of its own


@dataclass
class DecisionConfig:
    """What is reported: the open-set threshold, cooldown, and whether unknown signs are reported.

    ``threshold`` None means the model's own: the one chosen on validation
    people and stored with a model that has an embedding (it applies to the
    best cosine similarity to a prototype, -1..1), else ``DEFAULT_THRESHOLD``
    on the top probability.
    """

    threshold: float | None = None
    cooldown_s: float = 1.0
    report_unknown: bool = True

    def validate(self) -> None:
        if self.threshold is not None and not -1.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be within -1..1, got {self.threshold}")
        if not (np.isfinite(self.cooldown_s) and self.cooldown_s >= 0):
            raise ValueError(f"cooldown must be >= 0 seconds, got {self.cooldown_s}")


@dataclass
class Decision:
    label: str  # a class label, or UNKNOWN below the threshold
    confidence: float  # probability of the best class
    known: bool
    top: list[tuple[str, float]] = field(default_factory=list)  # best three classes, best first


class Decider:
    """Threshold and cooldown over a stream of classified segments."""

    def __init__(self, labels: list[str], config: DecisionConfig | None = None, top_k: int = 3,
                 model_threshold: float | None = None) -> None:
        self.labels = list(labels)
        self.config = config or DecisionConfig()
        self.config.validate()
        self.top_k = top_k
        self.threshold = next(t for t in (self.config.threshold, model_threshold, DEFAULT_THRESHOLD) if t is not None)
        self._last_label: str | None = None
        self._last_end = -np.inf

    def decide(self, probabilities: np.ndarray, start_s: float, end_s: float,
               score: float | None = None) -> Decision | None:
        """The report for one segment, or None when it is suppressed (cooldown, or a hidden unknown).

        ``score``: the open-set score the threshold applies to (None: the top probability).
        """
        probs = np.asarray(probabilities, np.float64).reshape(-1)
        if probs.shape[0] != len(self.labels):
            raise ValueError(f"{probs.shape[0]} probabilities for {len(self.labels)} labels")
        order = np.argsort(-probs, kind="stable")[: self.top_k]
        top = [(self.labels[i], float(probs[i])) for i in order]
        best, confidence = top[0]
        known = (confidence if score is None else float(score)) >= self.threshold
        label = best if known else UNKNOWN
        if not known and not self.config.report_unknown:
            return None
        if label == self._last_label and start_s - self._last_end < self.config.cooldown_s:
            self._last_end = max(self._last_end, end_s)
            log.debug("suppressed %s at %.3f s (cooldown)", label, start_s)
            return None
        self._last_label, self._last_end = label, end_s
        return Decision(label, confidence, known, top)

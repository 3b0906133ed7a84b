"""Segmentation and decisions on hand-made streams: hands appear, move, rest and leave at known times."""

from __future__ import annotations

import numpy as np
import pytest

from edge_runtime.hands import HandSequence
from edge_runtime.segment import (UNKNOWN, Decider, DecisionConfig, SegmentConfig, Segmenter, SlidingWindow,
                                  segment_sequence, sign_span)


def hand(x: float, y: float, size: float = 0.08, curl: float = 0.0) -> np.ndarray:
    """A 21-point open hand [21, 3] with its wrist at (x, y), knuckles ``size`` away (image coordinates)."""
    points = np.zeros((21, 3), np.float32)
    points[0] = (x, y, 0)
    for finger, angle in enumerate(np.radians([-70, -30, -10, 10, 30])):
        radii = (0.5, 0.8, 1.0, 1.2) if finger == 0 else (1.0, 1.4 - curl, 1.7 - 2 * curl, 1.9 - 3 * curl)
        for joint, r in enumerate(radii):
            points[1 + 4 * finger + joint] = (x + size * r * np.sin(angle), y - size * r * np.cos(angle), 0)
    return points


class Script:
    """Builds a stream from phases: ('gone' | 'rest' | 'move', seconds) at a given fps."""

    def __init__(self, fps: float = 30.0, seed: int = 0) -> None:
        self.fps = fps
        self.rng = np.random.default_rng(seed)
        self.t: list[float] = []
        self.lm: list[np.ndarray] = []
        self.pr: list[np.ndarray] = []
        self.pos = np.array([0.5, 0.6])

    def add(self, kind: str, seconds: float, jitter: float = 0.0, hands: tuple[bool, bool] = (False, True)) -> "Script":
        for _ in range(int(round(seconds * self.fps))):
            t = len(self.t) / self.fps
            if kind == "move":  # one hand size per 0.1 s, along a circle: clearly signing
                self.pos = np.array([0.5 + 0.1 * np.cos(8 * t), 0.5 + 0.1 * np.sin(8 * t)])
            frame = np.zeros((2, 21, 3), np.float32)
            present = np.array(hands if kind != "gone" else (False, False))
            for h in np.flatnonzero(present):
                frame[h] = hand(*(self.pos + (0.2 * h, 0)))
                frame[h, :, :2] += self.rng.normal(0, jitter, (21, 2))
            self.t.append(t)
            self.lm.append(frame)
            self.pr.append(present)
        return self

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.array(self.t), np.stack(self.lm), np.stack(self.pr)

    def segments(self, config: SegmentConfig | None = None):
        t, lm, pr = self.arrays()
        return segment_sequence(t, HandSequence(lm, pr), config=config)


def test_hands_appear_sign_and_leave_make_one_segment():
    stream = Script().add("gone", 0.5).add("move", 1.0).add("gone", 0.6)
    t, lm, pr = stream.arrays()
    seg = Segmenter(SegmentConfig(end_gap_s=0.3))
    emitted_at = []
    segments = []
    for i in range(len(t)):
        out = seg.push(t[i], lm[i], pr[i], landmarks_ms=2.0)
        if out:
            emitted_at.append(t[i])
        segments += out
    assert seg.flush() == []
    [s] = segments
    assert s.start_s == pytest.approx(0.5) and s.end_s == pytest.approx(1.5 - 1 / 30)
    assert s.reason == "hands_gone" and s.num_frames == 30 and s.hand_frames == 30
    # reported as soon as the hands have been gone for end_gap_s, not at the end of the stream
    assert emitted_at == [pytest.approx(s.end_s + 0.3, abs=1 / 30 + 1e-9)]
    assert s.landmarks_ms.sum() == pytest.approx(60.0)
    assert s.landmarks.shape == (30, 2, 21, 3) and s.present[:, 1].all() and not s.present[:, 0].any()


def test_seconds_not_frames_decide_the_cut():
    """The same performance filmed at 15 and 30 fps gives the same segment times."""
    found = []
    for fps in (15.0, 30.0):
        stream = Script(fps).add("gone", 0.4).add("move", 1.2).add("gone", 0.2).add("move", 0.8).add("gone", 0.8)
        found.append([(s.start_s, s.end_s) for s in stream.segments()])
    # the 0.2 s gap is shorter than end_gap_s: one sign, cut where the hands finally leave
    assert len(found[0]) == len(found[1]) == 1
    np.testing.assert_allclose(found[0][0], (0.4, 2.6 - 1 / 15), atol=1e-9)
    np.testing.assert_allclose(found[1][0], (0.4, 2.6 - 1 / 30), atol=1e-9)


def test_detector_misses_inside_a_sign_are_kept_as_missing_frames():
    stream = Script().add("gone", 0.3).add("move", 0.5).add("gone", 0.1).add("move", 0.5).add("gone", 0.5)
    [s] = stream.segments()
    assert s.num_frames == 33 and s.hand_frames == 30  # the three missed frames stay, flagged as missing
    assert not s.present[15:18].any()


def test_rest_ends_a_sign_and_moving_again_starts_the_next():
    stream = (Script().add("rest", 1.0, jitter=0.001).add("move", 1.0).add("rest", 1.0, jitter=0.001)
              .add("move", 1.0).add("rest", 1.0, jitter=0.001))
    segments = stream.segments(SegmentConfig(rest_s=0.5))
    # hands visible but still at the start is not a sign; each movement is one
    assert [s.reason for s in segments] == ["rest", "rest"]
    for s, start in zip(segments, (1.0, 3.0)):
        assert s.start_s == pytest.approx(start, abs=0.1)
        # the still period that ends a sign stays in it: in a held handshape the hold is the sign
        assert s.end_s == pytest.approx(start + 1.0 + 0.5, abs=0.1)


def test_still_or_jittering_hands_alone_are_no_sign():
    assert Script().add("rest", 3.0, jitter=0.002).segments() == []
    # the detector flickering on a second, resting hand is no sign either
    flicker = Script()
    for k in range(12):
        flicker.add("rest", 0.2, jitter=0.002, hands=(k % 3 == 0, True))
    assert flicker.segments() == []
    # a hand passing through the picture for 0.2 s is shorter than min_length_s
    assert Script().add("gone", 0.5).add("move", 0.2).add("gone", 1.0).segments() == []


def test_a_long_sign_is_cut_at_max_length():
    segments = Script().add("move", 7.0).segments(SegmentConfig(max_length_s=3.0))
    assert [s.reason for s in segments] == ["max_length", "max_length", "end_of_stream"]
    assert all(s.end_s - s.start_s <= 3.0 + 1e-9 for s in segments)
    assert segments[1].start_s == pytest.approx(segments[0].end_s + 1 / 30)


def test_end_of_stream_closes_the_open_sign_at_its_last_hand():
    [s] = Script().add("gone", 0.2).add("move", 1.0).add("gone", 0.1).segments()
    assert s.reason == "end_of_stream" and s.end_s == pytest.approx(1.2 - 1 / 30)


def test_bad_frames_and_times_are_refused():
    seg = Segmenter()
    seg.push(0.0, np.zeros((2, 21, 3)), np.zeros(2, bool))
    with pytest.raises(ValueError, match="timestamps must increase"):
        seg.push(0.0, np.zeros((2, 21, 3)), np.zeros(2, bool))
    with pytest.raises(ValueError, match=r"landmarks \[2, 21, 3\]"):
        seg.push(1.0, np.zeros((21, 3)), np.zeros(2, bool))
    # a reported hand whose points are NaN counts as missing instead of poisoning the motion test
    nan_hand = np.full((2, 21, 3), np.nan, np.float32)
    assert seg.push(2.0, nan_hand, np.ones(2, bool)) == [] and not seg.active
    with pytest.raises(ValueError, match="max_length_s"):
        Segmenter(SegmentConfig(min_length_s=2.0, max_length_s=1.0))
    with pytest.raises(ValueError, match="rest_s must be positive"):
        Segmenter(SegmentConfig(rest_s=0))


def test_sliding_window_every_stride_frames_skipping_empty_windows():
    t, lm, pr = Script().add("gone", 1.0).add("move", 1.0).add("gone", 1.0).arrays()  # 90 frames
    win = SlidingWindow(frames=16, stride=8)
    windows = []
    for i in range(len(t)):
        windows += [(i, w) for w in win.push(t[i], lm[i], pr[i])]
    windows += [(len(t), w) for w in win.flush()]
    assert all(w.num_frames == 16 and w.reason == "window" for _, w in windows)
    # every window ends at a multiple of the stride after the first full one, and holds hands at least half the time
    assert [i for i, _ in windows] == [i for i in range(15, 90, 8) if 8 <= pr[i - 15:i + 1].any(axis=1).sum()]
    assert len(windows) >= 3


def test_sliding_window_flushes_a_stream_shorter_than_one_window():
    t, lm, pr = Script().add("move", 0.3).arrays()
    win = SlidingWindow(frames=64, stride=8)
    assert all(win.push(t[i], lm[i], pr[i]) == [] for i in range(len(t)))
    [w] = win.flush()
    assert w.num_frames == 9


def test_threshold_gives_unknown_and_cooldown_stops_repeats():
    labels = ["hello", "thanks", "yes"]
    decider = Decider(labels, DecisionConfig(threshold=0.6, cooldown_s=1.0))
    first = decider.decide([0.1, 0.8, 0.1], 0.0, 1.0)
    assert first.label == "thanks" and first.known and first.top == [("thanks", 0.8), ("hello", 0.1), ("yes", 0.1)]
    assert decider.decide([0.1, 0.7, 0.2], 1.5, 2.0) is None  # same sign again within the cooldown
    assert decider.decide([0.1, 0.7, 0.2], 3.5, 4.0).label == "thanks"  # after the cooldown it counts again
    assert decider.decide([0.9, 0.05, 0.05], 4.2, 5.0).label == "hello"  # another sign is reported at once
    low = decider.decide([0.4, 0.35, 0.25], 6.5, 7.0)
    assert low.label == UNKNOWN and not low.known and low.confidence == pytest.approx(0.4)
    assert low.top[0] == ("hello", 0.4)

    hidden = Decider(labels, DecisionConfig(threshold=0.6, report_unknown=False))
    assert hidden.decide([0.4, 0.35, 0.25], 0.0, 1.0) is None


def test_overlapping_windows_of_one_sign_are_reported_once():
    decider = Decider(["a", "b"], DecisionConfig(cooldown_s=0.5))
    reports = [decider.decide([0.9, 0.1], start, start + 2.0) for start in np.arange(0.0, 3.0, 0.25)]
    assert sum(r is not None for r in reports) == 1
    with pytest.raises(ValueError, match="threshold"):
        Decider(["a", "b"], DecisionConfig(threshold=1.5))


def test_sign_span_cuts_a_recording_where_the_device_would():
    stream = Script().add("gone", 0.4).add("rest", 0.6, jitter=0.001).add("move", 1.0).add("gone", 0.5)
    t, lm, pr = stream.arrays()
    # visible but still hands before the sign are not part of it; the sign is the movement
    start, stop = sign_span(HandSequence(lm, pr), fps=30.0)
    # the movement starts at frame 30; it is seen once it exceeds still_radius (frame 30 or 31)
    assert 30 <= start <= 31 and stop == 60
    [s] = segment_sequence(t, HandSequence(lm, pr))
    assert (s.start_s, s.end_s) == (pytest.approx(t[start]), pytest.approx(t[stop - 1]))
    assert sign_span(HandSequence(np.zeros((20, 2, 21, 3)), np.zeros((20, 2), bool)), fps=30.0) is None

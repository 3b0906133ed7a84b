"""``hands-xy-angles-v1``: per-frame hand positions, shapes and joint angles, F = 116 values a frame::

    [  0: 42]  left hand:  wrist position (2), then 20 points relative to the wrist (40)
    [ 42: 84]  right hand: the same
    [ 84: 99]  left hand:  15 joint angles, radians / pi  (0 = straight)
    [ 99:114]  right hand: the same
    [114]      left hand present (1) or missing (0)
    [115]      right hand present (1) or missing (0)

The first 114 values are the seed project's layout; the two presence flags
make a missing hand explicit, so an all-zero block never pretends to be a
real hand at the origin. Finger points are divided by that frame's hand size
(mean wrist-to-knuckle distance), so a hand's shape does not depend on its
distance from the camera. The wrist positions carry the motion: they are
measured from the mean wrist position of the whole sequence and divided by the
sequence's median hand size, so shifting or scaling a whole recording leaves
every feature unchanged while the path of each hand is kept.
"""

from __future__ import annotations

import numpy as np

from edge_runtime.hands import (
    LEFT,
    NUM_ANGLES,
    NUM_HANDS,
    NUM_POINTS,
    RIGHT,
    HandSequence,
    hand_size,
    joint_angles,
    to_square,
)

_POS = NUM_POINTS * 2  # 42 position values per hand
NUM_FEATURES = NUM_HANDS * _POS + NUM_HANDS * NUM_ANGLES + NUM_HANDS
WRIST_COLUMNS = (np.arange(LEFT * _POS, LEFT * _POS + 2), np.arange(RIGHT * _POS, RIGHT * _POS + 2))
_EPS = 1e-6


def _hand_columns(hand: int) -> np.ndarray:
    pos = np.arange(hand * _POS, (hand + 1) * _POS)
    a0 = NUM_HANDS * _POS + hand * NUM_ANGLES
    flag = NUM_HANDS * _POS + NUM_HANDS * NUM_ANGLES + hand
    return np.concatenate([pos, np.arange(a0, a0 + NUM_ANGLES), [flag]])


HAND_COLUMNS = (_hand_columns(LEFT), _hand_columns(RIGHT))
PRESENCE_COLUMNS = np.array([c[-1] for c in HAND_COLUMNS])


def _validate(landmarks: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    landmarks = np.asarray(landmarks, dtype=np.float64)
    present = np.asarray(present, dtype=bool)
    if landmarks.ndim != 4 or landmarks.shape[1:] != (NUM_HANDS, NUM_POINTS, 3):
        raise ValueError(f"landmarks must have shape [N, 2, 21, 3], got {list(landmarks.shape)}")
    if present.shape != landmarks.shape[:2]:
        raise ValueError(f"present must have shape [N, 2] = {list(landmarks.shape[:2])}, got {list(present.shape)}")
    # A detector can report a hand whose points are not finite; treat it as missing.
    present = present & np.isfinite(landmarks).all(axis=(2, 3))
    return landmarks, present


def frame_features(hands: HandSequence) -> np.ndarray:
    """``hands-xy-angles-v1`` features [N, 116] (float32); see the module docstring."""
    landmarks, present = _validate(hands.landmarks, hands.present)
    n = landmarks.shape[0]
    out = np.zeros((n, NUM_FEATURES), dtype=np.float32)
    if n == 0 or not present.any():
        return out
    points = to_square(landmarks, hands.aspect, depth=True)  # one unit for x, y and z
    points[~present] = 0.0

    sizes = hand_size(points)  # [N, 2]
    present &= sizes > _EPS  # a degenerate hand (all points equal) carries no shape
    if not present.any():
        return out
    wrists = points[:, :, 0, :2]  # [N, 2, 2]
    origin = wrists[present].mean(axis=0)
    scale = float(np.median(sizes[present]))

    angles = joint_angles(points)  # [N, 2, 15]
    for hand in (LEFT, RIGHT):
        rows = present[:, hand]
        if not rows.any():
            continue
        base = hand * _POS
        shape = (points[rows, hand, 1:, :2] - points[rows, hand, :1, :2]) / sizes[rows, hand, None, None]
        out[rows, base : base + 2] = (wrists[rows, hand] - origin) / scale
        out[rows, base + 2 : base + _POS] = shape.reshape(-1, _POS - 2)
        a0 = NUM_HANDS * _POS + hand * NUM_ANGLES
        out[rows, a0 : a0 + NUM_ANGLES] = angles[rows, hand] / np.pi
        out[rows, NUM_HANDS * _POS + NUM_HANDS * NUM_ANGLES + hand] = 1.0
    return out


def resample(features: np.ndarray, frames: int) -> np.ndarray:
    """Stretch or squeeze a sequence [N, F] to [frames, F] by time interpolation.

    Each target frame falls between two source frames. A hand's values are
    interpolated only when that hand is present in both; otherwise the nearer
    source frame is taken whole, so a hand never fades in from a fake zero.
    """
    features = np.asarray(features, dtype=np.float32)
    n = features.shape[0]
    if n == 0:
        raise ValueError("cannot resample an empty sequence (no frames)")
    if n == 1:
        return np.repeat(features, frames, axis=0)
    t = np.linspace(0.0, n - 1, frames)
    lo = np.floor(t).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = (t - lo)[:, None].astype(np.float32)
    out = (1.0 - w) * features[lo] + w * features[hi]
    nearest = np.where(w[:, 0] < 0.5, lo, hi)
    for cols in HAND_COLUMNS:
        flag = cols[-1]
        both = (features[lo, flag] > 0.5) & (features[hi, flag] > 0.5)
        mixed = ~both
        out[np.ix_(mixed, cols)] = features[np.ix_(nearest[mixed], cols)]
    return out.astype(np.float32)


def model_input(hands: HandSequence, frames: int) -> np.ndarray:
    """The model's input [T, 116] for one variable-length sign."""
    return resample(frame_features(hands), frames)

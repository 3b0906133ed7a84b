"""The feature spec: the one place where raw hand landmarks become model input.

The device and the host both call this module, so a model can never be fed
features computed by a second, slightly different copy of the code. The spec's
id (name + version) travels with the dataset, the run and the exported model,
and the runtime refuses a model whose id differs from its own.

Raw landmarks (per frame, stored as recorded) are ``[2, 21, 3]`` arrays, slot
0 = the signer's LEFT hand, slot 1 = the signer's RIGHT hand (anatomical, as
the person would name them), plus a ``present`` flag per hand. Coordinates are
MediaPipe-normalised image coordinates (x / width, y / height, z relative
depth) or any other frame whose x and y share one unit once multiplied by
``aspect`` (e.g. shoulder-normalised keypoints with aspect 1).

``hands-xy-angles-v1`` gives F = 116 values per frame::

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

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np

from edge_runtime.errors import SignedgeError

NUM_HANDS = 2
NUM_POINTS = 21
LEFT, RIGHT = 0, 1
HAND_NAMES = ("left", "right")

# Bones as (from, to) landmark indices: 4 per finger, thumb first.
_BONE_FROM = np.array([0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11, 0, 13, 14, 15, 0, 17, 18, 19])
_BONE_TO = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20])
# Joint angles between consecutive bones of one finger: 3 per finger, 15 in all.
_ANGLE_A = np.array([0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 16, 17, 18])
_ANGLE_B = _ANGLE_A + 1
# Hand size: mean distance from the wrist to the four finger knuckles (MCP joints).
_KNUCKLES = np.array([5, 9, 13, 17])

NUM_ANGLES = len(_ANGLE_A)
_POS = NUM_POINTS * 2  # 42 position values per hand
_EPS = 1e-6


class SpecMismatchError(SignedgeError, ValueError):
    """A model, run or dataset was made with a feature spec this code does not compute."""


@dataclass(frozen=True)
class FeatureSpec:
    """Names a feature layout and the fixed sequence length T the models take."""

    name: str = "hands-xy-angles"
    version: int = 1
    frames: int = 64

    @property
    def id(self) -> str:
        return f"{self.name}-v{self.version}"

    @property
    def num_features(self) -> int:
        return NUM_HANDS * _POS + NUM_HANDS * NUM_ANGLES + NUM_HANDS

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "id": self.id, "num_features": self.num_features}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FeatureSpec":
        """Rebuild a spec from a model card or sidecar, refusing one this code cannot compute."""
        try:
            spec = cls(name=str(data["name"]), version=int(data["version"]), frames=int(data["frames"]))
        except (KeyError, TypeError, ValueError) as err:
            raise SpecMismatchError(f"feature spec is incomplete or malformed: {dict(data)!r}") from err
        check_supported(spec)
        if "num_features" in data and int(data["num_features"]) != spec.num_features:
            raise SpecMismatchError(
                f"feature spec {spec.id} says {data['num_features']} features per frame, "
                f"this runtime computes {spec.num_features}"
            )
        return spec

    def frame_features(self, landmarks: np.ndarray, present: np.ndarray, aspect: float = 1.0) -> np.ndarray:
        """Per-frame features [N, F] of a whole recording or segment."""
        return frame_features(landmarks, present, aspect)

    def model_input(self, landmarks: np.ndarray, present: np.ndarray, aspect: float = 1.0) -> np.ndarray:
        """The model's input [T, F] for one variable-length sign."""
        return resample(frame_features(landmarks, present, aspect), self.frames)


DEFAULT_SPEC = FeatureSpec()
SUPPORTED = {("hands-xy-angles", 1)}


def check_supported(spec: FeatureSpec) -> None:
    if (spec.name, spec.version) not in SUPPORTED:
        known = ", ".join(f"{n}-v{v}" for n, v in sorted(SUPPORTED))
        raise SpecMismatchError(f"feature spec {spec.id} is not computed by this runtime (it knows: {known})")
    if spec.frames < 2:
        raise SpecMismatchError(f"feature spec {spec.id} asks for T={spec.frames} frames; at least 2 are needed")


def check_same(expected: FeatureSpec, found: FeatureSpec, what: str) -> None:
    """Raise when ``found`` (from a model or dataset) differs from ``expected``."""
    if (expected.name, expected.version) != (found.name, found.version):
        raise SpecMismatchError(f"{what} uses feature spec {found.id}, but this code computes {expected.id}")


def joint_angles(points: np.ndarray) -> np.ndarray:
    """The 15 finger joint angles of hands [..., 21, 3], in radians (0 = a straight joint)."""
    bones = points[..., _BONE_TO, :] - points[..., _BONE_FROM, :]
    bones = bones / np.maximum(np.linalg.norm(bones, axis=-1, keepdims=True), _EPS)
    cos = np.sum(bones[..., _ANGLE_A, :] * bones[..., _ANGLE_B, :], axis=-1)
    return np.arccos(np.clip(cos, -1.0, 1.0))


def hand_size(points: np.ndarray) -> np.ndarray:
    """Mean 2-D wrist-to-knuckle distance of hands [..., 21, 2+]: the unit of hand shape."""
    spokes = points[..., _KNUCKLES, :2] - points[..., :1, :2]
    return np.linalg.norm(spokes, axis=-1).mean(axis=-1)


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


def frame_features(landmarks: np.ndarray, present: np.ndarray, aspect: float = 1.0) -> np.ndarray:
    """``hands-xy-angles-v1`` features [N, 116] (float32); see the module docstring."""
    landmarks, present = _validate(landmarks, present)
    n = landmarks.shape[0]
    out = np.zeros((n, DEFAULT_SPEC.num_features), dtype=np.float32)
    if n == 0 or not present.any():
        return out
    # One unit for x and y: normalised x is a fraction of the width, y of the height.
    points = landmarks.copy()
    points[..., 0] *= aspect
    points[..., 2] *= aspect  # MediaPipe's z is in the same unit as x
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


def _hand_columns(hand: int) -> np.ndarray:
    pos = np.arange(hand * _POS, (hand + 1) * _POS)
    a0 = NUM_HANDS * _POS + hand * NUM_ANGLES
    flag = NUM_HANDS * _POS + NUM_HANDS * NUM_ANGLES + hand
    return np.concatenate([pos, np.arange(a0, a0 + NUM_ANGLES), [flag]])


HAND_COLUMNS = (_hand_columns(LEFT), _hand_columns(RIGHT))
PRESENCE_COLUMNS = np.array([c[-1] for c in HAND_COLUMNS])


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

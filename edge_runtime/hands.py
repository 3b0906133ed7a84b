"""A sequence of hands: the one type recordings, live segments and augmentation all hand to a feature spec.

Raw landmarks (per frame, stored as recorded) are ``[2, 21, 3]`` arrays, slot
0 = the signer's LEFT hand, slot 1 = the signer's RIGHT hand (anatomical, as
the person would name them), plus a ``present`` flag per hand. Coordinates are
MediaPipe-normalised image coordinates (x / width, y / height, z relative
depth) or any other frame whose x and y share one unit once x is multiplied by
``aspect`` (e.g. shoulder-normalised keypoints with aspect 1): ``to_square``
is the one place that does that multiplication.

A sequence may also carry the body (``pose``: MediaPipe Pose / Holistic
points [N, 33, 3 or 4], same coordinates) when the source had a pose stage;
the device's pipeline has none, and a feature spec says whether it needs one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

NUM_HANDS = 2
NUM_POINTS = 21
NUM_POSE_POINTS = 33
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
_EPS = 1e-6


@dataclass(frozen=True)
class HandSequence:
    """Hands over time: landmarks [N, 2, 21, 3], present [N, 2], the x-to-y unit ratio, and the body if known."""

    landmarks: np.ndarray
    present: np.ndarray
    aspect: float = 1.0
    pose: np.ndarray | None = None

    @property
    def num_frames(self) -> int:
        return int(self.landmarks.shape[0])

    def frames(self, start: int, stop: int) -> "HandSequence":
        """Frames ``start:stop`` (the body with them)."""
        pose = None if self.pose is None else self.pose[start:stop]
        return replace(self, landmarks=self.landmarks[start:stop], present=self.present[start:stop], pose=pose)

    def square(self, depth: bool = False) -> np.ndarray:
        """The landmarks in square units (float64 copy): see :func:`to_square`."""
        return to_square(self.landmarks, self.aspect, depth)


def to_square(points: np.ndarray, aspect: float, depth: bool = False) -> np.ndarray:
    """A float64 copy of ``points`` [..., 2+] with x multiplied by ``aspect``, so x and y share one unit.

    ``depth``: z too (MediaPipe's z is in x's unit). The feature spec scales it;
    augmentation leaves z as stored (changing that would move every trained figure).
    """
    out = np.array(points, dtype=np.float64, copy=True)
    out[..., 0] *= aspect
    if depth:
        out[..., 2] *= aspect
    return out


def from_square(points: np.ndarray, aspect: float) -> np.ndarray:
    """The inverse of ``to_square(points, aspect)`` (x only)."""
    out = np.array(points, copy=True)
    out[..., 0] /= aspect
    return out


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


def mirror(hands: HandSequence) -> HandSequence:
    """Left/right mirror: x reflected about the sequence's mean hand x AND the hand slots swapped.

    What a left-handed signer (or a selfie-mirrored camera) looks like to a
    right-handed model. Reflecting about the sequence's own mean keeps image
    coordinates in place and makes mirror(mirror(h)) == h. A body pose, where
    there is one, is reflected with the hands (its undetected, all-zero points
    stay zero). Used by training augmentation and by ``hands-dominant-v1``.
    """
    lm = hands.landmarks.astype(np.float64).copy()
    pose = hands.pose
    if hands.present.any():
        mid = float(lm[hands.present][..., 0].mean())
        lm[..., 0] = 2.0 * mid - lm[..., 0]
        if pose is not None:
            pose = np.array(pose, dtype=np.float32, copy=True)
            found = np.abs(pose[..., :2]).sum(axis=-1) > 1e-6
            pose[..., 0] = np.where(found, 2.0 * mid - pose[..., 0], pose[..., 0])
    present = hands.present[:, ::-1].copy()
    lm = lm[:, ::-1].astype(np.float32)
    lm[~present] = 0.0
    return replace(hands, landmarks=lm, present=present, pose=pose)


def hand_activity(hands: HandSequence) -> np.ndarray:
    """How much each hand moves over the sequence [2]: summed frame-to-frame displacement of its 21 points.

    In hand sizes (square units divided by the sequence's median hand size),
    over consecutive frames where the hand is present in both; a hand never
    seen, or seen still, scores 0. The signing hand moves; a resting or
    half-visible other hand barely does.
    """
    pts = hands.square()[..., :2]
    sizes = hand_size(pts)
    seen = hands.present & (sizes > _EPS)
    unit = float(np.median(sizes[seen])) if seen.any() else 1.0
    steps = np.linalg.norm(np.diff(pts, axis=0), axis=-1).sum(axis=-1)  # [N-1, 2]
    both = hands.present[1:] & hands.present[:-1]
    return np.where(both, steps, 0.0).sum(axis=0) / max(unit, _EPS)


def dominant_first(hands: HandSequence) -> HandSequence:
    """The sequence with its more active hand in the RIGHT slot: mirrored when the left hand moves more.

    Why: the same one-handed sign made with either hand, or filmed through a
    mirrored (selfie) camera, or stored with swapped hand blocks, then gives
    one input instead of two. Ties (neither hand moves) keep the sequence as it is.
    """
    activity = hand_activity(hands)
    return mirror(hands) if activity[LEFT] > activity[RIGHT] else hands

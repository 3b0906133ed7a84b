"""``hands-shoulders-v1`` and ``hands-face-v1``: the hands' features plus where the wrists are relative to the body.

``hands-xy-angles-v1`` sees each wrist's path relative to its own mean
position, in hand sizes, and each hand's shape; where the hands are relative
to the BODY (at the chin, at the chest) is invisible to it. These specs add
4 values a frame: the (x, y) of each wrist relative to a body reference,

- shoulders: the mid-shoulder point, in shoulder widths (pose points 11, 12);
- face: the nose, in distances between the eyes (pose points 0, 2, 5).

The reference is one fixed position per sign: the median, over the frames where
it was found, of the pose the sequence carries (``sign-import`` keeps ``pose``),
which a device could estimate once per sign. The device's pipeline runs no pose
stage, so it refuses these specs (``edge_runtime.spec.check_computable``); they
are trainable and exportable for a device that has one. A missing hand or a
missing pose gives zeros, as the hands do. ``sign-accuracy``'s body-reference
experiment (``experiments/body_reference.py``) measured whether they help.
"""

from __future__ import annotations

import numpy as np

from edge_runtime.features import hands_xy_angles
from edge_runtime.hands import LEFT, RIGHT, HandSequence, hand_size, to_square

# Pose landmark indices (MediaPipe Pose / Holistic) of each reference.
REFERENCES: dict[str, tuple[int, ...]] = {"shoulders": (11, 12), "face": (0, 2, 5)}
BODY_COLUMNS = 4  # (x, y) of each wrist relative to the reference
_EPS = 1e-6


def reference_points(pose: np.ndarray | None, kind: str) -> np.ndarray | None:
    """The reference's pose points [K, 3], median over the frames where they were found; None if never."""
    if pose is None or kind not in REFERENCES:
        return None
    pts = np.asarray(pose, dtype=np.float64)[:, list(REFERENCES[kind]), :3]
    found = np.abs(pts[..., :2]).sum(axis=(1, 2)) > _EPS
    if not found.any():
        return None
    return np.median(pts[found], axis=0)


def centre_and_scale(points: np.ndarray, kind: str, aspect: float) -> tuple[np.ndarray, float] | None:
    """(centre xy, unit length) of a reference in square units; None when degenerate.

    Made so that a left/right mirror leaves the scale unchanged and moves the centre.
    """
    sq = to_square(points[:, :2], aspect)
    if kind == "shoulders":
        centre, scale = sq.mean(axis=0), float(np.linalg.norm(sq[0] - sq[1]))
    else:  # face: the nose, scaled by the distance between the eyes
        centre, scale = sq[0], float(np.linalg.norm(sq[1] - sq[2]))
    return (centre, scale) if scale > _EPS else None


def model_input(hands: HandSequence, frames: int, kind: str) -> np.ndarray:
    """The hands' model input [T, 116] plus each wrist relative to the reference [T, 4].

    The hands' wrist values are (wrist - o) / s with o the mean wrist position and
    s the median hand size of the sequence; the body-relative wrist is then
    (value * s + o - centre) / scale, computed on the resampled frames so that it
    follows the hands' own resampling and presence flags exactly.
    """
    base = hands_xy_angles.model_input(hands, frames)
    body = np.zeros((frames, BODY_COLUMNS), np.float32)
    points = reference_points(hands.pose, kind)
    ref = centre_and_scale(points, kind, hands.aspect) if points is not None else None
    pts = to_square(hands.landmarks, hands.aspect)
    pr = np.asarray(hands.present, dtype=bool) & np.isfinite(pts).all(axis=(2, 3))
    sizes = hand_size(pts)
    pr &= sizes > _EPS
    if ref is not None and pr.any():
        centre, scale = ref
        origin = pts[:, :, 0, :2][pr].mean(axis=0)
        unit = float(np.median(sizes[pr]))
        for k, hand in enumerate((LEFT, RIGHT)):
            cols = hands_xy_angles.WRIST_COLUMNS[hand]
            flag = base[:, hands_xy_angles.PRESENCE_COLUMNS[hand]] > 0.5
            rel = (base[:, cols].astype(np.float64) * unit + origin - centre) / scale
            body[flag, 2 * k:2 * k + 2] = rel[flag]
    return np.concatenate([base, body], axis=1).astype(np.float32)

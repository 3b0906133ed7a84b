"""The procedural hand: a 21-point right hand from a small kinematic skeleton, and the rotations that pose it.

Why a module of its own: it is pure geometry (handshapes, palm orientations,
sign locations, quaternion interpolation) with no idea of words, signers or
time, so it can be read and tested alone (``tests/test_synth.py`` checks that
a fist bends where a fist bends).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

# --------------------------------------------------------------------------------------------------------------
# The hand: a right hand in its own frame (X = thumb side, Y = along the fingers, Z = out of the palm), in units
# of the wrist-to-middle-knuckle length. A left hand is its mirror image (see mirror).

_KNUCKLE = np.array([[0.32, 0.92, 0.0], [0.08, 1.00, 0.0], [-0.14, 0.95, 0.0], [-0.33, 0.83, 0.0]])
_FINGER_BONES = np.array([[0.42, 0.25, 0.21], [0.46, 0.29, 0.22], [0.43, 0.27, 0.21], [0.33, 0.20, 0.18]])
_ABDUCT_BASE = np.radians([4.0, 0.0, -4.0, -9.0])  # finger direction at rest, + toward the thumb
_ABDUCT_SPREAD = np.radians([12.0, 2.0, -9.0, -20.0])  # added at full spread
_THUMB_BASE = np.array([0.22, 0.28, 0.05])
_THUMB_BONES = np.array([0.33, 0.28, 0.24])
_FLEX_MAX = np.radians([85.0, 100.0, 65.0])  # knuckle (MCP), middle (PIP), end (DIP) joint at curl 1
_THUMB_FLEX_MAX = np.radians([25.0, 45.0, 55.0])

# A handshape is 12 numbers: (knuckle, middle-joint) flexion of index, middle, ring, little (0 = straight,
# 1 = fully bent), finger spread, thumb abduction (0 = along the index, 1 = out at ~60 deg), thumb
# opposition (toward and across the palm) and thumb curl.
SHAPE_SIZE = 12
_CURLED = (0.9, 1.0)
_STRAIGHT = (0.0, 0.0)


def _shape(fingers: Sequence[tuple[float, float]], spread: float, thumb: tuple[float, float, float]) -> np.ndarray:
    return np.array([v for f in fingers for v in f] + [spread, *thumb], dtype=np.float64)


HANDSHAPES: dict[str, np.ndarray] = {
    "flat": _shape([_STRAIGHT] * 4, 0.1, (0.1, 0.1, 0.1)),
    "open5": _shape([_STRAIGHT] * 4, 1.0, (1.0, 0.0, 0.0)),
    "fist": _shape([_CURLED] * 4, 0.0, (0.1, 0.7, 0.7)),
    "index": _shape([_STRAIGHT, _CURLED, _CURLED, _CURLED], 0.0, (0.1, 0.8, 0.7)),
    "v": _shape([_STRAIGHT, _STRAIGHT, _CURLED, _CURLED], 0.8, (0.1, 0.8, 0.7)),
    "w": _shape([_STRAIGHT, _STRAIGHT, _STRAIGHT, _CURLED], 0.7, (0.1, 0.8, 0.8)),
    "y": _shape([_CURLED, _CURLED, _CURLED, _STRAIGHT], 0.6, (1.0, 0.0, 0.0)),
    "l": _shape([_STRAIGHT, _CURLED, _CURLED, _CURLED], 0.2, (1.0, 0.0, 0.0)),
    "claw": _shape([(0.1, 0.8)] * 4, 0.8, (0.6, 0.3, 0.5)),
    "bent": _shape([(0.9, 0.0)] * 4, 0.0, (0.2, 0.3, 0.2)),
    "o": _shape([(0.5, 0.6)] * 4, 0.1, (0.5, 0.9, 0.5)),
}
# Handshapes one finger or the thumb apart: a word's "handshape twin" swaps one keyframe for one of these.
NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "flat": ("bent", "open5", "w"), "open5": ("flat", "claw"), "fist": ("index", "y", "o"),
    "index": ("fist", "l", "v"), "v": ("index", "w"), "w": ("v", "flat"), "y": ("fist", "l"),
    "l": ("index", "y"), "claw": ("open5", "o"), "bent": ("flat", "o"), "o": ("claw", "fist", "bent"),
}
REST_SHAPE = _shape([(0.25, 0.35)] * 4, 0.2, (0.3, 0.2, 0.3))
SHAPE_LOW = np.array([0.0] * 8 + [0.0, 0.0, 0.0, 0.0])
SHAPE_HIGH = np.array([1.05] * 8 + [1.2, 1.1, 1.1, 1.05])


def _frame(fingers: Sequence[float], palm: Sequence[float]) -> np.ndarray:
    """Rotation whose columns are the hand's X, Y (fingers), Z (palm normal) axes in the body frame."""
    y = np.asarray(fingers, float)
    y = y / np.linalg.norm(y)
    z = np.asarray(palm, float)
    z = z - y * (z @ y)
    z = z / np.linalg.norm(z)
    return np.stack([np.cross(y, z), y, z], axis=1)


# Palm orientations of the RIGHT hand in the body frame (x = image right = the signer's left, y = up,
# z = toward the camera).
ORIENTATIONS: dict[str, np.ndarray] = {
    "palm-out": _frame((0, 1, 0), (0, 0, 1)),  # palm to the camera, fingers up
    "palm-in": _frame((0, 1, 0), (0, 0, -1)),  # back of the hand to the camera
    "palm-side": _frame((0.1, 1, 0), (1, 0, 0.5)),  # palm toward the body's midline
    "palm-down": _frame((0.9, 0.2, 0.4), (0, -1, 0.2)),  # fingers toward the midline, palm down
    "palm-up": _frame((0.9, 0.2, 0.4), (0, 1, 0.2)),
    "tilted": _frame((0.55, 0.85, 0.1), (-0.1, 0, 1)),  # palm out, fingers leaning toward the midline
}
REST_FRAME = _frame((0.55, -0.45, 0.7), (0.3, -0.6, -0.4))

# Where a sign starts (the dominant RIGHT hand's wrist, in shoulder widths from the chest centre).
LOCATIONS: dict[str, tuple[float, float]] = {
    "forehead": (-0.15, 0.80),
    "cheek": (-0.30, 0.55),
    "chin": (-0.12, 0.45),
    "chest": (-0.22, -0.05),
    "neutral": (-0.35, 0.20),
    "side": (-0.60, 0.10),
}
REST_LOCATION = np.array([-0.42, -1.15, 0.15])
BASE_LOCATION = np.array([-0.22, -0.15, 0.15])  # the static hand of a two-handed "base" sign, before mirroring


def hand_points(shape: np.ndarray, rot: np.ndarray, wrist: np.ndarray, length: float) -> np.ndarray:
    """21 points [n, 21, 3] of a right hand per frame: shapes [n, 12], rotations [n, 3, 3], wrists [n, 3]."""
    n = shape.shape[0]
    local = np.zeros((n, 21, 3))
    normal = np.array([0.0, 0.0, 1.0])
    for finger in range(4):
        knuckle, middle = shape[:, 2 * finger], shape[:, 2 * finger + 1]
        abduct = _ABDUCT_BASE[finger] + _ABDUCT_SPREAD[finger] * shape[:, 8]
        along = np.stack([np.sin(abduct), np.cos(abduct), np.zeros(n)], axis=1)
        bends = np.stack([knuckle, middle, 0.9 * middle], axis=1) * _FLEX_MAX
        theta = np.cumsum(bends, axis=1)
        first = 5 + 4 * finger
        point = np.broadcast_to(_KNUCKLE[finger], (n, 3)).copy()
        local[:, first] = point
        for j in range(3):
            direction = np.cos(theta[:, j, None]) * along + np.sin(theta[:, j, None]) * normal
            point = point + _FINGER_BONES[finger, j] * direction
            local[:, first + 1 + j] = point
    abduct = np.radians(15.0 + 45.0 * shape[:, 9])
    opp = shape[:, 10]
    thumb = np.stack([np.sin(abduct) - 0.35 * opp, np.cos(abduct), 0.9 * opp], axis=1)
    thumb /= np.linalg.norm(thumb, axis=1, keepdims=True)
    bend = np.array([-1.0, 0.0, 0.8]) - thumb * (thumb @ np.array([-1.0, 0.0, 0.8]))[:, None]
    bend /= np.linalg.norm(bend, axis=1, keepdims=True)
    theta = np.cumsum(shape[:, 11, None] * _THUMB_FLEX_MAX, axis=1)
    point = np.broadcast_to(_THUMB_BASE, (n, 3)).copy()
    local[:, 1] = point
    for j in range(3):
        direction = np.cos(theta[:, j, None]) * thumb + np.sin(theta[:, j, None]) * bend
        point = point + _THUMB_BONES[j] * direction
        local[:, 2 + j] = point
    return wrist[:, None, :] + length * np.einsum("nij,npj->npi", rot, local)


def mirror(points: np.ndarray) -> np.ndarray:
    """Mirror body-frame points left-right: a right hand becomes the anatomically matching left hand."""
    out = points.copy()
    out[..., 0] = -out[..., 0]
    return out


# --------------------------------------------------------------------------------------------------------------
# Rotations: interpolation through quaternions, so a palm turning over never passes through a degenerate frame.

def _quat(rot: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of one rotation matrix."""
    m = rot
    tr = np.trace(m)
    if tr > 0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k])
        q = [0.0, 0.0, 0.0, 0.0]
        q[0] = (m[k, j] - m[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (m[j, i] + m[i, j]) / s
        q[1 + k] = (m[k, i] + m[i, k]) / s
    q = np.array(q)
    return q / np.linalg.norm(q)


def _matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices [n, 3, 3] of unit quaternions [n, 4]."""
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=1),
    ], axis=1)


def slerp(r0: np.ndarray, r1: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Rotations [n, 3, 3] a fraction ``t`` [n] of the way from r0 to r1 (each [3, 3] or [n, 3, 3])."""
    q0 = np.array([_quat(r) for r in np.broadcast_to(r0, (len(t), 3, 3))])
    q1 = np.array([_quat(r) for r in np.broadcast_to(r1, (len(t), 3, 3))])
    dot = np.sum(q0 * q1, axis=1)
    q1 = np.where(dot[:, None] < 0, -q1, q1)
    dot = np.abs(dot)
    angle = np.arccos(np.clip(dot, -1.0, 1.0))
    small = angle < 1e-4
    sin = np.where(small, 1.0, np.sin(angle))
    w0 = np.where(small, 1.0 - t, np.sin((1.0 - t) * angle) / sin)
    w1 = np.where(small, t, np.sin(t * angle) / sin)
    q = w0[:, None] * q0 + w1[:, None] * q1
    return _matrix(q / np.linalg.norm(q, axis=1, keepdims=True))


def axis_rotation(axis: int, angle: np.ndarray) -> np.ndarray:
    """Rotations [n, 3, 3] by ``angle`` [n] radians about coordinate axis 0 (x), 1 (y) or 2 (z)."""
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros((len(angle), 3, 3))
    i, j = [a for a in range(3) if a != axis]
    out[:, axis, axis] = 1.0
    out[:, i, i], out[:, i, j], out[:, j, i], out[:, j, j] = c, -s, s, c
    return out


def tilt(angles: np.ndarray) -> np.ndarray:
    """One small rotation [3, 3] from three angles (about x, y, z)."""
    r = np.eye(3)
    for axis, angle in enumerate(angles):
        r = axis_rotation(axis, np.array([angle]))[0] @ r
    return r


def smooth(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)

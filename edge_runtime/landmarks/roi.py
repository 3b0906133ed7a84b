"""Rotated hand regions: from a palm or from last frame's landmarks, cropped out and projected back.

The geometry of MediaPipe's hand graphs, written for numpy and cv2:

- ``DetectionsToRectsCalculator`` + ``RectTransformationCalculator``: a palm
  becomes a square region turned by the wrist → middle-finger-knuckle line
  (to upright, plus Tasks' 26.6 degree quirk: see ``PALM_TARGET_ANGLE``),
  enlarged 2.6x and shifted half a box towards the fingers;
- ``HandLandmarksToRectCalculator`` + ``RectTransformationCalculator``: for
  tracking, landmarks of this frame give the next frame's region (rotation
  from the wrist towards the middle of the index/middle/ring knuckles, box
  of the palm-and-knuckle landmarks in the rotated frame, 2x, shift -0.1);
- ``ImageToTensorCalculator``: the crop is the affine map that sends the
  region's corners to the corners of the model input (bilinear sampling);
- ``LandmarkProjectionCalculator``: crop coordinates back to the image
  (its square-region form: every region here is square in pixels).

A :class:`Rect` is normalised like MediaPipe's ``NormalizedRect``: centre and
size as fractions of the image width/height, rotation in radians (clockwise
on screen, since y points down).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PALM_WRIST, PALM_MIDDLE_MCP = 0, 2
# MediaPipe Tasks' hand detector sets ``rotation_vector_target_angle: 90``, a field in RADIANS (the legacy
# palm graph sets ``rotation_vector_target_angle_degrees: 90``). So Tasks turns every palm region 90 rad
# = pi/2 + 0.4646 (26.6 degrees) further than intended. The landmark model copes, and the next frame's
# region comes from landmarks (pi/2, exact), but the first frame of a hand differs by ~0.3% of the image
# width unless we do the same; we follow Tasks, the project's reference backend. (Measured on the frames of
# 가족__남편.mp4 with the detector run on every frame, against Tasks in IMAGE mode: median landmark distance
# 0.35% of the image width with pi/2, 0.01% with 90.)
PALM_TARGET_ANGLE = 90.0
HAND_TARGET_ANGLE = math.pi / 2
# Landmarks HandLandmarksToRectCalculator looks at: wrist, thumb base, and the knuckles + PIPs of the fingers.
TRACKING_POINTS = np.array([0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18])
_WRIST, _INDEX_MCP, _MIDDLE_MCP, _RING_MCP = 0, 5, 9, 13


@dataclass(frozen=True)
class Rect:
    """A rotated rectangle in normalised image coordinates."""

    x_center: float
    y_center: float
    width: float
    height: float
    rotation: float = 0.0

    def axis_aligned(self) -> np.ndarray:
        """(xmin, ymin, xmax, ymax) ignoring the rotation, as MediaPipe's overlap checks do."""
        return np.array([self.x_center - self.width / 2, self.y_center - self.height / 2,
                         self.x_center + self.width / 2, self.y_center + self.height / 2], np.float64)


def normalize_radians(angle: float) -> float:
    """The same angle in [-pi, pi)."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def rotation_to_vertical(x0: float, y0: float, x1: float, y1: float, target: float = HAND_TARGET_ANGLE) -> float:
    """Rotation that turns the vector (x0, y0) → (x1, y1) (pixels, y down) to the angle ``target`` (pi/2 = up)."""
    return normalize_radians(target - math.atan2(-(y1 - y0), x1 - x0))


def transform_rect(rect: Rect, image_w: int, image_h: int, scale: float, shift_y: float) -> Rect:
    """``RectTransformationCalculator`` with square_long: shift along the rect's own y axis, square, scale."""
    width, height, rot = rect.width, rect.height, rect.rotation
    if rot == 0.0:
        x_center, y_center = rect.x_center, rect.y_center + height * shift_y
    else:
        x_center = rect.x_center - image_h * height * shift_y * math.sin(rot) / image_w
        y_center = rect.y_center + image_h * height * shift_y * math.cos(rot) / image_h
    long_side = max(width * image_w, height * image_h)
    return Rect(x_center, y_center, long_side / image_w * scale, long_side / image_h * scale, rot)


def rect_from_palm(box: np.ndarray, keypoints: np.ndarray, image_w: int, image_h: int,
                   target: float = PALM_TARGET_ANGLE) -> Rect:
    """The hand region of one palm (box and keypoints in normalised image coordinates).

    ``target`` is the angle the wrist → middle-knuckle vector is turned to; the
    default copies MediaPipe Tasks (see :data:`PALM_TARGET_ANGLE`), pass
    ``HAND_TARGET_ANGLE`` for the legacy graph's upright regions.
    """
    xmin, ymin, xmax, ymax = (float(v) for v in box)
    wrist, middle = keypoints[PALM_WRIST], keypoints[PALM_MIDDLE_MCP]
    rot = rotation_to_vertical(wrist[0] * image_w, wrist[1] * image_h, middle[0] * image_w, middle[1] * image_h,
                               target)
    palm = Rect((xmin + xmax) / 2, (ymin + ymax) / 2, xmax - xmin, ymax - ymin, rot)
    return transform_rect(palm, image_w, image_h, scale=2.6, shift_y=-0.5)


def rect_from_landmarks(landmarks: np.ndarray, image_w: int, image_h: int) -> Rect:
    """Next frame's hand region from this frame's 21 landmarks (normalised image coordinates)."""
    pts = landmarks[:, :2].astype(np.float64)
    wrist = pts[_WRIST]
    knuckles = ((pts[_INDEX_MCP] + pts[_RING_MCP]) / 2 + pts[_MIDDLE_MCP]) / 2
    rot = rotation_to_vertical(wrist[0] * image_w, wrist[1] * image_h, knuckles[0] * image_w, knuckles[1] * image_h)
    sub = pts[TRACKING_POINTS]
    center = (sub.min(axis=0) + sub.max(axis=0)) / 2
    # Box of the points in a frame turned by -rot around the axis-aligned centre (pixels).
    rel = (sub - center) * (image_w, image_h)
    c, s = math.cos(-rot), math.sin(-rot)
    turned = rel @ np.array([[c, s], [-s, c]])
    lo, hi = turned.min(axis=0), turned.max(axis=0)
    mid = (lo + hi) / 2
    c, s = math.cos(rot), math.sin(rot)
    cx = mid[0] * c - mid[1] * s + image_w * center[0]
    cy = mid[0] * s + mid[1] * c + image_h * center[1]
    hand = Rect(cx / image_w, cy / image_h, (hi[0] - lo[0]) / image_w, (hi[1] - lo[1]) / image_h, rot)
    return transform_rect(hand, image_w, image_h, scale=2.0, shift_y=-0.1)


def crop_matrix(rect: Rect, image_w: int, image_h: int, out_w: int, out_h: int) -> np.ndarray:
    """The 2x3 affine matrix (image pixels → crop pixels) that ``cv2.warpAffine`` needs for ``rect``.

    Like MediaPipe's OpenCV converter, the region's corners go to the corners
    of the output (0, 0) … (out_w, out_h).
    """
    w, h = rect.width * image_w, rect.height * image_h
    cx, cy = rect.x_center * image_w, rect.y_center * image_h
    c, s = math.cos(rect.rotation), math.sin(rect.rotation)
    sx, sy = out_w / w, out_h / h
    # crop = S · R(-rot) · (p - centre) + out/2
    return np.array([[sx * c, sx * s, -sx * (c * cx + s * cy) + out_w / 2],
                     [-sy * s, sy * c, -sy * (-s * cx + c * cy) + out_h / 2]], np.float64)


def letterbox_rect(image_w: int, image_h: int) -> Rect:
    """The whole image padded to a centred square (what the palm detector sees, keeping the aspect)."""
    side = max(image_w, image_h)
    return Rect(0.5, 0.5, side / image_w, side / image_h, 0.0)


def project_points(points: np.ndarray, rect: Rect) -> np.ndarray:
    """Points in the crop's unit square (x, y in 0..1, z in crop widths) → normalised image coordinates.

    z is scaled like x (by the region's width), as ``LandmarkProjectionCalculator`` does.
    """
    out = np.empty_like(points, dtype=np.float32)
    x, y = points[..., 0] - 0.5, points[..., 1] - 0.5
    c, s = math.cos(rect.rotation), math.sin(rect.rotation)
    out[..., 0] = (c * x - s * y) * rect.width + rect.x_center
    out[..., 1] = (s * x + c * y) * rect.height + rect.y_center
    if points.shape[-1] > 2:
        out[..., 2] = points[..., 2] * rect.width
    return out


def unproject_points(points: np.ndarray, rect: Rect) -> np.ndarray:
    """Inverse of :func:`project_points` (normalised image → crop unit square); used by tests and checks."""
    out = np.empty_like(points, dtype=np.float32)
    x = (points[..., 0] - rect.x_center) / rect.width
    y = (points[..., 1] - rect.y_center) / rect.height
    c, s = math.cos(rect.rotation), math.sin(rect.rotation)
    out[..., 0] = c * x + s * y + 0.5
    out[..., 1] = -s * x + c * y + 0.5
    if points.shape[-1] > 2:
        out[..., 2] = points[..., 2] / rect.width
    return out


def rect_iou(a: Rect, b: Rect) -> float:
    """IoU of two regions' unrotated boxes (MediaPipe's hand association ignores rotation too)."""
    ba, bb = a.axis_aligned(), b.axis_aligned()
    iw = min(ba[2], bb[2]) - max(ba[0], bb[0])
    ih = min(ba[3], bb[3]) - max(ba[1], bb[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = a.width * a.height + b.width * b.height - inter
    return float(inter / union) if union > 0 else 0.0

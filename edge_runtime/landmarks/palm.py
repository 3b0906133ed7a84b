"""Palm-detector output → palms: anchor decoding, sigmoid scores and weighted non-max suppression.

Follows MediaPipe's ``TensorsToDetectionsCalculator`` and
``NonMaxSuppressionCalculator`` (WEIGHTED, IoU) with the options of its palm
detection graph: 2016 boxes of 18 values (box x, y, w, h then 7 keypoints as
x, y, all in pixels of the 192x192 input relative to their anchor), raw
scores clipped to ±100 before the sigmoid, overlap threshold 0.3. Everything
over the 2016 anchors is vectorised; only the few boxes above the score
threshold reach the (short) suppression loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_KEYPOINTS = 7
NUM_COORDS = 4 + 2 * NUM_KEYPOINTS  # 18
SCORE_CLIP = 100.0
NMS_IOU = 0.3


@dataclass
class Palms:
    """Detected palms in the detector's normalised input coordinates (0..1 over the letterboxed square)."""

    boxes: np.ndarray  # [K, 4] xmin, ymin, xmax, ymax
    keypoints: np.ndarray  # [K, 7, 2] x, y (0 = wrist centre, 2 = middle-finger MCP)
    scores: np.ndarray  # [K]

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def empty(cls) -> "Palms":
        return cls(np.zeros((0, 4), np.float32), np.zeros((0, NUM_KEYPOINTS, 2), np.float32),
                   np.zeros(0, np.float32))


def sigmoid_scores(raw_scores: np.ndarray) -> np.ndarray:
    """Scores in 0..1 as MediaPipe computes them (clip, then logistic)."""
    clipped = np.clip(raw_scores.reshape(-1), -SCORE_CLIP, SCORE_CLIP)
    return 1.0 / (1.0 + np.exp(-clipped))


def decode_palms(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray,
                 min_score: float, input_size: float = 192.0) -> Palms:
    """Boxes and keypoints of every anchor whose score reaches ``min_score``.

    ``raw_boxes`` is the model's ``[1, N, 18]`` output, ``raw_scores`` its
    ``[1, N, 1]`` logits, ``anchors`` the ``[N, 4]`` (x, y, w, h) table.
    Boxes with a negative or NaN size are dropped, as MediaPipe does.
    """
    scores = sigmoid_scores(raw_scores)
    keep = np.flatnonzero(scores >= min_score)
    if keep.size == 0:
        return Palms.empty()
    raw = raw_boxes.reshape(-1, NUM_COORDS)[keep]
    anc = anchors[keep]
    ax, ay, aw, ah = anc[:, 0:1], anc[:, 1:2], anc[:, 2:3], anc[:, 3:4]
    cx = raw[:, 0:1] / input_size * aw + ax
    cy = raw[:, 1:2] / input_size * ah + ay
    w = raw[:, 2:3] / input_size * aw
    h = raw[:, 3:4] / input_size * ah
    boxes = np.concatenate([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kp = raw[:, 4:].reshape(-1, NUM_KEYPOINTS, 2)
    keypoints = np.stack([kp[..., 0] / input_size * aw + ax, kp[..., 1] / input_size * ah + ay], axis=-1)
    valid = (w[:, 0] >= 0) & (h[:, 0] >= 0)  # NaN compares False, so NaN sizes go too
    return Palms(boxes[valid].astype(np.float32), keypoints[valid].astype(np.float32),
                 scores[keep][valid].astype(np.float32))


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one (xmin, ymin, xmax, ymax) box with each row of ``boxes``."""
    iw = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    ih = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    inter = np.where((iw > 0) & (ih > 0), iw * ih, 0.0)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def weighted_nms(palms: Palms, iou_threshold: float = NMS_IOU, max_count: int | None = None) -> Palms:
    """MediaPipe's weighted suppression: each cluster becomes one palm at the score-weighted mean.

    The best remaining palm gathers every palm overlapping it by more than
    ``iou_threshold`` (itself included); the cluster's box and keypoints are
    averaged with the scores as weights and the cluster keeps the best score.
    Output is sorted by score, best first.
    """
    if len(palms) == 0:
        return palms
    order = np.argsort(-palms.scores, kind="stable")
    remaining = order
    out_boxes, out_kp, out_scores = [], [], []
    while remaining.size:
        best = remaining[0]
        overlap = box_iou(palms.boxes[best], palms.boxes[remaining]) > iou_threshold
        cluster = remaining[overlap]
        if cluster.size == 0:  # a zero-area best box overlaps nothing, not even itself (MediaPipe stops
            # there; a palm the model never outputs in practice, so keep it alone and go on)
            cluster = remaining[:1]
            overlap = np.zeros(remaining.size, bool)
            overlap[0] = True
        weights = palms.scores[cluster]
        total = float(weights.sum())
        out_boxes.append((palms.boxes[cluster] * weights[:, None]).sum(axis=0) / total)
        out_kp.append((palms.keypoints[cluster] * weights[:, None, None]).sum(axis=0) / total)
        out_scores.append(palms.scores[best])
        remaining = remaining[~overlap]
        if max_count is not None and len(out_scores) >= max_count:
            break
    return Palms(np.asarray(out_boxes, np.float32), np.asarray(out_kp, np.float32),
                 np.asarray(out_scores, np.float32))

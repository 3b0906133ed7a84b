"""Step 1 of the audit: per-recording measurements (hands found, jitter, joint angles, model-input statistics,
hand blocks against the pose, and the recording's language).

Why a module of its own: these are plain facts about each recording, read
once, that every later check (the quick model, the handshape test, the
per-person and per-label tables) works from; ``time_statistics`` is also the
input of the benchmarks' linear reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from edge_runtime.dataset import Dataset
from edge_runtime.features.hands_xy_angles import HAND_COLUMNS, frame_features, resample
from edge_runtime.hands import NUM_ANGLES, NUM_POINTS
from edge_runtime.spec import FeatureSpec
from train.audit.body import hand_blocks
from train.audit.result import HandStats

_POS = NUM_POINTS * 2  # position columns per hand in the spec's layout: wrist (2) + 20 wrist-relative points (40)


@dataclass
class Measured:
    stats: np.ndarray  # [n, 4F] mean/std/min/max of the model input over time
    frames: np.ndarray  # [n]
    hands: np.ndarray  # [n, 4] frames with left, right, both, any
    jitter: np.ndarray  # [n]
    angles: np.ndarray  # [m, 15] joint angles / pi of every detected hand in every frame
    angle_rec: np.ndarray  # [m] recording index of each row of ``angles``
    has_pose: np.ndarray  # [n] bool
    left_frames: np.ndarray  # [n] frames with the left block and both pose wrists (train.audit.body)
    left_at_left: np.ndarray  # [n] share of them with the left block at the body's left wrist; nan: none
    right_frames: np.ndarray  # [n] the same for the right block and the body's right wrist
    right_at_right: np.ndarray  # [n]
    same_hand: np.ndarray  # [n] share of both-block frames where the two blocks are one hand; nan: none
    imported_share: np.ndarray  # [n] the source's own ``left_hand_near_pose15``; nan where it gave none
    languages: list[str | None]  # [n] ``extra["language"]``; None where the recording has none


def _jitter(ff: np.ndarray) -> float:
    """Median frame-to-frame motion of the 20 wrist-relative points, in hand sizes (both hands pooled)."""
    moves = []
    for cols in HAND_COLUMNS:
        on = ff[:, cols[-1]] > 0.5
        pairs = on[1:] & on[:-1]
        if not pairs.any():
            continue
        shape = ff[:, cols[2:_POS]].reshape(len(ff), -1, 2)
        step = np.linalg.norm(shape[1:] - shape[:-1], axis=-1).mean(axis=-1)
        moves.append(step[pairs])
    return float(np.median(np.concatenate(moves))) if moves else float("nan")


def time_statistics(x: np.ndarray) -> np.ndarray:
    """Mean, std, min and max over time of model input [..., T, F] -> [..., 4F]: the quick linear model's input."""
    return np.concatenate([x.mean(-2), x.std(-2), x.min(-2), x.max(-2)], axis=-1)


def measure(ds: Dataset, spec: FeatureSpec, progress: bool) -> Measured:
    n = len(ds)
    stats = np.zeros((n, 4 * spec.num_features), np.float32)
    frames = np.zeros(n, np.int64)
    hands = np.zeros((n, 4), np.int64)
    jitter = np.zeros(n)
    angles, angle_rec = [], []
    has_pose = np.zeros(n, bool)
    blocks = np.full((n, 5), np.nan)
    imported = np.full(n, np.nan)
    languages: list[str | None] = []
    for i in tqdm(range(n), desc="measuring", unit="rec", disable=not progress, leave=False):
        rec = ds.load(i)
        ff = frame_features(rec.hands)
        x = resample(ff, spec.frames)
        stats[i] = time_statistics(x)
        on = np.stack([ff[:, c[-1]] > 0.5 for c in HAND_COLUMNS], axis=1)  # [N, 2]
        frames[i] = len(ff)
        hands[i] = [on[:, 0].sum(), on[:, 1].sum(), on.all(axis=1).sum(), on.any(axis=1).sum()]
        jitter[i] = _jitter(ff)
        for h, cols in enumerate(HAND_COLUMNS):
            a = ff[on[:, h]][:, cols[_POS:_POS + NUM_ANGLES]]
            angles.append(a)
            angle_rec.append(np.full(len(a), i))
        has_pose[i] = rec.pose is not None
        b = hand_blocks(rec.landmarks, rec.present, rec.pose)
        blocks[i] = b.left_frames, b.left_at_left, b.right_frames, b.right_at_right, b.same_hand
        imported[i] = _number(rec.extra.get("left_hand_near_pose15"))
        language = rec.extra.get("language")
        languages.append(None if language is None else str(language))
    return Measured(stats, frames, hands, jitter,
                    np.concatenate(angles) if angles else np.zeros((0, NUM_ANGLES), np.float32),
                    np.concatenate(angle_rec) if angle_rec else np.zeros(0, np.int64),
                    has_pose, blocks[:, 0].astype(np.int64), blocks[:, 1], blocks[:, 2].astype(np.int64), blocks[:, 3],
                    blocks[:, 4], imported, languages)


def _number(value: object) -> float:
    """A metadata value as a float; nan when it is missing or not a number (a source's figure is optional)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return float("nan")


def hand_stats(name: str, m: Measured, idx: np.ndarray) -> HandStats:
    frames = int(m.frames[idx].sum())
    share = m.hands[idx].sum(axis=0) / max(frames, 1)
    jit = m.jitter[idx]
    jit = jit[np.isfinite(jit)]
    return HandStats(name, len(idx), frames, float(share[0]), float(share[1]), float(share[2]), float(share[3]),
                     float(np.median(jit)) if len(jit) else float("nan"))

"""Hand blocks against the body: is the left-hand block (slot 0) at the body's LEFT wrist?

Why: a source that names its hands wrongly puts the signer's right hand in the
left block; every left/right feature of that person is then mirrored and no
label check can see it (their labels are right). Where a recording carries a
body pose (MediaPipe Pose / Holistic: point 15 is the signer's left wrist, 16
the right), the slot-0 wrist must be nearer point 15 than 16.

Per recording: among the frames with the slot-0 hand and both pose wrists, the
share where the slot-0 wrist is nearer 15 than 16 (image x, y; the same figure
as ``sign-import``'s ``left_hand_near_pose15`` of ``data/mpdata-words``, but
computed from ``landmarks`` and ``pose`` so it works for any dataset with a
pose); the same for the slot-1 hand and point 16; and among the frames with
both hands, the share where the two wrists lie within half a hand size of each
other (the left block is a second copy of the right hand, not a swapped one).
Per person: the median left-block share over the recordings with at least
``hand_block_min_frames`` such frames (a share over one or two frames is a coin
toss, and a left hand found for a frame on top of the right one is a detector
slip, not a swap).

Which of a flagged person's recordings are wrong: those where either block sits
at the other side's wrist in most of its frames. For a truly swapped person
that is every recording (a lone right-block hand sits at the LEFT wrist); for
one whose left block is the right hand found twice, only the recordings where
that second copy appears.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_runtime.hands import LEFT, RIGHT, hand_size
from train.audit.config import AuditConfig
from train.audit.result import HandBlockAudit

POSE_LEFT_WRIST, POSE_RIGHT_WRIST = 15, 16  # MediaPipe Pose: the signer's own left and right wrists
SAME_HAND = 0.5  # two wrists closer than this many hand sizes are one hand found twice
_EPS = 1e-6


@dataclass(frozen=True)
class HandBlocks:
    """One recording's hand blocks against its pose (all zeros / nan when it has no pose)."""

    left_frames: int  # frames with the slot-0 hand and both pose wrists
    left_at_left: float  # share of them where the slot-0 wrist is nearer pose 15 than 16; nan when none
    right_frames: int  # frames with the slot-1 hand and both pose wrists
    right_at_right: float  # share of them where the slot-1 wrist is nearer pose 16 than 15; nan when none
    same_hand: float  # share of the frames with both hands where the two wrists are within SAME_HAND hand sizes

    @classmethod
    def none(cls) -> HandBlocks:
        return cls(0, float("nan"), 0, float("nan"), float("nan"))


def hand_blocks(landmarks: np.ndarray, present: np.ndarray, pose: np.ndarray | None) -> HandBlocks:
    """Where the left block sits, from landmarks [N, 2, 21, 3], present [N, 2] and pose [N, 33, 3|4] or None."""
    if pose is None:
        return HandBlocks.none()
    wrists = np.asarray(landmarks[:, :, 0, :2], dtype=np.float64)  # [N, 2, 2]
    body = np.asarray(pose[:, [POSE_LEFT_WRIST, POSE_RIGHT_WRIST], :2], dtype=np.float64)  # [N, 2, 2]
    found = (np.abs(body).sum(axis=-1) > _EPS).all(axis=-1)
    near = np.linalg.norm(wrists[:, :, None] - body[:, None], axis=-1)  # [N, block, pose wrist]
    shares = []
    for block, own in ((LEFT, 0), (RIGHT, 1)):
        rows = present[:, block] & found
        at_own = near[rows, block, own] < near[rows, block, 1 - own]
        shares += [int(rows.sum()), float(at_own.mean()) if rows.any() else float("nan")]
    both = present[:, LEFT] & present[:, RIGHT]
    apart = np.linalg.norm(wrists[both, LEFT] - wrists[both, RIGHT], axis=-1)
    size = hand_size(np.asarray(landmarks[both, RIGHT], dtype=np.float64))
    same = apart < SAME_HAND * np.maximum(size, _EPS)
    return HandBlocks(*shares, float(same.mean()) if both.any() else float("nan"))


def wrong_side(left_frames: np.ndarray, left_at_left: np.ndarray, right_frames: np.ndarray,
               right_at_right: np.ndarray) -> np.ndarray:
    """[n] recordings where either block sits at the other side's wrist in most of its frames."""
    with np.errstate(invalid="ignore"):
        return ((left_frames > 0) & (left_at_left < 0.5)) | ((right_frames > 0) & (right_at_right < 0.5))


def person_hand_blocks(signer: str, left_frames: np.ndarray, left_at_left: np.ndarray, same_hand: np.ndarray,
                       cfg: AuditConfig) -> HandBlockAudit:
    """One person's verdict from their recordings' hand blocks (arrays over their recordings only)."""
    judged = left_frames >= cfg.hand_block_min_frames
    share = float(np.median(left_at_left[judged])) if judged.any() else float("nan")
    both = np.isfinite(same_hand)
    same = float(np.median(same_hand[both])) if both.any() else float("nan")
    swapped = bool(judged.any() and share < cfg.hand_block_share)
    return HandBlockAudit(signer, int(judged.sum()), share, same, swapped)


def describe_hand_blocks(h: HandBlockAudit) -> str:
    """The flag in words: swapped, or (when the two blocks sit on one hand) the right hand found twice."""
    text = (f"hand blocks look swapped: the left block sits at the body's right wrist (median {h.share:.0%} of its "
            f"frames at the left wrist, over {h.judged} recording{'s' if h.judged != 1 else ''})")
    if np.isfinite(h.same_hand) and h.same_hand >= 0.5:
        text += (f"; in {h.same_hand:.0%} of the frames with both blocks (median) they are the same hand: the right "
                 "hand found twice rather than swapped")
    return text


def imported_agreement(computed: np.ndarray, imported: np.ndarray, tolerance: float = 0.01) -> tuple[int, int, float]:
    """(agree, compared, largest difference) of our share against a source's own figure (``left_hand_near_pose15``).

    Why: the source computed it before rounding its points to float16, so a frame whose two distances nearly
    tie can fall the other way here; agreement within ``tolerance`` on almost every recording says the
    measure is the same one.
    """
    both = np.isfinite(computed) & np.isfinite(imported)
    diff = np.abs(computed[both] - imported[both])
    return int((diff <= tolerance).sum()), int(both.sum()), float(diff.max()) if both.any() else float("nan")

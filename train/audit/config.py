"""The audit's thresholds (``AuditConfig``, mirrored by the ``sign-audit`` flags) and its error.

Its own module because every step of the audit reads the thresholds, and the
report states them as rules in words (``AuditConfig.rules``) so a reader of
``audit.md`` never has to look up a default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edge_runtime.errors import SignedgeError
from edge_runtime.spec import DEFAULT_SPEC, FeatureSpec


class AuditError(SignedgeError, ValueError):
    """The dataset cannot be audited as asked (one label, one signer, bad settings)."""


@dataclass(frozen=True)
class AuditConfig:
    """Every threshold of the audit; the CLI flags mirror these fields."""

    folds: int = 5
    C: float = 0.1  # inverse regularisation of the logistic regression
    min_accuracy: float = 0.80
    permutation_agreement: float = 0.85
    permutation_gain: float = 0.30
    handshape_radius: float = 0.75
    handshape_frame_share: float = 0.20
    handshape_min_recall: float = 0.75
    handshape_max_false: float = 0.10
    handshape_never_share: float = 0.10
    hand_block_share: float = 0.20  # a person's median share of left-block frames at the left wrist below this
    hand_block_min_frames: int = 5  # recordings with fewer left-block frames (with a pose) are not judged
    split_glosses: bool | None = None  # None: when the recordings carry a language (mixed data)
    split_silhouette: float = 0.50
    split_reading: float = 2 / 3  # share of a person's recordings of a label the model must read as one label
    split_min_people: int = 2  # people in each group of a split gloss
    split_min_recordings: int = 3  # a person's recordings of a label before their version of it counts
    spec: FeatureSpec = DEFAULT_SPEC
    progress: bool = False

    def validate(self) -> None:
        if self.folds < 2:
            raise AuditError(f"--folds must be at least 2, got {self.folds}")
        if not (self.C > 0 and math.isfinite(self.C)):
            raise AuditError(f"C must be positive, got {self.C}")
        for name in ("min_accuracy", "permutation_agreement", "permutation_gain", "handshape_radius",
                     "handshape_frame_share", "handshape_min_recall", "handshape_max_false",
                     "handshape_never_share", "hand_block_share", "split_silhouette", "split_reading"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise AuditError(f"{name.replace('_', '-')} must be between 0 and 1, got {value}")
        for name in ("hand_block_min_frames", "split_min_people", "split_min_recordings"):
            value = getattr(self, name)
            if value < 1:
                raise AuditError(f"--{name.replace('_', '-')} must be at least 1, got {value}")

    def rules(self) -> list[str]:
        """The flagging rules in words, for the report."""
        low = f"**low accuracy**: a person's out-of-fold accuracy is below {self.min_accuracy:.0%}."
        permuted = (f"**permuted labels**: the best permutation of the labels (linear assignment on the person's "
                    f"out-of-fold confusion matrix) agrees with at least {self.permutation_agreement:.0%} of the "
                    f"person's recordings and at least {self.permutation_gain * 100:.0f} points more than the "
                    f"labels as given; the recordings whose label it changes go to flagged.txt.")
        handshape = (f"**missing handshape**: for a label whose handshape is distinctive (for the median person, "
                     f"at least {self.handshape_min_recall:.0%} of their recordings of the label show it; for three "
                     f"people in four, at most {self.handshape_max_false:.0%} of their other recordings do), fewer "
                     f"than {self.handshape_never_share:.0%} of the person's recordings of that label show it. A "
                     f"frame shows label L's handshape when the centroid of L's joint angles (from the other "
                     f"people) is its nearest and it lies within the {self.handshape_radius:.0%} quantile of the "
                     f"other people's distances to it; a recording shows it when at least "
                     f"{self.handshape_frame_share:.0%} of its hand frames do.")
        cleanlab = ("**cleanlab**: `cleanlab.filter.find_label_issues` (prune_by_noise_rate) on the out-of-fold "
                    "probabilities; those recordings go to flagged.txt.")
        return [low, permuted, handshape, cleanlab]

    def hand_block_rule(self) -> str:
        """The hand-block rule in words (in the report when the data has languages or the rule fires)."""
        return (f"**hand blocks look swapped**: where a recording has a body pose, the share of its frames in which "
                f"the left-hand block's wrist (slot 0) is nearer the pose's left wrist (point 15) than its right "
                f"wrist (16), over the frames with that hand and both pose wrists; recordings with fewer than "
                f"{self.hand_block_min_frames} such frames are not judged. A person whose median share is below "
                f"{self.hand_block_share:.0%} is flagged, and their recordings in which either block sits at the other "
                f"side's wrist in most of its frames go to flagged.txt (their left/right features are mirrored, or "
                f"the right hand fills both blocks, whatever the label): for a truly swapped person that is every "
                f"recording, for one whose left block is a second copy of the right hand only those where it shows.")

    def split_rules(self) -> list[str]:
        """The split-gloss rules in words (in the report when the split-gloss check ran)."""
        who = (f"**split glosses**: over the people with at least {self.split_min_recordings} recordings of a label, "
               "leaving out people flagged for permuted labels or swapped hand blocks (their recordings are flagged "
               f"already); each group needs at least {self.split_min_people} people. Reported, never relabelled, and "
               "not in flagged.txt: a gloss that names two signs is a question for the vocabulary, not a wrong label.")
        reading = (f"**split gloss, looks like another label**: a person's recordings of label X *read as* the label "
                   f"the quick model predicts (out-of-fold) for at least {self.split_reading:.1%} of them; X splits "
                   f"when enough people read as X and enough people read as the same other label Y.")
        look = (f"**split gloss, looks like no other label**: per person, the mean time statistics of their X "
                f"recordings, of the dominant hand only (each person mirrored so that the hand that moves more is "
                f"their right one; a resting or doubled other hand is not a sign), standardised, minus the person's "
                f"own offset (Tukey's median polish over people x labels, so only people with at least 3 labels "
                f"count); Ward clustering into two groups; X splits when the silhouette is at least "
                f"{self.split_silhouette:.2f}. Where the same people split the same way on another label, the report "
                f"says so: a difference between the people (camera, framing, their sign language) rather than X.")
        return [who, reading, look]

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
    spec: FeatureSpec = DEFAULT_SPEC
    progress: bool = False

    def validate(self) -> None:
        if self.folds < 2:
            raise AuditError(f"--folds must be at least 2, got {self.folds}")
        if not (self.C > 0 and math.isfinite(self.C)):
            raise AuditError(f"C must be positive, got {self.C}")
        for name in ("min_accuracy", "permutation_agreement", "permutation_gain", "handshape_radius",
                     "handshape_frame_share", "handshape_min_recall", "handshape_max_false",
                     "handshape_never_share"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise AuditError(f"{name.replace('_', '-')} must be between 0 and 1, got {value}")

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

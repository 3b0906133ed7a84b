"""What the audit found, typed: per recording, per person, per label, and the whole ``AuditResult``.

Why a module of its own: the checks fill these records, the report renders
them, and training or the benchmarks can read them without parsing files;
none of those should import the others to share a type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from train.audit.config import AuditConfig


@dataclass
class HandStats:
    """Who was in front of the camera: for one person, one label, or the whole set."""

    name: str
    recordings: int
    frames: int
    left: float  # share of frames with the signer's left hand
    right: float
    both: float
    any: float
    jitter: float  # median over recordings; nan when no hand was tracked over two frames


@dataclass
class RecordingAudit:
    file: str
    signer: str
    label: str
    predicted: str
    confidence: float  # out-of-fold probability of the predicted label
    label_prob: float  # out-of-fold probability of the given label
    label_issue: bool  # cleanlab's verdict
    flagged: bool
    reason: str
    frames: int
    jitter: float
    language: str = ""  # the recording's ``extra["language"]``; "" when it has none


@dataclass
class HandBlockAudit:
    """One person's hand blocks against the body pose (``train.audit.body``)."""

    signer: str
    judged: int  # recordings with enough left-block frames and a pose
    share: float  # median share of left-block frames at the body's left wrist; nan when none judged
    same_hand: float  # median share of both-block frames where the two blocks are one hand; nan when none
    swapped: bool


@dataclass
class MissingHandshape:
    label: str
    shown: int  # the person's recordings of ``label`` that show its handshape
    recordings: int
    seen_under: dict[str, int]  # other labels whose recordings show it, with how many


@dataclass
class PersonAudit:
    signer: str
    stats: HandStats
    accuracy: float
    confusions: list[tuple[str, str, int]]  # (given, predicted, count), most frequent first
    permutation: dict[str, str]  # given label -> label its recordings look like (the person's labels only)
    permutation_agreement: float
    permuted: bool  # the permutation rule holds: the labels it moves look swapped
    low_accuracy: bool
    missing_handshapes: list[MissingHandshape]
    flags: list[str]  # one sentence per rule that fired
    languages: list[str] = field(default_factory=list)  # of their recordings, most recordings first
    hand_blocks: HandBlockAudit | None = None  # None: none of their recordings has a pose

    @property
    def swapped_hands(self) -> bool:
        return self.hand_blocks is not None and self.hand_blocks.swapped

    def short_flags(self) -> list[str]:
        """The flags in a few words, for a terminal table."""
        out = []
        if self.permuted:
            out.append(f"permuted {describe_permutation(self.permutation)}")
        if self.low_accuracy:
            out.append("low accuracy")
        out += [f"no {h.label} handshape" for h in self.missing_handshapes]
        if self.swapped_hands:
            out.append("hand blocks swapped")
        return out


@dataclass
class HandshapeCheck:
    label: str
    recall: float  # the median person's share of their recordings of the label that show its handshape
    false_share: float  # the upper-quartile person's share of their other recordings that show it
    distinctive: bool


@dataclass
class LabelAudit:
    stats: HandStats
    recall: float  # out-of-fold share of the label's recordings predicted as it
    label_issues: int


@dataclass
class GlossGroup:
    """People who sign a label alike: what their recordings look like, and who they are."""

    looks_like: str  # a label (the model's reading) or "group 1" / "group 2" (clusters)
    people: list[str]


@dataclass
class SplitGloss:
    """A label whose people fall into groups that sign it differently (``train.audit.glosses``)."""

    label: str
    rule: str  # "looks like another label" | "looks like no other label"
    people: int  # people judged for this label
    groups: list[GlossGroup]
    numbers: str  # the figures the rule decided on, in words
    same_split_on: list[str] = field(default_factory=list)  # other labels that split the same people the same way


@dataclass
class LanguageAudit:
    """One row of the per-language table."""

    language: str
    people: int
    recordings: int
    labels: int
    accuracy: float  # out-of-fold accuracy of the quick model (trained on every language) on these recordings
    flagged_people: int  # people with a flag who have recordings in this language
    flagged_recordings: int


@dataclass
class HandBlockSummary:
    """The hand-block check over the dataset: how much it could see and how it agrees with a source's figure."""

    with_pose: int  # recordings with a pose
    judged: int  # recordings with enough left-block frames
    imported_agree: int  # recordings whose imported left_hand_near_pose15 agrees with ours within 0.01
    imported_compared: int  # recordings with both figures (0: the source gave none)
    imported_max_difference: float


@dataclass
class AuditResult:
    """Everything the report says, typed, so training can use it without parsing files."""

    dataset: Path
    config: AuditConfig
    labels: list[str]
    by_person: bool
    folds: int
    recordings: list[RecordingAudit]
    people: list[PersonAudit]
    label_audits: list[LabelAudit]
    handshapes: list[HandshapeCheck]
    confusion: np.ndarray  # [given, predicted] out-of-fold counts
    notes: list[str] = field(default_factory=list)
    has_languages: bool = False  # some recording carries ``extra["language"]``: mixed data
    languages: list[LanguageAudit] = field(default_factory=list)
    hand_blocks: HandBlockSummary | None = None  # None: no recording has a pose
    split_glosses: list[SplitGloss] | None = None  # None: the check did not run

    @property
    def swapped_people(self) -> list[PersonAudit]:
        return [p for p in self.people if p.swapped_hands]

    @property
    def accuracy(self) -> float:
        return float(np.mean([r.predicted == r.label for r in self.recordings]))

    @property
    def label_issues(self) -> int:
        return sum(r.label_issue for r in self.recordings)

    @property
    def flagged_files(self) -> list[str]:
        return [r.file for r in self.recordings if r.flagged]

    @property
    def flagged_people(self) -> list[PersonAudit]:
        return [p for p in self.people if p.flags]


def describe_permutation(mapping: dict[str, str]) -> str:
    """Cycles of a permutation: ``iloveyou↔thanks``, ``a→b→c→a``; ``identity`` when nothing moves."""
    seen: set[str] = set()
    parts = []
    for start, target in mapping.items():
        if start in seen or target == start:
            continue
        cycle = [start]
        seen.add(start)
        nxt: str | None = target
        while nxt is not None and nxt != start and nxt not in seen:
            cycle.append(nxt)
            seen.add(nxt)
            nxt = mapping.get(nxt)
        if len(cycle) == 2 and nxt == start:
            parts.append(f"{cycle[0]}↔{cycle[1]}")
        else:
            parts.append("→".join(cycle + ([nxt] if nxt is not None else [])))
    return ", ".join(parts) or "identity"

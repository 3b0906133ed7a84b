"""``sign-audit``: a data-quality and label audit of a dataset, before any training.

Why: public sign-language data carries wrong labels and people whose hands the
detector lost, and a model trained on them hides both behind one accuracy
figure. In the shared ASL set one person's ``thanks`` and ``iloveyou`` labels
are swapped and several people never make the "I love you" handshape at all.
This command finds such things in a minute, without TensorFlow, and never
changes the data: it only writes a report.

What it does, in order:

1. Per recording: frames, which hands were found, jitter (median frame-to-frame
   motion of the wrist-relative finger points, in hand sizes: detector noise
   plus finger motion, never whole-hand motion), and the statistics (mean, std,
   min, max over time) of the feature spec's model input.
2. A quick model (StandardScaler + logistic regression on those statistics)
   predicts every recording out-of-fold, the folds grouped by signer
   (``GroupKFold``): each person is predicted by a model that never saw them.
3. ``cleanlab.filter.find_label_issues`` on those out-of-fold probabilities:
   recordings whose label looks wrong.
4. Per person (rules in :class:`AuditConfig`, stated in the report):
   *low accuracy* (out-of-fold accuracy below ``min_accuracy``, with the
   confusions); *permuted labels* (the permutation of the labels that best
   matches the predictions, found by linear assignment on the person's
   confusion matrix, agrees with at least ``permutation_agreement`` of their
   recordings and at least ``permutation_gain`` more than their labels as
   given); *missing handshape* (for a label whose handshape is distinctive,
   the person's recordings of that label never come close to it).
5. Writes ``audit.md``, ``recordings.csv``, ``people.csv`` and ``flagged.txt``
   (the manifest ``file`` of every recording flagged by cleanlab or by a
   permutation, for ``sign-train --exclude-flagged``).

The handshape test, generically: the per-label centroid of the 15 joint angles
of every detected hand in every frame, from the OTHER people's recordings of
that label. A frame "shows" label L's handshape when L's centroid is its
nearest and it lies within the ``handshape_radius`` quantile of the other
people's distances to it; a recording shows it when at least
``handshape_frame_share`` of its hand frames do. A label's handshape is
*distinctive* when, over all people, at least ``handshape_min_recall`` of its
recordings show it and at most ``handshape_max_false`` of the other labels'
recordings do (``hello`` and ``thanks`` are both a flat hand: neither is).
A person "never shows" L's handshape when fewer than ``handshape_never_share``
of their L recordings show it.

No randomness anywhere (GroupKFold, lbfgs and cleanlab are deterministic), so
the same dataset always gives the same files.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import math
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from edge_runtime.cli.common import parser as base_parser
from edge_runtime.cli.common import run, setup_logging
from edge_runtime.dataset import Dataset
from edge_runtime.errors import SignedgeError
from edge_runtime.files import write_text
from edge_runtime.spec import DEFAULT_SPEC, HAND_COLUMNS, NUM_ANGLES, NUM_POINTS, FeatureSpec, resample

log = logging.getLogger(__name__)

FILES = ("audit.md", "recordings.csv", "people.csv", "flagged.txt")
RECORDING_COLUMNS = ("file", "signer", "label", "predicted", "confidence", "label_prob", "flagged", "reason")
PEOPLE_COLUMNS = ("signer", "recordings", "frames", "left_hand", "right_hand", "both_hands", "any_hand", "jitter",
                  "oof_accuracy", "confused", "best_permutation", "permutation_agreement", "missing_handshape",
                  "flags")
_POS = NUM_POINTS * 2  # position columns per hand in the spec's layout: wrist (2) + 20 wrist-relative points (40)


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

    def short_flags(self) -> list[str]:
        """The flags in a few words, for a terminal table."""
        out = []
        if self.permuted:
            out.append(f"permuted {describe_permutation(self.permutation)}")
        if self.low_accuracy:
            out.append("low accuracy")
        out += [f"no {h.label} handshape" for h in self.missing_handshapes]
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


# ---------------------------------------------------------------- per-recording measurements


@dataclass
class _Measured:
    stats: np.ndarray  # [n, 4F] mean/std/min/max of the model input over time
    frames: np.ndarray  # [n]
    hands: np.ndarray  # [n, 4] frames with left, right, both, any
    jitter: np.ndarray  # [n]
    angles: np.ndarray  # [m, 15] joint angles / pi of every detected hand in every frame
    angle_rec: np.ndarray  # [m] recording index of each row of ``angles``


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


def _measure(ds: Dataset, spec: FeatureSpec, progress: bool) -> _Measured:
    n = len(ds)
    stats = np.zeros((n, 4 * spec.num_features), np.float32)
    frames = np.zeros(n, np.int64)
    hands = np.zeros((n, 4), np.int64)
    jitter = np.zeros(n)
    angles, angle_rec = [], []
    for i in tqdm(range(n), desc="measuring", unit="rec", disable=not progress, leave=False):
        rec = ds.load(i)
        ff = spec.frame_features(rec.landmarks, rec.present, rec.aspect)
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
    return _Measured(stats, frames, hands, jitter,
                     np.concatenate(angles) if angles else np.zeros((0, NUM_ANGLES), np.float32),
                     np.concatenate(angle_rec) if angle_rec else np.zeros(0, np.int64))


def _hand_stats(name: str, m: _Measured, idx: np.ndarray) -> HandStats:
    frames = int(m.frames[idx].sum())
    share = m.hands[idx].sum(axis=0) / max(frames, 1)
    jit = m.jitter[idx]
    jit = jit[np.isfinite(jit)]
    return HandStats(name, len(idx), frames, float(share[0]), float(share[1]), float(share[2]), float(share[3]),
                     float(np.median(jit)) if len(jit) else float("nan"))


# ---------------------------------------------------------------- the quick model and cleanlab


def _out_of_fold(X: np.ndarray, y: np.ndarray, units: np.ndarray, folds: int, num_labels: int, C: float,
                 progress: bool) -> np.ndarray:
    """[n, L] probabilities, each recording predicted by a model that never saw its unit (person)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    probs = np.zeros((len(y), num_labels))
    splits = list(GroupKFold(n_splits=folds).split(X, y, units))
    # One BLAS thread: this problem is small, and threads fighting for shared cores made it 50x slower.
    with threadpool_limits(limits=1):
        for train, test in tqdm(splits, desc="folds", unit="fold", disable=not progress, leave=False):
            model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=UserWarning)  # constant columns, e.g. an absent hand
                model.fit(X[train], y[train])
            classes = model[-1].classes_
            probs[np.ix_(test, classes)] = model.predict_proba(X[test])
    return probs


def _label_issues(y: np.ndarray, probs: np.ndarray) -> np.ndarray:
    from cleanlab.filter import find_label_issues

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab warns about tiny classes; the report says how many it flags
        return np.asarray(find_label_issues(labels=y, pred_probs=probs, n_jobs=1), dtype=bool)


# ---------------------------------------------------------------- per-person rules


def best_permutation(confusion: np.ndarray) -> tuple[np.ndarray, int]:
    """The label permutation (given index -> looks-like index) that agrees with the most predictions.

    Linear assignment on the confusion matrix, so it is exact for any number of
    labels; a tiny bonus on the diagonal keeps the labels as given on a tie.
    """
    from scipy.optimize import linear_sum_assignment

    n = confusion.shape[0]
    rows, cols = linear_sum_assignment(-(confusion + 1e-6 * np.eye(n)))
    perm = np.empty(n, np.int64)
    perm[rows] = cols
    return perm, int(confusion[np.arange(n), perm].sum())


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


def _shows_handshape(m: _Measured, y: np.ndarray, person: np.ndarray, num_people: int, num_labels: int,
                     cfg: AuditConfig) -> np.ndarray:
    """[n, L] whether each recording shows each label's handshape, judged by the OTHER people's centroids.

    Recordings without a signer are never judged (all False) but their frames count as "other people".
    """
    n = len(y)
    shows = np.zeros((n, num_labels), bool)
    if len(m.angles) == 0:
        return shows
    frame_label = y[m.angle_rec]
    frame_person = person[m.angle_rec]
    for p in tqdm(range(num_people), desc="handshapes", unit="person", disable=not cfg.progress, leave=False):
        mine = frame_person == p
        if not mine.any():
            continue
        others = ~mine
        centroids = np.full((num_labels, NUM_ANGLES), np.nan)
        for lab in range(num_labels):
            sel = others & (frame_label == lab)
            if sel.any():
                centroids[lab] = m.angles[sel].mean(axis=0)
        known = ~np.isnan(centroids[:, 0])
        if not known.any():
            continue
        dist = np.full((len(m.angles), num_labels), np.inf)
        dist[:, known] = np.linalg.norm(m.angles[:, None, :] - centroids[None, known, :], axis=-1)
        nearest = dist[mine].argmin(axis=1)
        rec_of_frame = m.angle_rec[mine]
        hand_frames = np.bincount(rec_of_frame, minlength=n)
        for lab in np.flatnonzero(known):
            radius = np.quantile(dist[others & (frame_label == lab), lab], cfg.handshape_radius)
            close = (nearest == lab) & (dist[mine, lab] <= radius)
            hits = np.bincount(rec_of_frame[close], minlength=n)
            share = hits / np.maximum(hand_frames, 1)
            shows[:, lab] |= (person == p) & (share >= cfg.handshape_frame_share) & (hand_frames > 0)
    return shows


def _handshape_checks(shows: np.ndarray, y: np.ndarray, person: np.ndarray, num_people: int,
                      labels: Sequence[str], cfg: AuditConfig) -> list[HandshapeCheck]:
    """Which labels have a handshape of their own, judged person by person so a few bad people cannot hide it.

    A quarter of the people may be wrong (swapped labels, another sign) and a label still counts as
    distinctive: the median person's recordings of it show it, and three quarters of the people show it in at
    most ``handshape_max_false`` of their other recordings.
    """
    checks = []
    for lab, name in enumerate(labels):
        recall, false = [], []
        for p in range(num_people):
            own, other = (person == p) & (y == lab), (person == p) & (y != lab)
            if own.any():
                recall.append(shows[own, lab].mean())
            if other.any():
                false.append(shows[other, lab].mean())
        med = float(np.median(recall)) if recall else float("nan")
        upper = float(np.quantile(false, 0.75)) if false else float("nan")
        distinctive = bool(recall and false and med >= cfg.handshape_min_recall and upper <= cfg.handshape_max_false)
        checks.append(HandshapeCheck(name, med, upper, distinctive))
    return checks


def _audit_person(name: str, idx: np.ndarray, m: _Measured, y: np.ndarray, pred: np.ndarray, shows: np.ndarray,
                  checks: list[HandshapeCheck], labels: Sequence[str], cfg: AuditConfig) -> PersonAudit:
    L = len(labels)
    confusion = np.zeros((L, L), np.int64)
    np.add.at(confusion, (y[idx], pred[idx]), 1)
    n = len(idx)
    correct = int(np.trace(confusion))
    accuracy = correct / n
    perm, agree = best_permutation(confusion)
    has = confusion.sum(axis=1) > 0
    mapping = {labels[a]: labels[perm[a]] for a in range(L) if has[a]}
    agreement = agree / n
    confusions = sorted(((labels[a], labels[b], int(confusion[a, b])) for a in range(L) for b in range(L)
                         if a != b and confusion[a, b] > 0), key=lambda t: (-t[2], t[0], t[1]))
    flags = []
    moved = {k: v for k, v in mapping.items() if k != v}
    permuted = bool(moved) and agreement >= cfg.permutation_agreement and \
        agreement - accuracy >= cfg.permutation_gain - 1e-9
    if permuted:
        flags.append(f"permuted labels: {describe_permutation(mapping)} agrees with {agreement:.0%} of the "
                     f"recordings (labels as given: {accuracy:.0%})")
    low_accuracy = accuracy < cfg.min_accuracy
    if low_accuracy:
        top = ", ".join(f"{a}→{b} ×{c}" for a, b, c in confusions[:3])
        flags.append(f"low accuracy: {accuracy:.0%} out-of-fold ({top})")
    missing = []
    own_y = y[idx]
    for lab, check in enumerate(checks):
        own = idx[own_y == lab]
        if not check.distinctive or len(own) == 0:
            continue
        shown = int(shows[own, lab].sum())
        if shown >= cfg.handshape_never_share * len(own):
            continue
        seen = {}
        for k in range(L):
            theirs = idx[own_y == k]
            hits = int(shows[theirs, lab].sum())
            if k != lab and hits > 0 and hits >= cfg.handshape_never_share * len(theirs):
                seen[labels[k]] = hits
        missing.append(MissingHandshape(labels[lab], shown, len(own), seen))
        where = (f"seen under {', '.join(f'{k} ({v})' for k, v in seen.items())}" if seen
                 else "nor under any other label")
        flags.append(f"missing handshape: {shown} of {len(own)} {labels[lab]} recordings show the {labels[lab]} "
                     f"handshape ({where})")
    return PersonAudit(name, _hand_stats(name, m, idx), accuracy, confusions, mapping, agreement, permuted,
                       low_accuracy, missing, flags)


# ---------------------------------------------------------------- the audit


def audit(dataset_dir: str | Path, config: AuditConfig | None = None) -> AuditResult:
    """Audit a dataset folder; raises a SignedgeError (one line) when it cannot be audited."""
    cfg = config or AuditConfig()
    cfg.validate()
    ds = Dataset(dataset_dir)
    labels = ds.labels
    if len(labels) < 2:
        raise AuditError(f"{ds.folder}: a single label ({labels[0]!r}): a label audit needs at least two labels")
    rows = ds.rows
    signers = [r.signer for r in rows]
    by_person = any(signers)
    notes: list[str] = []
    if by_person:
        people = sorted({s for s in signers if s})
        unknown = sum(1 for s in signers if not s)
        if len(people) == 1 and not unknown:
            raise AuditError(f"{ds.folder}: a single signer ({people[0]}): person-grouped out-of-fold predictions "
                             "need at least two people")
        if unknown:
            notes.append(f"{unknown} recordings have no signer: the folds group them by recording group and they "
                         "get no per-person checks.")
        units = np.array([r.signer if r.signer else f"group:{r.group}" for r in rows])
    else:
        people = []
        notes.append("No signer names in the manifest: audited by recording only (folds grouped by recording "
                     "group, so no per-person checks: accuracy, permutations and handshapes per person are "
                     "not possible).")
        units = np.array([f"group:{r.group}" for r in rows])
    num_units = len(set(units.tolist()))
    if num_units < 2:
        raise AuditError(f"{ds.folder}: all recordings are one recording group: grouped out-of-fold predictions "
                         "need at least two")
    folds = min(cfg.folds, num_units)
    if folds < cfg.folds:
        notes.append(f"Only {num_units} {'people' if by_person else 'groups'}: {folds} folds instead of {cfg.folds}.")
    label_index = {name: i for i, name in enumerate(labels)}
    y = np.array([label_index[r.label] for r in rows])
    for lab, name in enumerate(labels):
        holders = set(units[y == lab].tolist())
        if len(holders) == 1:
            notes.append(f"Label {name!r} comes from a single {'person' if by_person else 'group'} "
                         f"({next(iter(holders))}): out-of-fold predictions can never give it, so all its "
                         "recordings look mislabelled.")

    log.info("measuring %d recordings of %s", len(rows), ds.folder)
    m = _measure(ds, cfg.spec, cfg.progress)
    log.info("out-of-fold predictions: %d folds grouped by %s", folds, "signer" if by_person else "group")
    probs = _out_of_fold(m.stats, y, units, folds, len(labels), cfg.C, cfg.progress)
    pred = probs.argmax(axis=1)
    issues = _label_issues(y, probs)

    person_index = {name: i for i, name in enumerate(people)}
    person = np.array([person_index.get(s, -1) for s in signers])
    shows = _shows_handshape(m, y, person, len(people), len(labels), cfg)
    checks = _handshape_checks(shows, y, person, len(people), labels, cfg) if by_person else []
    person_audits = [_audit_person(name, np.flatnonzero(person == p), m, y, pred, shows, checks, labels, cfg)
                     for p, name in enumerate(people)]

    moved_by_person = {p.signer: {k: v for k, v in p.permutation.items() if k != v}
                       for p in person_audits if p.permuted}
    recordings = []
    for i, row in enumerate(rows):
        reasons = []
        if issues[i]:
            reasons.append(f"cleanlab label issue: p({row.label})={probs[i, y[i]]:.2f}, "
                           f"predicted {labels[pred[i]]} {probs[i, pred[i]]:.2f}")
        moved = moved_by_person.get(row.signer, {})
        if row.label in moved:
            reasons.append(f"{row.signer}'s labels look permuted: {row.label} recordings look like "
                           f"{moved[row.label]}")
        recordings.append(RecordingAudit(
            row.file, row.signer, row.label, labels[pred[i]], float(probs[i, pred[i]]), float(probs[i, y[i]]),
            bool(issues[i]), bool(reasons), "; ".join(reasons), int(m.frames[i]), float(m.jitter[i])))

    confusion = np.zeros((len(labels), len(labels)), np.int64)
    np.add.at(confusion, (y, pred), 1)
    label_audits = [LabelAudit(_hand_stats(name, m, np.flatnonzero(y == lab)),
                               float(confusion[lab, lab] / max(confusion[lab].sum(), 1)), int(issues[y == lab].sum()))
                    for lab, name in enumerate(labels)]
    result = AuditResult(ds.folder, cfg, labels, by_person, folds, recordings, person_audits, label_audits, checks,
                         confusion, notes)
    log.info("audit done: accuracy %.3f, %d cleanlab issues, %d flagged people", result.accuracy,
             result.label_issues, len(result.flagged_people))
    return result


# ---------------------------------------------------------------- report files


def _pct(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x:.1%}"


def _num(x: float, digits: int = 4) -> str:
    return "" if not math.isfinite(x) else f"{x:.{digits}f}"


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(_md(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return lines


def _stats_cells(s: HandStats) -> list[object]:
    return [s.recordings, s.frames, _pct(s.left), _pct(s.right), _pct(s.both), _pct(s.any), _num(s.jitter, 3)]


_STATS_HEADER = ["recordings", "frames", "left hand", "right hand", "both hands", "any hand", "jitter"]


def render_markdown(result: AuditResult) -> str:
    cfg = result.config
    n = len(result.recordings)
    unit = "signer" if result.by_person else "recording group"
    out = [f"# Data audit: {result.dataset.name}", "",
           f"Dataset `{result.dataset}`: {n} recordings, {len(result.labels)} labels "
           f"({', '.join(result.labels)}), "
           + (f"{len(result.people)} people." if result.by_person else "no signer names."), ""]
    out += [f"- {note}" for note in result.notes]
    if result.notes:
        out.append("")
    accs = np.array([p.accuracy for p in result.people])
    out += ["## Summary", "",
            (f"- Model: StandardScaler + logistic regression (C={cfg.C:g}) on the mean, std, min and max over "
             f"time of the `{cfg.spec.id}` model input (T={cfg.spec.frames}), predicted out-of-fold with "
             f"{result.folds}-fold GroupKFold by {unit}: every recording is predicted by a model that never saw "
             f"its {unit}."),
            f"- Out-of-fold accuracy over all {n} recordings: **{result.accuracy:.1%}**."]
    if len(accs):
        worst = min(result.people, key=lambda p: p.accuracy)
        out.append(f"- Per person: mean {accs.mean():.1%}, median {np.median(accs):.1%}, worst {worst.accuracy:.1%} "
                   f"({worst.signer}); {int((accs < cfg.min_accuracy).sum())} of {len(accs)} below "
                   f"{cfg.min_accuracy:.0%}.")
    out += [f"- cleanlab `find_label_issues`: **{result.label_issues}** of {n} recordings look mislabelled.",
            f"- flagged.txt: {len(result.flagged_files)} recordings (cleanlab issues and permuted labels)."]
    if result.by_person:
        flagged = result.flagged_people
        out.append(f"- Flagged people: {len(flagged)} of {len(result.people)}"
                   + (f" ({', '.join(p.signer for p in flagged)})." if flagged else "."))
    out += ["", "## Rules", ""] + [f"- {r}" for r in cfg.rules()] + [""]
    if result.by_person:
        out += ["## Flagged people", ""]
        flagged = result.flagged_people
        if flagged:
            out += _table(["signer", "recordings", "oof accuracy", "best permutation", "agreement", "flags"],
                          [[p.signer, p.stats.recordings, _pct(p.accuracy), describe_permutation(p.permutation),
                            _pct(p.permutation_agreement), "; ".join(p.flags)] for p in flagged])
        else:
            out.append("None.")
        out += ["", "## Handshapes per label", "",
                ("Per person, the share of their recordings of a label that show its handshape (median person) "
                 "and of their other recordings that show it (upper-quartile person); each person is judged "
                 "against the other people's centroids."), ""]
        out += _table(["label", "shown by its recordings", "shown by other labels", "distinctive"],
                      [[c.label, _pct(c.recall), _pct(c.false_share), "yes" if c.distinctive else "no"]
                       for c in result.handshapes])
        out += ["", "## People", ""]
        out += _table(["signer", *_STATS_HEADER, "oof accuracy", "confused", "best permutation", "agreement"],
                      [[p.signer, *_stats_cells(p.stats), _pct(p.accuracy),
                        ", ".join(f"{a}→{b} ×{c}" for a, b, c in p.confusions[:3]),
                        describe_permutation(p.permutation), _pct(p.permutation_agreement)]
                       for p in result.people])
    out += ["", "## Labels", ""]
    out += _table(["label", *_STATS_HEADER, "oof recall", "cleanlab issues"],
                  [[a.stats.name, *_stats_cells(a.stats), _pct(a.recall), a.label_issues]
                   for a in result.label_audits])
    jitter = ("Jitter: median frame-to-frame motion of the 20 wrist-relative finger points, in hand sizes "
              "(detector noise plus finger motion).")
    out += ["", jitter, "", "## Out-of-fold confusion (rows: given label, columns: predicted)", ""]
    out += _table(["given \\ predicted", *result.labels],
                  [[lab, *result.confusion[i].tolist()] for i, lab in enumerate(result.labels)])
    issues = sorted((r for r in result.recordings if r.label_issue), key=lambda r: (r.label_prob, r.file))
    out += ["", f"## Suspected label errors (cleanlab), most certain first: {len(issues)}", ""]
    if issues:
        out += _table(["file", "signer", "label", "predicted", "p(label)", "p(predicted)"],
                      [[r.file, r.signer, r.label, r.predicted, _num(r.label_prob, 3), _num(r.confidence, 3)]
                       for r in issues[:30]])
        if len(issues) > 30:
            out.append(f"\n… and {len(issues) - 30} more in recordings.csv (column `reason`).")
    else:
        out.append("None.")
    return "\n".join(out) + "\n"


def _csv(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def render_recordings_csv(result: AuditResult) -> str:
    return _csv(RECORDING_COLUMNS, [[r.file, r.signer, r.label, r.predicted, f"{r.confidence:.4f}",
                                     f"{r.label_prob:.4f}", int(r.flagged), r.reason] for r in result.recordings])


def render_people_csv(result: AuditResult) -> str:
    rows = []
    for p in result.people:
        s = p.stats
        rows.append([p.signer, s.recordings, s.frames, _num(s.left), _num(s.right), _num(s.both), _num(s.any),
                     _num(s.jitter), _num(p.accuracy), "; ".join(f"{a}→{b} ×{c}" for a, b, c in p.confusions),
                     "; ".join(f"{k}→{v}" for k, v in p.permutation.items()), _num(p.permutation_agreement),
                     "; ".join(h.label for h in p.missing_handshapes), " | ".join(p.flags)])
    return _csv(PEOPLE_COLUMNS, rows)


def write_report(result: AuditResult, out: str | Path) -> list[Path]:
    """Render every file first, then write each atomically: a failure never leaves half a report file."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise AuditError(f"{out}: exists and is not a folder")
    texts = {
        "audit.md": render_markdown(result),
        "recordings.csv": render_recordings_csv(result),
        "people.csv": render_people_csv(result),
        "flagged.txt": "".join(f"{f}\n" for f in result.flagged_files),
    }
    paths = []
    for name, text in texts.items():
        write_text(out / name, text)
        paths.append(out / name)
    return paths


# ---------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    d = AuditConfig()
    p = base_parser(
        "sign-audit",
        "Audit a dataset before training: hands found, jitter, and labels that look wrong (out-of-fold\n"
        "predictions of a quick logistic regression, grouped by signer; cleanlab; per-person label\n"
        "permutations; people who never make a label's handshape). Never changes the data.\n\n"
        "writes OUT/audit.md, recordings.csv, people.csv and flagged.txt (manifest files to exclude).\n\n"
        "examples:\n"
        "  sign-audit data/asl48                       # report in data/asl48-audit/\n"
        "  sign-audit data/ksl7 --out reports/ksl7 --folds 7",
    )
    p.add_argument("dataset", type=Path, help="dataset folder (with manifest.csv)")
    p.add_argument("--out", type=Path, default=None, help="report folder (default: DATASET-audit beside the dataset)")
    p.add_argument("--folds", type=int, default=d.folds, help="GroupKFold folds, grouped by signer")
    p.add_argument("--C", type=float, default=d.C, dest="C", help="inverse regularisation of the logistic regression")
    p.add_argument("--min-accuracy", type=float, default=d.min_accuracy,
                   help="flag people whose out-of-fold accuracy is below this")
    p.add_argument("--permutation-agreement", type=float, default=d.permutation_agreement,
                   help="a permutation of a person's labels must agree with at least this share of their recordings")
    p.add_argument("--permutation-gain", type=float, default=d.permutation_gain,
                   help="... and beat their labels as given by at least this much (0.30 = 30 points)")
    p.add_argument("--handshape-never-share", type=float, default=d.handshape_never_share,
                   help="flag a person when fewer than this share of their recordings of a label show its handshape")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def _print_summary(result: AuditResult, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    n = len(result.recordings)
    unit = "signer" if result.by_person else "recording group"
    console.print(f"audited {n} recordings of {len(result.labels)} labels"
                  + (f" by {len(result.people)} people" if result.by_person else " (no signers: by recording only)")
                  + f": out-of-fold accuracy {result.accuracy:.1%} (logistic regression, {result.folds}-fold "
                  f"GroupKFold by {unit}); cleanlab flags {result.label_issues} recordings")
    for note in result.notes:
        console.print(f"note: {note}")
    flagged = result.flagged_people
    if result.by_person:
        if flagged:
            table = Table(title=f"flagged people: {len(flagged)} of {len(result.people)}")
            for col in ("signer", "recordings", "oof accuracy", "best permutation (agrees)", "flags"):
                table.add_column(col, overflow="fold")
            for p in flagged:
                table.add_row(p.signer, str(p.stats.recordings), f"{p.accuracy:.0%}",
                              f"{describe_permutation(p.permutation)} ({p.permutation_agreement:.0%})",
                              "; ".join(p.short_flags()))
            console.print(table)
        else:
            console.print(f"no flagged people among {len(result.people)}")
    console.print(f"{len(result.flagged_files)} recordings in {out / 'flagged.txt'}; report: {out / 'audit.md'}")


def _main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    dataset = args.dataset
    out = args.out or dataset.with_name(dataset.name + "-audit")
    if dataset.is_dir() and out.resolve() == dataset.resolve():
        raise AuditError(f"{out}: write the audit beside the dataset, not into it (the audit never changes data)")
    cfg = AuditConfig(folds=args.folds, C=args.C, min_accuracy=args.min_accuracy,
                      permutation_agreement=args.permutation_agreement, permutation_gain=args.permutation_gain,
                      handshape_never_share=args.handshape_never_share, progress=not args.no_progress)
    result = audit(dataset, cfg)
    write_report(result, out)
    _print_summary(result, out)
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog="sign-audit"))


if __name__ == "__main__":
    main()

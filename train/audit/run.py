"""The audit itself: measure, predict out-of-fold, check labels and people, collect one ``AuditResult``.

Why a module of its own: it only orders the steps (``measure``, ``labels``)
and states what a dataset needs before it can be audited; ``audit_to_folder``
adds the report files beside the dataset, which is all ``sign-audit`` does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_runtime.dataset import Dataset
from train.audit.body import describe_hand_blocks, imported_agreement, person_hand_blocks, wrong_side
from train.audit.config import AuditConfig, AuditError
from train.audit.glosses import split_glosses
from train.audit.labels import audit_person, handshape_checks, label_issues, out_of_fold, shows_handshape
from train.audit.languages import language_table, person_languages
from train.audit.measure import Measured, hand_stats, measure
from train.audit.report import write_report
from train.audit.result import AuditResult, HandBlockSummary, LabelAudit, PersonAudit, RecordingAudit

log = logging.getLogger(__name__)


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
    m = measure(ds, cfg.spec, cfg.progress)
    log.info("out-of-fold predictions: %d folds grouped by %s", folds, "signer" if by_person else "group")
    probs = out_of_fold(m.stats, y, units, folds, len(labels), cfg.C, cfg.progress)
    pred = probs.argmax(axis=1)
    issues = label_issues(y, probs)

    person_index = {name: i for i, name in enumerate(people)}
    person = np.array([person_index.get(s, -1) for s in signers])
    shows = shows_handshape(m, y, person, len(people), len(labels), cfg)
    checks = handshape_checks(shows, y, person, len(people), labels, cfg) if by_person else []
    person_audits = [audit_person(name, np.flatnonzero(person == p), m, y, pred, shows, checks, labels, cfg)
                     for p, name in enumerate(people)]
    has_languages = any(lang is not None for lang in m.languages)
    _add_hand_blocks(person_audits, person, m, cfg)
    for p, pa in enumerate(person_audits):
        pa.languages = person_languages([m.languages[i] for i in np.flatnonzero(person == p)])

    wrong = wrong_side(m.left_frames, m.left_at_left, m.right_frames, m.right_at_right)
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
        if person[i] >= 0 and person_audits[person[i]].swapped_hands and wrong[i]:
            reasons.append(f"{row.signer}'s hand blocks look swapped: here a block sits at the other side's wrist "
                           f"({_side('left', m.left_frames[i], m.left_at_left[i])}, "
                           f"{_side('right', m.right_frames[i], m.right_at_right[i])})")
        recordings.append(RecordingAudit(
            row.file, row.signer, row.label, labels[pred[i]], float(probs[i, pred[i]]), float(probs[i, y[i]]),
            bool(issues[i]), bool(reasons), "; ".join(reasons), int(m.frames[i]), float(m.jitter[i]),
            m.languages[i] or ""))

    confusion = np.zeros((len(labels), len(labels)), np.int64)
    np.add.at(confusion, (y, pred), 1)
    label_audits = [LabelAudit(hand_stats(name, m, np.flatnonzero(y == lab)),
                              float(confusion[lab, lab] / max(confusion[lab].sum(), 1)), int(issues[y == lab].sum()))
                    for lab, name in enumerate(labels)]
    glosses = None
    wanted = has_languages if cfg.split_glosses is None else cfg.split_glosses
    if wanted and by_person:
        excluded = {p for p, pa in enumerate(person_audits) if pa.permuted or pa.swapped_hands}
        glosses = split_glosses(m.stats, y, pred, person, people, labels, excluded, cfg)
    elif wanted:
        notes.append("Split glosses need signer names: not checked.")
    result = AuditResult(ds.folder, cfg, labels, by_person, folds, recordings, person_audits, label_audits, checks,
                         confusion, notes, has_languages,
                         language_table(recordings, person_audits, m.languages) if has_languages else [],
                         _hand_block_summary(m, cfg), glosses)
    log.info("audit done: accuracy %.3f, %d cleanlab issues, %d flagged people", result.accuracy,
             result.label_issues, len(result.flagged_people))
    return result


def _add_hand_blocks(person_audits: list[PersonAudit], person: np.ndarray, m: Measured, cfg: AuditConfig) -> None:
    """Each person's hand-block verdict (people without a pose get none) and, if swapped, its flag."""
    for p, pa in enumerate(person_audits):
        idx = np.flatnonzero(person == p)
        if not m.has_pose[idx].any():
            continue
        pa.hand_blocks = person_hand_blocks(pa.signer, m.left_frames[idx], m.left_at_left[idx], m.same_hand[idx], cfg)
        if pa.hand_blocks.swapped:
            pa.flags.append(describe_hand_blocks(pa.hand_blocks))


def _side(side: str, frames: int, share: float) -> str:
    """``left block at the left wrist in 0% of 30 frames`` (frames with the block and a pose), or ``absent``."""
    if frames == 0:
        return f"{side} block absent"
    return f"{side} block at the {side} wrist in {share:.0%} of {frames} frames"


def _hand_block_summary(m: Measured, cfg: AuditConfig) -> HandBlockSummary | None:
    if not m.has_pose.any():
        return None
    agree, compared, worst = imported_agreement(m.left_at_left, m.imported_share)
    return HandBlockSummary(int(m.has_pose.sum()), int((m.left_frames >= cfg.hand_block_min_frames).sum()), agree,
                            compared, worst)


@dataclass
class WrittenAudit:
    """An audit and where its report went."""

    result: AuditResult
    folder: Path  # audit.md, recordings.csv, people.csv and flagged.txt
    files: list[Path]


def audit_to_folder(dataset_dir: str | Path, out: str | Path | None = None,
                    config: AuditConfig | None = None) -> WrittenAudit:
    """Audit a dataset and write the report to ``out`` (None: ``DATASET-audit`` beside the dataset, never into it)."""
    dataset = Path(dataset_dir)
    folder = Path(out) if out is not None else dataset.with_name(dataset.name + "-audit")
    if dataset.is_dir() and folder.resolve() == dataset.resolve():
        raise AuditError(f"{folder}: write the audit beside the dataset, not into it (the audit never changes data)")
    result = audit(dataset, config)
    return WrittenAudit(result, folder, write_report(result, folder))

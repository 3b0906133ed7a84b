"""Steps 2-4 of the audit: labels that look wrong, per recording and per person.

A quick model (StandardScaler + logistic regression on the recordings'
statistics) predicts every recording out-of-fold, grouped by signer; cleanlab
flags recordings whose label disagrees; per person, the best permutation of
their labels, their accuracy and the handshapes they never show.

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

Why a module of its own: these are the audit's judgements, each a rule with
thresholds from ``AuditConfig``; the measurements they use and the report
they feed do not change when a rule does.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
from tqdm import tqdm

from edge_runtime.hands import NUM_ANGLES
from train.audit.config import AuditConfig
from train.audit.measure import Measured, hand_stats
from train.audit.result import HandshapeCheck, MissingHandshape, PersonAudit, describe_permutation

# ---------------------------------------------------------------- the quick model and cleanlab


def out_of_fold(X: np.ndarray, y: np.ndarray, units: np.ndarray, folds: int, num_labels: int, C: float,
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


def label_issues(y: np.ndarray, probs: np.ndarray) -> np.ndarray:
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



def shows_handshape(m: Measured, y: np.ndarray, person: np.ndarray, num_people: int, num_labels: int,
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
        # The person's frames against every centroid; the other people's only against their own label's
        # (all a radius needs): at 12k recordings the full matrix for every person took most of the audit.
        dist = np.full((int(mine.sum()), num_labels), np.inf)
        dist[:, known] = np.linalg.norm(m.angles[mine][:, None, :] - centroids[None, known, :], axis=-1)
        nearest = dist.argmin(axis=1)
        rec_of_frame = m.angle_rec[mine]
        hand_frames = np.bincount(rec_of_frame, minlength=n)
        for lab in np.flatnonzero(known):
            own = np.linalg.norm(m.angles[others & (frame_label == lab)] - centroids[lab], axis=-1)
            radius = np.quantile(own, cfg.handshape_radius)
            close = (nearest == lab) & (dist[:, lab] <= radius)
            hits = np.bincount(rec_of_frame[close], minlength=n)
            share = hits / np.maximum(hand_frames, 1)
            shows[:, lab] |= (person == p) & (share >= cfg.handshape_frame_share) & (hand_frames > 0)
    return shows


def handshape_checks(shows: np.ndarray, y: np.ndarray, person: np.ndarray, num_people: int,
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


def audit_person(name: str, idx: np.ndarray, m: Measured, y: np.ndarray, pred: np.ndarray, shows: np.ndarray,
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
    return PersonAudit(name, hand_stats(name, m, idx), accuracy, confusions, mapping, agreement, permuted,
                       low_accuracy, missing, flags)

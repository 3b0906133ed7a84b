"""Glosses that name different signs for different people ("split glosses").

Why: mixed, in-the-wild data puts several sign languages under one English
gloss (an ISL "thank you" is not an ASL one), and people learning signs pick
different variants. Such a label is nobody's labelling error, so the
per-person checks cannot name it; a model trained on it learns two signs
under one name. The audit reports it (which people sign it which way, with
their languages) and never relabels.

Two rules, each over the people with at least ``split_min_recordings``
recordings of the label, leaving out people whose labels look permuted or
whose hand blocks look swapped (those are explained and flagged already), and
each needing ``split_min_people`` people per group:

1. *looks like another label*: a person's recordings of X read as the label the
   quick model predicts (out-of-fold, so by a model that never saw them) for at
   least ``split_reading`` of them. X splits when enough people read as X and
   enough read as the same other label Y: for the second group X is signed like Y.
2. *looks like no other label*: the second sign may resemble nothing else in
   the vocabulary, so the model's reading cannot show it. Per person, the mean
   of the time statistics of their X recordings, with three corrections that
   keep the PEOPLE from looking like two signs: only the dominant hand counts,
   each person mirrored so that the hand that moves more is their right one
   (left-handed signers; a resting hand in the picture or a left block that
   doubles the right hand is not a sign); every column is standardised; and
   Tukey's median polish over the people x labels table takes each person's
   offset out (camera, framing, hand size) - medians, so one label signed
   differently does not leak into the person's other labels, which needs
   ``MIN_LABELS`` labels per person. Ward clustering into two groups; X splits
   when the silhouette reaches ``split_silhouette``. A grouping that repeats on
   another label (the same people, split the same way) is reported with that
   label named: then it is a difference between the people (their camera, or
   their sign language) rather than X alone.
"""

from __future__ import annotations

import logging
import warnings
from typing import Sequence

import numpy as np

from edge_runtime.features.hands_xy_angles import HAND_COLUMNS, NUM_FEATURES
from train.audit.config import AuditConfig
from train.audit.result import GlossGroup, SplitGloss

log = logging.getLogger(__name__)

F = NUM_FEATURES
_SWAP = np.arange(F)  # the hand blocks exchanged
_SWAP[HAND_COLUMNS[0]], _SWAP[HAND_COLUMNS[1]] = HAND_COLUMNS[1], HAND_COLUMNS[0]
_X = np.zeros(F, bool)  # the x columns (wrist and wrist-relative points alternate x, y)
for _cols in HAND_COLUMNS:
    _X[_cols[0:42:2]] = True
_WRIST_STD = [F + cols[:2] for cols in HAND_COLUMNS]  # std over time of each wrist's x, y
_DOMINANT = np.concatenate([HAND_COLUMNS[1] + k * F for k in range(4)])  # the right block's statistics
_POLISH_SWEEPS = 10
MIN_LABELS = 3  # a person's labels before their offset can be told from one label signed differently


def mirrored(stats: np.ndarray) -> np.ndarray:
    """Time statistics [n, 4F] (mean, std, min, max) of the left/right mirror image of the same recordings.

    Exact: mirroring exchanges the hand blocks and negates every x (wrists are relative to the mean wrist,
    points to their wrist); a negated column's min is minus its max. Angles and presence do not change.
    """
    mean, std, low, high = (stats[:, k * F:(k + 1) * F][:, _SWAP] for k in range(4))
    return np.concatenate([np.where(_X, -mean, mean), std, np.where(_X, -high, low), np.where(_X, -low, high)],
                          axis=1)


def median_polished(table: np.ndarray, sweeps: int = _POLISH_SWEEPS) -> np.ndarray:
    """Cell means [people, labels, D] (nan: the person did not sign the label) minus each person's offset.

    Tukey's median polish: alternately take each person's median over their labels and each label's median
    over its people out; the person's offset is the sum of their medians. Why medians: one label a person
    signs differently must not move their offset (a mean would carry it into all their other labels, and they
    would then look different on those too).
    """
    resid = table.copy()
    offset = np.zeros((table.shape[0], 1, table.shape[2]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # a label none of these people signed
        for _ in range(sweeps):
            row = np.nanmedian(resid, axis=1, keepdims=True)
            offset += row
            resid -= row
            resid -= np.nan_to_num(np.nanmedian(resid, axis=0, keepdims=True))
    return table - offset


def _groups(names: Sequence[str], split: np.ndarray) -> tuple[list[str], list[str]]:
    return [n for n, g in zip(names, split) if g == 0], [n for n, g in zip(names, split) if g == 1]


def _ward(points: np.ndarray) -> np.ndarray:
    """Two Ward clusters, numbered so the group holding the first point is group 0 (deterministic labels)."""
    from sklearn.cluster import AgglomerativeClustering

    split = AgglomerativeClustering(n_clusters=2, linkage="ward").fit(points).labels_
    return split if split[0] == 0 else 1 - split


def split_by_reading(cells: dict[tuple[int, int], np.ndarray], pred: np.ndarray, people: Sequence[str],
                     labels: Sequence[str], cfg: AuditConfig) -> list[SplitGloss]:
    """Rule 1: labels that enough people sign like the label itself and enough like one other label."""
    out = []
    for lab, name in enumerate(labels):
        readings: dict[int, list[str]] = {}
        judged = 0
        for (p, cell_label), idx in cells.items():
            if cell_label != lab:
                continue
            judged += 1
            counts = np.bincount(pred[idx], minlength=len(labels))
            top = int(counts.argmax())
            if counts[top] >= cfg.split_reading * len(idx):
                readings.setdefault(top, []).append(people[p])
        own = readings.get(lab, [])
        others = sorted(((k, v) for k, v in readings.items() if k != lab and len(v) >= cfg.split_min_people),
                        key=lambda kv: (-len(kv[1]), labels[kv[0]]))
        if len(own) < cfg.split_min_people or not others:
            continue
        groups = [GlossGroup(name, sorted(own))] + [GlossGroup(labels[k], sorted(v)) for k, v in others]
        rest = judged - len(own) - sum(len(v) for _, v in others)
        numbers = (f"of {judged} people, {len(own)} read as {name}, "
                   + ", ".join(f"{len(v)} as {labels[k]}" for k, v in others)
                   + f", {rest} otherwise (no clear reading, or one fewer than {cfg.split_min_people} people share)")
        out.append(SplitGloss(name, "looks like another label", judged, groups, numbers))
    return out


def split_by_look(stats: np.ndarray, cells: dict[tuple[int, int], np.ndarray], person: np.ndarray,
                  y: np.ndarray, people: Sequence[str], labels: Sequence[str], cfg: AuditConfig) -> list[SplitGloss]:
    """Rule 2: labels whose people's mean time statistics fall into two clearly separate clusters."""
    from sklearn.metrics import silhouette_score

    if stats.shape[1] != 4 * F:
        raise ValueError(f"expected {4 * F} time statistics of hands-xy-angles-v1, got {stats.shape[1]}")
    labels_of: dict[int, list[int]] = {}
    for p, lab in cells:
        labels_of.setdefault(p, []).append(lab)
    keep = sorted(p for p, labs in labels_of.items() if len(labs) >= MIN_LABELS)
    rows = np.flatnonzero(np.isin(person, keep))
    if len(rows) == 0:
        return []
    x = stats[rows].astype(np.float64)
    for p in keep:  # mirror each person whose left hand moves more
        mine = person[rows] == p
        if x[mine][:, _WRIST_STD[0]].sum() > x[mine][:, _WRIST_STD[1]].sum():
            x[mine] = mirrored(x[mine])
    x = x[:, _DOMINANT]
    spread = x.std(axis=0)
    varies = spread > 1e-9
    z = np.zeros((len(person), int(varies.sum())))
    z[rows] = (x[:, varies] - x[:, varies].mean(axis=0)) / spread[varies]
    table = np.full((len(keep), len(labels), z.shape[1]), np.nan)
    for k, p in enumerate(keep):
        for lab in labels_of[p]:
            table[k, lab] = z[cells[(p, lab)]].mean(axis=0)
    table = median_polished(table)
    means = {(p, lab): table[k, lab] for k, p in enumerate(keep) for lab in labels_of[p]}

    def cluster(lab: int, who: Sequence[int]) -> np.ndarray:
        return _ward(np.stack([means[(p, lab)] for p in who]))

    out = []
    for lab, name in enumerate(labels):
        who = sorted(p for p, cell_label in means if cell_label == lab)
        if len(who) < 2 * cfg.split_min_people:
            continue
        points = np.stack([means[(p, lab)] for p in who])
        split = cluster(lab, who)
        sizes = np.bincount(split, minlength=2)
        if sizes.min() < cfg.split_min_people:
            continue
        score = float(silhouette_score(points, split))
        if score < cfg.split_silhouette:
            continue
        group_of = dict(zip(who, split))
        same = []
        for other, other_name in enumerate(labels):
            shared = [p for p in who if (p, other) in means] if other != lab else []
            ours = np.array([group_of[p] for p in shared])
            if len(shared) < 2 * cfg.split_min_people or min(np.bincount(ours, minlength=2)) < cfg.split_min_people:
                continue
            theirs = cluster(other, shared)
            if (theirs == ours).all() or (theirs != ours).all():
                same.append(other_name)
        a, b = _groups([people[p] for p in who], split)
        out.append(SplitGloss(name, "looks like no other label", len(who), [GlossGroup("group 1", a),
                              GlossGroup("group 2", b)], f"silhouette {score:.2f} over {len(who)} people "
                              f"({len(a)} + {len(b)})", same))
    return out


def split_glosses(stats: np.ndarray, y: np.ndarray, pred: np.ndarray, person: np.ndarray, people: Sequence[str],
                  labels: Sequence[str], excluded: set[int], cfg: AuditConfig) -> list[SplitGloss]:
    """Both rules over the people not in ``excluded``; labels in order, rule 1 before rule 2 for a label."""
    from threadpoolctl import threadpool_limits

    cells: dict[tuple[int, int], np.ndarray] = {}
    for p in range(len(people)):
        if p in excluded:
            continue
        for lab in np.unique(y[person == p]):
            idx = np.flatnonzero((person == p) & (y == lab))
            if len(idx) >= cfg.split_min_recordings:
                cells[(p, int(lab))] = idx
    with threadpool_limits(limits=1):  # small products; one thread keeps them identical run to run
        found = split_by_reading(cells, pred, people, labels, cfg) + split_by_look(stats, cells, person, y, people,
                                                                                   labels, cfg)
    order = {name: i for i, name in enumerate(labels)}
    found.sort(key=lambda s: (order[s.label], s.rule != "looks like another label"))
    log.info("split glosses: %d (%s)", len(found), ", ".join(s.label for s in found) or "none")
    return found

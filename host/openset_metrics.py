"""How well a score tells a known sign from an unknown one (open-set rejection), in numpy only.

Why: a recognizer that must say "not a sign I know" thresholds a score. Accuracy on known signs says nothing
about that; these figures do. Every score here is "higher = more likely a known sign". The two figures:

* AUROC: the chance that a random known sign scores above a random unknown one (ties count half), over all
  thresholds at once;
* FAR@95: at the threshold that still accepts 95% of known signs, the share of unknown signs accepted too.

``max_probability`` and ``energy`` turn a classifier's outputs into such a score. Export chooses the device's
default threshold with ``threshold_at_acceptance`` (on validation people, ``host.openset``); ``sign-openset``
measures the rest on test people.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["auroc", "energy", "far_at", "max_probability", "roc_curve", "threshold_at_acceptance"]


def _scores(values: Any, name: str) -> np.ndarray:
    """``values`` as a non-empty, finite 1-D float64 array, or a ValueError naming ``name``."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} are not numbers ({err})") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be one score per sign (1-D), got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} are empty: need at least one score")
    bad = int((~np.isfinite(array)).sum())
    if bad:
        raise ValueError(f"{name} hold {bad} NaN or infinite value{'s' if bad != 1 else ''}")
    return array


def _rate(rate: float) -> float:
    if not 0 < rate <= 1:
        raise ValueError(f"acceptance rate must be within (0, 1], got {rate}")
    return float(rate)


def auroc(known_scores: Any, unknown_scores: Any) -> float:
    """Area under the ROC of known (positive) vs unknown (negative) signs: the Mann-Whitney U over n·m pairs.

    Exact: pairs are counted with integers (a tie counts half), so equal inputs give exactly 0.5.
    """
    known = _scores(known_scores, "known scores")
    unknown = np.sort(_scores(unknown_scores, "unknown scores"))
    below = np.searchsorted(unknown, known, side="left")  # unknown scores strictly below each known one
    below_or_tied = np.searchsorted(unknown, known, side="right")
    twice_u = int(below.sum()) + int(below_or_tied.sum())  # 2·U = 2·below + ties
    return twice_u / (2 * known.size * unknown.size)


def threshold_at_acceptance(known_scores: Any, rate: float = 0.95) -> float:
    """The largest threshold t that still accepts (score ≥ t) at least ``rate`` of the known signs."""
    known = np.sort(_scores(known_scores, "known scores"))[::-1]
    needed = max(1, math.ceil(round(_rate(rate) * known.size, 9)))  # round: 0.07 * 100 is 7.000000000000001
    return float(known[needed - 1])


def far_at(known_scores: Any, unknown_scores: Any, rate: float = 0.95) -> float:
    """False-accept rate (share of unknown signs scoring ≥ t) at the threshold accepting ``rate`` of known ones.

    ``rate=0.95`` gives the usual FAR@95 (often called FPR@95TPR).
    """
    threshold = threshold_at_acceptance(known_scores, rate)
    unknown = _scores(unknown_scores, "unknown scores")
    return float(np.mean(unknown >= threshold))


def roc_curve(known_scores: Any, unknown_scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-accept rates at every distinct threshold, from (0, 0) to (1, 1), for plotting.

    A tie between a known and an unknown score is one diagonal step, so the trapezoid area under the curve
    equals :func:`auroc`.
    """
    known = np.sort(_scores(known_scores, "known scores"))
    unknown = np.sort(_scores(unknown_scores, "unknown scores"))
    thresholds = np.unique(np.concatenate([known, unknown]))[::-1]  # highest first: accept more and more
    tar = (known.size - np.searchsorted(known, thresholds, side="left")) / known.size
    far = (unknown.size - np.searchsorted(unknown, thresholds, side="left")) / unknown.size
    return np.concatenate([[0.0], far]), np.concatenate([[0.0], tar])


def max_probability(probs: Any) -> np.ndarray:
    """The maximum softmax probability of each sign (the baseline score): ``probs`` [..., C] -> [...].

    Hendrycks & Gimpel 2017, "A baseline for detecting misclassified and out-of-distribution examples".
    """
    array = np.asarray(probs, dtype=np.float64)
    if array.ndim == 0 or array.shape[-1] == 0:
        raise ValueError(f"probabilities must have a class axis with at least one class, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("probabilities hold NaN or infinite values")
    return array.max(axis=-1)


def energy(logits: Any, temperature: float = 1.0) -> np.ndarray:
    """The energy score ``T·logsumexp(logits / T)`` of each sign: ``logits`` [..., C] -> [...]; higher = known.

    Liu, Wang, Owens & Li 2020, "Energy-based out-of-distribution detection" (NeurIPS): the free energy is
    ``E(x) = -T·logsumexp(f(x) / T)``; this returns ``-E(x)`` so that, like every score here, higher means known.
    Unlike the maximum probability it keeps the logits' scale, which softmax throws away. Computed with the
    maximum subtracted first, so logits like 1000 do not overflow.
    """
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    array = np.asarray(logits, dtype=np.float64)
    if array.ndim == 0 or array.shape[-1] == 0:
        raise ValueError(f"logits must have a class axis with at least one class, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("logits hold NaN or infinite values")
    scaled = array / temperature
    top = scaled.max(axis=-1, keepdims=True)
    return temperature * (top[..., 0] + np.log(np.exp(scaled - top).sum(axis=-1)))

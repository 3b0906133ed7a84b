"""Open-set figures: does a score keep known signs above unknown ones, and what slips through at 95% acceptance?"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from host.openset_metrics import (
    auroc,
    energy,
    far_at,
    max_probability,
    roc_curve,
    threshold_at_acceptance,
)


def pairs_auroc(known, unknown) -> float:
    """AUROC by its definition: every (known, unknown) pair, a win 1, a tie 1/2."""
    wins = sum(1.0 if k > u else 0.5 if k == u else 0.0 for k in known for u in unknown)
    return wins / (len(known) * len(unknown))


def test_auroc_is_one_when_separated_zero_when_reversed_and_a_half_when_indistinguishable():
    known, unknown = [0.9, 0.8, 0.99], [0.1, 0.5, 0.79]
    assert auroc(known, unknown) == 1.0
    assert auroc(unknown, known) == 0.0
    assert auroc(known, known) == 0.5
    assert auroc([0.3] * 4, [0.3] * 7) == 0.5  # every pair a tie


def test_auroc_counts_a_tie_as_half_on_a_hand_counted_case():
    # pairs: 3>2, 3>1, 2=2, 2>1, 2=2, 2>1 -> (1 + 1 + .5 + 1 + .5 + 1) / 6
    assert auroc([3, 2, 2], [2, 1]) == pytest.approx(5 / 6, abs=1e-15)
    rng = np.random.default_rng(0)
    known, unknown = rng.integers(0, 6, 40), rng.integers(0, 5, 30)  # many ties
    assert auroc(known, unknown) == pytest.approx(pairs_auroc(known, unknown), abs=1e-12)


def test_roc_curve_runs_from_nothing_to_everything_accepted_and_its_area_is_the_auroc():
    far, tar = roc_curve([3, 2, 2], [2, 1])
    np.testing.assert_allclose(far, [0, 0, 0.5, 1])
    np.testing.assert_allclose(tar, [0, 1 / 3, 1, 1])
    rng = np.random.default_rng(1)
    known, unknown = rng.normal(1, 1, 200).round(1), rng.normal(0, 1, 150).round(1)
    far, tar = roc_curve(known, unknown)
    assert (far[0], tar[0], far[-1], tar[-1]) == (0, 0, 1, 1)
    assert (np.diff(far) >= 0).all() and (np.diff(tar) >= 0).all()
    area = float(np.sum(np.diff(far) * (tar[1:] + tar[:-1]) / 2))
    assert area == pytest.approx(auroc(known, unknown), abs=1e-12)


def test_the_threshold_is_the_highest_that_still_accepts_the_asked_share_of_known_signs():
    scores = np.arange(1, 21)  # 20 known signs scoring 1..20
    assert threshold_at_acceptance(scores, 0.95) == 2  # 19 of 20 are >= 2; >= 2.5 would keep 18
    assert threshold_at_acceptance(scores, 0.9) == 3
    assert threshold_at_acceptance(scores, 1.0) == 1
    assert threshold_at_acceptance([5, 5, 5, 1], 0.5) == 5  # ties: 3 of 4 accepted at 5, none above it
    assert threshold_at_acceptance(np.arange(100), 0.07) == 93  # 0.07 * 100 is 7.000000000000001 in floats


def test_far_at_95_is_the_share_of_unknown_signs_accepted_at_that_threshold():
    known = np.arange(1, 21)  # threshold 2 at 95%
    unknown = [0, 1, 1.99, 2, 2.5, 3, 10, -4]
    assert far_at(known, unknown) == 4 / 8  # 2, 2.5, 3 and 10 slip through
    assert far_at(known, unknown, rate=0.6) == 1 / 8  # 12 of 20 known accepted at threshold 9: only 10 slips
    assert far_at(known, [-1, 0]) == 0.0 and far_at(known, [30]) == 1.0


def test_energy_is_temperature_scaled_logsumexp_and_does_not_overflow():
    logits = np.array([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(energy(logits), np.log(np.exp(logits).sum(axis=1)), rtol=1e-12)
    np.testing.assert_allclose(energy(logits, temperature=2.0), 2 * np.log(np.exp(logits / 2).sum(axis=1)),
                               rtol=1e-12)
    big = energy(np.array([1000.0, 1000.0, -1000.0]))
    assert big == pytest.approx(1000 + math.log(2), abs=1e-9)
    assert energy(np.array([[1000.0, 0.0]]))[0] == pytest.approx(1000.0, abs=1e-9)
    assert energy(np.zeros((2, 3, 4))).shape == (2, 3)
    assert energy([9.0, 0.0, 0.0]) > energy([1.0, 0.0, 0.0])  # a confident sign scores higher: higher = known


def test_max_probability_is_the_top_class_probability_of_each_sign():
    probs = [[0.7, 0.2, 0.1], [0.4, 0.3, 0.3]]
    np.testing.assert_allclose(max_probability(probs), [0.7, 0.4])
    assert max_probability([0.1, 0.9]) == 0.9


@pytest.mark.parametrize("call, expected", [
    (lambda: auroc([], [0.1]), "known scores are empty"),
    (lambda: auroc([0.1], []), "unknown scores are empty"),
    (lambda: auroc([0.1, np.nan], [0.2]), "known scores hold 1 NaN or infinite value"),
    (lambda: auroc([0.1], [np.inf, -np.inf]), "unknown scores hold 2 NaN or infinite values"),
    (lambda: auroc([[0.1, 0.2]], [0.3]), r"one score per sign \(1-D\), got shape \(1, 2\)"),
    (lambda: far_at([], [0.1]), "known scores are empty"),
    (lambda: far_at([0.5], []), "unknown scores are empty"),
    (lambda: threshold_at_acceptance([0.5], 0.0), r"acceptance rate must be within \(0, 1\]"),
    (lambda: threshold_at_acceptance([0.5], 95), r"acceptance rate must be within \(0, 1\], got 95"),
    (lambda: roc_curve([0.5], []), "unknown scores are empty"),
    (lambda: energy([1.0, 2.0], temperature=0), "temperature must be a positive number"),
    (lambda: energy(np.zeros((3, 0))), "at least one class"),
    (lambda: energy([1.0, np.nan]), "logits hold NaN"),
    (lambda: max_probability(0.5), "at least one class"),
])
def test_bad_input_is_a_value_error_that_says_what_is_wrong(call, expected):
    with pytest.raises(ValueError, match=expected):
        call()


def test_openset_metrics_imports_without_tensorflow():
    code = ("import sys, host.openset_metrics; "
            "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr

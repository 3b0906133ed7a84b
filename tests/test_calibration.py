"""Calibration recordings are drawn in one place, ``export.calibration``, exactly as export and the folds drew them."""

from __future__ import annotations

from export.calibration import calibration_sample
from export.formats import FORMATS


def test_calibration_draws_are_the_ones_export_and_the_folds_always_made() -> None:
    """Pinned to what export.source.calibration_files and train.fold_export.calibration_indices drew: the int8
    figures of every run and fold depend on exactly these recordings."""
    run_train = [f"r{i:02d}" for i in range(12)]
    assert calibration_sample(run_train, 4, seed=7) == ["r06", "r07", "r08", "r10"]
    assert calibration_sample(run_train, 40, seed=7) == run_train  # fewer than asked: all, in order
    fold_train = sorted([30, 3, 21, 9, 15, 0, 27, 6, 12, 18, 24])
    assert calibration_sample(fold_train, 4, seed=7, fold=2) == [3, 12, 15, 30]
    assert calibration_sample(fold_train, 4, seed=7, fold=0) == [0, 18, 24, 27]


def test_the_table_says_which_formats_calibrate() -> None:
    assert [f.name for f in FORMATS if f.needs_calibration] == ["int8"]

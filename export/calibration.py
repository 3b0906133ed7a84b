"""Which training recordings calibrate a quantised format: chosen here, for a run and for each fold alike.

Only TRAINING recordings, never validation or test: calibration sets the int8
ranges, and ranges fitted on held-out data would leak it into the model that is
then verified on it. The draw is random with a fixed seed so an export can be
repeated bit for bit: ``default_rng(seed)`` for a run (``export-tflite``, seed
= the run's split seed) and ``default_rng([seed, fold, 11])`` for a fold of a
cross-validation (``train.fold_export``), so each fold draws its own sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")

_FOLD_STREAM = 11  # keeps the fold draws apart from any other use of [seed, fold]


def calibration_sample(train: Sequence[T], count: int, seed: int, fold: int | None = None) -> list[T]:
    """Up to ``count`` items of ``train``, drawn without replacement, kept in their given order (all when fewer).

    ``fold`` None draws for a whole run; a fold number draws that fold's own sample.
    """
    if count >= len(train):
        return list(train)
    rng = np.random.default_rng(seed if fold is None else [seed, fold, _FOLD_STREAM])
    return [train[i] for i in sorted(rng.choice(len(train), size=count, replace=False))]

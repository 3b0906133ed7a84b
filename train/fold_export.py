"""The export check of a cross-validation: does each fold's model keep its accuracy as an f16/int8 file?

Why per fold: a quantised file is what the device runs, so its accuracy on
people it never saw is the figure that matters, and only a cross-validation
has a held-out person for every recording. For every fold this module hands
the fold's trained Keras model to ``export.produce``, the same per-format loop
``export-tflite`` runs: convert with the description embedded, verify against
the Keras probabilities with the device's runner (the format's gate: agreement,
builtin ops only), and give the file to the device's classifier. That
classifier then scores the fold's held-out recordings one sequence at a time,
as the live recogniser does.

int8 calibration uses only the fold's TRAINING recordings (un-augmented, up to
``calibration`` of them, drawn by ``export.calibration`` with the fold's own
seed): never its validation or test recordings, which would tune the int8
ranges to the people the file is then scored on. The files used are recorded
so a test can prove it.

The files live in a temporary folder and are deleted: fold models are an
evaluation, not a product (train without ``--folds`` for a model to ship).
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edge_runtime.errors import ModelError
from edge_runtime.model_info import ModelInfo
from export.calibration import calibration_sample
from export.formats import DEFAULT_CALIBRATION, Format
from train.fit import Loaded
from train.splits import Split

log = logging.getLogger(__name__)


@dataclass
class FormatScore:
    """One format of one fold's model, scored on the fold's held-out recordings by the device classifier."""

    format: str
    n: int
    accuracy: float  # device classifier's argmax vs the true labels
    keras_accuracy: float
    agreement: float  # share of held-out recordings where the file's argmax equals the Keras model's
    max_abs_diff: float  # max |p_file - p_keras|
    size_bytes: int
    convert_seconds: float
    passed: bool  # the format's export gate (export.formats), as export-tflite applies it
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "n": self.n, "accuracy": self.accuracy, "keras_accuracy": self.keras_accuracy,
                "agreement": self.agreement, "max_abs_diff": self.max_abs_diff, "size_bytes": self.size_bytes,
                "convert_seconds": round(self.convert_seconds, 2), "gate_passed": self.passed,
                "problems": list(self.problems)}


@dataclass
class FoldExport:
    """Every format of one fold, plus what int8 was calibrated on."""

    fold: int
    scores: list[FormatScore]
    predictions: dict[str, np.ndarray]  # format -> class index per held-out row (the split's test order)
    calibration_files: list[str]
    calibration_signers: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"fold": self.fold, "formats": [s.to_dict() for s in self.scores],
                "calibration": {"split": "train", "augmented": False, "recordings": len(self.calibration_files),
                                "signers": self.calibration_signers, "files": self.calibration_files}}


def _description(fmt: Format, loaded: Loaded) -> ModelInfo:
    """What the fold's file says about itself: enough for the device classifier (labels, spec)."""
    return ModelInfo(format=fmt.name, labels=list(loaded.labels), spec=loaded.spec,
                     extra={"quantisation": fmt.quantisation, "purpose": "cross-validation fold export check",
                            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})


def export_fold(model: Any, loaded: Loaded, split: Split, formats: Sequence[Format], X_test: np.ndarray,
                y_test: np.ndarray, keras_probs: np.ndarray, calibration: int = DEFAULT_CALIBRATION,
                seed: int = 0, quiet: bool = True) -> FoldExport:
    """Convert one fold's model to each format and score its held-out recordings through the device classifier."""
    from export.errors import ExportError
    from export.produce import prepare, produce

    fold = int(split.fold or 0)
    cal_idx = calibration_sample(sorted(split.train), calibration, seed, fold=fold)
    X_cal = loaded.features(cal_idx) if any(f.needs_calibration for f in formats) else None
    keras_pred = keras_probs.argmax(axis=1)
    keras_accuracy = float(np.mean(keras_pred == y_test)) if len(y_test) else float("nan")
    scores, predictions = [], {}
    with tempfile.TemporaryDirectory(prefix=f"signedge-fold{fold}-") as tmp, \
            prepare(model, loaded.spec, formats, X_test, keras_probs, X_cal, quiet=quiet,
                    prefix=f"signedge-fold{fold}-model-") as conversion:
        for fmt in formats:
            try:
                made = produce(fmt, Path(tmp) / fmt.filename, conversion, _description(fmt, loaded), X_test, y_test,
                               keras_probs)
            except ExportError as err:
                raise ModelError(f"fold {fold}: {err}") from err
            row, clf = made.row, made.classifier
            if clf is None:
                raise ModelError(f"fold {fold}: {fmt.name}: " + "; ".join(row.problems))
            if clf.labels != list(loaded.labels):
                raise ModelError(f"{fmt.filename}: the device classifier reads labels {clf.labels}, "
                                 f"expected {loaded.labels}")
            pred = np.array([int(np.argmax(clf.predict(x))) for x in X_test], dtype=np.int64)
            predictions[fmt.name] = pred
            scores.append(FormatScore(
                format=fmt.name, n=len(y_test), accuracy=float(np.mean(pred == y_test)) if len(y_test) else float("nan"),
                keras_accuracy=keras_accuracy,
                agreement=float(np.mean(pred == keras_pred)) if len(y_test) else float("nan"),
                max_abs_diff=float(row.max_abs_diff), size_bytes=row.size_bytes, convert_seconds=row.convert_seconds,
                passed=bool(row.passed), problems=list(row.problems)))
            log.info("fold %d %s: %.1f%% (Keras %.1f%%), agreement %.1f%%", fold, fmt.name, scores[-1].accuracy * 100,
                     keras_accuracy * 100, scores[-1].agreement * 100)
    return FoldExport(fold, scores, predictions, [loaded.rows[i].file for i in cal_idx],
                      sorted({loaded.rows[i].signer for i in cal_idx if loaded.rows[i].signer}))

"""Honest numbers: accuracy on data the model never saw, and what exactly that data was.

``holdout`` trains on one guarded split and scores its test part;
``cross_validate`` repeats that over grouped K folds (or one fold per signer,
``loso``) and keeps every out-of-fold prediction, so per-person accuracy, the
worst person and a confusion matrix over all folds are all derived from one
table. Every result carries ``measured_on`` in plain words.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from train.fit import FitResult, Loaded, Report, TrainConfig, fit_split
from train.splits import Split, choose_mode, describe, holdout_split, kfold_splits

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    """Scores of predictions against true classes on one named set of recordings."""

    labels: list[str]
    y_true: np.ndarray
    y_pred: np.ndarray
    measured_on: str

    @property
    def n(self) -> int:
        return int(len(self.y_true))

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.y_true == self.y_pred)) if self.n else float("nan")

    @property
    def macro_f1(self) -> float:
        """Macro F1 over the classes that occur in the truth or the predictions."""
        return float(f1_score(self.y_true, self.y_pred, average="macro", zero_division=0)) if self.n else float("nan")

    @property
    def confusion(self) -> np.ndarray:
        """[true, predicted] counts over all classes of the model."""
        return confusion_matrix(self.y_true, self.y_pred, labels=list(range(len(self.labels))))

    def per_class(self) -> dict[str, dict[str, float]]:
        p, r, f, s = precision_recall_fscore_support(self.y_true, self.y_pred, labels=list(range(len(self.labels))),
                                                     zero_division=0)
        return {label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                for i, label in enumerate(self.labels)}

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "macro_f1": self.macro_f1, "n": self.n, "measured_on": self.measured_on,
                "per_class": self.per_class()}

    def line(self) -> str:
        """The one line a CLI prints: the number AND what it was measured on."""
        return (f"test accuracy {self.accuracy:.1%} (macro-F1 {self.macro_f1:.3f}, {self.n} recordings) "
                f"measured on the {self.measured_on}")


def predict(model: Any, X: np.ndarray) -> np.ndarray:
    """Class indices predicted for X [n, T, F]."""
    if not len(X):
        return np.zeros(0, dtype=np.int64)
    # Direct calls in inference mode instead of model.predict: no tf.function per fold model to retrace.
    probs = [np.asarray(model(X[i:i + 256], training=False)) for i in range(0, len(X), 256)]
    return np.argmax(np.concatenate(probs), axis=-1).astype(np.int64)


@dataclass
class Holdout:
    """One trained model, its split and its test evaluation."""

    split: Split
    fit: FitResult
    test: Evaluation


def plan_holdout(loaded: Loaded, cfg: TrainConfig) -> Split:
    """The guarded split a hold-out run will use; cheap, so commands call it before any training."""
    mode = choose_mode(loaded.rows, cfg.split)
    return holdout_split(loaded.rows, mode, cfg.seed, cfg.val_fraction, cfg.test_fraction)


def holdout(loaded: Loaded, cfg: TrainConfig, report: Report | None = None, split: Split | None = None) -> Holdout:
    """Split by source/signer (guarded), train with augmentation on the training part, score the test part."""
    split = split or plan_holdout(loaded, cfg)
    result = fit_split(loaded, split, cfg, report)
    y = loaded.y
    test = Evaluation(loaded.labels, y[split.test], predict(result.model, loaded.features(split.test)),
                      describe(loaded.rows, split, "test"))
    return Holdout(split, result, test)


@dataclass
class FoldResult:
    fold: int
    held_out: list[str]  # signers (signer mode) or groups (source mode) tested in this fold
    evaluation: Evaluation
    best_epoch: int
    epochs_run: int

    def to_dict(self) -> dict[str, Any]:
        return {"fold": self.fold, "held_out": self.held_out, "n": self.evaluation.n,
                "accuracy": self.evaluation.accuracy, "macro_f1": self.evaluation.macro_f1,
                "best_epoch": self.best_epoch, "epochs_run": self.epochs_run}


@dataclass
class CrossValidation:
    """Every fold's score plus all out-of-fold predictions (each recording is tested exactly once)."""

    mode: str
    scheme: str  # "5-fold" or "leave-one-signer-out"
    labels: list[str]
    folds: list[FoldResult]
    # One per recording: file, label, signer, group, fold, predicted.
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accuracies(self) -> np.ndarray:
        return np.array([f.evaluation.accuracy for f in self.folds])

    @property
    def mean(self) -> float:
        return float(self.accuracies.mean())

    @property
    def std(self) -> float:
        return float(self.accuracies.std(ddof=1)) if len(self.folds) > 1 else 0.0

    @property
    def pooled(self) -> Evaluation:
        """All folds' test predictions together: the confusion matrix over all folds."""
        index = {label: i for i, label in enumerate(self.labels)}
        y_true = np.array([index[r["label"]] for r in self.rows], dtype=np.int64)
        y_pred = np.array([index[r["predicted"]] for r in self.rows], dtype=np.int64)
        return Evaluation(self.labels, y_true, y_pred, self.measured_on)

    def per_signer(self) -> dict[str, dict[str, float]]:
        """Accuracy of each signer's recordings (out of fold); empty when the dataset names no signers."""
        hits: dict[str, list[bool]] = defaultdict(list)
        for r in self.rows:
            if r["signer"]:
                hits[r["signer"]].append(r["label"] == r["predicted"])
        return {s: {"accuracy": float(np.mean(h)), "n": len(h)} for s, h in sorted(hits.items())}

    def worst_signer(self) -> tuple[str, float] | None:
        people = self.per_signer()
        if not people:
            return None
        name = min(people, key=lambda s: (people[s]["accuracy"], s))
        return name, people[name]["accuracy"]

    @property
    def measured_on(self) -> str:
        unit = "signer" if self.mode == "signer" else "source recording"
        return (f"{self.scheme} cross-validation: each of {len(self.rows)} recordings tested once, by a model that "
                f"never saw its {unit} in training")

    def line(self) -> str:
        text = (f"{self.scheme} accuracy: mean {self.mean:.1%} ± {self.std:.1%} (std over {len(self.folds)} folds, "
                f"min {self.accuracies.min():.1%}, max {self.accuracies.max():.1%})")
        worst = self.worst_signer()
        if worst:
            text += f"; worst signer {worst[0]} {worst[1]:.1%}"
        return f"{text} — measured on {self.measured_on}"

    def to_dict(self) -> dict[str, Any]:
        pooled = self.pooled
        out = {"mode": self.mode, "scheme": self.scheme, "measured_on": self.measured_on, "mean_accuracy": self.mean,
               "std_accuracy": self.std, "min_accuracy": float(self.accuracies.min()),
               "max_accuracy": float(self.accuracies.max()), "pooled_accuracy": pooled.accuracy,
               "pooled_macro_f1": pooled.macro_f1, "folds": [f.to_dict() for f in self.folds],
               "per_signer": self.per_signer()}
        worst = self.worst_signer()
        if worst:
            out["worst_signer"] = {"signer": worst[0], "accuracy": worst[1]}
        return out


def plan_folds(loaded: Loaded, cfg: TrainConfig) -> list[Split]:
    """Every fold's guarded split, made before any training so a bad dataset fails at once."""
    if cfg.folds is None:
        raise ValueError("plan_folds needs cfg.folds")
    mode = "signer" if cfg.folds == "loso" else choose_mode(loaded.rows, cfg.split)
    return list(kfold_splits(loaded.rows, mode, cfg.folds, cfg.seed, cfg.val_fraction))


def cross_validate(loaded: Loaded, cfg: TrainConfig, report: Report | None = None) -> CrossValidation:
    """Grouped K-fold (``cfg.folds`` = K) or leave-one-signer-out (``cfg.folds`` = 'loso')."""
    splits = plan_folds(loaded, cfg)
    mode = splits[0].mode
    scheme = "leave-one-signer-out" if cfg.folds == "loso" else f"{len(splits)}-fold"
    y = loaded.y
    result = CrossValidation(mode, scheme, list(loaded.labels), [])
    for split in splits:
        held = split.units(loaded.rows, "test")
        log.info("fold %d/%d: testing on %s", split.fold + 1, len(splits), ", ".join(held))
        fitted = fit_split(loaded, split, cfg, report, prefix=f"fold {split.fold + 1}/{len(splits)} ")
        pred = predict(fitted.model, loaded.features(split.test))
        evaluation = Evaluation(loaded.labels, y[split.test], pred, describe(loaded.rows, split, "test"))
        result.folds.append(FoldResult(split.fold, held, evaluation, fitted.best_epoch, fitted.epochs_run))
        for i, p in zip(split.test, pred, strict=True):
            row = loaded.rows[i]
            result.rows.append({"file": row.file, "label": row.label, "signer": row.signer, "group": row.group,
                                "fold": split.fold, "predicted": loaded.labels[int(p)]})
        if report:
            report(f"fold {split.fold + 1}/{len(splits)}: {evaluation.accuracy:.1%} on {evaluation.n} recordings "
                   f"of {', '.join(held[:4])}{' ...' if len(held) > 4 else ''}")
    result.rows.sort(key=lambda r: r["file"])
    return result


"""Honest numbers: accuracy on data the model never saw, and what exactly that data was.

``holdout`` trains on one guarded split and scores its test part;
``cross_validate`` repeats that over grouped K folds (or one fold per signer,
``loso``) and keeps every out-of-fold prediction, so per-person accuracy, the
worst person and a confusion matrix over all folds are all derived from one
table. Every result carries ``measured_on`` in plain words.

Two additions for real data (issues #7 and #11): exclusions
(``train.exclusions``: recordings a ``sign-audit`` flagged, or whole people)
are kept out of training and validation but still predicted when their person
is held out, so all-recordings and audited figures come from one run; and an
export check (``train.fold_export``) scores each fold's model again as
f16/int8 files through the device classifier. Per-person summaries (mean,
median, worst, people below 80%) come from ``people_summary``.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from export.formats import DEFAULT_CALIBRATION
from train.exclusions import Exclusions
from train.fit import FeatureBatches, FitResult, Loaded, Report, TrainConfig, fit_split
from train.splits import Split, check_disjoint, choose_mode, describe, holdout_split, kfold_splits, unit_key

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


def predict_proba(model: Any, X: "np.ndarray | FeatureBatches") -> np.ndarray:
    """Class probabilities [n, C] for X [n, T, F] (or its batches, read from disk when streaming)."""
    if isinstance(X, FeatureBatches):
        parts = [predict_proba(model, X[b][0]) for b in range(len(X))]
        return np.concatenate(parts) if parts else np.zeros((0, int(model.output_shape[-1])), np.float32)
    if not len(X):
        return np.zeros((0, int(model.output_shape[-1])), dtype=np.float32)
    # Direct calls in inference mode instead of model.predict: no tf.function per fold model to retrace.
    probs = [np.asarray(model(X[i:i + 256], training=False)) for i in range(0, len(X), 256)]
    return np.concatenate(probs).astype(np.float32)


def predict(model: Any, X: "np.ndarray | FeatureBatches") -> np.ndarray:
    """Class indices predicted for X [n, T, F]."""
    return np.argmax(predict_proba(model, X), axis=-1).astype(np.int64)


@dataclass
class Holdout:
    """One trained model, its split and its test evaluation."""

    split: Split
    fit: FitResult
    test: Evaluation


def _remap(split: Split, kept: Sequence[int]) -> Split:
    """A split planned on the kept rows only, with its indices pointing into all rows."""
    return Split(split.mode, split.seed, [kept[i] for i in split.train], [kept[i] for i in split.val],
                 [kept[i] for i in split.test], fold=split.fold, notes=list(split.notes))


def plan_holdout(loaded: Loaded, cfg: TrainConfig, exclusions: Exclusions | None = None) -> Split:
    """The guarded split a hold-out run will use; cheap, so commands call it before any training.

    Excluded recordings are in no part of a hold-out split (the model card lists them).
    """
    if not exclusions:
        mode = choose_mode(loaded.rows, cfg.split)
        return holdout_split(loaded.rows, mode, cfg.people_seed, cfg.val_fraction, cfg.test_fraction)
    kept = exclusions.kept(loaded.rows)
    rows = [loaded.rows[i] for i in kept]
    split = _remap(holdout_split(rows, choose_mode(rows, cfg.split), cfg.people_seed, cfg.val_fraction,
                                 cfg.test_fraction), kept)
    check_disjoint(loaded.rows, split)
    return split


def holdout(loaded: Loaded, cfg: TrainConfig, report: Report | None = None, split: Split | None = None) -> Holdout:
    """Split by source/signer (guarded), train with augmentation on the training part, score the test part."""
    split = split or plan_holdout(loaded, cfg)
    result = fit_split(loaded, split, cfg, report)
    y = loaded.y
    test = Evaluation(loaded.labels, y[split.test], predict(result.model, loaded.validation(split.test, 256)),
                      describe(loaded.rows, split, "test"))
    return Holdout(split, result, test)


@dataclass
class FoldResult:
    fold: int
    held_out: list[str]  # signers (signer mode) or groups (source mode) tested in this fold
    evaluation: Evaluation  # every test recording of the fold, excluded ones included
    best_epoch: int
    epochs_run: int
    audited: Evaluation | None = None  # the test recordings that were not excluded (None: no exclusions)
    export: Any = None  # train.fold_export.FoldExport when the export check ran

    def to_dict(self) -> dict[str, Any]:
        out = {"fold": self.fold, "held_out": self.held_out, "n": self.evaluation.n,
               "accuracy": self.evaluation.accuracy, "macro_f1": self.evaluation.macro_f1,
               "best_epoch": self.best_epoch, "epochs_run": self.epochs_run}
        if self.audited is not None:
            out["audited"] = {"n": self.audited.n, "accuracy": self.audited.accuracy}
        if self.export is not None:
            out["export_check"] = self.export.to_dict()
        return out


BELOW = 0.80  # the per-person bar the reports count people against


def people_summary(accuracies: Sequence[float], below: float = BELOW) -> dict[str, Any]:
    """Mean, median, worst and how many people are under ``below``: the per-person view of a cross-validation."""
    values = np.array([a for a in accuracies if np.isfinite(a)], dtype=np.float64)
    if not len(values):
        return {"people": 0}
    return {"people": int(len(values)), "mean": float(values.mean()), "median": float(np.median(values)),
            "worst": float(values.min()), "below": below, "below_count": int(np.sum(values < below))}


@dataclass
class CrossValidation:
    """Every fold's score plus all out-of-fold predictions (each recording is tested exactly once)."""

    mode: str
    scheme: str  # "5-fold" or "leave-one-signer-out"
    labels: list[str]
    folds: list[FoldResult]
    # One per recording: file, label, signer, group, fold, predicted, excluded (reason or ""),
    # and predicted_<format> for each format of the export check.
    rows: list[dict[str, Any]] = field(default_factory=list)
    exclusions: dict[str, Any] | None = None  # Exclusions.to_dict(): what was left out of training and why
    formats: list[str] = field(default_factory=list)  # export-check formats, e.g. ["f16", "int8"]
    people_flags: dict[str, str] = field(default_factory=dict)  # signer -> the audit's flags, when known

    @property
    def accuracies(self) -> np.ndarray:
        return np.array([f.evaluation.accuracy for f in self.folds])

    @property
    def mean(self) -> float:
        return float(self.accuracies.mean())

    @property
    def std(self) -> float:
        return float(self.accuracies.std(ddof=1)) if len(self.folds) > 1 else 0.0

    def _evaluation(self, rows: Sequence[dict[str, Any]], key: str = "predicted", what: str = "") -> Evaluation:
        index = {label: i for i, label in enumerate(self.labels)}
        y_true = np.array([index[r["label"]] for r in rows], dtype=np.int64)
        y_pred = np.array([index[r[key]] for r in rows], dtype=np.int64)
        return Evaluation(self.labels, y_true, y_pred, what or self.measured_on)

    @property
    def pooled(self) -> Evaluation:
        """All folds' test predictions together: the confusion matrix over all folds."""
        return self._evaluation(self.rows)

    @property
    def audited_rows(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if not r.get("excluded")]

    @property
    def pooled_audited(self) -> Evaluation | None:
        """The pooled evaluation without the excluded recordings (None when nothing was excluded)."""
        if not self.exclusions:
            return None
        return self._evaluation(self.audited_rows, what=self.measured_on + ", without the excluded recordings")

    def pooled_format(self, fmt: str, audited: bool = False) -> Evaluation:
        """The pooled evaluation of one export-check format (the device classifier's predictions)."""
        rows = self.audited_rows if audited else self.rows
        return self._evaluation(rows, f"predicted_{fmt}", f"{self.measured_on}, {fmt} file on the device classifier")

    def per_signer(self) -> dict[str, dict[str, Any]]:
        """Accuracy of each signer's recordings (out of fold); empty when the dataset names no signers.

        With exclusions also the audited accuracy (kept recordings only); with the
        export check also each format's accuracy.
        """
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in self.rows:
            if r["signer"]:
                groups[r["signer"]].append(r)
        out: dict[str, dict[str, Any]] = {}
        for signer, rows in sorted(groups.items()):
            entry: dict[str, Any] = {"accuracy": float(np.mean([r["label"] == r["predicted"] for r in rows])),
                                     "n": len(rows)}
            for fmt in self.formats:
                entry[f"{fmt}_accuracy"] = float(np.mean([r["label"] == r[f"predicted_{fmt}"] for r in rows]))
            if self.exclusions:
                kept = [r for r in rows if not r.get("excluded")]
                entry["excluded"] = len(rows) - len(kept)
                entry["audited_n"] = len(kept)
                entry["audited_accuracy"] = (float(np.mean([r["label"] == r["predicted"] for r in kept]))
                                             if kept else None)
                for fmt in self.formats:
                    entry[f"audited_{fmt}_accuracy"] = (
                        float(np.mean([r["label"] == r[f"predicted_{fmt}"] for r in kept])) if kept else None)
            if signer in self.people_flags:
                entry["audit_flags"] = self.people_flags[signer]
            out[signer] = entry
        return out

    def per_view(self, key: str = "predicted") -> dict[str, dict[str, Any]]:
        """Accuracy per camera view (recordings whose ``extra`` names a view), overall and per person."""
        out: dict[str, dict[str, Any]] = {}
        for view in sorted({r["view"] for r in self.rows if r.get("view") is not None}):
            rows = [r for r in self.rows if r.get("view") == view]
            people: dict[str, list[bool]] = defaultdict(list)
            for r in rows:
                people[r["signer"]].append(r["label"] == r[key])
            per = {s: float(np.mean(h)) for s, h in sorted(people.items())}
            out[view] = {"n": len(rows), "accuracy": float(np.mean([r["label"] == r[key] for r in rows])),
                         "per_signer": per, "people": people_summary(list(per.values()))}
        return out

    def worst_signer(self) -> tuple[str, float] | None:
        people = self.per_signer()
        if not people:
            return None
        name = min(people, key=lambda s: (people[s]["accuracy"], s))
        return name, people[name]["accuracy"]

    def people(self, key: str = "accuracy", unflagged_only: bool = False) -> dict[str, Any]:
        """Per-person summary of one figure (``accuracy``, ``audited_accuracy``, ``int8_accuracy``, ...)."""
        people = self.per_signer()
        values = [p.get(key) for s, p in people.items() if not (unflagged_only and self.people_flags.get(s))]
        return people_summary([v for v in values if v is not None])

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
            people = self.people()
            text += (f"; per person mean {people['mean']:.1%}, median {people['median']:.1%}, "
                     f"{people['below_count']} of {people['people']} below {BELOW:.0%}")
        if self.exclusions:
            audited = self.pooled_audited
            assert audited is not None
            text += (f"; audited (without {self.exclusions['recordings']} excluded recordings): pooled "
                     f"{audited.accuracy:.1%}")
        for fmt in self.formats:
            text += f"; {fmt} file pooled {self.pooled_format(fmt).accuracy:.1%} (Keras {self.pooled.accuracy:.1%})"
        return f"{text} — measured on {self.measured_on}"

    def to_dict(self) -> dict[str, Any]:
        pooled = self.pooled
        out = {"mode": self.mode, "scheme": self.scheme, "measured_on": self.measured_on, "mean_accuracy": self.mean,
               "std_accuracy": self.std, "min_accuracy": float(self.accuracies.min()),
               "max_accuracy": float(self.accuracies.max()), "pooled_accuracy": pooled.accuracy,
               "pooled_macro_f1": pooled.macro_f1, "folds": [f.to_dict() for f in self.folds],
               "per_signer": self.per_signer(), "confusion": pooled.confusion.tolist()}
        worst = self.worst_signer()
        if worst:
            out["worst_signer"] = {"signer": worst[0], "accuracy": worst[1]}
            out["people"] = {"all": self.people()}
            if self.people_flags:
                out["people"]["not_flagged_by_audit"] = self.people(unflagged_only=True)
        if self.exclusions:
            audited = self.pooled_audited
            assert audited is not None
            out["exclusions"] = self.exclusions
            out["audited"] = {"measured_on": audited.measured_on, "pooled_accuracy": audited.accuracy,
                              "pooled_macro_f1": audited.macro_f1, "n": audited.n,
                              "confusion": audited.confusion.tolist()}
            if worst:
                out["people"]["audited"] = self.people("audited_accuracy")
        views = self.per_view()
        if views:
            out["per_view"] = views
        if self.formats:
            out["export_check"] = self.export_summary()
        return out

    def export_summary(self) -> dict[str, Any]:
        """Keras vs each exported format: pooled and per-person accuracy, and the loss in points."""
        keras_people = self.people()
        out: dict[str, Any] = {"formats": list(self.formats), "keras_pooled": self.pooled.accuracy}
        for fmt in self.formats:
            pooled = self.pooled_format(fmt)
            people = self.people(f"{fmt}_accuracy")
            agree = float(np.mean([r["predicted"] == r[f"predicted_{fmt}"] for r in self.rows]))
            entry = {"pooled": pooled.accuracy, "agreement_with_keras": agree,
                     "loss_points_pooled": 100.0 * (self.pooled.accuracy - pooled.accuracy),
                     "flipped": [{"file": r["file"], "label": r["label"], "keras": r["predicted"],
                                  fmt: r[f"predicted_{fmt}"]} for r in self.rows
                                 if r["predicted"] != r[f"predicted_{fmt}"]]}
            if people.get("people"):
                entry["people"] = people
                entry["loss_points_person_mean"] = 100.0 * (keras_people["mean"] - people["mean"])
                entry["loss_points_worst_person"] = max(
                    100.0 * (p["accuracy"] - p[f"{fmt}_accuracy"]) for p in self.per_signer().values())
            if self.exclusions:
                entry["audited_pooled"] = self.pooled_format(fmt, audited=True).accuracy
            out[fmt] = entry
        return out


def plan_folds(loaded: Loaded, cfg: TrainConfig, exclusions: Exclusions | None = None) -> list[Split]:
    """Every fold's guarded split, made before any training so a bad dataset fails at once.

    With exclusions the folds are planned on the kept recordings; an excluded
    recording then joins the TEST part of the fold that holds its signer (its
    group in source mode), and a person (group) excluded whole is dealt to the
    folds' test parts in turn. So excluded recordings are never trained or
    validated on, yet every recording is still predicted once by a model that
    never saw its person.
    """
    if cfg.folds is None:
        raise ValueError("plan_folds needs cfg.folds")
    if not exclusions:
        mode = "signer" if cfg.folds == "loso" else choose_mode(loaded.rows, cfg.split)
        return list(kfold_splits(loaded.rows, mode, cfg.folds, cfg.people_seed, cfg.val_fraction))
    kept = exclusions.kept(loaded.rows)
    rows = [loaded.rows[i] for i in kept]
    mode = "signer" if cfg.folds == "loso" else choose_mode(rows, cfg.split)
    splits = [_remap(s, kept) for s in kfold_splits(rows, mode, cfg.folds, cfg.people_seed, cfg.val_fraction)]
    fold_of_unit = {unit_key(loaded.rows[i], mode): k for k, s in enumerate(splits) for i in s.test}
    dropped = [i for i, row in enumerate(loaded.rows) if exclusions.reason(row)]
    orphans = sorted({unit_key(loaded.rows[i], mode) for i in dropped} - set(fold_of_unit))
    for j, unit in enumerate(orphans):
        fold_of_unit[unit] = j % len(splits)
    for i in dropped:
        splits[fold_of_unit[unit_key(loaded.rows[i], mode)]].test.append(i)
    for s in splits:
        s.test.sort()
        check_disjoint(loaded.rows, s)
    if orphans:
        log.info("excluded whole and tested only: %s", ", ".join(orphans))
    return splits


def cross_validate(loaded: Loaded, cfg: TrainConfig, report: Report | None = None,
                   exclusions: Exclusions | None = None, export_formats: Sequence[Any] = (),
                   calibration: int = DEFAULT_CALIBRATION) -> CrossValidation:
    """Grouped K-fold (``cfg.folds`` = K) or leave-one-signer-out (``cfg.folds`` = 'loso').

    ``exclusions`` keeps recordings out of training (see ``plan_folds``);
    ``export_formats`` (``export.formats`` rows) converts each fold's model and
    scores its held-out recordings through the device classifier
    (``train.fold_export``), int8 calibrated on that fold's training recordings.
    """
    splits = plan_folds(loaded, cfg, exclusions)
    mode = splits[0].mode
    scheme = "leave-one-signer-out" if cfg.folds == "loso" else f"{len(splits)}-fold"
    y = loaded.y
    result = CrossValidation(mode, scheme, list(loaded.labels), [],
                             exclusions=exclusions.to_dict(loaded.rows) if exclusions else None,
                             formats=[f.name for f in export_formats],
                             people_flags=dict(exclusions.people_flags) if exclusions else {})
    for split in splits:
        held = split.units(loaded.rows, "test")
        log.info("fold %d/%d: testing on %s", split.fold + 1, len(splits), ", ".join(held))
        fitted = fit_split(loaded, split, cfg, report, prefix=f"fold {split.fold + 1}/{len(splits)} ")
        # the export check scores the test part through each exported file: then it is read once, as an array
        X_test = loaded.features(split.test) if export_formats else loaded.validation(split.test, 256)
        probs = predict_proba(fitted.model, X_test)
        pred = np.argmax(probs, axis=-1).astype(np.int64)
        evaluation = Evaluation(loaded.labels, y[split.test], pred, describe(loaded.rows, split, "test"))
        excluded = [exclusions.reason(loaded.rows[i]) if exclusions else "" for i in split.test]
        audited = None
        if exclusions:
            keep = np.array([not e for e in excluded], dtype=bool)
            audited = Evaluation(loaded.labels, y[split.test][keep], pred[keep],
                                 describe(loaded.rows, split, "test") + ", without the excluded recordings")
        exported = None
        if export_formats:
            from train.fold_export import export_fold

            exported = export_fold(fitted.model, loaded, split, export_formats, X_test, y[split.test], probs,
                                   calibration=calibration, seed=cfg.seed)
        result.folds.append(FoldResult(split.fold, held, evaluation, fitted.best_epoch, fitted.epochs_run, audited,
                                       exported))
        for k, (i, p) in enumerate(zip(split.test, pred, strict=True)):
            row = loaded.rows[i]
            entry = {"file": row.file, "label": row.label, "signer": row.signer, "group": row.group,
                     "fold": split.fold, "predicted": loaded.labels[int(p)], "excluded": excluded[k]}
            view = loaded.recordings[i].extra.get("view")
            if view is not None:  # camera view of a multi-view corpus (the shared KSL set): scored per view too
                entry["view"] = str(view)
            if exported is not None:
                for name, fmt_pred in exported.predictions.items():
                    entry[f"predicted_{name}"] = loaded.labels[int(fmt_pred[k])]
            result.rows.append(entry)
        if report:
            extra = "".join(f", {s.format} {s.accuracy:.1%}" for s in exported.scores) if exported else ""
            report(f"fold {split.fold + 1}/{len(splits)}: {evaluation.accuracy:.1%}{extra} on {evaluation.n} "
                   f"recordings of {', '.join(held[:4])}{' ...' if len(held) > 4 else ''}")
    result.rows.sort(key=lambda r: r["file"])
    return result

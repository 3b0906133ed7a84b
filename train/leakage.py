"""The leakage audit: the same model trained the seed project's way and the signedge way, side by side.

The seed way: every recording is augmented 16x FIRST (the original plus 15
variants), and the pool of samples is THEN split at random, by sample. Variants
of one recording land on both sides of the split, so the "test" mostly asks the
model to recognise recordings it has already trained on, slightly disguised.

The signedge way: split by signer (or source recording) first, guarded;
augment only the training part, on the fly. The test holds only recordings
(and people) the model has never seen.

Both arms use the same data, model, sizes, epochs, patience, batch size and
seed; the gap between them is what the seed's 100% was really measuring.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from train.augment import Augmenter
from train.evaluate import Evaluation, Holdout, holdout, plan_holdout, predict
from train.fit import FitResult, Loaded, Report, TrainConfig, fit
from train.splits import Split

log = logging.getLogger(__name__)

SEED_COPIES = 16


@dataclass
class Arm:
    """One way of training and testing, and what its number means."""

    name: str
    how: str
    accuracy: float
    macro_f1: float
    test_samples: int
    train_samples: int
    test_with_sibling_in_train: float  # share of test samples whose source group also feeds training
    measured_on: str
    best_epoch: int
    seconds: float


@dataclass
class LeakageAudit:
    seed_way: Arm
    ours: Arm
    ours_run: Holdout
    copies: int

    @property
    def gap(self) -> float:
        return self.seed_way.accuracy - self.ours.accuracy

    def to_dict(self) -> dict[str, Any]:
        return {"copies": self.copies, "gap": self.gap, "seed_way": asdict(self.seed_way), "ours": asdict(self.ours),
                "explanation": explanation(self)}

    def table(self) -> str:
        """The side-by-side comparison, as the CLI prints it (plain text, fixed width)."""
        rows = [
            ("", "seed's way", "signedge"),
            ("how", self.seed_way.how, self.ours.how),
            ("test accuracy", f"{self.seed_way.accuracy:.1%}", f"{self.ours.accuracy:.1%}"),
            ("test macro-F1", f"{self.seed_way.macro_f1:.3f}", f"{self.ours.macro_f1:.3f}"),
            ("test samples", str(self.seed_way.test_samples), str(self.ours.test_samples)),
            ("training samples", f"{self.seed_way.train_samples} (fixed copies)",
             f"{self.ours.train_samples} recordings, a fresh variant each epoch"),
            ("test samples with a sibling in training",
             f"{self.seed_way.test_with_sibling_in_train:.0%}", f"{self.ours.test_with_sibling_in_train:.0%}"),
        ]
        w0 = max(len(r[0]) for r in rows)
        w1 = max(len(r[1]) for r in rows)
        return "\n".join(f"{a:<{w0}}  {b:<{w1}}  {c}" for a, b, c in rows)

    def markdown(self) -> str:
        s, o = self.seed_way, self.ours
        return "\n".join([
            "# Leakage audit", "",
            "| | seed's way | signedge |", "|---|---|---|",
            f"| how | {s.how} | {o.how} |",
            f"| test accuracy | {s.accuracy:.1%} | {o.accuracy:.1%} |",
            f"| test macro-F1 | {s.macro_f1:.3f} | {o.macro_f1:.3f} |",
            f"| test samples | {s.test_samples} | {o.test_samples} |",
            f"| training samples | {s.train_samples} (fixed copies) | {o.train_samples} recordings, a fresh variant "
            "each epoch |",
            f"| test samples with a sibling in training (another view or variant of the same recording group) | "
            f"{s.test_with_sibling_in_train:.0%} | {o.test_with_sibling_in_train:.0%} |",
            f"| measured on | {s.measured_on} | {o.measured_on} |",
            f"| training time | {s.seconds:.0f} s | {o.seconds:.0f} s |", "",
            explanation(self), "",
        ])


def explanation(audit: LeakageAudit) -> str:
    s, o = audit.seed_way, audit.ours
    points = 100.0 * audit.gap
    verdict = (f"The seed's way scores {points:.1f} percentage points higher" if audit.gap > 0
               else f"The seed's way does not score higher here ({points:+.1f} percentage points)")
    return (f"{verdict}, but not because its model is better: it is the same model. It augmented every recording "
            f"{audit.copies}x before splitting at random by sample, so {s.test_with_sibling_in_train:.0%} of its test "
            f"samples are variants of recordings whose other variants it trained on; its test measures memory of "
            f"those recordings. signedge splits by {audit.ours_run.split.mode} first and augments only training "
            f"data, so its {o.accuracy:.1%} is what to expect on new recordings.")


def _sibling_share(groups: np.ndarray, train_idx: np.ndarray, test_idx: np.ndarray) -> float:
    train_groups = set(groups[train_idx].tolist())
    if not len(test_idx):
        return 0.0
    return float(np.mean([g in train_groups for g in groups[test_idx].tolist()]))


def random_sample_split(y: np.ndarray, val_fraction: float, test_fraction: float,
                        seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The seed's split: stratified by label, at random over samples, blind to where a sample came from."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    rest, test = train_test_split(idx, test_size=test_fraction, stratify=y, random_state=seed)
    train, val = train_test_split(rest, test_size=val_fraction / (1.0 - test_fraction), stratify=y[rest],
                                  random_state=seed)
    return np.sort(train), np.sort(val), np.sort(test)


def seed_way(loaded: Loaded, cfg: TrainConfig, copies: int = SEED_COPIES, report: Report | None = None) -> Arm:
    """Augment every recording ``copies`` times, THEN split by sample, train and test (the leak, on purpose)."""
    augmenter = Augmenter(replace(cfg.augment, keep_original=0.0), seed=cfg.seed)  # every copy a variant
    spec = loaded.spec
    n = len(loaded.recordings)
    X = np.zeros((n * copies, spec.frames, spec.num_features), np.float32)
    y = np.repeat(loaded.y, copies)
    groups = np.repeat(np.array([r.group for r in loaded.rows], dtype=object), copies)
    for i, rec in enumerate(loaded.recordings):
        X[i * copies] = spec.model_input(rec.hands)
        for c in range(1, copies):
            variant, _ = augmenter(rec.hands, i, c)
            X[i * copies + c] = spec.model_input(variant)
    train, val, test = random_sample_split(y, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    result: FitResult = fit(cfg, spec, len(loaded.labels), X[train], y[train], X[val], y[val], report=report,
                            prefix="seed's way ")
    evaluation = Evaluation(loaded.labels, y[test], predict(result.model, X[test]), "")
    share = _sibling_share(groups, train, test)
    return Arm(
        name="seed", how=f"{copies}x augment, then random split by sample",
        accuracy=evaluation.accuracy, macro_f1=evaluation.macro_f1, test_samples=len(test),
        train_samples=len(train), test_with_sibling_in_train=share,
        measured_on=(f"a random {cfg.test_fraction:.0%} of {len(y)} augmented samples ({len(test)}); "
                     f"{share:.0%} of them are variants of recordings that also feed training"),
        best_epoch=result.best_epoch, seconds=result.seconds)


def audit(loaded: Loaded, cfg: TrainConfig, copies: int = SEED_COPIES, report: Report | None = None,
          split: Split | None = None) -> LeakageAudit:
    """Train both arms on the same data with the same model and settings."""
    split = split or plan_holdout(loaded, cfg)  # first: a dataset that cannot be split fails before any training
    log.info("leakage audit, arm 1/2: the seed's way")
    leaky = seed_way(loaded, cfg, copies, report)
    log.info("leakage audit, arm 2/2: the signedge way")
    run = holdout(loaded, cfg, report, split)
    groups = np.array([r.group for r in loaded.rows], dtype=object)
    ours = Arm(
        name="signedge", how=f"split by {run.split.mode} first, augment training data only (on the fly)",
        accuracy=run.test.accuracy, macro_f1=run.test.macro_f1, test_samples=run.test.n,
        train_samples=len(run.split.train),
        test_with_sibling_in_train=_sibling_share(groups, np.array(run.split.train), np.array(run.split.test)),
        measured_on=run.test.measured_on, best_epoch=run.fit.best_epoch, seconds=run.fit.seconds)
    return LeakageAudit(leaky, ours, run, copies)

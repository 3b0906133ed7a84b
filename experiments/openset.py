"""``sign-openset``: does the device know when it does not know a sign, and can it learn one from a few examples?

Two measurements (issue #17), on people never in training, validation or
threshold choice (the rules: ``experiments.openset_data``):

- **rejection** (ASL): one model per *method* trained on the 48 ASL people's
  three signs; every open-set score the method offers is measured on test
  people's known signs against their other signs and rest frames: AUROC,
  FAR@95 (at the threshold that accepts 95% of the test people's known
  signs) and, at the threshold chosen on the validation people (what the
  device stores), the known acceptance and the false-accept rate. Keras
  (float32) and the int8 file through the device classifier.
- **enrollment** (mpdata-words): one encoder per head trained without six
  signs; each left-out sign enrolled from one test person's first 1/3/5/10
  recordings; all other test people's recordings of the 21 signs scored by
  their nearest prototype (trained + enrolled, what the device does), against
  a nearest-neighbour baseline on the raw feature vectors with the same shots.

Methods: ``dense`` (softmax, cross-entropy: what every model had), ``cosine``
(cosine softmax, NormFace), ``cosface`` (the cosine head with a 0.2 margin)
and, for rejection only, ``none-class`` (the dense model with a fourth class
"none of these" trained on rest frames and on other signs by people who are
then never tested) and ``cosface-none`` (the same with the cosface head). Scores: ``max-probability``, ``energy``,
``prototype-cosine`` (the best cosine similarity to a class prototype: the
head's weights, or for the dense head the mean training embedding of each
class) and ``not-none`` (1 - p(none)).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from edge_runtime.classifier import Classifier
from edge_runtime.hands import HandSequence
from edge_runtime.model_info import ModelInfo
from edge_runtime.openset import OpenSet, cosines, unit
from experiments.openset_data import (
    ASL_KNOWN,
    LEFT_OUT,
    EnrollTrial,
    RejectionData,
    enroll_trials,
    enrollment_split,
    people,
    rejection_data,
)
from host.openset import class_means
from host.openset_metrics import auroc, energy, far_at, roc_curve, threshold_at_acceptance
from train.fit import Loaded, TrainConfig, fit

log = logging.getLogger(__name__)

ACCEPT = 0.95
PARTS = ("rejection", "enrollment", "ksl")
NONE_LABEL = "(none of these)"
SHOTS = (1, 3, 5, 10)


@dataclass(frozen=True)
class Method:
    name: str
    head: str
    margin: float = 0.0
    none_class: bool = False
    background: float | None = None


METHODS = {m.name: m for m in (Method("dense", "dense"), Method("cosine", "cosine"),
                               Method("cosface", "cosine", 0.2), Method("cosface-bg", "cosine", 0.2, background=0.5),
                               Method("none-class", "dense", none_class=True),
                               Method("cosface-none", "cosine", 0.2, none_class=True))}
KNN = 5  # knn-cosine: the cosine similarity to the k-th nearest training embedding (Sun et al., ICML 2022)


def train_config(base: TrainConfig, method: Method) -> TrainConfig:
    import dataclasses

    return dataclasses.replace(base, head=method.head, margin=method.margin, background=method.background)


# ---------------------------------------------------------------- model outputs


@dataclass
class Outputs:
    """What one model (Keras, or an exported file through the device) says about a set of recordings."""

    probs: np.ndarray  # [n, C] the model's own probabilities (an int8 file's: its coarse softmax output)
    emb: np.ndarray | None  # [n, D] unit embeddings
    logits: np.ndarray | None = None  # [n, C] (Keras only)

    def scores(self, prototypes: np.ndarray | None, none_index: int | None = None,
               bank: np.ndarray | None = None) -> dict[str, np.ndarray]:
        known = self.probs if none_index is None else np.delete(self.probs, none_index, axis=1)
        out = {"max-probability": known.max(axis=1)}
        if self.logits is not None and none_index is None:
            out["energy"] = energy(self.logits)
        if self.emb is not None and prototypes is not None:
            kept = prototypes if none_index is None else np.delete(prototypes, none_index, axis=0)
            out["prototype-cosine"] = cosines(self.emb, kept).max(axis=1)
        if self.emb is not None and bank is not None and len(bank) >= KNN:
            out["knn-cosine"] = knn_cosine(self.emb, bank)
        if none_index is not None:
            out["not-none"] = 1.0 - self.probs[:, none_index]
        return out


def knn_cosine(emb: np.ndarray, bank: np.ndarray, k: int = KNN, chunk: int = 1024) -> np.ndarray:
    """Cosine similarity of each embedding to its k-th nearest embedding in ``bank`` (higher = more familiar)."""
    out = np.empty(len(emb), np.float32)
    for start in range(0, len(emb), chunk):
        sims = emb[start:start + chunk] @ bank.T
        out[start:start + chunk] = -np.partition(-sims, k - 1, axis=1)[:, k - 1]
    return out


def keras_outputs(model: Any, X: np.ndarray) -> Outputs:
    from host.openset import outputs

    probs, logits, emb = outputs(model, X)
    return Outputs(probs, emb, logits)


def device_outputs(clf: Classifier, X: np.ndarray) -> Outputs:
    """The exported file run as the device runs it: its probability output and its embedding (if any)."""
    probs, embs = [], []
    for x in X:
        out = clf.runner.run_all(x[None])
        probs.append(out[clf.runner.output.name].reshape(-1))
        if clf.runner.embedding is not None:
            embs.append(unit(out[clf.runner.embedding.name].reshape(-1)))
    return Outputs(np.array(probs, np.float32), np.array(embs, np.float32) if embs else None)


@contextlib.contextmanager
def int8_classifier(model: Any, loaded: Loaded, labels: Sequence[str], X_cal: np.ndarray, X_check: np.ndarray,
                    y_check: np.ndarray, openset: OpenSet | None) -> Iterator[Classifier]:
    """The int8 file of ``model``, made and verified as export-tflite makes it, opened as the device opens it."""
    from edge_runtime.errors import ModelError
    from export.formats import parse_formats
    from export.produce import prepare, produce

    [fmt] = parse_formats("int8")
    reference = np.asarray(model.predict(X_check, verbose=0), np.float32)
    info = ModelInfo(format=fmt.name, labels=list(labels), spec=loaded.spec, openset=openset,
                     extra={"purpose": "sign-openset measurement"})
    with tempfile.TemporaryDirectory(prefix="signedge-openset-") as tmp, \
            prepare(model, loaded.spec, [fmt], X_check, reference, X_cal) as conversion:
        made = produce(fmt, Path(tmp) / fmt.filename, conversion, info, X_check, y_check, reference)
        if made.classifier is None:
            raise ModelError("int8: " + "; ".join(made.row.problems))
        log.info("int8 file: agreement %.3f, embedding cosine %s", made.row.agreement, made.row.embedding_cosine)
        yield made.classifier


# ---------------------------------------------------------------- rejection


@dataclass
class RejectionRow:
    method: str
    score: str
    format: str  # keras | int8
    auroc: float
    auroc_signs: float  # known vs other signs only
    auroc_rest: float  # known vs rest frames only (nan without rest pieces)
    far95: float
    threshold: float  # chosen on validation people
    val_threshold_accept: float  # share of test known signs accepted at it
    val_threshold_far: float
    known_accuracy: float  # closed-set argmax accuracy of the test known signs
    roc: tuple[list[float], list[float]] = field(default=((), ()), repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items() if k != "roc"}


def _metrics(method: str, score: str, fmt: str, val: np.ndarray, known: np.ndarray, signs: np.ndarray,
             rest: np.ndarray, accuracy: float) -> RejectionRow:
    unknown = np.concatenate([signs, rest])
    t = threshold_at_acceptance(val, ACCEPT)
    fpr, tpr = thin_curve(*roc_curve(known, unknown))
    return RejectionRow(method, score, fmt, auroc(known, unknown), auroc(known, signs),
                        auroc(known, rest) if len(rest) else float("nan"), far_at(known, unknown, ACCEPT), t,
                        float(np.mean(known >= t)), float(np.mean(unknown >= t)), accuracy,
                        (fpr.round(4).tolist(), tpr.round(4).tolist()))


def thin_curve(fpr: np.ndarray, tpr: np.ndarray, points: int = 201) -> tuple[np.ndarray, np.ndarray]:
    """An ROC curve at ``points`` evenly spaced false-accept rates (the plot needs no more; the AUROC is exact)."""
    grid = np.linspace(0.0, 1.0, points)
    return grid, np.interp(grid, fpr, tpr)


def _features(spec: Any, hands: Sequence[HandSequence]) -> np.ndarray:
    return np.stack([spec.model_input(h) for h in hands]).astype(np.float32) if hands else \
        np.zeros((0, spec.frames, spec.num_features), np.float32)


@dataclass
class RejectionResult:
    rows: list[RejectionRow]
    people: list[dict[str, Any]]  # per test person, per method (int8 device score at the validation threshold)
    signs: list[dict[str, Any]]
    data: dict[str, Any]


def run_rejection(asl: Loaded, words: Loaded, split_train: Sequence[int], split_val: Sequence[int], base: TrainConfig,
                  methods: Sequence[str], seed: int = 0, report: Any = None) -> RejectionResult:
    """Train each method on the ASL people and score the test people (see the module docstring)."""
    from export.calibration import calibration_sample

    data = rejection_data(asl, words, split_train, split_val, seed)
    spec = asl.spec
    known_map = {v: k for k, v in ASL_KNOWN.items()}
    labels = list(asl.labels)
    X_val, y_val = asl.features(data.val), asl.y[data.val]
    X_known = words.features(data.known_test)
    y_known = np.array([labels.index(known_map[words.rows[i].label]) for i in data.known_test])
    X_signs = words.features(data.unknown_test)
    X_rest = _features(spec, data.rest_test)
    X_cal = asl.features(calibration_sample(sorted(data.train), base.calibration, seed))
    rows: list[RejectionRow] = []
    per_person: list[dict[str, Any]] = []
    per_sign: list[dict[str, Any]] = []
    for name in methods:
        method = METHODS[name]
        cfg = train_config(base, method)
        raws = [asl.recordings[i].hands for i in data.train]
        y_train = asl.y[data.train]
        fit_labels = labels
        none_index = None
        if method.none_class:
            negatives = [words.recordings[i].hands for i in data.donor_negatives] + list(data.rest_train)
            raws, fit_labels, none_index = raws + negatives, labels + [NONE_LABEL], len(labels)
            y_train = np.concatenate([y_train, np.full(len(negatives), none_index)])
        start = time.perf_counter()
        result = fit(cfg, spec, len(fit_labels), raws, y_train, X_val, y_val, report=report,
                     prefix=f"rejection {name}: ")
        log.info("rejection %s: trained in %.0f s (best epoch %d)", name, time.perf_counter() - start,
                 result.best_epoch)
        model = result.model
        train_out = keras_outputs(model, asl.features(data.train))
        protos = _prototypes(model, train_out, asl.y[data.train], len(fit_labels))
        bank = train_out.emb
        sets = {"val": X_val, "known": X_known, "signs": X_signs, "rest": X_rest}
        keras_out = {k: keras_outputs(model, X) for k, X in sets.items()}
        # The device's prototypes are the class means (export does the same, host.openset.openset_block).
        means = class_means(train_out.emb, asl.y[data.train], len(fit_labels)) if train_out.emb is not None else None
        openset = _openset(model, means, keras_out["val"]) if none_index is None and means is not None else None
        with int8_classifier(model, asl, fit_labels, X_cal, X_val, y_val, openset) as clf:
            device_out = {k: device_outputs(clf, X) for k, X in sets.items()}
            device_scores = {k: np.array([clf.score(x).score for x in X]) for k, X in sets.items()}
        for fmt, outs in (("keras", keras_out), ("int8", device_out)):
            fmt_protos = protos if fmt == "keras" else (openset.prototypes if openset is not None else None)
            scored = {k: o.scores(fmt_protos, none_index, bank) for k, o in outs.items()}
            pred = _known_argmax(outs["known"].probs, none_index)
            accuracy = float(np.mean(pred == y_known))
            for score in scored["known"]:
                rows.append(_metrics(name, score, fmt, *(scored[k][score] for k in ("val", "known", "signs", "rest")),
                                     accuracy))
        if none_index is None:  # the device's own score (prototype cosine, or max probability for a dense file)
            device_name = "prototype-cosine" if openset is not None else "max-probability"
            t = threshold_at_acceptance(device_scores["val"], ACCEPT)
            per_person += _per_person(name, device_name, data, words, device_scores, t)
            per_sign += _per_sign(name, device_name, data, words, device_scores, t)
    return RejectionResult(rows, per_person, per_sign, {
        "train_people": len(people(asl, data.train)), "val_people": len(people(asl, data.val)),
        "test_people": len(data.test_people), "negative_donors": len(data.donors), "overlap_left_out": data.overlap,
        "known_recordings": len(data.known_test), "unknown_recordings": len(data.unknown_test),
        "rest_pieces": len(data.rest_test), "none_class_negatives": len(data.donor_negatives) + len(data.rest_train)})


def _known_argmax(probs: np.ndarray, none_index: int | None) -> np.ndarray:
    return (probs if none_index is None else np.delete(probs, none_index, axis=1)).argmax(axis=1)


def _prototypes(model: Any, train_out: Outputs, y: np.ndarray, classes: int) -> np.ndarray:
    from host.openset import has_embedding, head_prototypes

    if has_embedding(model):
        return head_prototypes(model)[0]
    assert train_out.emb is not None
    return class_means(train_out.emb, y, classes)


def _openset(model: Any, protos: np.ndarray, val: Outputs) -> OpenSet:
    from host.openset import DISPLAY_SCALE

    assert val.emb is not None
    t = threshold_at_acceptance(cosines(val.emb, protos).max(axis=1), ACCEPT)
    return OpenSet(protos, DISPLAY_SCALE, t, "sign-openset: 95% of validation people's known signs")


def _per_person(method: str, score: str, data: RejectionData, words: Loaded, scores: dict[str, np.ndarray],
                t: float) -> list[dict[str, Any]]:
    out = []
    signers = {"known": [words.rows[i].signer for i in data.known_test],
               "signs": [words.rows[i].signer for i in data.unknown_test], "rest": data.rest_test_signers}
    for person in data.test_people:
        row: dict[str, Any] = {"method": method, "score": score, "person": person}
        for part in ("known", "signs", "rest"):
            mask = np.array([s == person for s in signers[part]], bool)
            row[f"{part}_n"] = int(mask.sum())
            row[f"{part}_accepted"] = round(float(np.mean(scores[part][mask] >= t)), 4) if mask.any() else None
        out.append(row)
    return out


def _per_sign(method: str, score: str, data: RejectionData, words: Loaded, scores: dict[str, np.ndarray],
              t: float) -> list[dict[str, Any]]:
    out = []
    for part, rows in (("known", data.known_test), ("signs", data.unknown_test)):
        labels = np.array([words.rows[i].label for i in rows])
        for label in sorted(set(labels)):
            mask = labels == label
            out.append({"method": method, "score": score, "sign": label, "known": part == "known",
                        "n": int(mask.sum()), "accepted": round(float(np.mean(scores[part][mask] >= t)), 4)})
    return out


# ---------------------------------------------------------------- enrollment


@dataclass
class EnrollRow:
    method: str
    format: str  # keras | int8 | baseline
    prototypes: str  # what stands for a trained sign: "head" (a cosine head's class weights) or "means" (the mean
    # embedding of its training recordings, the same footing as an enrolled word's mean of a few recordings)
    shots: int
    enrolled_accuracy: float  # pooled over trials: left-out signs of non-donor test people, 21-way
    enrolled_person_mean: float  # mean over people of their enrolled-sign accuracy
    trained_before: float  # trained signs, nearest trained prototype (15-way)
    trained_after: float  # trained signs, 21-way after enrollment
    trials: int

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def _nearest(emb: np.ndarray, protos: np.ndarray) -> np.ndarray:
    return cosines(emb, protos).argmax(axis=1)


def _pool_trials(words: Loaded, test: Sequence[int], trials: Sequence[EnrollTrial], trained: Sequence[str],
                 left_out: Sequence[str], predict: Callable[[EnrollTrial, list[int]], tuple[np.ndarray, np.ndarray]]
                 ) -> tuple[float, float, float, float, int]:
    """Score every trial with a full set of donors, pooled: (enrolled accuracy, its mean per person, trained before,
    trained after, trials used).

    ``predict(trial, keep)`` gives, for the test rows at positions ``keep`` (the donors' rows left out), the class
    index before and after enrollment, in the order trained signs then left-out signs.
    """
    labels = [words.rows[i].label for i in test]
    signers = [words.rows[i].signer for i in test]
    order = list(trained) + list(left_out)
    hits_e = hits_b = hits_a = n_e = n_t = 0
    by_person: dict[str, list[int]] = {}
    used = 0
    for trial in trials:
        if len(trial.donors) < len(left_out):
            continue
        used += 1
        donors = {p for p, _ in trial.donors.values()}
        keep = [k for k in range(len(test)) if signers[k] not in donors]
        before, after = predict(trial, keep)
        for j, k in enumerate(keep):
            truth = order.index(labels[k])
            if labels[k] in left_out:
                n_e += 1
                hits_e += int(after[j] == truth)
                by_person.setdefault(signers[k], []).append(int(after[j] == truth))
            else:
                n_t += 1
                hits_b += int(before[j] == truth)
                hits_a += int(after[j] == truth)
    person_mean = float(np.mean([np.mean(v) for v in by_person.values()])) if by_person else float("nan")
    return hits_e / max(n_e, 1), person_mean, hits_b / max(n_t, 1), hits_a / max(n_t, 1), used


def _enroll_scores(method: str, fmt: str, kind: str, emb: np.ndarray, trained_protos: np.ndarray, words: Loaded,
                   test: Sequence[int], trials: Sequence[EnrollTrial], trained: Sequence[str],
                   left_out: Sequence[str], shots: int) -> EnrollRow:
    """Nearest prototype among trained + enrolled (what the device does) for each trial, pooled."""
    pos = {i: k for k, i in enumerate(test)}

    def predict(trial: EnrollTrial, keep: list[int]) -> tuple[np.ndarray, np.ndarray]:
        enrolled = np.stack([unit(emb[[pos[i] for i in trial.donors[w][1][:shots]]].mean(axis=0))
                             for w in left_out])
        return _nearest(emb[keep], trained_protos), _nearest(emb[keep], np.concatenate([trained_protos, enrolled]))

    return EnrollRow(method, fmt, kind, shots, *_pool_trials(words, test, trials, trained, left_out, predict))


def _baseline(words: Loaded, train_rows: Sequence[int], test: Sequence[int], trials: Sequence[EnrollTrial],
              trained: Sequence[str], left_out: Sequence[str], shots: int) -> EnrollRow:
    """1-nearest-neighbour (cosine) on the standardised raw feature vectors: training recordings of the trained
    signs and the donors' shots are the references."""
    X_train = words.features(train_rows).reshape(len(train_rows), -1)
    mean, std = X_train.mean(axis=0), X_train.std(axis=0) + 1e-6
    ref = unit((X_train - mean) / std)
    ref_labels = np.array([list(trained).index(words.rows[i].label) for i in train_rows])
    X_test = unit((words.features(test).reshape(len(test), -1) - mean) / std)
    pos = {i: k for k, i in enumerate(test)}
    trained_nn = ref_labels[(X_test @ ref.T).argmax(axis=1)]
    shot_labels = np.array([len(trained) + k for k in range(len(left_out)) for _ in range(shots)])
    ref_all = np.concatenate([ref_labels, shot_labels])

    def predict(trial: EnrollTrial, keep: list[int]) -> tuple[np.ndarray, np.ndarray]:
        shot_rows = [pos[i] for w in left_out for i in trial.donors[w][1][:shots]]
        refs = np.concatenate([ref, X_test[shot_rows]])
        return trained_nn[keep], ref_all[(X_test[keep] @ refs.T).argmax(axis=1)]

    return EnrollRow("raw-features-1nn", "baseline", "training recordings", shots,
                     *_pool_trials(words, test, trials, trained, left_out, predict))


@dataclass
class EnrollResult:
    rows: list[EnrollRow]
    rejection: list[dict[str, Any]]  # left-out signs as unknowns before enrollment, per method (Keras)
    data: dict[str, Any]


def run_enrollment(words: Loaded, split: Any, base: TrainConfig, methods: Sequence[str], left_out: Sequence[str],
                   shots: Sequence[int] = SHOTS, trials: int = 10, seed: int = 0, report: Any = None,
                   save: Path | None = None) -> EnrollResult:
    """Train an encoder per head without ``left_out`` and the test people, enroll, score (module docstring)."""
    from export.calibration import calibration_sample
    from host.openset import head_prototypes

    missing = [w for w in left_out if w not in words.labels]
    if missing:
        raise ValueError(f"left-out sign(s) {', '.join(missing)} are not labels of the dataset")
    trained = [w for w in words.labels if w not in left_out]
    index = {w: k for k, w in enumerate(trained)}
    train_rows = [i for i in split.train if words.rows[i].label in index]
    val_rows = [i for i in split.val if words.rows[i].label in index]
    test = list(split.test)
    trial_list, eligible = enroll_trials(words, test, left_out, max(shots), trials, seed)
    y_train = np.array([index[words.rows[i].label] for i in train_rows])
    y_val = np.array([index[words.rows[i].label] for i in val_rows])
    X_val = words.features(val_rows)
    X_test = words.features(test)
    X_cal = words.features([train_rows[k] for k in calibration_sample(list(range(len(train_rows))), base.calibration,
                                                                     seed)])
    rows: list[EnrollRow] = [_baseline(words, train_rows, test, trial_list, trained, list(left_out), k) for k in shots]
    rejection = []
    softmax_accuracy: dict[str, float] = {}
    is_trained = np.array([words.rows[i].label in index for i in test])
    y_test = np.array([index.get(words.rows[i].label, -1) for i in test])
    for name in methods:
        method = METHODS[name]
        if method.none_class:
            continue
        result = fit(train_config(base, method), words.spec, len(trained), [words.recordings[i].hands for i in
                     train_rows], y_train, X_val, y_val, report=report, prefix=f"enrollment {name}: ")
        model = result.model
        train_out = keras_outputs(model, words.features(train_rows))
        assert train_out.emb is not None
        kinds = {"means": class_means(train_out.emb, y_train, len(trained))}
        if method.head == "cosine":
            kinds["head"] = head_prototypes(model)[0]
        protos = kinds.get("head", kinds["means"])
        test_out = keras_outputs(model, X_test)
        assert test_out.emb is not None
        softmax_accuracy[name] = float(np.mean(test_out.probs[is_trained].argmax(1) == y_test[is_trained]))
        embs = {"keras": test_out.emb}
        val_out = keras_outputs(model, X_val)
        with int8_classifier(model, words, trained, X_cal, X_val, y_val, _openset(model, kinds["means"], val_out)) \
                as clf:
            embs["int8"] = device_outputs(clf, X_test).emb
        if save is not None:
            save.mkdir(parents=True, exist_ok=True)
            np.savez(save / f"enrollment-{name}.npz", train=train_out.emb, y_train=y_train, **{f"test_{k}": v for
                     k, v in embs.items()}, **{f"protos_{k}": v for k, v in kinds.items()})
        for fmt, emb in embs.items():
            for kind, kind_protos in kinds.items():
                rows += [_enroll_scores(name, fmt, kind, emb, kind_protos, words, test, trial_list, trained,
                                        list(left_out), k) for k in shots]
        is_left = np.array([words.rows[i].label in left_out for i in test])
        sims = cosines(test_out.emb, protos).max(axis=1)
        rejection.append({"method": name, "score": "prototype-cosine", "auroc": round(auroc(sims[~is_left],
                          sims[is_left]), 4), "far95": round(far_at(sims[~is_left], sims[is_left], ACCEPT), 4)})
    return EnrollResult(rows, rejection, {
        "trained_signs": trained, "left_out": list(left_out), "train_people": len(people(words, train_rows)),
        "val_people": len(people(words, val_rows)), "test_people": len(people(words, test)),
        "donors_per_sign": {w: len(v) for w, v in eligible.items()}, "trials": trials, "test_recordings": len(test),
        "softmax_accuracy_trained_signs": softmax_accuracy})


# ---------------------------------------------------------------- the command


@dataclass
class OpensetConfig:
    """What ``sign-openset`` runs; its flags mirror these fields."""

    shared: Path
    work: Path = Path("runs/openset")
    out: Path = Path("benchmarks/results/openset")
    parts: tuple[str, ...] = ("rejection", "enrollment")  # and "ksl" (private data: aggregates only)
    methods: tuple[str, ...] = tuple(METHODS)
    seed: int = 0
    trials: int = 10
    epochs: int | None = None  # override (tests, quick looks); None: each part's own budget

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ValueError(f"--methods: unknown method {unknown[0]!r} (known: {', '.join(METHODS)})")
        bad = [p for p in self.parts if p not in PARTS]
        if bad:
            raise ValueError(f"--parts: unknown part {bad[0]!r} (known: {', '.join(PARTS)})")
        if self.trials < 1:
            raise ValueError(f"--trials must be at least 1, got {self.trials}")


def _base(real: Any, seed: int, epochs: int | None, classes: int, recordings: int) -> TrainConfig:
    """The training budget and model the shared set's accuracy figures use (experiments.accuracy.SETS)."""
    import dataclasses

    from train.model_choice import choose_model

    cfg = TrainConfig(seed=seed, **real.training)
    if epochs is not None:
        cfg = dataclasses.replace(cfg, epochs=epochs, patience=min(cfg.patience, epochs),
                                  min_epochs=min(cfg.min_epochs, epochs - 1))
    if cfg.model == "auto":
        choice = choose_model(classes, recordings)
        cfg = dataclasses.replace(cfg, model=choice.name, sizes={}, model_choice=choice)
    return cfg


def run_openset(config: OpensetConfig, report: Any = None) -> dict[str, Any]:
    """Import the shared sets, run the asked parts, return everything the result files hold."""
    from edge_runtime.spec import FeatureSpec
    from experiments.accuracy import SETS, import_set
    from train.fit import load_dataset
    from train.splits import holdout_split

    started = time.perf_counter()
    words_set, asl_set = SETS["words21"], SETS["asl48"]
    needs_words = {"rejection", "enrollment"} & set(config.parts)
    words_dir = import_set(words_set, config.shared, config.work / "words21" / "data") if needs_words else None
    out: dict[str, Any] = {"seed": config.seed, "methods": list(config.methods), "accept": ACCEPT}
    if "rejection" in config.parts:
        spec = FeatureSpec.by_id(asl_set.spec, asl_set.frames)
        asl = load_dataset(import_set(asl_set, config.shared, config.work / "asl48" / "data"), spec)
        words = load_dataset(words_dir, spec)
        split = holdout_split(asl.rows, "signer", config.seed, val_fraction=0.15, test_fraction=0.15)
        base = _base(asl_set, config.seed, config.epochs, len(asl.labels), len(asl.rows))
        result = run_rejection(asl, words, split.train + split.test, split.val, base, config.methods, config.seed,
                               report)
        out["rejection"] = {"model": base.model, "spec": spec.id, "frames": spec.frames, "data": result.data,
                            "rows": [r.to_dict() for r in result.rows],
                            "roc": {f"{r.method}/{r.score}/{r.format}": r.roc for r in result.rows},
                            "people": result.people, "signs": result.signs}
    if "enrollment" in config.parts:
        spec = FeatureSpec.by_id(words_set.spec, words_set.frames)
        words = load_dataset(words_dir, spec)
        split = enrollment_split(words, LEFT_OUT, max(SHOTS), config.seed)
        base = _base(words_set, config.seed, config.epochs, len(words.labels) - len(LEFT_OUT), len(words.rows))
        enrolled = run_enrollment(words, split, base, config.methods, LEFT_OUT, SHOTS, config.trials, config.seed,
                                  report, save=config.work / "embeddings")
        out["enrollment"] = {"model": base.model, "spec": spec.id, "frames": spec.frames, "data": enrolled.data,
                             "rows": [r.to_dict() for r in enrolled.rows], "rejection_before": enrolled.rejection}
    if "ksl" in config.parts:
        ksl_set = SETS["ksl"]
        spec = FeatureSpec.by_id(ksl_set.spec, ksl_set.frames)
        ksl = load_dataset(import_set(ksl_set, config.shared, config.work / "ksl" / "data"), spec)
        base = _base(ksl_set, config.seed, config.epochs, len(ksl.labels) - len(KSL_LEFT_OUT), len(ksl.rows))
        out["ksl"] = {"model": base.model, "spec": spec.id, "frames": spec.frames,
                      **run_ksl(ksl, base, config.methods, KSL_LEFT_OUT, report)}
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


# ---------------------------------------------------------------- KSL: leave one signer out

KSL_LEFT_OUT = ("우유", "자다")  # the last two words of the shared README's list, chosen before any run
KSL_SHOTS = (1, 3, 5)


def run_ksl(ksl: Loaded, base: TrainConfig, methods: Sequence[str], left_out: Sequence[str] = KSL_LEFT_OUT,
            report: Any = None) -> dict[str, Any]:
    """Leave one signer out over the 7 KSL signers, 6 words trained and 2 left out.

    Fold f: signer f is tested, signer f+1 is the donor (enrolls the two words from their first k recordings and
    is never scored), signer f+2 is the validation signer (early stopping, nothing else); the other four train.
    Rejection: the tested signer's 6 known words against their 2 left-out ones (Keras). Enrollment: the tested
    signer's recordings of all 8 words by nearest prototype, after enrolling the donor's recordings.
    """
    signers = sorted(people(ksl))
    trained = [w for w in ksl.labels if w not in left_out]
    index = {w: k for k, w in enumerate(trained)}
    rows: list[dict[str, Any]] = []
    enroll: list[EnrollRow] = []
    for fold, tested in enumerate(signers):
        donor, val_signer = signers[(fold + 1) % len(signers)], signers[(fold + 2) % len(signers)]
        by = people(ksl)
        train_rows = [i for s in signers if s not in (tested, donor, val_signer) for i in by[s]
                      if ksl.rows[i].label in index]
        val_rows = [i for i in by[val_signer] if ksl.rows[i].label in index]
        test = by[tested] + by[donor]
        trial = EnrollTrial({w: (donor, [i for i in by[donor] if ksl.rows[i].label == w]) for w in left_out})
        y_train = np.array([index[ksl.rows[i].label] for i in train_rows])
        y_val = np.array([index[ksl.rows[i].label] for i in val_rows])
        X_val = ksl.features(val_rows)
        tested_rows = by[tested]
        X_test = ksl.features(tested_rows)
        is_left = np.array([ksl.rows[i].label in left_out for i in tested_rows])
        for name in methods:
            method = METHODS[name]
            if method.none_class:
                continue
            result = fit(train_config(base, method), ksl.spec, len(trained), [ksl.recordings[i].hands for i in
                         train_rows], y_train, X_val, y_val, report=report, prefix=f"ksl {tested} {name}: ")
            model = result.model
            train_out = keras_outputs(model, ksl.features(train_rows))
            protos = _prototypes(model, train_out, y_train, len(trained))
            out = keras_outputs(model, X_test)
            for score, values in out.scores(protos, None, train_out.emb).items():
                rows.append({"fold": fold, "signer": tested, "method": name, "score": score,
                             "auroc": round(auroc(values[~is_left], values[is_left]), 4),
                             "far95": round(far_at(values[~is_left], values[is_left], ACCEPT), 4)})
            emb = keras_outputs(model, ksl.features(test)).emb
            assert emb is not None and train_out.emb is not None
            means = class_means(train_out.emb, y_train, len(trained))
            for kind, kind_protos in (("means", means),) + ((("head", protos),) if method.head == "cosine" else ()):
                enroll += [_enroll_scores(name, "keras", kind, emb, kind_protos, ksl, test, [trial], trained,
                                          list(left_out), k) for k in KSL_SHOTS]
    return {"left_out": list(left_out), "trained_words": trained, "signers": signers, "rejection": rows,
            "enrollment": _pool_folds(enroll)}


def _pool_folds(rows: Sequence[EnrollRow]) -> list[dict[str, Any]]:
    """Mean over folds of each (method, prototypes, shots)."""
    groups: dict[tuple[str, str, int], list[EnrollRow]] = {}
    for r in rows:
        groups.setdefault((r.method, r.prototypes, r.shots), []).append(r)
    return [{"method": m, "prototypes": p, "shots": k, "folds": len(g),
             "enrolled_accuracy": round(float(np.mean([r.enrolled_accuracy for r in g])), 4),
             "trained_before": round(float(np.mean([r.trained_before for r in g])), 4),
             "trained_after": round(float(np.mean([r.trained_after for r in g])), 4)}
            for (m, p, k), g in sorted(groups.items())]

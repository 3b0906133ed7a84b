"""The training loop: split first, augment the training part on the fly, fit, keep the best epoch.

Order matters and is fixed here: recordings are split by source/signer
(``train.splits``) BEFORE anything else; only the training indices are handed
to ``TrainSequence``, which makes a fresh augmented variant of each recording
every epoch from its raw landmarks (``train.augment``). Validation and test
features are computed once, straight from the raw recordings, through the one
feature spec: they are never augmented.

Adam, ReduceLROnPlateau and EarlyStopping (restoring the best validation
epoch) on validation loss, class weights against imbalance, and seeds through
``keras.utils.set_random_seed`` so a run can be repeated.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import keras
import numpy as np
from tqdm import tqdm

from edge_runtime.dataset import Dataset, ManifestRow, Recording
from edge_runtime.errors import DatasetError, ModelError, SignedgeError
from edge_runtime.hands import HandSequence
from edge_runtime.spec import DEFAULT_SPEC, POSE, FeatureSpec, check_same
from export.formats import DEFAULT_CALIBRATION
from host.features import sign_span_of, trim_to_sign
from host.layers import LateDropoutSwitch  # importing host.layers also registers the custom layers for loading
from host.losses import DEFAULT_GCE_Q, LOSSES, make_loss
from host.run_folder import ModelCard, RunFolder
from train.augment import AugmentConfig, Augmenter
from train.model_choice import AUTO, ModelChoice, choose_model
from train.models import DEFAULT_MODEL, Head, build_model, resolve_sizes
from train.splits import Split

log = logging.getLogger(__name__)

Report = Callable[[str], None]


class TrainConfigError(SignedgeError, ValueError):
    """A training setting (flag) is out of range or conflicts with another one."""


@dataclass
class TrainConfig:
    """Everything that decides a training run; ``sign-train`` flags mirror these fields.

    ``model`` may be ``"auto"`` (``sign-train``'s default) until the dataset is
    read: ``resolve_model`` then picks the architecture and checks ``sizes``
    against it. The library default stays ``compact``, so code that builds a
    config itself (``experiments``) keeps the model its published figures used.
    """

    model: str = DEFAULT_MODEL
    sizes: dict[str, Any] = field(default_factory=dict)
    epochs: int = 150
    patience: int = 30
    min_epochs: int = 20  # early stopping keeps no epoch before this one (validation on few people is noisy early)
    batch_size: int = 16
    learning_rate: float = 1e-3
    loss: str = "crossentropy"  # or "gce": bounded, so wrongly labelled recordings weigh less (host.losses)
    gce_q: float = DEFAULT_GCE_Q
    seed: int = 0
    split_seed: int | None = None  # the people split's own seed (None: ``seed``), to vary training with a fixed split
    split: str = "auto"  # auto | signer | source
    val_fraction: float = 0.15
    test_fraction: float = 0.2
    folds: int | Literal["loso"] | None = None
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    class_weights: bool = True
    strategy: str = "default"  # default | mirrored
    stream: bool = False  # read recordings from disk per batch instead of holding them all (flat memory)
    # Data-parallel training on a Ray cluster (train.cluster_fit): workers, the cluster's address (None: start one
    # here), and where Ray Train keeps the result every worker hands back (None: this machine's temp folder).
    cluster: bool = False
    workers: int = 2
    address: str | None = None
    storage: str | None = None
    init_from: str | None = None
    # What is left out of training (train.exclusions) and the cross-validation's export check (train.fold_export).
    exclude_flagged: str | None = None
    exclude_signers: list[str] = field(default_factory=list)
    export_check: str | None = None  # e.g. "f16,int8"; cross-validation only
    calibration: int = DEFAULT_CALIBRATION  # int8 calibration recordings per fold (training recordings only)
    # The last layers (train.models.Head): dense softmax, or a cosine head whose unit-length embedding the device
    # uses to reject unknown signs and to learn new words; margin > 0 trains it with CosFace (host.losses).
    head: str = "dense"
    embedding: int = 64
    margin: float = 0.0
    background: float | None = None  # the cosine head's virtual "none of these" class at this cosine
    model_choice: ModelChoice | None = None  # what --model auto chose and from what (set by resolve_model)

    def __post_init__(self) -> None:
        for name in ("epochs", "patience", "batch_size", "calibration"):
            if int(getattr(self, name)) < 1:
                raise TrainConfigError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if int(self.min_epochs) < 0:
            raise TrainConfigError(f"--min-epochs must be 0 or more, got {self.min_epochs}")
        if self.export_check and self.folds is None:
            raise TrainConfigError("--export-check scores each fold's exported model: it needs --folds (for one "
                                   "trained model use export-tflite on its run folder)")
        if not self.learning_rate > 0:
            raise TrainConfigError(f"--learning-rate must be positive, got {self.learning_rate}")
        if self.loss not in LOSSES:
            raise TrainConfigError(f"--loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        if not 0.0 < float(self.gce_q) <= 1.0:
            raise TrainConfigError(f"--gce-q must be in (0, 1], got {self.gce_q}")
        if self.strategy not in ("default", "mirrored"):
            raise TrainConfigError(f"--strategy must be default or mirrored, got {self.strategy!r}")
        if int(self.workers) < 1:
            raise TrainConfigError(f"--workers must be at least 1, got {self.workers}")
        if not self.cluster and (self.address is not None or self.storage is not None):
            raise TrainConfigError("--address and --storage go with --cluster")
        if self.cluster and self.strategy != "default":
            raise TrainConfigError("--cluster trains one model copy per Ray worker; it cannot be combined with "
                                   "--strategy mirrored")
        self.head_config  # an unknown head or a bad embedding size fails here
        if not 0.0 <= float(self.margin) < 1.0:
            raise TrainConfigError(f"--margin must be in [0, 1), got {self.margin}")
        if self.background is not None and self.head != "cosine":
            raise TrainConfigError("--background is the cosine head's virtual class: it needs --head cosine")
        if self.margin and (self.head != "cosine" or self.loss != "crossentropy"):
            raise TrainConfigError("--margin is the cosine head's CosFace margin: it needs --head cosine and --loss "
                                   "crossentropy")
        if self.model != AUTO:  # auto's sizes are checked once resolve_model knows the architecture
            self.sizes = resolve_sizes(self.model, self.sizes)

    @property
    def people_seed(self) -> int:
        """The seed that draws the split: ``split_seed``, else ``seed``."""
        return int(self.seed if self.split_seed is None else self.split_seed)

    @property
    def head_config(self) -> Head:
        try:
            return Head(self.head, int(self.embedding), background=self.background)
        except ModelError as err:
            raise TrainConfigError(f"--head/--embedding: {err}") from None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["augment"] = self.augment.to_dict()
        data["model_choice"] = self.model_choice.to_dict() if self.model_choice else None
        return data


@dataclass
class Loaded:
    """A dataset read once: its rows, every recording, the class names (sorted) and the spec.

    With ``stream`` the recordings are a :class:`RecordingStore` (read from
    disk on each access) and validation/test features come in batches
    (:meth:`validation`), so memory stays flat however many recordings there are.
    """

    dataset: Dataset
    rows: list[ManifestRow]
    recordings: Sequence[Recording]
    labels: list[str]
    spec: FeatureSpec
    stream: bool = False

    @property
    def y(self) -> np.ndarray:
        index = {label: i for i, label in enumerate(self.labels)}
        return np.array([index[r.label] for r in self.rows], dtype=np.int64)

    def features(self, indices: Sequence[int]) -> np.ndarray:
        """Un-augmented model input [n, T, F] of the given rows (what validation and test see)."""
        out = np.zeros((len(indices), self.spec.frames, self.spec.num_features), np.float32)
        for k, i in enumerate(indices):
            out[k] = self.spec.model_input(self.recordings[i].hands)
        return out

    def validation(self, indices: Sequence[int], batch_size: int) -> "np.ndarray | FeatureBatches":
        """What validation (or a test pass) reads: an array, or batches from disk when streaming."""
        return FeatureBatches(self, indices, batch_size) if self.stream else self.features(indices)


class RecordingStore(Sequence[Recording]):
    """A dataset's recordings, each read and trimmed to the sign when asked for.

    Only each recording's sign span (two integers) is kept after its first
    read, so later epochs cut without re-running the segmenter.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.spans: dict[int, tuple[int, int]] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        i = int(index)
        rec = self.dataset.load(i)
        if i not in self.spans:
            self.spans[i] = sign_span_of(rec)
        return trim_to_sign(rec, self.spans[i])


class HandsView(Sequence[HandSequence]):
    """The hands of chosen recordings, read lazily (the training part of a split, when streaming)."""

    def __init__(self, recordings: Sequence[Recording], indices: Sequence[int]) -> None:
        self.recordings, self.indices = recordings, list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        return self.recordings[self.indices[int(k)]].hands


class FeatureBatches(keras.utils.PyDataset):
    """Un-augmented model input of chosen rows, one batch at a time (validation and test when streaming)."""

    def __init__(self, loaded: Loaded, indices: Sequence[int], batch_size: int) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        self.loaded, self.indices, self.batch_size = loaded, list(indices), int(batch_size)
        self.y = loaded.y[self.indices] if self.indices else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return math.ceil(len(self.indices) / self.batch_size)

    def __getitem__(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        part = slice(batch * self.batch_size, (batch + 1) * self.batch_size)
        return self.loaded.features(self.indices[part]), self.y[part]


STREAM_CHECK = 100  # recordings a streaming load reads up front (the pose check): the rest is read when trained on


def load_dataset(folder: str | Path, spec: FeatureSpec = DEFAULT_SPEC, progress: bool = False,
                 stream: bool = False) -> Loaded:
    """Read, validate and trim to the sign every recording of a dataset folder (one clear error on the first
    bad one, or when the spec needs a body pose that no recording keeps).

    ``stream``: keep only the manifest in memory; recordings are read from disk when a batch needs them (a bad
    recording is then an error when it is reached, not up front).
    """
    ds = Dataset(folder)
    if stream:
        recs: Sequence[Recording] = RecordingStore(ds)
        checked = [recs[i] for i in range(min(len(ds), STREAM_CHECK))]
    else:
        recs = [trim_to_sign(ds.load(i)) for i in tqdm(range(len(ds)), desc="recordings", unit="rec",
                                                       disable=not progress, leave=False)]
        checked = list(recs)
    if POSE in spec.needs and all(rec.pose is None for rec in checked):
        raise DatasetError(f"{ds.folder}: feature spec {spec.id} needs a body pose, but no recording keeps one "
                           "(import it with sign-import from files with 'pose')")
    return Loaded(ds, list(ds.rows), recs, ds.labels, spec, stream)


def resolve_model(cfg: TrainConfig, loaded: Loaded) -> TrainConfig:
    """``cfg`` with ``--model auto`` replaced by the architecture ``train.model_choice`` picks for this dataset.

    The one place ``auto`` is resolved: right after the dataset is read,
    before anything is built from the config. Counts are the whole dataset's
    (before split and exclusions), so every fold gets the same architecture.
    A config with a named model is returned as it is.
    """
    if cfg.model != AUTO:
        return cfg
    choice = choose_model(len(loaded.labels), len(loaded.rows))
    try:
        sizes = resolve_sizes(choice.name, cfg.sizes)
    except ModelError as err:
        raise ModelError(f"{err}; --model auto chose {choice.name} ({choice.classes} classes, {choice.recordings} "
                         "recordings): name the model with --model to use its sizes") from None
    return dataclasses.replace(cfg, model=choice.name, sizes=sizes, model_choice=choice)


def class_weights(y: np.ndarray, num_classes: int) -> dict[int, float]:
    """'Balanced' weights n / (C * count): a rare class counts as much as a common one."""
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    present = counts > 0
    weights = np.ones(num_classes)
    weights[present] = len(y) / (present.sum() * counts[present])
    return {i: float(w) for i, w in enumerate(weights)}


class TrainSequence(keras.utils.PyDataset):
    """Training batches with a fresh augmented variant of every recording each epoch (not a 16x copy).

    Variant of sample i in epoch e is reproducible from (seed, e, i); the order
    is reshuffled each epoch. The epoch counter advances in ``on_epoch_begin``:
    Keras reads a couple of batches to learn the tensor shapes before training
    (and then calls ``on_epoch_end`` once), so counting ends would skip epoch 0,
    and those look-ahead batches are left out of ``applied``.

    ``shard=(k, n)``: worker k of n data-parallel workers takes every n-th
    sample of each batch, so the n workers together see exactly the batches
    (and augmented variants) one process would, and every worker has the same
    number of steps (a last batch smaller than n is shared round-robin).
    """

    def __init__(self, raws: Sequence[HandSequence], y: np.ndarray, spec: FeatureSpec, augmenter: Augmenter,
                 batch_size: int = 16, seed: int = 0, shard: tuple[int, int] = (0, 1)) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        if len(raws) != len(y) or not len(raws):
            raise ValueError(f"need one label per recording and at least one recording ({len(raws)}, {len(y)})")
        self.raws = raws if isinstance(raws, HandsView) else list(raws)  # a HandsView reads from disk per batch
        self.y = np.asarray(y, dtype=np.int64)
        self.spec = spec
        self.augmenter = augmenter
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.shard = (int(shard[0]), int(shard[1]))
        if not 0 <= self.shard[0] < self.shard[1]:
            raise ValueError(f"shard must be (k, n) with 0 <= k < n, got {shard}")
        self.epoch = 0
        self.applied: dict[str, int] = {}  # how often each augmentation was used (for the model card)
        self._training = False  # False while Keras peeks at batches before the first epoch
        self._order = self._shuffle()

    def _shuffle(self) -> np.ndarray:
        return np.random.default_rng([self.seed, self.epoch, 7]).permutation(len(self.raws))

    def __len__(self) -> int:
        return math.ceil(len(self.raws) / self.batch_size)

    def _batch_indices(self, batch: int) -> np.ndarray:
        """The samples of ``batch`` this sequence trains on (its shard's share of the batch)."""
        idx = self._order[batch * self.batch_size:(batch + 1) * self.batch_size]
        rank, size = self.shard
        if size > 1:
            idx = idx[rank::size] if len(idx) >= size else idx[[rank % len(idx)]]
        return idx

    @property
    def samples_per_epoch(self) -> int:
        """Samples trained on per epoch (all of them, or this shard's share), counted without reading any."""
        return sum(len(self._batch_indices(b)) for b in range(len(self)))

    def __getitem__(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self._batch_indices(batch)
        X = np.zeros((len(idx), self.spec.frames, self.spec.num_features), np.float32)
        for k, i in enumerate(idx):
            raw, applied = self.augmenter(self.raws[i], int(i), self.epoch)
            for name in (applied or ["none"]) if self._training else ():
                self.applied[name] = self.applied.get(name, 0) + 1
            X[k] = self.spec.model_input(raw)
        return X, self.y[idx]

    def on_epoch_begin(self) -> None:
        if self._training:
            self.epoch += 1
            self._order = self._shuffle()
        self._training = True


class EpochLine(keras.callbacks.Callback):
    """One compact line per epoch (loss, accuracy, validation, learning rate) through ``report``."""

    def __init__(self, report: Report, epochs: int, prefix: str = "") -> None:
        super().__init__()
        self.report = report
        self.epochs = epochs
        self.prefix = prefix
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.report(f"{self.prefix}epoch {epoch + 1:3d}/{self.epochs}  loss {logs.get('loss', float('nan')):.3f}  "
                    f"acc {logs.get('accuracy', float('nan')):.3f}  val_loss {logs.get('val_loss', float('nan')):.3f}  "
                    f"val_acc {logs.get('val_accuracy', float('nan')):.3f}  lr {lr:.1e}  "
                    f"{time.perf_counter() - self._start:.1f}s")


@dataclass
class FitResult:
    """The trained model (best validation epoch restored) and how it got there."""

    model: keras.Model
    history: dict[str, list[float]]
    best_epoch: int
    epochs_run: int
    seconds: float
    augmentations: dict[str, int] = field(default_factory=dict)
    steps_per_epoch: int = 0
    trained_with: dict[str, Any] = field(default_factory=lambda: {"engine": "local", "workers": 1})

    @property
    def steps_per_second(self) -> float:
        """Optimizer steps (global batches) per second over the whole fit, validation included."""
        return self.epochs_run * self.steps_per_epoch / self.seconds if self.seconds > 0 else 0.0


def _strategy(name: str) -> Any:
    if name == "mirrored":
        import tensorflow as tf

        return tf.distribute.MirroredStrategy()
    return None


def load_run(run_dir: str | Path) -> tuple[keras.Model, ModelCard]:
    """A previous run's model and card, for ``--init-from``; a missing or broken one is a ModelError."""
    run = RunFolder(run_dir)
    run.check_exists()
    card = run.card()
    return run.load_model(), card


def check_init_run(card: ModelCard, labels: Sequence[str], spec: FeatureSpec, model_name: str,
                   run_dir: str | Path) -> None:
    """The previous run must have the same classes in the same order, spec and architecture."""
    theirs = card.labels
    if theirs != list(labels):
        only_run = sorted(set(theirs) - set(labels))
        only_data = sorted(set(labels) - set(theirs))
        detail = "; ".join(part for part in (
            f"only in the run: {', '.join(only_run)}" if only_run else "",
            f"only in the dataset: {', '.join(only_data)}" if only_data else "",
        ) if part) or "same classes in a different order"
        raise ModelError(f"--init-from {run_dir}: its labels differ from the dataset's ({detail})")
    check_same(spec, card.spec, f"--init-from {run_dir}")
    if card.model_name != model_name:
        raise ModelError(f"--init-from {run_dir}: it is a {card.model_name!r} model, not {model_name!r} (pass --model "
                         f"{card.model_name})")


def new_model(cfg: TrainConfig, spec: FeatureSpec, num_classes: int) -> keras.Model:
    """A fresh model, or the ``--init-from`` run's weights in the same architecture."""
    model = build_model(cfg.model, spec, num_classes, head=cfg.head_config, **cfg.sizes)
    if cfg.init_from:
        previous, _ = load_run(cfg.init_from)
        try:
            model.set_weights(previous.get_weights())
        except ValueError as err:
            raise ModelError(f"--init-from {cfg.init_from}: its weights do not fit a {cfg.model} model with "
                             f"sizes {cfg.sizes} ({err})") from err
    return model


def fit(cfg: TrainConfig, spec: FeatureSpec, num_classes: int, train: Sequence[HandSequence] | np.ndarray,
        y_train: np.ndarray, X_val: "np.ndarray | FeatureBatches", y_val: np.ndarray, report: Report | None = None,
        prefix: str = "") -> FitResult:
    """Train one model, early-stopping on plain (never augmented) validation features.

    ``train`` is either raw recordings, augmented afresh each epoch by
    ``TrainSequence`` (the signedge way), or a ready feature array [n, T, F]
    used as it is (only the leakage audit's reproduction of the seed does that).
    """
    keras.utils.set_random_seed(cfg.seed)
    report = report or log.info
    if isinstance(train, np.ndarray):
        sequence = None
        fit_data: dict[str, Any] = {"x": train, "y": y_train, "batch_size": cfg.batch_size, "shuffle": True}
    else:
        sequence = TrainSequence(train, y_train, spec, Augmenter(cfg.augment, seed=cfg.seed), cfg.batch_size,
                                 cfg.seed)
        fit_data = {"x": sequence}
    strategy = _strategy(cfg.strategy)
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        model = compiled_model(cfg, spec, num_classes)
    weights = class_weights(y_train, num_classes) if cfg.class_weights else None
    start = time.perf_counter()
    validation = X_val if isinstance(X_val, FeatureBatches) else (X_val, y_val)
    history = model.fit(**fit_data, validation_data=validation, epochs=cfg.epochs,
                        callbacks=fit_callbacks(cfg, report, prefix), class_weight=weights, verbose=0)
    steps = len(sequence) if sequence is not None else math.ceil(len(train) / cfg.batch_size)
    return fit_result(model, history.history, cfg, time.perf_counter() - start, steps,
                      dict(sorted(sequence.applied.items())) if sequence else {})


def compiled_model(cfg: TrainConfig, spec: FeatureSpec, num_classes: int,
                   optimizer: keras.optimizers.Optimizer | None = None) -> keras.Model:
    """A new (or ``--init-from``) model compiled with the run's loss; Adam at the run's rate unless given one."""
    model = new_model(cfg, spec, num_classes)
    head = cfg.head_config
    loss = make_loss(cfg.loss, cfg.gce_q, cfg.margin, head.scale, cosine=head.kind == "cosine")
    model.compile(optimizer=optimizer or keras.optimizers.Adam(cfg.learning_rate), loss=loss, metrics=["accuracy"])
    return model


def fit_callbacks(cfg: TrainConfig, report: Report, prefix: str = "") -> list[keras.callbacks.Callback]:
    """Learning-rate halving and early stopping on validation loss (best epoch restored), the epoch line."""
    return [
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=max(2, cfg.patience // 3),
                                          min_lr=1e-5),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience, restore_best_weights=True,
                                      start_from_epoch=min(cfg.min_epochs, cfg.epochs - 1)),
        EpochLine(report, cfg.epochs, prefix),
        LateDropoutSwitch(),  # models with host.layers.LateDropout switch it on at its epoch; others: nothing
    ]


def fit_result(model: keras.Model, history: dict[str, list[float]], cfg: TrainConfig, seconds: float,
               steps_per_epoch: int, augmentations: dict[str, int],
               trained_with: dict[str, Any] | None = None) -> FitResult:
    """What a fit returns, with the epoch early stopping restored (never one before ``min_epochs``)."""
    hist = {k: [float(v) for v in vals] for k, vals in history.items()}
    val_loss = hist.get("val_loss", [0.0])
    first = min(cfg.min_epochs, cfg.epochs - 1, len(val_loss) - 1)  # the epochs early stopping could restore
    return FitResult(model, hist, best_epoch=first + int(np.argmin(val_loss[first:])) + 1, epochs_run=len(val_loss),
                     seconds=seconds, augmentations=augmentations, steps_per_epoch=steps_per_epoch,
                     trained_with=trained_with or {"engine": "local", "workers": 1})


def fit_split(loaded: Loaded, split: Split, cfg: TrainConfig, report: Report | None = None,
              prefix: str = "") -> FitResult:
    """Train on a split's training part, early-stopping on its validation part (never on test).

    With ``cfg.cluster`` the same training runs data-parallel on Ray workers (``train.cluster_fit``).
    """
    if cfg.cluster:
        from train.cluster_fit import fit_split_on_cluster

        return fit_split_on_cluster(loaded, split, cfg, report or log.info, prefix)
    y = loaded.y
    raws = (HandsView(loaded.recordings, split.train) if loaded.stream
            else [loaded.recordings[i].hands for i in split.train])
    return fit(cfg, loaded.spec, len(loaded.labels), raws, y[split.train],
               loaded.validation(split.val, max(cfg.batch_size, 64)), y[split.val], report=report, prefix=prefix)

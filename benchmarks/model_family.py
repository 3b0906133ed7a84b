"""The model family side by side: parameters, file size and ms per sign of every architecture of ``train.models``.

Which architecture a vocabulary can afford on the device is a question of
size and speed, and neither depends on what the weights are: they depend on
the architecture, the class count and the input [T, F]. So each model is
built untrained (seeded) for ``classes`` classes and the feature spec,
rebuilt for export exactly as ``export-tflite`` does it (``export.rebuild``:
batch 1, loops unrolled), converted to each format's ``.tflite`` (int8
calibrated on random inputs: the calibration moves the quantisation scales,
not the op graph or the byte count), checked for builtin ops only
(``export.ops``), and timed through the device's opener
``edge_runtime.model_file.open_model``: one sign = one ``run`` of [1, T, F]
(input quantisation, invoke, output dequantisation), p50 and p95 over
``calls`` calls after ``warmup`` untimed ones, at each thread count.

Each architecture is also built with the cosine head (``train.models.Head``:
Dense -> unit-length ``embedding`` -> cosine softmax) and exported, as
``export-tflite`` does, with both outputs (``export.rebuild.with_embedding_output``),
in int8: its ms per sign is timed interleaved, call by call, with the
dense-head int8 of the same architecture, so that the head's own compute
(``head_extra_ms``: the median per-call difference) is measured in one run on
a shared, noisy machine. What the device then does with the embedding (the
prototype match) is the classifier table's open-set column (``benchmarks.bench``).

Conversion needs TensorFlow, so this is a host table (``sign-bench
--family-only``); the files are timed in this same process after all of them
are converted (TensorFlow sits idle meanwhile). Accuracy is not here: it needs
a trained model and a dataset (``sign-train``, ``sign-accuracy``).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from benchmarks.bench import Timing, paired_difference, time_interleaved
from edge_runtime.errors import SignedgeError
from edge_runtime.model_file import open_model
from edge_runtime.spec import DEFAULT_SPEC, FeatureSpec

log = logging.getLogger(__name__)

FAMILY_FORMATS = ("f32", "int8")
COSINE_FORMAT = "int8"  # the cosine-head variant is measured in the format the device runs
DEFAULT_CLASSES = 21  # the shared 21-sign set: the vocabulary the larger model is for
DEFAULT_EMBEDDING = 64  # sign-train --embedding's default


@dataclass
class FamilyConfig:
    """What the model-family table measures; ``sign-bench``'s family flags mirror these fields."""

    classes: int = DEFAULT_CLASSES
    spec: FeatureSpec = field(default_factory=lambda: DEFAULT_SPEC)
    models: tuple[str, ...] = ()  # () = every model of train.models.MODELS, in its order
    sizes: dict[str, dict[str, Any]] = field(default_factory=dict)  # per-model size overrides (default: defaults)
    threads: list[int] = field(default_factory=lambda: [1])
    calls: int = 100
    warmup: int = 10
    calibration: int = 32  # random inputs that calibrate int8 (they set scales, not size or speed)
    cosine: tuple[str, ...] | None = None  # models also measured with the cosine head (None: every measured one)
    embedding: int = DEFAULT_EMBEDDING  # the cosine head's embedding size
    seed: int = 0
    progress: bool = False

    def __post_init__(self) -> None:
        if self.classes < 2:
            raise SignedgeError(f"--family-classes must be at least 2, got {self.classes}")
        if not self.threads or any(t < 1 for t in self.threads):
            raise SignedgeError(f"--threads must be positive whole numbers, got {self.threads}")
        if self.calls < 1 or self.warmup < 0 or self.calibration < 1:
            raise SignedgeError(f"calls must be >= 1, warm-up >= 0 and calibration >= 1 (got {self.calls}, "
                                f"{self.warmup}, {self.calibration})")


@dataclass
class FamilyRow:
    """One architecture in one format: its parameters, file size, op check and ms per sign per thread count."""

    model: str
    format: str
    params: int
    sizes: dict[str, Any]
    status: str = "ok"  # ok | failed
    note: str = ""
    size_bytes: int = 0
    forbidden_ops: list[str] = field(default_factory=list)
    latency: dict[int, dict[str, float]] = field(default_factory=dict)  # threads -> Timing.summary()
    head: str = "dense"  # dense | cosine (two outputs: probabilities and embedding)
    # cosine rows: threads -> median per-call ms over the dense-head file of the same model and format
    head_extra_ms: dict[int, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def filename(self) -> str:
        return f"{self.model}-{self.format}.tflite" if self.head == "dense" else \
            f"{self.model}-{self.head}-{self.format}.tflite"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["latency"] = {str(k): v for k, v in self.latency.items()}
        data["head_extra_ms"] = {str(k): v for k, v in self.head_extra_ms.items()}
        return data


@dataclass
class FamilyReport:
    classes: int
    spec: dict[str, Any]
    threads: list[int]
    calls: int
    warmup: int
    rows: list[FamilyRow]

    def row(self, model: str, fmt: str, head: str = "dense") -> FamilyRow | None:
        return next((r for r in self.rows if r.model == model and r.format == fmt and r.head == head), None)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "rows"}
        data["rows"] = [r.to_dict() for r in self.rows]
        return data


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


def _write(row: FamilyRow, saved_model_dir: Path, X: np.ndarray, config: FamilyConfig, folder: Path) -> None:
    """Convert one row's file from the SavedModel and check its ops; a converter failure fails the row."""
    from export.convert import convert_tflite
    from export.formats import BY_NAME
    from export.ops import forbidden_ops, op_counts

    path = folder / row.filename
    try:
        path.write_bytes(convert_tflite(saved_model_dir, BY_NAME[row.format], calibration=X[:config.calibration]))
    except SignedgeError as err:
        row.status, row.note = "failed", _first_line(err)
        return
    row.size_bytes = path.stat().st_size
    row.forbidden_ops = forbidden_ops(op_counts(path))
    if row.forbidden_ops:
        row.note = f"not builtin-only: {', '.join(row.forbidden_ops)}"


def _convert(name: str, config: FamilyConfig, X: np.ndarray, folder: Path) -> list[FamilyRow]:
    """Build ``name`` untrained, rebuild it for export, write one ``.tflite`` per format; rows without timings.

    With the cosine head too (``config.cosine``): one more row, the same
    architecture ending in the embedding and cosine softmax, exported with both
    outputs exactly as ``export.produce.prepare`` does.
    """
    import keras

    from export.convert import saved_model
    from export.rebuild import static_clone, with_embedding_output
    from train.models import Head, build_model, resolve_sizes

    sizes = resolve_sizes(name, config.sizes.get(name, {}))
    heads = ["dense"] + (["cosine"] if config.cosine is None or name in config.cosine else [])
    rows = []
    for head in heads:
        keras.utils.set_random_seed(config.seed)
        model = build_model(name, config.spec, config.classes, head=Head(head, config.embedding), **sizes)
        formats = FAMILY_FORMATS if head == "dense" else (COSINE_FORMAT,)
        head_rows = [FamilyRow(name, fmt, int(model.count_params()), sizes, head=head) for fmt in formats]
        sm = saved_model(with_embedding_output(static_clone(model, config.spec)), folder / f"{name}-{head}")
        for row in head_rows:
            _write(row, sm, X, config, folder)
        rows += head_rows
        keras.backend.clear_session()
    return rows


def _groups(rows: list[FamilyRow]) -> list[list[FamilyRow]]:
    """Rows timed together: one architecture's files of one format (the dense and the cosine head's int8)."""
    groups: dict[tuple[str, str], list[FamilyRow]] = {}
    for row in rows:
        groups.setdefault((row.model, row.format), []).append(row)
    return list(groups.values())


def _open_calls(rows: list[FamilyRow], folder: Path, threads: int) -> list[tuple[FamilyRow, Callable]]:
    """(row, one-sign call) for each row whose file opens; a file that does not fails its row."""
    calls = []
    for row in rows:
        try:
            runner = open_model(folder / row.filename, threads=threads)
        except (SignedgeError, ValueError, RuntimeError) as err:
            row.status, row.note = "failed", _first_line(err)
            continue
        calls.append((row, lambda x, runner=runner: runner.run(x[None])))
    return calls


def _head_extra(timed: dict[str, tuple[FamilyRow, Timing]], threads: int) -> None:
    """The cosine row's extra ms per sign over the dense row timed alongside it (nothing when either is missing)."""
    if "dense" in timed and "cosine" in timed:
        row, timing = timed["cosine"]
        row.head_extra_ms[threads] = paired_difference(timed["dense"][1], timing)


def _time(rows: list[FamilyRow], folder: Path, X: np.ndarray, config: FamilyConfig) -> None:
    """ms per sign of each file at each thread count, through the device's opener, the files interleaved."""
    for threads in config.threads:
        calls = _open_calls([r for r in rows if r.ok], folder, threads)
        if not calls:
            return
        try:
            timings = time_interleaved([call for _, call in calls], list(X), config.calls, config.warmup)
        except (SignedgeError, ValueError, RuntimeError) as err:
            for row, _ in calls:
                row.status, row.note = "failed", _first_line(err)
            return
        for (row, _), timing in zip(calls, timings):
            row.latency[threads] = timing.summary()
        _head_extra({row.head: (row, timing) for (row, _), timing in zip(calls, timings)}, threads)


def measure_family(config: FamilyConfig) -> FamilyReport:
    """Every architecture (untrained) in f32 and int8, and with the cosine head in int8: parameters, size,
    builtin ops, ms per sign, and what the cosine head adds."""
    from tqdm import tqdm

    from train.models import MODELS

    names = list(config.models or MODELS)
    unknown = [n for n in names + list(config.cosine or ()) if n not in MODELS]
    if unknown:
        raise SignedgeError(f"unknown model {unknown[0]!r} (known: {', '.join(MODELS)})")
    rng = np.random.default_rng(config.seed)
    X = rng.normal(size=(max(config.calibration, 16), config.spec.frames, config.spec.num_features))
    X = X.astype(np.float32)
    rows: list[FamilyRow] = []
    with tempfile.TemporaryDirectory(prefix="signedge-family-") as tmp:
        folder = Path(tmp)
        for name in tqdm(names, desc="convert models", unit="model", disable=not config.progress, leave=False):
            rows += _convert(name, config, X, folder)
        for group in tqdm(_groups([r for r in rows if r.ok]), desc="time models", unit="group",
                          disable=not config.progress, leave=False):
            _time(group, folder, X, config)
    return FamilyReport(config.classes, config.spec.to_dict(), list(config.threads), config.calls, config.warmup,
                        rows)

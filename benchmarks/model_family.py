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
from typing import Any

import numpy as np

from benchmarks.bench import time_calls
from edge_runtime.errors import SignedgeError
from edge_runtime.model_file import open_model
from edge_runtime.spec import DEFAULT_SPEC, FeatureSpec

log = logging.getLogger(__name__)

FAMILY_FORMATS = ("f32", "int8")
DEFAULT_CLASSES = 21  # the shared 21-sign set: the vocabulary the larger model is for


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

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["latency"] = {str(k): v for k, v in self.latency.items()}
        return data


@dataclass
class FamilyReport:
    classes: int
    spec: dict[str, Any]
    threads: list[int]
    calls: int
    warmup: int
    rows: list[FamilyRow]

    def row(self, model: str, fmt: str) -> FamilyRow | None:
        return next((r for r in self.rows if r.model == model and r.format == fmt), None)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "rows"}
        data["rows"] = [r.to_dict() for r in self.rows]
        return data


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


def _convert(name: str, config: FamilyConfig, X: np.ndarray, folder: Path) -> list[FamilyRow]:
    """Build ``name`` untrained, rebuild it for export, write one ``.tflite`` per format; rows without timings."""
    import keras

    from export.convert import convert_tflite, saved_model
    from export.formats import BY_NAME
    from export.ops import forbidden_ops, op_counts
    from export.rebuild import static_clone
    from train.models import build_model, resolve_sizes

    keras.utils.set_random_seed(config.seed)
    sizes = resolve_sizes(name, config.sizes.get(name, {}))
    model = build_model(name, config.spec, config.classes, **sizes)
    rows = [FamilyRow(name, fmt, int(model.count_params()), sizes) for fmt in FAMILY_FORMATS]
    sm = saved_model(static_clone(model, config.spec), folder / name)
    for row in rows:
        path = folder / f"{name}-{row.format}.tflite"
        try:
            path.write_bytes(convert_tflite(sm, BY_NAME[row.format], calibration=X[:config.calibration]))
        except SignedgeError as err:
            row.status, row.note = "failed", _first_line(err)
            continue
        row.size_bytes = path.stat().st_size
        row.forbidden_ops = forbidden_ops(op_counts(path))
        if row.forbidden_ops:
            row.note = f"not builtin-only: {', '.join(row.forbidden_ops)}"
    keras.backend.clear_session()
    return rows


def _time(row: FamilyRow, path: Path, X: np.ndarray, config: FamilyConfig) -> None:
    """ms per sign of one file at each thread count, through the device's opener."""
    for threads in config.threads:
        try:
            runner = open_model(path, threads=threads)
            timing = time_calls(lambda x: runner.run(x[None]), list(X), config.calls, config.warmup)
        except (SignedgeError, ValueError, RuntimeError) as err:
            row.status, row.note = "failed", _first_line(err)
            return
        row.latency[threads] = timing.summary()


def measure_family(config: FamilyConfig) -> FamilyReport:
    """Every architecture (untrained) in f32 and int8: parameters, size, builtin ops, ms per sign."""
    from tqdm import tqdm

    from train.models import MODELS

    names = list(config.models or MODELS)
    unknown = [n for n in names if n not in MODELS]
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
        for row in tqdm([r for r in rows if r.ok], desc="time models", unit="file", disable=not config.progress,
                        leave=False):
            _time(row, folder / f"{row.model}-{row.format}.tflite", X, config)
    return FamilyReport(config.classes, config.spec.to_dict(), list(config.threads), config.calls, config.warmup,
                        rows)

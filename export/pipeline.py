"""The whole job of ``export-tflite``: check the run, convert each format, verify each file, write the report.

Order matters: every argument and input is checked before the first conversion
(unknown format, unwritable folder, a run without a model or without a softmax
over its labels cost one line and write nothing); then each format is made by
``export.produce``: converted with its description embedded, written
atomically, verified with the device's runner, and checked as the device uses it.
A format that fails to convert or fails its gate is reported, the others still
run, and the command exits non-zero.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.errors import DatasetError
from edge_runtime.files import write_json
from edge_runtime.model_info import ModelInfo, sidecar_path
from edge_runtime.openset import OpenSet
from export.calibration import calibration_sample
from export.errors import ExportError
from export.formats import DEFAULT_CALIBRATION, DEFAULT_FORMATS, Format, parse_formats
from export.produce import Conversion, prepare, produce
from export.verify import Verification
from host.native_stderr import import_tensorflow
from host.run_folder import RunFolder

log = logging.getLogger(__name__)

REPORT_FILE = "export_report.json"


@dataclass
class ExportConfig:
    """What ``export-tflite`` does; its flags mirror these fields."""

    run_dir: Path
    formats: str = DEFAULT_FORMATS
    calibration: int = DEFAULT_CALIBRATION  # training recordings for int8 calibration
    int8_io: bool = False  # int8 input/output tensors instead of float
    out: Path | None = None  # default: <run_dir>/export
    threads: int = 1  # interpreter threads during verification (and its timing)
    min_agreement: float | None = None  # override every format's agreement gate
    dataset: Path | None = None  # override the model card's dataset path
    progress: bool = False
    quiet_converter: bool = True  # keep the C++ converter's stderr off the terminal

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        self.out = Path(self.out) if self.out is not None else RunFolder(self.run_dir).export_dir
        if self.calibration < 1:
            raise ExportError(f"--calibration must be at least 1 recording, got {self.calibration}")
        if self.threads < 1:
            raise ExportError(f"--threads must be at least 1, got {self.threads}")
        if self.min_agreement is not None and not 0.0 <= self.min_agreement <= 1.0:
            raise ExportError(f"--min-agreement must be between 0 and 1, got {self.min_agreement}")


@dataclass
class ExportReport:
    """What was written and how each file measured up; saved as ``export_report.json``."""

    run: str
    out: str
    created: str
    labels: list[str]
    spec: dict[str, Any]
    source_model_sha256: str
    measured_on: str
    keras_accuracy: float
    rebuild_max_abs_diff: float
    calibration: dict[str, Any]
    rows: list[Verification] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return bool(self.rows) and all(r.passed for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "rows"}
        data["passed"] = self.passed
        data["formats"] = [r.to_dict() for r in self.rows]
        return data


def check_writable(folder: Path) -> None:
    """Create ``folder`` and prove a file can be written there, before hours of work depend on it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ExportError(f"cannot write to output folder {folder}: {err.strerror or err}") from err


def _versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    versions = {"tensorflow": tf.__version__, "keras": keras.__version__, "python": platform.python_version()}
    for module in ("tf2onnx", "onnx", "onnxruntime", "ai_edge_litert"):
        try:
            versions[module] = __import__(module).__version__
        except (ImportError, AttributeError):
            pass
    return versions


def _measured_on(run: Any, n: int) -> str:
    """What the figures were measured on, in the trainer's own words when its card has them."""
    if run.card.measured_on:
        return run.card.measured_on
    return f"held-out test split of the run: {n} recordings, never used for training or calibration"


def _remove_stale(path: Path) -> None:
    """A format that failed this time must not leave last time's file looking current."""
    for stale in (path, sidecar_path(path)):
        if stale.exists():
            log.warning("removing %s from an earlier export (this export of it failed)", stale)
            stale.unlink()


def _openset(run: Any, progress: bool) -> OpenSet | None:
    """The class prototypes (mean TRAINING embeddings) and the open-set threshold, chosen on the run's VALIDATION
    split (never its test split); None for a model whose embedding export cannot take (no softmax layer named
    ``probabilities``)."""
    from edge_runtime.model_file import PROBABILITIES
    from host.features import load_features
    from host.openset import openset_block

    if PROBABILITIES not in {layer.name for layer in run.model.layers}:
        return None
    train, val = run.split("train"), run.split("val")
    if not val or not train:
        log.warning("%s: the run's training or validation split is empty, so its files get no class prototypes "
                    "and no open-set threshold (the device then reports every sign as a trained word, and "
                    "sign-enroll refuses the model)", run.folder)
        return None
    X_train, y_train = load_features(run.dataset, train, run.spec, run.labels, progress=progress)
    X_val, _ = load_features(run.dataset, val, run.spec, run.labels, progress=progress)
    block = openset_block(run.model, X_train, y_train, X_val, str(run.card.data.get("split", {}).get("mode", "?")))
    log.info("open-set threshold %.4f (%s)", block.threshold, block.rule)
    return block


def _description(run: Any, fmt: Format, calibration: dict[str, Any], versions: dict[str, str],
                 openset: OpenSet | None = None) -> ModelInfo:
    """What the file says about itself (embedded in it): labels, spec, provenance; the file holds its own tensors.

    The verification figures are not in it (they are measured on the very bytes
    that carry it): they are in the export report.
    """
    info = run.dataset_info()
    model = run.card.model
    return ModelInfo(
        format=fmt.name, labels=list(run.labels), spec=run.spec,
        source_model_sha256=run.model_sha256,
        landmark_backend=str(info.get("landmark_backend", "")),
        landmark_model_sha256=str(info.get("landmark_model_sha256", "")),
        extra={
            "quantisation": fmt.quantisation,
            "calibration": calibration if fmt.needs_calibration else None,
            "model": model,
            "synthetic_data": bool(info.get("synthetic", False)),
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": versions,
        },
        openset=openset,
    )


def _held_out(run: Any, progress: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Test-split features, labels and the trained Keras model's probabilities (checked to be a softmax)."""
    from export.source import check_softmax
    from host.features import load_features

    test_files = run.split("test")
    if not test_files:
        raise DatasetError(f"{run.folder}: the run's test split is empty; there is nothing held out to verify on")
    X, y = load_features(run.dataset, test_files, run.spec, run.labels, progress=progress)
    reference = np.asarray(run.model.predict(X, batch_size=32, verbose=0), dtype=np.float32)
    check_softmax(reference, run.labels, str(run.model_path))
    return X, y, reference


def _calibration(run: Any, formats: list[Format], config: ExportConfig) -> tuple[np.ndarray | None, dict[str, Any]]:
    """Un-augmented features of up to ``config.calibration`` TRAINING recordings, when a format needs them."""
    from host.features import load_features
    from host.run_folder import CARD_FILE

    needing = [f.name for f in formats if f.needs_calibration]
    if not needing:
        return None, {}
    train = run.split("train")
    if not train:
        raise DatasetError(f"{run.run_folder.file(CARD_FILE)}: the training split is empty; {', '.join(needing)} "
                           "needs training recordings to calibrate on")
    files = calibration_sample(train, config.calibration, seed=run.card.split_seed)
    if len(files) < config.calibration:
        log.warning("int8 calibration: the training split has only %d recordings (asked for %d)", len(files),
                    config.calibration)
    X_cal, _ = load_features(run.dataset, files, run.spec, run.labels, progress=config.progress)
    return X_cal, {"split": "train", "recordings": len(files), "augmented": False}


def _export_one(fmt: Format, out: Path, run: Any, conversion: Conversion, held_out: tuple[np.ndarray, ...],
                calibration: dict[str, Any], config: ExportConfig, versions: dict[str, str],
                openset: OpenSet | None) -> Verification:
    """One row of the report: the file made by ``export.produce``, or why it could not be made."""
    path = out / fmt.filename
    start = time.perf_counter()
    try:
        made = produce(fmt, path, conversion, _description(run, fmt, calibration, versions, openset), *held_out,
                       threads=config.threads, min_agreement=config.min_agreement, progress=config.progress)
    except ExportError as err:
        log.error("%s", err)
        _remove_stale(path)
        return Verification(fmt.name, "", 0, round(time.perf_counter() - start, 2), runtime=fmt.runtime,
                            gate=fmt.gate_text(config.min_agreement), problems=[str(err)])
    return made.row


def export_run(config: ExportConfig) -> ExportReport:
    """Export ``config.run_dir`` to every requested format, verify each file, write the report."""
    formats = parse_formats(config.formats)
    out = config.out if config.out is not None else RunFolder(config.run_dir).export_dir
    import_tensorflow(verbose=0 if config.quiet_converter else 1)

    from export.source import load_run

    # Every input is checked before the output folder is touched: a bad run creates nothing.
    run = load_run(config.run_dir, config.dataset)
    X, y, reference = _held_out(run, config.progress)
    X_cal, calibration = _calibration(run, formats, config)
    openset = _openset(run, config.progress)
    check_writable(out)
    versions = _versions()
    with prepare(run.model, run.spec, formats, X, reference, X_cal, config.int8_io,
                 quiet=config.quiet_converter) as conversion:
        report = ExportReport(
            run=str(run.folder), out=str(out),
            created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            labels=list(run.labels), spec=run.spec.to_dict(), source_model_sha256=run.model_sha256,
            measured_on=_measured_on(run, len(X)), keras_accuracy=float(np.mean(reference.argmax(1) == y)),
            rebuild_max_abs_diff=conversion.parity, calibration=calibration, versions=versions)
        for fmt in formats:
            report.rows.append(_export_one(fmt, out, run, conversion, (X, y, reference), calibration, config,
                                           versions, openset))
    write_json(out / REPORT_FILE, report.to_dict())
    return report

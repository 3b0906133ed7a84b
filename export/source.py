"""Read a trained run folder (``model.keras``, ``labels.json``, ``model_card.json``) and check it can be exported.

Everything is checked before any conversion starts, so a bad run folder costs
one line of error and no files: the model must load, take ``[batch, T, F]`` of
the card's feature spec, and end in a softmax over exactly the labels.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.errors import DatasetError, ModelError
from edge_runtime.files import sha256_file
from edge_runtime.spec import FeatureSpec

log = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
LABELS_FILE = "labels.json"
CARD_FILE = "model_card.json"
_SUM_TOLERANCE = 1e-3  # float32 softmax rows sum to 1 within ~1e-6


@dataclass
class TrainedRun:
    """A run folder, loaded: the Keras model and what its card says about it."""

    folder: Path
    model: Any  # keras.Model (Keras is imported only when a run is loaded)
    labels: list[str]
    card: dict[str, Any]
    spec: FeatureSpec
    dataset: Path
    model_sha256: str

    @property
    def model_path(self) -> Path:
        return self.folder / MODEL_FILE

    def split(self, part: str) -> list[str]:
        """The manifest files of ``part`` (train / val / test) as the card recorded them."""
        files = self.card.get("split", {}).get(part, [])
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise ModelError(f"{self.folder / CARD_FILE}: split.{part} is not a list of manifest file names")
        return list(files)

    def dataset_info(self) -> dict[str, Any]:
        info = self.card.get("dataset", {}).get("info", {})
        return info if isinstance(info, dict) else {}


def read_run_json(path: Path, what: str) -> Any:
    """A JSON file of a run folder, or one ModelError line saying which and why."""
    if not path.is_file():
        raise ModelError(f"{path.parent}: no {path.name} ({what}; is this a run folder written by sign-train?)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelError(f"{path}: not valid JSON ({err})") from err


def _read_labels(path: Path) -> list[str]:
    labels = read_run_json(path, "the class names in output order")
    if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
        raise ModelError(f"{path}: must be a JSON list of non-empty class names")
    if len(labels) < 2:
        raise ModelError(f"{path}: lists {len(labels)} class(es); a classifier needs at least 2")
    if len(set(labels)) != len(labels):
        raise ModelError(f"{path}: a class name appears twice")
    return labels


def _register_custom_layers() -> None:
    """``train.layers`` registers the project's custom layers; a host without it can still load plain models."""
    try:
        importlib.import_module("train.layers")
    except ModuleNotFoundError as err:
        if err.name not in ("train", "train.layers"):
            raise
        log.debug("train.layers not found; loading without the project's custom layers")


def _load_keras(path: Path) -> Any:
    import keras

    _register_custom_layers()
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as err:  # Keras raises ValueError, TypeError, OSError, zipfile errors... for a bad file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelError(f"{path}: cannot load the Keras model ({type(err).__name__}: {first[:300]})") from err


def _check_io(model: Any, spec: FeatureSpec, labels: Sequence[str], path: Path) -> None:
    """One input [batch, T, F] of the spec and one output [batch, len(labels)]."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(f"{path}: export needs one input and one output, the model has "
                         f"{len(model.inputs)} and {len(model.outputs)}")
    in_shape = tuple(model.inputs[0].shape)
    want = (spec.frames, spec.num_features)
    if len(in_shape) != 3 or tuple(in_shape[1:]) != want:
        raise ModelError(f"{path}: input shape {list(in_shape)} does not match the card's feature spec "
                         f"{spec.id} (expected [batch, {want[0]}, {want[1]}])")
    out_shape = tuple(model.outputs[0].shape)
    if len(out_shape) != 2 or out_shape[1] != len(labels):
        raise ModelError(f"{path}: output shape {list(out_shape)} is not [batch, {len(labels)}]: the model "
                         f"must end in a softmax over the {len(labels)} labels of {LABELS_FILE}")


def check_softmax(probs: np.ndarray, labels: Sequence[str], where: str) -> None:
    """Outputs must be probabilities over the labels: non-negative rows that sum to 1."""
    if probs.ndim != 2 or probs.shape[1] != len(labels):
        raise ModelError(f"{where}: output shape {list(probs.shape)} is not [n, {len(labels)}]")
    sums = probs.sum(axis=1)
    if not np.isfinite(probs).all():
        raise ModelError(f"{where}: the model outputs NaN or infinity on the held-out recordings")
    if (probs < 0).any() or np.abs(sums - 1.0).max() > _SUM_TOLERANCE:
        raise ModelError(f"{where}: outputs are not a softmax (row sums {sums.min():.3f}..{sums.max():.3f}); "
                         "end the model with Dense(classes, activation='softmax')")


def load_run(folder: str | Path, dataset: str | Path | None = None) -> TrainedRun:
    """Load and check a run folder; ``dataset`` overrides the card's dataset path (a moved dataset)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelError(f"{folder}: run folder not found")
    model_path = folder / MODEL_FILE
    if not model_path.is_file():
        others = sorted(p.name for p in folder.glob("*.h5")) + sorted(p.name for p in folder.glob("*.keras"))
        hint = f" (found {', '.join(others)}; export reads only {MODEL_FILE})" if others else \
            " (train one with sign-train)"
        raise ModelError(f"{folder}: no {MODEL_FILE}{hint}")
    labels = _read_labels(folder / LABELS_FILE)
    card = read_run_json(folder / CARD_FILE, "the model card")
    if not isinstance(card, dict):
        raise ModelError(f"{folder / CARD_FILE}: not a model card (expected a JSON object)")
    if "spec" not in card:
        raise ModelError(f"{folder / CARD_FILE}: no feature spec ('spec')")
    spec = FeatureSpec.from_dict(card["spec"])
    if "labels" in card and list(card["labels"]) != labels:
        raise ModelError(f"{folder}: {CARD_FILE} and {LABELS_FILE} list different labels")
    data_path = Path(dataset) if dataset is not None else Path(str(card.get("dataset", {}).get("path", "")))
    if not str(data_path) or not data_path.is_dir():
        raise DatasetError(f"{folder / CARD_FILE}: dataset folder {str(data_path)!r} not found "
                           "(moved? pass --dataset DIR)")
    model = _load_keras(model_path)
    _check_io(model, spec, labels, model_path)
    run = TrainedRun(folder, model, labels, card, spec, data_path, sha256_file(model_path))
    log.info("run %s: %s, %d labels, spec %s T=%d", folder, card.get("model", {}).get("name", "?"), len(labels),
             spec.id, spec.frames)
    return run


def calibration_files(run: TrainedRun, count: int, seed: int = 0) -> list[str]:
    """Up to ``count`` recordings of the TRAINING split only, drawn at random (fixed seed), for int8 calibration.

    Never validation or test: calibration sets the int8 ranges, and a range fitted
    on held-out data would leak it into the model that is then verified on it.
    """
    train = run.split("train")
    if not train:
        raise DatasetError(f"{run.folder / CARD_FILE}: the training split is empty; int8 needs training "
                           "recordings to calibrate on")
    rng = np.random.default_rng(seed)
    if count >= len(train):
        return list(train)
    return [train[i] for i in sorted(rng.choice(len(train), size=count, replace=False))]

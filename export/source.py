"""Read a trained run folder (``model.keras``, ``labels.json``, ``model_card.json``) and check it can be exported.

Everything is checked before any conversion starts, so a bad run folder costs
one line of error and no files: the model must load, take ``[batch, T, F]`` of
the card's feature spec, and end in a softmax over exactly the labels.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.errors import ModelError
from edge_runtime.spec import FeatureSpec
from host.run_folder import LABELS_FILE, ModelCard, RunFolder

log = logging.getLogger(__name__)

_SUM_TOLERANCE = 1e-3  # float32 softmax rows sum to 1 within ~1e-6


@dataclass
class TrainedRun:
    """A run folder, loaded: the Keras model and what its card says about it."""

    run_folder: RunFolder
    model: Any  # keras.Model (Keras is imported only when a run is loaded)
    labels: list[str]
    card: ModelCard
    spec: FeatureSpec
    dataset: Path
    model_sha256: str

    @property
    def folder(self) -> Path:
        return self.run_folder.path

    @property
    def model_path(self) -> Path:
        return self.run_folder.model_path

    def split(self, part: str) -> list[str]:
        """The manifest files of ``part`` (train / val / test) as the card recorded them."""
        return self.card.split(part)

    def dataset_info(self) -> dict[str, Any]:
        return self.card.dataset_info


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
    run = RunFolder(folder)
    run.check_exists()
    labels = run.labels()
    card = run.card()
    data_path = run.dataset(card, dataset)
    model = run.load_model()
    _check_io(model, card.spec, labels, run.model_path)
    trained = TrainedRun(run, model, labels, card, card.spec, data_path, run.model_sha256())
    log.info("run %s: %s, %d labels, spec %s T=%d", run, card.model_name or "?", len(labels), card.spec.id,
             card.spec.frames)
    return trained

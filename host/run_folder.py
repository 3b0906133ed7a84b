"""The run folder: the one place its file names live, and the one reader that validates it.

``sign-train`` writes a run; ``export-tflite``, ``sign-bench`` and ``sign-train --init-from`` read it.
Before this module each of them had its own copy of the file names and its own partial checks; now a
reader asks ``RunFolder(path).card()`` and gets a :class:`ModelCard` that has been checked once (the
feature spec is one this code computes, the labels agree with ``labels.json``, the split lists are lists
of file names), or one ``SignedgeError`` line saying which file is wrong and why.

The contract::

    model.keras         Keras 3 native format, input [batch, T, F] float32, softmax output
    labels.json         class names in output order (sorted)
    model_card.json     spec, labels, model sizes, dataset, split (files and groups), metrics, config
    history.csv, training_curves.png
    test_report.csv, confusion_matrix.csv, confusion_matrix.png
    (cross-validation: crossval.json, crossval.md, cv_predictions.csv and the pooled confusion matrix;
     leakage audit: leakage_audit.json, leakage_audit.md)
    export/             export-tflite's default output folder

Reading a card needs no TensorFlow; ``load_model`` imports Keras when it is called.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_runtime.errors import DatasetError, ModelError
from edge_runtime.files import sha256_file, write_json
from edge_runtime.spec import FeatureSpec

log = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
LABELS_FILE = "labels.json"
CARD_FILE = "model_card.json"
HISTORY_FILE = "history.csv"
CURVES_FILE = "training_curves.png"
TEST_REPORT_FILE = "test_report.csv"
CONFUSION_CSV = "confusion_matrix.csv"
CONFUSION_PNG = "confusion_matrix.png"
CROSSVAL_JSON = "crossval.json"
CROSSVAL_MD = "crossval.md"
CV_PREDICTIONS_FILE = "cv_predictions.csv"
LEAKAGE_JSON = "leakage_audit.json"
LEAKAGE_MD = "leakage_audit.md"
EXPORT_DIR = "export"
SPLIT_PARTS = ("train", "val", "test")


def read_json(path: Path, what: str) -> Any:
    """A JSON file of a run folder, or one ModelError line saying which and why."""
    if not path.is_file():
        raise ModelError(f"{path.parent}: no {path.name} ({what}; is this a run folder written by sign-train?)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ModelError(f"{path}: not valid JSON ({err})") from err


def check_labels(labels: Any, where: str) -> list[str]:
    """Class names in output order: a list of at least two distinct non-empty strings."""
    if not isinstance(labels, list) or not all(isinstance(x, str) and x for x in labels):
        raise ModelError(f"{where}: must be a JSON list of non-empty class names")
    if len(labels) < 2:
        raise ModelError(f"{where}: lists {len(labels)} class(es); a classifier needs at least 2")
    if len(set(labels)) != len(labels):
        raise ModelError(f"{where}: a class name appears twice")
    return list(labels)


def _block(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ModelError(f"{where}: '{key}' must be a JSON object")
    return value


@dataclass(frozen=True)
class ModelCard:
    """``model_card.json``, checked once: typed views of the parts other commands read.

    ``data`` keeps the whole card (it also holds figures only a person reads).
    """

    data: dict[str, Any]
    where: str
    spec: FeatureSpec
    labels: list[str]

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "ModelCard":
        if not isinstance(data, dict):
            raise ModelError(f"{where}: not a model card (expected a JSON object)")
        if "spec" not in data:
            raise ModelError(f"{where}: no feature spec ('spec')")
        spec = FeatureSpec.from_dict(data["spec"])
        labels = check_labels(data["labels"], f"{where}: labels") if "labels" in data else []
        for key in ("model", "dataset", "split", "metrics", "fit", "training"):
            _block(data, key, where)
        card = cls(data, where, spec, labels)
        for part in SPLIT_PARTS:
            card.split(part)  # a malformed list fails here, not in the middle of an export
        return card

    @property
    def model(self) -> dict[str, Any]:
        """The ``model`` block: ``name``, its sizes, ``params`` and (``--model auto``) ``chosen_by``."""
        return dict(self.data.get("model", {}))

    @property
    def model_name(self) -> str:
        return str(self.model.get("name", ""))

    @property
    def model_sizes(self) -> dict[str, Any]:
        """The architecture's size settings, as ``train.models.build_model`` takes them."""
        return {k: v for k, v in self.model.items() if k not in ("name", "params", "chosen_by", "head")}

    @property
    def head(self) -> dict[str, Any] | None:
        """The ``head`` block (``train.models.Head.to_dict``); None on a card from before heads."""
        head = self.model.get("head")
        return dict(head) if isinstance(head, dict) else None

    @property
    def dataset_path(self) -> str:
        return str(self.data.get("dataset", {}).get("path", ""))

    @property
    def dataset_info(self) -> dict[str, Any]:
        """What made the dataset (``dataset.json``): synthetic or real, landmark backend and model hash."""
        info = self.data.get("dataset", {}).get("info", {})
        return info if isinstance(info, dict) else {}

    def split(self, part: str) -> list[str]:
        """The manifest files of ``part`` (train / val / test) as the run recorded them (empty for a CV)."""
        files = self.data.get("split", {}).get(part, [])
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise ModelError(f"{self.where}: split.{part} is not a list of manifest file names")
        return list(files)

    @property
    def split_seed(self) -> int:
        return int(self.data.get("split", {}).get("seed", 0))

    @property
    def measured_on(self) -> str:
        """The trainer's own words for what the test figures were measured on ('' when it gave none)."""
        said = self.data.get("metrics", {}).get("test", {}).get("measured_on")
        return said if isinstance(said, str) else ""

    @property
    def plots_label_names(self) -> bool:
        return bool(self.data.get("fit", {}).get("plots_label_names", True))


class RunFolder:
    """A run folder on disk: where each file goes, and reading it back validated."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def export_dir(self) -> Path:
        return self.path / EXPORT_DIR

    # ------------------------------------------------------------ writing

    def write_labels(self, labels: list[str]) -> None:
        write_json(self.path / LABELS_FILE, list(labels))

    def write_card(self, card: dict[str, Any]) -> None:
        write_json(self.path / CARD_FILE, card)

    def save_model(self, model: Any) -> None:
        model.save(self.model_path)

    # ------------------------------------------------------------ reading

    def check_exists(self, model: bool = True) -> None:
        """The folder exists (and holds ``model.keras`` when ``model``); else one line with a hint."""
        if not self.path.is_dir():
            raise ModelError(f"{self.path}: run folder not found")
        if model and not self.model_path.is_file():
            others = sorted(p.name for p in self.path.glob("*.h5")) + sorted(p.name for p in self.path.glob("*.keras"))
            hint = f" (found {', '.join(others)}; only {MODEL_FILE} is read)" if others else \
                " (train one with sign-train)"
            raise ModelError(f"{self.path}: no {MODEL_FILE}{hint}")

    def labels(self) -> list[str]:
        path = self.path / LABELS_FILE
        return check_labels(read_json(path, "the class names in output order"), str(path))

    def card(self) -> ModelCard:
        """The model card, validated, and checked against ``labels.json`` when the folder has one."""
        path = self.path / CARD_FILE
        card = ModelCard.from_dict(read_json(path, "the model card"), str(path))
        if (self.path / LABELS_FILE).is_file() and card.labels and card.labels != self.labels():
            raise ModelError(f"{self.path}: {CARD_FILE} and {LABELS_FILE} list different labels")
        return card

    def dataset(self, card: ModelCard, override: str | Path | None = None) -> Path:
        """The dataset the run was trained on (``override``: where it is now, if it moved)."""
        data = Path(override) if override is not None else Path(card.dataset_path)
        if not str(data) or not data.is_dir():
            raise DatasetError(f"{self.path / CARD_FILE}: dataset folder {str(data)!r} not found "
                               "(moved? pass --dataset DIR)")
        return data

    def model_sha256(self) -> str:
        return sha256_file(self.model_path)

    def load_model(self) -> Any:
        """The Keras model (the project's custom layers registered), or one ModelError line."""
        import keras

        import host.layers  # noqa: F401  registers the project's layers and losses

        try:
            return keras.models.load_model(self.model_path, compile=False, safe_mode=True)
        except Exception as err:  # Keras raises ValueError, TypeError, OSError, zipfile errors... for a bad file
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ModelError(f"{self.model_path}: cannot load the Keras model ({type(err).__name__}: "
                             f"{first[:300]})") from err

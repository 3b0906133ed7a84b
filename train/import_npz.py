"""Per-person ``<person>.npz`` keypoint files → recordings (what ``sign-import npz`` reads).

A module of its own so that ``importers.py`` stays readable as the layouts of these files grow. Today's layout,
fixed length: ``left_hand``/``right_hand`` [N, T, 21, 3], ``pose`` [N, T, 33, 3|4], ``labels`` [N] and either
``sequence`` (the shared ASL sets; each recording is its own group) or ``word_id``/``view``/``sample_id`` (the
shared AI Hub KSL set, shoulder coordinates; the five camera views of one performance share a group).

This module sits below ``importers.py`` (which runs a whole import and reads ``MP_Data`` folders), so the two
pieces every reader shares live here: ``ImportConfig`` and ``hands_to_slots``, the one place that decides a hand
of all zeros was not detected.
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.dataset import Recording, check_label
from edge_runtime.errors import DatasetError

log = logging.getLogger(__name__)


@dataclass
class ImportConfig:
    fps: float = 30.0
    aspect: float = 4 / 3  # OpenCV's default webcam frame is 640x480
    signer: str = ""
    coord_frame: str = "image"


def hands_to_slots(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[T, 21, 3] left and right (all zeros = not detected) → landmarks [T, 2, 21, 3], present [T, 2]."""
    landmarks = np.stack([left, right], axis=1).astype(np.float32)
    present = np.abs(landmarks).sum(axis=(2, 3)) > 0
    landmarks[~present] = 0.0
    return landmarks, present


def load_npz(path: Path) -> Any:
    """An ``.npz`` opened without pickle; a file that is not one is a DatasetError naming it."""
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DatasetError(f"{path}: cannot read as .npz ({type(err).__name__}: {err})") from err


def npz_coord_frame(path: Path) -> str:
    """The coordinate frame a file's layout implies: shoulder for the KSL set (it has ``sample_id``), else image."""
    with load_npz(path) as data:
        return "shoulder" if "sample_id" in data.files else "image"


def _array(data: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    if key not in data.files:
        raise DatasetError(f"{path}: missing array {key!r} (has: {', '.join(sorted(data.files))})")
    return data[key]


def _aspect(cfg: ImportConfig) -> float:
    """Shoulder coordinates are already square; image coordinates are fractions of the frame's width and height."""
    return 1.0 if cfg.coord_frame == "shoulder" else cfg.aspect


def import_person_npz(path: Path, cfg: ImportConfig) -> list[Recording]:
    """Recordings of one ``<person>.npz`` file from the shared real-data sets."""
    with load_npz(path) as data:
        return _import_fixed_length(path, data, cfg)


def _import_fixed_length(path: Path, data: np.lib.npyio.NpzFile, cfg: ImportConfig) -> list[Recording]:
    """The shared ASL and KSL files: every recording has the same T frames."""
    left, right = _array(data, "left_hand", path), _array(data, "right_hand", path)
    labels = _array(data, "labels", path)
    pose = data["pose"] if "pose" in data.files else None
    if left.ndim != 4 or left.shape[2:] != (21, 3) or right.shape != left.shape:
        raise DatasetError(f"{path}: left_hand/right_hand must both be [N, T, 21, 3], got "
                           f"{list(left.shape)} and {list(right.shape)}")
    if labels.shape != (left.shape[0],):
        raise DatasetError(f"{path}: labels has {labels.shape[0] if labels.ndim else 0} entries for "
                           f"{left.shape[0]} recordings")
    if pose is not None and (pose.shape[:2] != left.shape[:2] or pose.shape[2] != 33):
        raise DatasetError(f"{path}: pose must be [N, T, 33, 3|4], got {list(pose.shape)}")
    ksl = "sample_id" in data.files
    if ksl:
        ids = [str(s) for s in _array(data, "sample_id", path)]
        word_ids = [str(s) for s in _array(data, "word_id", path)]
        views = [str(s) for s in _array(data, "view", path)]
    else:
        seq = _array(data, "sequence", path) if "sequence" in data.files else np.arange(len(labels))
    signer = cfg.signer or path.stem
    recs = []
    for i in range(left.shape[0]):
        landmarks, present = hands_to_slots(left[i], right[i])
        label = check_label(str(labels[i]), f"{path} recording {i}")
        if ksl:
            # The five camera views of one performance are one performance: one group, never split.
            source, group = ids[i], f"{signer}-{word_ids[i]}"
            extra = {"imported_from": path.name, "word_id": word_ids[i], "view": views[i], "sample_id": ids[i]}
        else:
            source = f"{signer}-{label}-{int(seq[i])}"
            group = source
            extra = {"imported_from": path.name, "sequence": int(seq[i])}
        recs.append(Recording(
            landmarks=landmarks, present=present, pose=None if pose is None else pose[i], label=label,
            fps=cfg.fps, source_id=source, group=group, signer=signer, aspect=_aspect(cfg), extra=extra,
        ))
    return recs

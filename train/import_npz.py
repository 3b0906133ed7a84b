"""Per-person ``<person>.npz`` keypoint files → recordings (what ``sign-import npz`` reads).

A module of its own because the shared sets come in two layouts, told apart by their arrays, and both readers
with their checks made ``importers.py`` too long to read:

* fixed length: ``left_hand``/``right_hand`` [N, T, 21, 3], ``pose`` [N, T, 33, 3|4], ``labels`` [N] and either
  ``sequence`` (the shared ASL sets; each recording is its own group) or ``word_id``/``view``/``sample_id``
  (the shared AI Hub KSL set, shoulder coordinates; the five camera views of one performance share a group);
* variable length (``lengths`` [N] is there, ``data/mpdata-words``): recordings of different lengths
  concatenated along the first axis, ``left_hand``/``right_hand`` [sum of lengths, 21, 3], ``pose``
  [sum of lengths, 33, 3]; every other array holds one value per recording (``labels``, and ``language``,
  ``repo``, ... which go into the recording's ``extra``). Each recording is its own group unless the file has
  a ``group`` array. float16 values become float32.

This module sits below ``importers.py`` (which runs a whole import and reads ``MP_Data`` folders), so the two
pieces every reader shares live here: ``ImportConfig`` and ``hands_to_slots``, the one place that decides a hand
of all zeros was not detected.
"""

from __future__ import annotations

import logging
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_runtime.dataset import Recording, check_label
from edge_runtime.errors import DatasetError

log = logging.getLogger(__name__)

HAND_ARRAYS = ("left_hand", "right_hand")
# Variable-length files: the arrays indexed by frame; every other array is indexed by recording.
FRAME_ARRAYS = (*HAND_ARRAYS, "pose")


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
    """Recordings of one ``<person>.npz`` file from the shared real-data sets (either layout)."""
    with load_npz(path) as data:
        if "lengths" in data.files:
            return _import_variable_length(path, data, cfg)
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


def _check_lengths(lengths: np.ndarray, path: Path) -> np.ndarray:
    """``lengths`` as int64 [N], each at least one frame."""
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer):
        raise DatasetError(f"{path}: lengths must be whole numbers, one per recording; got {lengths.dtype} "
                           f"{list(lengths.shape)}")
    short = np.flatnonzero(lengths < 1)
    if short.size:
        i = int(short[0])
        raise DatasetError(f"{path}: recording {i} has length {int(lengths[i])} (each needs at least 1 frame; "
                           f"{short.size} of {lengths.size} do not)")
    return lengths.astype(np.int64)


def _frame_arrays(data: np.lib.npyio.NpzFile, path: Path, frames: int) -> dict[str, np.ndarray]:
    """left_hand, right_hand and (if there) pose, each checked to hold ``frames`` frames of its points."""
    names = [*HAND_ARRAYS, *(["pose"] if "pose" in data.files else [])]  # pose is optional, as in fixed files
    arrays = {name: _array(data, name, path) for name in names}
    for name, arr in arrays.items():
        points, coords = (33, (3, 4)) if name == "pose" else (21, (3,))
        if arr.ndim != 3 or arr.shape[1] != points or arr.shape[2] not in coords:
            raise DatasetError(f"{path}: {name} must be [frames, {points}, {'|'.join(map(str, coords))}], got "
                               f"{list(arr.shape)}")
    counts = {name: arr.shape[0] for name, arr in arrays.items()}
    if len(set(counts.values())) > 1:
        raise DatasetError(f"{path}: the frame arrays disagree: "
                           + ", ".join(f"{name} has {n} frames" for name, n in counts.items()))
    if counts["left_hand"] != frames:
        raise DatasetError(f"{path}: lengths add up to {frames} frames, but left_hand has {counts['left_hand']}")
    return arrays


def _meta_value(value: np.generic) -> str | int | float | bool | None:
    """One per-recording value as JSON can hold it; None for a number that is not finite (nothing to keep)."""
    item = value.item()
    if isinstance(item, bytes):
        return item.decode("utf-8", errors="replace")
    if isinstance(item, float) and not math.isfinite(item):
        return None
    return item


def _import_variable_length(path: Path, data: np.lib.npyio.NpzFile, cfg: ImportConfig) -> list[Recording]:
    """Recordings of different lengths, concatenated along the frame axis (``data/mpdata-words``)."""
    lengths = _check_lengths(_array(data, "lengths", path), path)
    frames = _frame_arrays(data, path, int(lengths.sum()))
    n = len(lengths)
    labels = _array(data, "labels", path)
    columns = {name: data[name] for name in data.files if name not in (*FRAME_ARRAYS, "lengths", "labels")}
    for name, values in {"labels": labels, **columns}.items():
        if values.shape != (n,):
            got = f"{values.shape[0]} entries" if values.ndim == 1 else f"shape {list(values.shape)}"
            raise DatasetError(f"{path}: {name} has {got} for the {n} recordings in lengths")
    groups = columns.pop("group", None)  # recordings the file says belong together

    # Whole file at once (one conversion to float32), then cut at the recordings' boundaries.
    bounds = np.cumsum(lengths)[:-1]
    landmarks, present = hands_to_slots(frames["left_hand"], frames["right_hand"])
    landmarks, present = np.split(landmarks, bounds), np.split(present, bounds)
    poses = np.split(frames["pose"].astype(np.float32), bounds) if "pose" in frames else [None] * n
    signer = cfg.signer or path.stem
    recs = []
    for i in range(n):
        label = check_label(str(labels[i]), f"{path} recording {i}")
        source = f"{signer}-{label}-{i}"
        extra: dict[str, Any] = {"imported_from": path.name, "recording": i}
        extra.update((name, v) for name, values in columns.items() if (v := _meta_value(values[i])) is not None)
        recs.append(Recording(
            landmarks=landmarks[i], present=present[i], pose=poses[i], label=label, fps=cfg.fps, source_id=source,
            group=source if groups is None else f"{signer}-{groups[i]}", signer=signer, aspect=_aspect(cfg),
            extra=extra,
        ))
    log.debug("%s: %d recordings of %d to %d frames", path, n, lengths.min(initial=0), lengths.max(initial=0))
    return recs

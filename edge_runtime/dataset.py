"""Recordings on disk: one compressed ``.npz`` per recording plus a ``manifest.csv``.

A dataset folder looks like::

    my-dataset/
      dataset.json        what made it: coordinate frame, landmark backend and model hash, synthetic or real
      manifest.csv        one row per recording (UTF-8, RFC 4180 quoting: labels may hold commas)
      recordings/<...>.npz

Each ``.npz`` is self-describing (arrays + a JSON ``meta`` string, no pickle):

    landmarks  float32 [N, 2, 21, 3]  slot 0 = signer's left hand, slot 1 = right (see hands.py)
    present    bool    [N, 2]         hand detected in that frame
    score      float32 [N, 2]         detector confidence of that hand (0 where missing)
    meta       str                    JSON: label, signer, source_id, group, fps, aspect, extra
    pose       float32 [N, 33, 3|4]   optional body landmarks (imported Holistic data), never needed by the device

``source_id`` names the source video; ``group`` names what must never be split
apart (defaults to ``source_id``; e.g. the five camera views of one
performance share a group). ``signer`` is empty when unknown.

The device only reads recordings (``.npz`` replay); the host writes them.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from edge_runtime.errors import DatasetError
from edge_runtime.files import atomic_path, write_json, write_text
from edge_runtime.hands import NUM_HANDS, NUM_POINTS, HandSequence

log = logging.getLogger(__name__)

FORMAT = "signedge-dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.csv"
DATASET_JSON = "dataset.json"
MANIFEST_COLUMNS = ("file", "label", "signer", "source_id", "group", "frames", "fps", "hand_frames")
COORD_FRAMES = ("image", "shoulder")


def check_label(label: str, where: str = "label") -> str:
    """Labels may be any text with commas (``형,오빠``), but not empty, multi-line or padded."""
    if not isinstance(label, str) or not label.strip():
        raise DatasetError(f"{where}: empty label")
    if "\n" in label or "\r" in label:
        raise DatasetError(f"{where}: label {label!r} contains a line break")
    if label != label.strip():
        raise DatasetError(f"{where}: label {label!r} has leading or trailing spaces")
    return label


@dataclass
class Recording:
    """One performance of one sign, as the landmark backend saw it."""

    landmarks: np.ndarray
    present: np.ndarray
    label: str
    fps: float
    source_id: str
    signer: str = ""
    group: str = ""
    score: np.ndarray | None = None
    aspect: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)
    pose: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.landmarks = np.asarray(self.landmarks, dtype=np.float32)
        self.present = np.asarray(self.present, dtype=bool)
        if self.score is None:
            self.score = self.present.astype(np.float32)
        self.score = np.asarray(self.score, dtype=np.float32)
        self.group = self.group or self.source_id
        if self.pose is not None:
            self.pose = np.asarray(self.pose, dtype=np.float32)

    @property
    def num_frames(self) -> int:
        return int(self.landmarks.shape[0])

    @property
    def hands(self) -> HandSequence:
        """The recording's hands (and body, when it kept one), as a feature spec and augmentation take them."""
        return HandSequence(self.landmarks, self.present, float(self.aspect), self.pose)

    @property
    def hand_frames(self) -> int:
        """Frames in which at least one hand was found."""
        return int(self.present.any(axis=1).sum())

    def validate(self, where: str = "recording") -> None:
        """Raise DatasetError naming ``where`` if any array or field is malformed."""
        lm, pr, sc = self.landmarks, self.present, self.score
        if lm.ndim != 4 or lm.shape[1:] != (NUM_HANDS, NUM_POINTS, 3):
            raise DatasetError(f"{where}: landmarks must be [N, 2, 21, 3], got {list(lm.shape)}")
        if lm.shape[0] == 0:
            raise DatasetError(f"{where}: recording has no frames")
        if pr.shape != lm.shape[:2]:
            raise DatasetError(f"{where}: present must be [N, 2] = {list(lm.shape[:2])}, got {list(pr.shape)}")
        if sc is None or sc.shape != lm.shape[:2]:
            raise DatasetError(f"{where}: score must be [N, 2], got {None if sc is None else list(sc.shape)}")
        if self.pose is not None and (self.pose.ndim != 3 or self.pose.shape[0] != lm.shape[0]
                                      or self.pose.shape[1] != 33 or self.pose.shape[2] not in (3, 4)):
            raise DatasetError(f"{where}: pose must be [N, 33, 3 or 4], got {list(self.pose.shape)}")
        if not np.isfinite(lm[pr]).all():
            raise DatasetError(f"{where}: landmarks of detected hands contain NaN or infinity")
        check_label(self.label, where)
        if not self.source_id:
            raise DatasetError(f"{where}: empty source_id")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise DatasetError(f"{where}: fps must be positive, got {self.fps}")
        if not (np.isfinite(self.aspect) and self.aspect > 0):
            raise DatasetError(f"{where}: aspect must be positive, got {self.aspect}")

    def meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "label": self.label,
            "signer": self.signer,
            "source_id": self.source_id,
            "group": self.group,
            "fps": float(self.fps),
            "aspect": float(self.aspect),
            "extra": self.extra,
        }


def save_recording(path: str | Path, rec: Recording) -> None:
    """Write one recording atomically (validated first, so a bad one never reaches disk)."""
    rec.validate(str(path))
    arrays = {"landmarks": rec.landmarks, "present": rec.present, "score": rec.score,
              "meta": np.array(json.dumps(rec.meta(), ensure_ascii=False))}
    if rec.pose is not None:
        arrays["pose"] = rec.pose
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)


def load_recording(path: str | Path) -> Recording:
    """Read and validate one ``.npz``; any problem is a DatasetError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: recording file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in ("landmarks", "present", "meta") if k not in data.files]
            if missing:
                raise DatasetError(f"{path}: not a signedge recording (missing {', '.join(missing)})")
            arrays = {k: data[k] for k in data.files}
    except DatasetError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise DatasetError(f"{path}: cannot read recording ({type(err).__name__}: {err})") from err
    try:
        meta = json.loads(str(arrays["meta"]))
        rec = Recording(
            landmarks=arrays["landmarks"],
            present=arrays["present"],
            score=arrays.get("score"),
            label=meta["label"],
            fps=float(meta["fps"]),
            source_id=meta["source_id"],
            signer=meta.get("signer", ""),
            group=meta.get("group", ""),
            aspect=float(meta.get("aspect", 1.0)),
            extra=dict(meta.get("extra", {})),
            pose=arrays.get("pose"),
        )
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as err:
        raise DatasetError(f"{path}: malformed metadata ({type(err).__name__}: {err})") from err
    rec.validate(str(path))
    return rec


@dataclass
class ManifestRow:
    file: str
    label: str
    signer: str
    source_id: str
    group: str
    frames: int
    fps: float
    hand_frames: int

    @classmethod
    def of(cls, file: str, rec: Recording) -> "ManifestRow":
        return cls(file, rec.label, rec.signer, rec.source_id, rec.group, rec.num_frames, float(rec.fps),
                   rec.hand_frames)


def write_manifest(folder: str | Path, rows: Iterable[ManifestRow]) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    for r in sorted(rows, key=lambda r: r.file):
        writer.writerow([r.file, r.label, r.signer, r.source_id, r.group, r.frames, f"{r.fps:g}", r.hand_frames])
    path = Path(folder) / MANIFEST
    write_text(path, buf.getvalue())
    return path


def read_manifest(folder: str | Path) -> list[ManifestRow]:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise DatasetError(f"{folder}: no {MANIFEST} (is this a signedge dataset folder?)")
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise DatasetError(f"{path}: missing columns {', '.join(missing)}")
            rows = []
            for lineno, raw in enumerate(reader, start=2):
                try:
                    rows.append(ManifestRow(
                        file=raw["file"], label=check_label(raw["label"], f"{path}:{lineno}"),
                        signer=raw["signer"] or "", source_id=raw["source_id"], group=raw["group"] or raw["source_id"],
                        frames=int(raw["frames"]), fps=float(raw["fps"]), hand_frames=int(raw["hand_frames"]),
                    ))
                except (TypeError, ValueError) as err:
                    if isinstance(err, DatasetError):
                        raise
                    raise DatasetError(f"{path}:{lineno}: malformed row ({err})") from err
    except UnicodeDecodeError as err:
        raise DatasetError(f"{path}: not UTF-8 ({err})") from err
    if not rows:
        raise DatasetError(f"{path}: the manifest lists no recordings")
    return rows


@dataclass
class DatasetInfo:
    """What made a dataset: it travels into the model card so the device can spot a mismatch."""

    synthetic: bool = False
    coord_frame: str = "image"
    landmark_backend: str = ""
    landmark_model_sha256: str = ""
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, **self.__dict__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DatasetInfo":
        known = {k: data[k] for k in ("synthetic", "coord_frame", "landmark_backend", "landmark_model_sha256",
                                      "description") if k in data}
        info = cls(**known)
        if info.coord_frame not in COORD_FRAMES:
            raise DatasetError(f"unknown coordinate frame {info.coord_frame!r} (known: {', '.join(COORD_FRAMES)})")
        return info


def write_info(folder: str | Path, info: DatasetInfo) -> None:
    write_json(Path(folder) / DATASET_JSON, info.to_dict())


def read_info(folder: str | Path) -> DatasetInfo:
    path = Path(folder) / DATASET_JSON
    if not path.is_file():
        return DatasetInfo()
    try:
        return DatasetInfo.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path}: malformed ({err})") from err


class Dataset:
    """A dataset folder: its manifest rows, loaded lazily and validated on access."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise DatasetError(f"{self.folder}: dataset folder not found")
        self.rows = read_manifest(self.folder)
        self.info = read_info(self.folder)
        seen: set[str] = set()
        for row in self.rows:
            if row.file in seen:
                raise DatasetError(f"{self.folder / MANIFEST}: file {row.file} is listed twice")
            seen.add(row.file)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def labels(self) -> list[str]:
        """Sorted class names: the order of the model's outputs."""
        return sorted({r.label for r in self.rows})

    def load(self, index: int) -> Recording:
        row = self.rows[index]
        path = self.folder / row.file
        rec = load_recording(path)
        if rec.label != row.label:
            raise DatasetError(f"{path}: label {rec.label!r} differs from the manifest's {row.label!r}")
        return rec

    def __iter__(self) -> Iterator[Recording]:
        for i in range(len(self.rows)):
            yield self.load(i)

    def validate(self) -> list[str]:
        """Load every file; return one message per broken recording (empty when all are fine)."""
        problems = []
        for i in range(len(self.rows)):
            try:
                self.load(i)
            except DatasetError as err:
                problems.append(str(err))
        return problems


def write_dataset(folder: str | Path, recordings: Iterable[Recording], info: DatasetInfo,
                  progress: bool = False, total: int | None = None) -> list[ManifestRow]:
    """Save every recording (atomically), then ``dataset.json``, then the manifest last.

    A reader that finds a manifest therefore finds every file it lists. Two
    recordings that would share a file name stop the write before the manifest.
    """
    from tqdm import tqdm

    folder = Path(folder)
    rows: list[ManifestRow] = []
    seen: dict[str, str] = {}
    for rec in tqdm(recordings, total=total, desc="recordings", unit="rec", disable=not progress, leave=False):
        name = recording_filename(rec.label, rec.source_id)
        if name in seen:
            raise DatasetError(f"recordings {seen[name]!r} and {rec.source_id!r} would both be saved as {name} "
                               "(source ids must be unique)")
        seen[name] = rec.source_id
        save_recording(folder / name, rec)
        rows.append(ManifestRow.of(name, rec))
    if not rows:
        raise DatasetError(f"{folder}: no recordings to write")
    write_info(folder, info)
    write_manifest(folder, rows)
    log.info("wrote %d recordings, %s and %s to %s", len(rows), DATASET_JSON, MANIFEST, folder)
    return rows


def recording_filename(label: str, source_id: str) -> str:
    """A file name that is safe on every file system, yet still readable."""
    def clean(text: str) -> str:
        keep = [c if (c.isalnum() or c in "-_.") else "_" for c in text]
        return "".join(keep).strip("._") or "x"
    return f"recordings/{clean(label)}/{clean(source_id)}.npz"

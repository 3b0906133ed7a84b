"""Importing existing keypoint data into signedge's dataset format (``sign-import``).

Two sources:

* ``mpdata``: the ``MP_Data/<label>/<recording>/<frame>.npy`` layout that
  hundreds of public MediaPipe sign-language projects write: one folder is one
  person (``--signer``). Each frame holds MediaPipe Holistic keypoints
  concatenated as pose 33x4, [face 468x3,] left hand 21x3, right hand 21x3:
  1662 values with the face, 258 without.
* ``npz``: per-person files ``<person>.npz`` (the shared ASL, KSL and
  mpdata-words sets), fixed-length [N, T, 21, 3] or variable-length with
  ``lengths``; read by ``train/import_npz.py``.

Left and right. The project's slot 0 is the signer's own left hand as seen in
an un-mirrored image. Holistic names hands from the body pose, the signer's
point of view: its left hand sits at the pose's left wrist (landmark 15), and
in the shared ASL data the pose's left shoulder has the larger x in every
person's files, as an un-mirrored camera shows a person facing it. So Holistic
``left_hand`` maps to slot 0 unchanged (MediaPipe Tasks' HandLandmarker, which
assumes a mirrored selfie image, is the one that must be swapped; its backend
does that). A person who mirrored their camera before running Holistic is
stored mirrored; the training's left/right mirror augmentation covers them.

``import_dataset`` does a whole import (what ``sign-import`` runs) and
``import_npz`` the shared per-person files, so other code (the benchmarks)
imports a set without running a CLI and reading its output.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from edge_runtime.dataset import DatasetInfo, Recording, check_label, write_dataset
from edge_runtime.errors import DatasetError
from train.import_npz import ImportConfig, hands_to_slots, import_person_npz, npz_coord_frame

log = logging.getLogger(__name__)

KINDS = ("mpdata", "npz")  # MP_Data/<label>/<rec>/<frame>.npy folders; <person>.npz files
COORD_FRAMES = ("image", "shoulder", "auto")

POSE_VALUES, FACE_VALUES, HAND_VALUES = 33 * 4, 468 * 3, 21 * 3
# Frame layouts by length: where the left and right hands start, and whether a pose is there.
LAYOUTS = {
    POSE_VALUES + FACE_VALUES + 2 * HAND_VALUES: "pose+face+hands (1662)",
    POSE_VALUES + 2 * HAND_VALUES: "pose+hands (258)",
}


def split_holistic_frame(frame: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pose [33, 4], left hand [21, 3], right hand [21, 3] of one Holistic frame vector."""
    if frame.ndim != 1 or frame.shape[0] not in LAYOUTS:
        known = ", ".join(f"{n} = {name}" for n, name in LAYOUTS.items())
        raise DatasetError(f"{where}: frame has {frame.size} values; expected one of: {known}")
    pose = frame[:POSE_VALUES].reshape(33, 4)
    right = frame[-HAND_VALUES:].reshape(21, 3)
    left = frame[-2 * HAND_VALUES : -HAND_VALUES].reshape(21, 3)
    return pose, left, right


def _frame_number(path: Path) -> int:
    try:
        return int(path.stem)
    except ValueError as err:
        raise DatasetError(f"{path}: frame files must be named by their number (0.npy, 1.npy, ...)") from err


def read_mpdata_recording(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """landmarks [T, 2, 21, 3], present [T, 2], pose [T, 33, 4] of one ``MP_Data`` recording folder."""
    frames = sorted(folder.glob("*.npy"), key=_frame_number)
    if not frames:
        raise DatasetError(f"{folder}: recording folder has no .npy frames")
    numbers = [_frame_number(f) for f in frames]
    expected = list(range(numbers[0], numbers[0] + len(numbers)))
    if numbers != expected:
        missing = sorted(set(range(numbers[0], numbers[-1] + 1)) - set(numbers))
        raise DatasetError(f"{folder}: missing frame(s) {', '.join(f'{m}.npy' for m in missing[:5])}")
    poses, lefts, rights = [], [], []
    for f in frames:
        try:
            vec = np.load(f, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise DatasetError(f"{f}: cannot read ({err})") from err
        pose, left, right = split_holistic_frame(np.asarray(vec, np.float32).ravel(), str(f))
        poses.append(pose)
        lefts.append(left)
        rights.append(right)
    landmarks, present = hands_to_slots(np.stack(lefts), np.stack(rights))
    return landmarks, present, np.stack(poses)


def import_mpdata(root: Path, cfg: ImportConfig) -> list[Recording]:
    """Every recording of an ``MP_Data`` folder (one person)."""
    if not root.is_dir():
        raise DatasetError(f"{root}: folder not found")
    label_dirs = sorted(p for p in root.iterdir() if p.is_dir())
    if not label_dirs:
        raise DatasetError(f"{root}: no label folders (expected MP_Data/<label>/<recording>/<frame>.npy)")
    signer = cfg.signer or root.name
    recs = []
    for label_dir in label_dirs:
        label = check_label(label_dir.name, str(label_dir))
        rec_dirs = sorted((p for p in label_dir.iterdir() if p.is_dir()), key=lambda p: (len(p.name), p.name))
        if not rec_dirs:
            raise DatasetError(f"{label_dir}: empty label folder (no recording folders)")
        for rec_dir in tqdm(rec_dirs, desc=label, unit="rec", leave=False):
            landmarks, present, pose = read_mpdata_recording(rec_dir)
            recs.append(Recording(
                landmarks=landmarks, present=present, pose=pose, label=label, fps=cfg.fps,
                source_id=f"{signer}-{label}-{rec_dir.name}", signer=signer, aspect=cfg.aspect,
                extra={"imported_from": "mpdata", "recording": rec_dir.name},
            ))
    return recs


def _unique_sources(recs: list[Recording]) -> None:
    seen: dict[str, int] = {}
    for rec in recs:
        seen[rec.source_id] = seen.get(rec.source_id, 0) + 1
    dupes = [s for s, n in seen.items() if n > 1]
    if dupes:
        raise DatasetError(f"{len(dupes)} recordings share a source id, e.g. {dupes[0]!r}: "
                           "are two inputs the same person? pass distinct --signer names")



@dataclass(frozen=True)
class ImportRequest:
    """A whole import: ``sign-import``'s flags, one field each."""

    kind: str  # one of KINDS
    inputs: tuple[Path, ...]  # MP_Data folders (mpdata) or <person>.npz files (npz)
    out: Path
    signer: str = ""  # one person's name (one input only); default: the folder name or file stem
    fps: float = ImportConfig.fps
    aspect: float = ImportConfig.aspect
    coord_frame: str = "auto"  # one of COORD_FRAMES; auto: shoulder for files with sample_id, else image
    force: bool = False  # replace ``out`` if it exists


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote."""

    out: Path
    recordings: int
    labels: list[str]
    people: list[str]
    coord_frame: str
    hand_share: float  # mean over recordings of the share of frames with a hand

    def line(self) -> str:
        return (f"imported {self.recordings} recordings of {len(self.labels)} labels ({', '.join(self.labels)}) by "
                f"{len(self.people)} signer(s) into {self.out} [{self.coord_frame} coordinates; frames with a hand: "
                f"{self.hand_share:.0%}]")


def import_dataset(request: ImportRequest) -> ImportResult:
    """Import every input into one new dataset folder, written aside and renamed at the end."""
    if request.kind not in KINDS:
        raise DatasetError(f"unknown kind {request.kind!r} (choose from {', '.join(KINDS)})")
    if request.coord_frame not in COORD_FRAMES:
        raise DatasetError(f"unknown coordinate frame {request.coord_frame!r} (choose from {', '.join(COORD_FRAMES)})")
    if not request.inputs:
        raise DatasetError("nothing to import: no input given")
    inputs, out = request.inputs, request.out
    if out.exists() and not request.force and (not out.is_dir() or any(out.iterdir())):
        raise DatasetError(f"{out}: output folder exists and is not empty (use --force to replace it)")
    if request.signer and len(inputs) > 1:
        raise DatasetError("--signer names one person: give one input with it")
    recs: list[Recording] = []
    coord = request.coord_frame
    for path in inputs:
        if request.kind == "npz":
            if not path.is_file():
                raise DatasetError(f"{path}: file not found")
            coord_here = npz_coord_frame(path) if coord == "auto" else coord
            cfg = ImportConfig(fps=request.fps, aspect=request.aspect, signer=request.signer, coord_frame=coord_here)
            recs += import_person_npz(path, cfg)
        else:
            coord_here = "image" if coord == "auto" else coord
            recs += import_mpdata(path, ImportConfig(request.fps, request.aspect, request.signer, coord_here))
        if coord == "auto":
            coord = coord_here  # every input of one dataset shares one coordinate frame
        elif coord != coord_here:
            raise DatasetError(f"{path}: coordinate frame {coord_here} differs from the other inputs' {coord}")
    _unique_sources(recs)
    info = DatasetInfo(coord_frame=coord, landmark_backend="mediapipe-holistic",
                       description=f"imported by sign-import {request.kind} from {', '.join(p.name for p in inputs)}")
    tmp = out.with_name(out.name + ".importing")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        write_dataset(tmp, recs, info, progress=True)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ImportResult(out, len(recs), sorted({r.label for r in recs}), sorted({r.signer for r in recs}), coord,
                        float(np.mean([r.hand_frames / r.num_frames for r in recs])))


def import_npz(files: Sequence[str | Path], dest: str | Path, *, force: bool = False, signer: str = "",
               fps: float = ImportConfig.fps, aspect: float = ImportConfig.aspect,
               coord_frame: str = "auto") -> ImportResult:
    """``sign-import npz FILES DEST``: per-person ``.npz`` files (the shared ASL, KSL and mpdata-words sets) into
    one dataset."""
    return import_dataset(ImportRequest("npz", tuple(Path(f) for f in files), Path(dest), signer, fps, aspect,
                                        coord_frame, force))

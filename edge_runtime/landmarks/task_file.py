"""Read the two hand models out of a MediaPipe ``hand_landmarker.task`` bundle.

A ``.task`` file is a plain zip holding ``hand_detector.tflite`` (palm
detector) and ``hand_landmarks_detector.tflite`` (21 landmarks). The LiteRT
backend runs them itself; the mediapipe backend hands the whole file to
MediaPipe Tasks. Either way the bundle's sha256 identifies the landmark model
in datasets and model cards.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from edge_runtime.errors import ModelError
from edge_runtime.files import sha256_file

DETECTOR = "hand_detector.tflite"
LANDMARKER = "hand_landmarks_detector.tflite"


@dataclass(frozen=True)
class HandModels:
    detector: bytes
    landmarker: bytes
    sha256: str
    path: Path


def read_task(path: str | Path) -> HandModels:
    """The palm-detector and landmark models of a ``.task`` bundle, with one clear error when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: hand model file not found (get one with: sign-models)")
    try:
        with zipfile.ZipFile(path) as bundle:
            names = set(bundle.namelist())
            missing = [n for n in (DETECTOR, LANDMARKER) if n not in names]
            if missing:
                raise ModelError(f"{path}: not a hand landmarker bundle (missing {', '.join(missing)})")
            detector, landmarker = bundle.read(DETECTOR), bundle.read(LANDMARKER)
    except zipfile.BadZipFile as err:
        raise ModelError(f"{path}: not a .task bundle (not a zip file)") from err
    return HandModels(detector, landmarker, sha256_file(path), path)

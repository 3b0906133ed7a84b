"""The dataset folder extracted recordings go to: one landmark backend per folder, manifest and dataset.json.

Why a module of its own: ``sign-extract`` and ``sign-record`` both add real
recordings to a folder, and both must refuse to mix landmark backends or
models in one dataset (the features would not match).
"""

from __future__ import annotations

import logging
from pathlib import Path

from edge_runtime.dataset import (
    DATASET_JSON,
    DatasetInfo,
    ManifestRow,
    load_recording,
    read_info,
    write_info,
    write_manifest,
)
from edge_runtime.errors import DatasetError

log = logging.getLogger(__name__)

RECORDINGS = "recordings"


def check_dataset_compatible(out_dir: Path, backend: str, model_sha256: str) -> None:
    """Refuse to add recordings from another landmark backend or model to an existing dataset."""
    if not (out_dir / DATASET_JSON).is_file():
        return
    info = read_info(out_dir)
    if info.synthetic:
        raise DatasetError(f"{out_dir}: holds a synthetic dataset; write real recordings to another folder")
    if info.landmark_backend and (info.landmark_backend, info.landmark_model_sha256) != (backend, model_sha256):
        raise DatasetError(
            f"{out_dir}: its recordings come from the {info.landmark_backend} backend with model "
            f"{info.landmark_model_sha256[:12]}..., this run uses {backend} with {model_sha256[:12]}...; "
            f"features would not match: use another output folder")


def scan_recordings(out_dir: Path) -> list[ManifestRow]:
    """One manifest row per good ``.npz`` under OUT_DIR/recordings (broken ones are logged and left out)."""
    rows = []
    for path in sorted((out_dir / RECORDINGS).rglob("*.npz")):
        if path.name.startswith("."):  # an atomic write's temporary file
            continue
        rel = path.relative_to(out_dir).as_posix()
        try:
            rows.append(ManifestRow.of(rel, load_recording(path)))
        except DatasetError as err:
            log.warning("left out of the manifest: %s", err)
    return rows


def write_dataset(out_dir: Path, backend: str, model_sha256: str, description: str) -> list[ManifestRow]:
    """Write ``manifest.csv`` (every good recording in the folder) and ``dataset.json``; return the rows."""
    rows = scan_recordings(out_dir)
    write_manifest(out_dir, rows)
    write_info(out_dir, DatasetInfo(synthetic=False, coord_frame="image", landmark_backend=backend,
                                    landmark_model_sha256=model_sha256, description=description))
    return rows

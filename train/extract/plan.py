"""Planning an extraction: every video under VIDEO_DIR (or in a label table) with its label and output file.

Why a module of its own: where labels come from (folder, file name, file
name suffix, a CSV) is the part users get wrong, and every such problem must
be one clear error before a single video is decoded or a file written.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from edge_runtime.capture import VIDEO_SUFFIXES
from edge_runtime.dataset import check_label, recording_filename
from edge_runtime.errors import DatasetError
from train.extract.config import FILE_COLUMNS, LABEL_COLUMNS, LABEL_SOURCES, ExtractConfig


@dataclass(frozen=True)
class VideoJob:
    """One video to turn into one recording."""

    video: Path
    rel: str  # path relative to VIDEO_DIR, shown in messages
    label: str
    signer: str
    source_id: str
    group: str
    file: str  # recording path relative to OUT_DIR


def find_videos(folder: Path) -> list[Path]:
    """Every video file under ``folder`` (any depth), sorted; hidden files and folders are skipped."""
    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
            found.append(path)
    return sorted(found)


def _pick_column(fieldnames: Sequence[str], wanted: str | None, candidates: Sequence[str], what: str,
                 where: Path) -> str:
    if wanted:
        if wanted not in fieldnames:
            raise DatasetError(f"{where}: no column {wanted!r} (columns: {', '.join(fieldnames)})")
        return wanted
    lower = {name.strip().lower(): name for name in fieldnames}
    for name in candidates:
        if name in lower:
            return lower[name]
    raise DatasetError(f"{where}: no {what} column (looked for {', '.join(candidates)}; columns: "
                       f"{', '.join(fieldnames)}): name it with --{what}-column")


def _default_source_id(rel: Path) -> str:
    return rel.with_suffix("").as_posix()


def plan_from_manifest(config: ExtractConfig) -> list[VideoJob]:
    """Jobs for the videos a label CSV lists, paths relative to VIDEO_DIR."""
    path = config.manifest
    assert path is not None
    if not path.is_file():
        raise DatasetError(f"{path}: manifest file not found")
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            fieldnames = list(reader.fieldnames or [])
            if not fieldnames:
                raise DatasetError(f"{path}: empty file (a header row with file and label columns is needed)")
            file_col = _pick_column(fieldnames, config.file_column, FILE_COLUMNS, "file", path)
            label_col = _pick_column(fieldnames, config.label_column, LABEL_COLUMNS, "label", path)
            optional = {name: name for name in ("signer", "source_id", "group") if name in fieldnames}
            jobs, seen = [], set()
            for lineno, row in enumerate(reader, start=2):
                where = f"{path}:{lineno}"
                rel_text = (row.get(file_col) or "").strip()
                if not rel_text:
                    raise DatasetError(f"{where}: empty {file_col!r}")
                if rel_text in seen:
                    raise DatasetError(f"{where}: {rel_text} is listed twice")
                seen.add(rel_text)
                label = check_label(row.get(label_col) or "", where)
                rel = Path(rel_text)
                source_id = (row.get(optional.get("source_id", ""), "") or "").strip() or _default_source_id(rel)
                group = (row.get(optional.get("group", ""), "") or "").strip() or source_id
                signer = (row.get(optional.get("signer", ""), "") or "").strip() or config.signer
                jobs.append(VideoJob(config.video_dir / rel, rel.as_posix(), label, signer, source_id, group,
                                     recording_filename(label, source_id)))
    except UnicodeDecodeError as err:
        raise DatasetError(f"{path}: not UTF-8 ({err})") from err
    except csv.Error as err:
        raise DatasetError(f"{path}: malformed CSV ({err})") from err
    if not jobs:
        raise DatasetError(f"{path}: lists no videos")
    return jobs


def _label_of(rel: Path, config: ExtractConfig) -> str:
    if config.label_from == "folder":
        return rel.parts[0]
    if config.label_from == "stem":
        return rel.stem
    if config.separator not in rel.stem:
        raise DatasetError(f"{rel}: no {config.separator!r} in the file name to take the label after "
                           f"(--label-from stem-suffix; change --separator or use --manifest)")
    return rel.stem.rsplit(config.separator, 1)[1]


def plan_from_names(config: ExtractConfig) -> list[VideoJob]:
    """Jobs for every video under VIDEO_DIR, labelled by folder or file name."""
    videos = find_videos(config.video_dir)
    if not videos:
        raise DatasetError(f"{config.video_dir}: no videos found (looked for {', '.join(VIDEO_SUFFIXES)})")
    rels = [v.relative_to(config.video_dir) for v in videos]
    if config.label_from == "folder":
        loose = [r for r in rels if len(r.parts) == 1]
        if loose:
            raise DatasetError(
                f"{config.video_dir}: {len(loose)} video(s) sit directly in the folder (e.g. {loose[0]}), but "
                f"--label-from folder takes the label from a sub-folder: use VIDEO_DIR/<label>/<video>, or "
                f"--label-from stem / stem-suffix, or --manifest")
    jobs = []
    for video, rel in zip(videos, rels, strict=True):
        label = check_label(_label_of(rel, config), str(rel))
        source_id = _default_source_id(rel)
        jobs.append(VideoJob(video, rel.as_posix(), label, config.signer, source_id, source_id,
                             recording_filename(label, source_id)))
    return jobs


def plan_jobs(config: ExtractConfig) -> list[VideoJob]:
    """Every video with its label and output file; any input problem raises before anything is written."""
    if not config.video_dir.is_dir():
        raise DatasetError(f"{config.video_dir}: video folder not found")
    if config.label_from not in LABEL_SOURCES:
        raise DatasetError(f"unknown --label-from {config.label_from!r} (choose from {', '.join(LABEL_SOURCES)})")
    jobs = plan_from_manifest(config) if config.manifest else plan_from_names(config)
    by_file: dict[str, VideoJob] = {}
    for job in jobs:
        other = by_file.setdefault(job.file, job)
        if other is not job:
            raise DatasetError(f"{job.rel} and {other.rel} would both be saved as {job.file}: give them distinct "
                               f"names (or source_id values in the manifest)")
    return jobs

"""``sign-extract``: a folder of sign videos → a signedge dataset of hand keypoints.

Each video becomes one recording (``recordings/<label>/<source_id>.npz``:
landmarks per frame in the project's hand slots) and one row of
``manifest.csv``; ``dataset.json`` records which landmark backend and which
model (sha256) saw the hands, so a model trained on the dataset can warn when
the device runs a different one.

Where labels come from (``--label-from``):

- ``folder`` (default): ``VIDEO_DIR/<label>/<clip>.mp4``, the folder right
  under VIDEO_DIR names the sign;
- ``stem``: the file name without its extension (``hello.mp4`` → ``hello``);
- ``stem-suffix``: the part of the file name after the last ``--separator``
  (``가족__남편.mp4`` → ``남편``, the shared KSL videos' naming);
- ``--manifest CSV``: a UTF-8 table with one row per video. Its file column
  (``--file-column``; default the first of file, path, video, filename) is a
  path relative to VIDEO_DIR; its label column (``--label-column``; default
  the first of label, word, gloss, sign, class) may hold commas when quoted
  (``"형,오빠"``). Optional columns ``signer``, ``source_id`` and ``group`` are
  used when present.

Videos run in parallel processes (``--workers``), each with its own
landmark backend; a video whose recording already exists and loads is kept,
so an interrupted run resumes where it stopped. A video that fails (cannot
be decoded, no hand in any frame) is reported at the end without stopping
the others; the exit code is then 1. ``manifest.csv`` is written last and
lists every good recording in OUT_DIR.
"""

from __future__ import annotations

import argparse
import csv
import logging
import multiprocessing
import shutil
import sys
import unicodedata
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from tqdm import tqdm

from edge_runtime.capture import VIDEO_SUFFIXES, VideoFileSource
from edge_runtime.cli.common import EXIT_FAILED, parser, run, setup_logging
from edge_runtime.cli.models import default_hand_model, default_model_path
from edge_runtime.dataset import (
    DATASET_JSON,
    DatasetInfo,
    ManifestRow,
    Recording,
    check_label,
    load_recording,
    read_info,
    recording_filename,
    save_recording,
    write_info,
    write_manifest,
)
from edge_runtime.errors import DatasetError, ModelError, SignedgeError
from edge_runtime.landmarks import BACKENDS, open_backend
from edge_runtime.landmarks.task_file import read_task
from edge_runtime.spec import NUM_HANDS, NUM_POINTS

log = logging.getLogger(__name__)

PROG = "sign-extract"
LABEL_SOURCES = ("folder", "stem", "stem-suffix")
FILE_COLUMNS = ("file", "path", "video", "filename")
LABEL_COLUMNS = ("label", "word", "gloss", "sign", "class")
RECORDINGS = "recordings"
# In a help text, stops the shared help formatter from appending "(default: None)" where None means "automatic".
NO_DEFAULT = "%(default).0s"


# ----------------------------------------------------------------------------------------------- settings


@dataclass
class BackendSettings:
    """What every worker needs to open its own landmark backend (picklable)."""

    name: str = "litert"
    model: str = ""
    threads: int | None = None
    max_hands: int = 2


@dataclass
class ExtractConfig:
    """``sign-extract``'s flags, one field each."""

    video_dir: Path
    out_dir: Path
    backend: BackendSettings = field(default_factory=BackendSettings)
    manifest: Path | None = None
    label_from: str = "folder"
    separator: str = "__"
    file_column: str | None = None
    label_column: str | None = None
    signer: str = ""
    workers: int = 1
    max_width: int | None = None
    progress: bool = True


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


@dataclass
class VideoResult:
    job: VideoJob
    status: str  # "new", "kept" or "failed"
    frames: int = 0
    hand_frames: int = 0
    error: str = ""


@dataclass
class ExtractSummary:
    out_dir: Path
    backend: str
    model_sha256: str
    results: list[VideoResult]
    rows: list[ManifestRow]  # every recording the manifest lists (this run's and earlier ones)

    @property
    def failed(self) -> list[VideoResult]:
        return [r for r in self.results if r.status == "failed"]

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)


# -------------------------------------------------------------------------------------- shared helpers


def resolve_hand_model(path: Path | None) -> Path:
    """``--hand-model``, or the bundle ``sign-models`` installed, or one clear error saying how to get one."""
    if path is not None:
        return path.expanduser()
    found = default_hand_model()
    if found is None:
        raise ModelError(f"no hand model: pass --hand-model PATH (a hand_landmarker.task) or run sign-models, "
                         f"which puts one at {default_model_path('full')}")
    return found


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


def _width(text: str) -> int:
    """Columns a string takes in a terminal: Hangul and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A plain aligned text table (numbers right-aligned) that survives logs and pipes."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(_width(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(r[i].replace(".", "", 1).replace("%", "").isdigit() for r in cells[1:]) and len(cells) > 1
               for i in range(len(headers))]
    lines = []
    for k, row in enumerate(cells):
        parts = []
        for i, text in enumerate(row):
            pad = " " * (widths[i] - _width(text))
            parts.append(pad + text if numeric[i] and k > 0 else text + pad)
        lines.append("  ".join(parts).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "-"


# ------------------------------------------------------------------------------------------ planning


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


# ---------------------------------------------------------------------------------------- extraction


def extract_recording(job: VideoJob, backend_settings: BackendSettings, max_width: int | None) -> Recording:
    """Run the landmark backend over every frame of one video (a fresh backend: tracking starts anew)."""
    with VideoFileSource(job.video, max_width=max_width) as source:
        backend = open_backend(backend_settings.name, backend_settings.model, threads=backend_settings.threads,
                               max_hands=backend_settings.max_hands)
        try:
            landmarks, present, score = [], [], []
            last_ms = -1
            for t, frame in source:
                ts_ms = max(int(round(t * 1000.0)), last_ms + 1)
                last_ms = ts_ms
                hands = backend.process(frame, ts_ms)
                landmarks.append(hands.landmarks)
                present.append(hands.present)
                score.append(hands.score)
            sha = backend.model_sha256
        finally:
            backend.close()
        width, height = source.width, source.height
        rec = Recording(
            landmarks=np.asarray(landmarks, np.float32).reshape(-1, NUM_HANDS, NUM_POINTS, 3),
            present=np.asarray(present, bool).reshape(-1, NUM_HANDS),
            score=np.asarray(score, np.float32).reshape(-1, NUM_HANDS),
            label=job.label, fps=source.fps, source_id=job.source_id, signer=job.signer, group=job.group,
            aspect=width / height,
            extra={"video": job.rel, "width": width, "height": height, "source_width": source.source_width,
                   "source_height": source.source_height, "landmark_backend": backend_settings.name,
                   "landmark_model_sha256": sha},
        )
    return rec


def extract_one(job: VideoJob, out_dir: Path, backend_settings: BackendSettings,
                max_width: int | None) -> VideoResult:
    """Worker entry point: one video → one saved recording, or a failed result with its one-line reason."""
    try:
        rec = extract_recording(job, backend_settings, max_width)
        if rec.hand_frames == 0:
            return VideoResult(job, "failed", rec.num_frames, 0, f"no hand found in any of its {rec.num_frames} "
                                                                   f"frames; nothing saved")
        save_recording(out_dir / job.file, rec)
        return VideoResult(job, "new", rec.num_frames, rec.hand_frames)
    except (SignedgeError, ValueError, OSError) as err:
        return VideoResult(job, "failed", error=_one_line(err))
    except Exception as err:  # cv2.error and backend failures vary; one video must not stop the batch
        return VideoResult(job, "failed", error=f"{type(err).__name__}: {_one_line(err)}")


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else repr(err)


def existing_result(job: VideoJob, out_dir: Path, backend: str, model_sha256: str) -> VideoResult | None:
    """A 'kept' result when this video's recording is already there, loads, and came from the same backend."""
    path = out_dir / job.file
    if not path.is_file():
        return None
    try:
        rec = load_recording(path)
    except DatasetError as err:
        log.info("re-extracting %s: %s", job.rel, err)
        return None
    same = ((rec.label, rec.source_id, rec.signer, rec.group) == (job.label, job.source_id, job.signer, job.group)
            and rec.extra.get("landmark_backend") == backend and rec.extra.get("landmark_model_sha256") == model_sha256)
    if not same:
        log.info("re-extracting %s: the saved recording differs in label, signer, source or landmark backend",
                 job.rel)
        return None
    return VideoResult(job, "kept", rec.num_frames, rec.hand_frames)


def _probe_backend(settings: BackendSettings) -> str:
    """Open the backend once here, so a bad model or a missing package is one error before any work."""
    read_task(settings.model)  # the file itself first: its error does not depend on which backend loads
    try:
        backend = open_backend(settings.name, settings.model, threads=settings.threads,
                               max_hands=settings.max_hands)
    except ImportError as err:
        raise SignedgeError(f"the {settings.name} landmark backend cannot be loaded here ({err}); "
                            f"try --landmarks {'mediapipe' if settings.name == 'litert' else 'litert'}") from err
    try:
        return backend.model_sha256
    finally:
        backend.close()


def _run_jobs(todo: list[VideoJob], config: ExtractConfig) -> Iterable[VideoResult]:
    if config.workers <= 1 or len(todo) <= 1:
        for job in todo:
            yield extract_one(job, config.out_dir, config.backend, config.max_width)
        return
    # spawn: workers start clean (no copy of this process's OpenCV threads or locks)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(config.workers, len(todo)), mp_context=context) as pool:
        futures = [pool.submit(extract_one, job, config.out_dir, config.backend, config.max_width) for job in todo]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def extract(config: ExtractConfig) -> ExtractSummary:
    """Extract every planned video into OUT_DIR; input problems raise before OUT_DIR is touched."""
    if config.workers < 1:
        raise SignedgeError(f"--workers must be at least 1, got {config.workers}")
    if config.max_width is not None and config.max_width < 16:
        raise SignedgeError(f"--max-width must be at least 16 pixels, got {config.max_width}")
    jobs = plan_jobs(config)
    model_sha256 = _probe_backend(config.backend)
    out_dir = config.out_dir
    if out_dir.exists() and not out_dir.is_dir():
        raise SignedgeError(f"{out_dir}: exists and is not a folder")
    check_dataset_compatible(out_dir, config.backend.name, model_sha256)
    created = not out_dir.exists()

    results: list[VideoResult] = []
    todo = []
    for job in jobs:
        kept = existing_result(job, out_dir, config.backend.name, model_sha256)
        if kept is not None:
            results.append(kept)
        else:
            todo.append(job)
    if results:
        log.info("%d of %d videos already extracted; resuming with %d", len(results), len(jobs), len(todo))
    out_dir.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(todo), desc="extract", unit="video", disable=not config.progress or None, leave=False)
    try:
        for result in _run_jobs(todo, config):
            results.append(result)
            bar.update(1)
            if result.status == "failed":
                log.warning("failed: %s: %s", result.job.rel, result.error)
    finally:
        bar.close()
    results.sort(key=lambda r: r.job.rel)

    rows = scan_recordings(out_dir)
    if rows:
        description = f"{PROG} of {config.video_dir} ({config.backend.name} backend)"
        rows = write_dataset(out_dir, config.backend.name, model_sha256, description)
    elif created:
        shutil.rmtree(out_dir)  # nothing good came out: leave no empty dataset behind
    return ExtractSummary(out_dir, config.backend.name, model_sha256, results, rows)


# ------------------------------------------------------------------------------------------------ CLI


def summary_text(summary: ExtractSummary) -> str:
    """The end-of-run report: totals, hand coverage, and per-label counts of this run's videos."""
    good = [r for r in summary.results if r.status != "failed"]
    frames = sum(r.frames for r in good)
    hands = sum(r.hand_frames for r in good)
    lines = [
        (f"{PROG}: {len(summary.results)} videos -> {summary.out_dir} "
         f"({summary.backend} backend, model {summary.model_sha256[:12]})"),
        (f"  recordings: {summary.count('new')} new, {summary.count('kept')} kept from an earlier run, "
         f"{len(summary.failed)} failed; manifest lists {len(summary.rows)}"),
        f"  frames: {frames}, with at least one hand: {hands} ({percent(hands, frames)})",
    ]
    per_label: dict[str, list[int]] = {}
    for r in good:
        counts = per_label.setdefault(r.job.label, [0, 0, 0])
        counts[0] += 1
        counts[1] += r.frames
        counts[2] += r.hand_frames
    if per_label:
        table = format_table(("label", "recordings", "frames", "hand frames"),
                             [(label, n, f, percent(h, f)) for label, (n, f, h) in sorted(per_label.items())])
        lines += ["", table]
    return "\n".join(lines)


def add_landmark_arguments(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The landmark flags of every command that extracts landmarks (sign-extract, sign-record)."""
    b = p.add_argument_group("landmarks")
    b.add_argument("--landmarks", choices=BACKENDS, default="litert",
                   help="landmark backend; litert is what the device runs, so host and device features match")
    b.add_argument("--hand-model", type=Path, metavar="PATH",
                   help=f"hand_landmarker.task bundle (default: {default_model_path('full')}, where sign-models "
                        f"puts it){NO_DEFAULT}")
    b.add_argument("--threads", type=int, metavar="N",
                   help="interpreter threads (per worker), litert backend (default: the interpreter's)" + NO_DEFAULT)
    return b


def _main(argv: Sequence[str] | None) -> int:
    p = parser(PROG, __doc__.strip() + "\n\nexamples:\n"
               "  sign-extract videos/ data/ --hand-model hand_landmarker.task       # videos/<label>/*.mp4\n"
               "  sign-extract ../shared/data/ksl-expert-videos ksl/ --label-from stem-suffix \\\n"
               "      --landmarks mediapipe --workers 2 --max-width 640\n"
               "  sign-extract clips/ data/ --manifest labels.csv --label-column word --signer anna\n")
    p.add_argument("video_dir", type=Path, metavar="VIDEO_DIR", help="folder of videos (searched recursively)")
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="dataset folder to create or extend")
    g = p.add_argument_group("labels")
    g.add_argument("--label-from", choices=LABEL_SOURCES, default="folder",
                   help="take each label from the sub-folder, the file name, or the file name after --separator")
    g.add_argument("--separator", default="__", help="for --label-from stem-suffix: the label follows its last "
                                                     "occurrence")
    g.add_argument("--manifest", type=Path, metavar="CSV",
                   help="label table (UTF-8 CSV, one row per video); overrides --label-from" + NO_DEFAULT)
    g.add_argument("--file-column", help=f"manifest column with the video path (default: the first of "
                                         f"{', '.join(FILE_COLUMNS)}){NO_DEFAULT}")
    g.add_argument("--label-column", help=f"manifest column with the label (default: the first of "
                                          f"{', '.join(LABEL_COLUMNS)}){NO_DEFAULT}")
    g.add_argument("--signer", default="", help="signer name for every video (a manifest 'signer' column wins; "
                                                "default: unknown)" + NO_DEFAULT)
    b = add_landmark_arguments(p)
    b.add_argument("--max-width", type=int, metavar="W",
                   help="downscale wider frames to W pixels, keeping the aspect (default: full size)" + NO_DEFAULT)
    p.add_argument("--workers", type=int, default=1, metavar="N", help="videos processed in parallel")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    setup_logging(args.verbose)
    config = ExtractConfig(
        video_dir=args.video_dir, out_dir=args.out_dir,
        backend=BackendSettings(args.landmarks, str(resolve_hand_model(args.hand_model)), args.threads),
        manifest=args.manifest, label_from=args.label_from, separator=args.separator,
        file_column=args.file_column, label_column=args.label_column, signer=args.signer,
        workers=args.workers, max_width=args.max_width, progress=not args.no_progress,
    )
    summary = extract(config)
    print(summary_text(summary))
    if summary.failed:
        print(f"{PROG}: {len(summary.failed)} of {len(summary.results)} videos failed:", file=sys.stderr)
        for r in summary.failed:
            print(f"  {r.job.rel}: {r.error}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog=PROG))


if __name__ == "__main__":
    main()

"""The extraction job: resume what is already there, run the rest in worker processes, write the manifest last.

Why a module of its own: a batch of hundreds of videos must survive an
interruption (a recording that exists and loads is kept), a bad video (it is
reported, the others go on) and a crash (``manifest.csv`` is written last and
lists only good recordings); none of that is about reading one video.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from tqdm import tqdm

from edge_runtime.dataset import ManifestRow, load_recording, save_recording
from edge_runtime.errors import DatasetError, SignedgeError
from train.extract.config import ENGINES, BackendSettings, ExtractConfig
from train.extract.folder import check_dataset_compatible, scan_recordings, write_dataset
from train.extract.plan import VideoJob, plan_jobs
from train.extract.video import extract_recording, probe_backend

log = logging.getLogger(__name__)


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


def extract_one(job: VideoJob, out_dir: Path, backend_settings: BackendSettings,
                max_width: int | None, backend: Any = None) -> VideoResult:
    """Worker entry point: one video → one saved recording, or a failed result with its one-line reason."""
    try:
        rec = extract_recording(job, backend_settings, max_width, backend)
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


def _run_jobs(todo: list[VideoJob], config: ExtractConfig) -> Iterable[VideoResult]:
    if config.engine == "ray":
        from train.extract.ray_engine import run_on_ray

        yield from run_on_ray(todo, config)
        return
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
    if config.engine not in ENGINES:
        raise SignedgeError(f"unknown engine {config.engine!r} (choose from {', '.join(ENGINES)})")
    if config.address is not None and config.engine != "ray":
        raise SignedgeError("--address goes with --engine ray")
    with contextlib.ExitStack() as stack:
        if config.engine == "ray":  # first: an unreachable cluster is one line within seconds
            from train.ray_cluster import ray_session

            stack.enter_context(ray_session(config.address))
        return _extract(config)


def _extract(config: ExtractConfig) -> ExtractSummary:
    if config.max_width is not None and config.max_width < 16:
        raise SignedgeError(f"--max-width must be at least 16 pixels, got {config.max_width}")
    jobs = plan_jobs(config)
    model_sha256 = probe_backend(config.backend)
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
        description = f"sign-extract of {config.video_dir} ({config.backend.name} backend)"
        rows = write_dataset(out_dir, config.backend.name, model_sha256, description)
    elif created:
        shutil.rmtree(out_dir)  # nothing good came out: leave no empty dataset behind
    return ExtractSummary(out_dir, config.backend.name, model_sha256, results, rows)

"""What the per-file dataset layout (one ``.npz`` per recording + ``manifest.csv``) costs at corpus sizes.

Issue #19 asks whether a dataset folder can hold a corpus of 10K-500K recordings before anyone builds a
sharded layout, so the decision is made on numbers. ``run_scale`` grows a dataset in place from a small source
dataset (every source recording copied under new ids, the manifest rewritten at each size) and, at each size,
measures in a fresh Python process per step so one step's caches and memory never help or hide the next:

* ``read_manifest`` and ``Dataset(folder)`` time, cold (page cache dropped first, when allowed) and warm;
* ``Dataset.load`` over every recording (or the first ``load_limit``, then extrapolated and marked so);
* the peak RSS of ``train.fit.load_dataset``, what ``sign-train`` keeps in memory (up to ``train_max``);
* disk use: allocated blocks (what ``du`` counts) against apparent bytes, files and folders (inodes).

The child processes run ``python -m benchmarks.dataset_scale STEP FOLDER [LIMIT]`` and print one JSON line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from benchmarks.machine import current_rss_mb, peak_rss_mb
from edge_runtime.dataset import (
    DATASET_JSON,
    MANIFEST,
    Dataset,
    ManifestRow,
    recording_filename,
    save_recording,
    write_manifest,
)
from edge_runtime.errors import DatasetError, SignedgeError

DEFAULT_SIZES = (10_000, 100_000, 500_000)
STEPS = ("manifest", "open", "load", "train", "disk")
DROP_CACHES = Path("/proc/sys/vm/drop_caches")
SAVE_PROBE = 200  # recordings written with save_recording to time a real (validated, fsynced) write


@dataclass
class ScaleConfig:
    """One ``sign-datascale`` run."""

    source: Path
    work: Path
    sizes: list[int] = field(default_factory=lambda: list(DEFAULT_SIZES))
    per_signer: int = 50  # recordings per synthetic signer: N / 50 people for a split guard to split
    load_limit: int | None = None  # Dataset.load reads at most this many per size (None: all)
    train_max: int = 100_000  # largest size whose training load (and its memory) is measured
    drop_caches: bool = False  # drop the page cache before the cold steps (needs root)
    keep: bool = False  # leave the generated dataset in ``work``
    progress: bool = True

    def validate(self) -> None:
        if not self.sizes or any(n < 1 for n in self.sizes):
            raise SignedgeError(f"sizes must be positive, got {self.sizes}")
        if sorted(set(self.sizes)) != list(self.sizes):
            raise SignedgeError(f"sizes must grow (the dataset is grown in place), got {self.sizes}")
        if self.per_signer < 1:
            raise SignedgeError(f"recordings per signer must be positive, got {self.per_signer}")
        if self.load_limit is not None and self.load_limit < 1:
            raise SignedgeError(f"the load limit must be positive, got {self.load_limit}")
        if self.train_max < 0:
            raise SignedgeError(f"the training-load size limit must be 0 or more, got {self.train_max}")


# ---------------------------------------------------------------- children: one measurement per fresh process

def disk_use(folder: Path) -> dict[str, Any]:
    """Allocated bytes (st_blocks * 512, as ``du``) and apparent bytes, files and folders, under ``folder``."""
    blocks = apparent = files = dirs = 0
    stack = [folder]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                st = entry.stat(follow_symlinks=False)
                blocks += st.st_blocks * 512
                if entry.is_dir(follow_symlinks=False):
                    dirs += 1
                    stack.append(Path(entry.path))
                else:
                    files += 1
                    apparent += st.st_size
    return {"disk_bytes": blocks, "apparent_bytes": apparent, "files": files, "dirs": dirs}


def measure_step(step: str, folder: Path, limit: int | None = None) -> dict[str, Any]:
    """One step in this process (the child's whole job); times exclude the interpreter's start and imports."""
    if step == "train":
        from train.fit import load_dataset  # imports keras: done before the base RSS is read
    from edge_runtime.dataset import read_manifest

    base = current_rss_mb()
    start = time.perf_counter()
    out: dict[str, Any] = {}
    if step == "manifest":
        out["rows"] = len(read_manifest(folder))
    elif step == "open":
        out["rows"] = len(Dataset(folder))
    elif step == "load":
        ds = Dataset(folder)
        opened = time.perf_counter()
        count = len(ds) if limit is None else min(limit, len(ds))
        frames = 0
        for i in range(count):
            frames += ds.load(i).num_frames
        out.update(loaded=count, frames=frames, open_s=opened - start)
        start = opened
    elif step == "train":
        loaded = load_dataset(folder)
        out["loaded"] = len(loaded.recordings)
    elif step == "disk":
        out.update(disk_use(folder))
    else:
        raise SignedgeError(f"unknown step {step!r} (known: {', '.join(STEPS)})")
    out.update(seconds=time.perf_counter() - start, base_rss_mb=base, rss_mb=current_rss_mb(),
               peak_rss_mb=peak_rss_mb())
    return out


def _child(argv: Sequence[str]) -> int:
    step, folder = argv[0], Path(argv[1])
    limit = int(argv[2]) if len(argv) > 2 and argv[2] != "all" else None
    try:
        print(json.dumps(measure_step(step, folder, limit)))
    except SignedgeError as err:
        print(f"{step}: {err}", file=sys.stderr)
        return 2
    return 0


def run_child(step: str, folder: Path, limit: int | None = None, cold: bool = False) -> dict[str, Any]:
    """Run one step in a fresh interpreter (same CPU affinity), after dropping the page cache when ``cold``."""
    if cold:
        drop_page_cache()
    cmd = [sys.executable, "-m", "benchmarks.dataset_scale", step, str(folder), "all" if limit is None else str(limit)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": os.pathsep.join(
        p for p in (str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")) if p)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SignedgeError(f"the {step} step on {folder} failed: {tail}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "cold": cold}


def can_drop_caches() -> bool:
    return DROP_CACHES.exists() and os.access(DROP_CACHES, os.W_OK)


def drop_page_cache() -> None:
    """Write dirty pages, then drop the page cache, dentries and inodes (root only): a cold read hits the disk."""
    os.sync()
    try:
        DROP_CACHES.write_text("3\n")
    except OSError as err:
        raise SignedgeError(f"cannot drop the page cache ({err}); run without --drop-caches for warm figures") from err


# ---------------------------------------------------------------- building the dataset

def replica_row(src: ManifestRow, i: int, per_signer: int) -> ManifestRow:
    """Replica ``i`` of a source row: its own source id and group, and one of N / per_signer synthetic signers."""
    source_id = f"scale-{i:07d}"
    return dataclasses.replace(src, file=recording_filename(src.label, source_id), source_id=source_id,
                               group=source_id, signer=f"scale-signer-{i // per_signer:05d}")


def grow(folder: Path, source: Dataset, rows: list[ManifestRow], size: int, per_signer: int,
         progress: bool) -> dict[str, Any]:
    """Copy source recordings until ``rows`` holds ``size`` replicas, then rewrite the manifest (timed apart)."""
    from tqdm import tqdm

    start = time.perf_counter()
    made: set[Path] = set()
    for i in tqdm(range(len(rows), size), desc=f"copy to {size}", unit="rec", disable=not progress, leave=False):
        src = source.rows[i % len(source.rows)]
        row = replica_row(src, i, per_signer)
        dst = folder / row.file
        if dst.parent not in made:
            dst.parent.mkdir(parents=True, exist_ok=True)
            made.add(dst.parent)
        shutil.copyfile(source.folder / src.file, dst)
        rows.append(row)
    copied = time.perf_counter() - start
    start = time.perf_counter()
    write_manifest(folder, rows)
    manifest_write = time.perf_counter() - start
    return {"copy_s": copied, "manifest_write_s": manifest_write}


def time_save_recording(source: Dataset, folder: Path, count: int = SAVE_PROBE) -> float:
    """Seconds per ``save_recording`` (validate, compress, fsync, rename): what a real writer of N would pay."""
    recs = [source.load(i) for i in range(len(source))]
    start = time.perf_counter()
    for i in range(count):
        rec = dataclasses.replace(recs[i % len(recs)], source_id=f"probe-{i:05d}", group="")
        save_recording(folder / recording_filename(rec.label, rec.source_id), rec)
    seconds = (time.perf_counter() - start) / count
    shutil.rmtree(folder)
    return seconds


def open_source(folder: Path) -> Dataset:
    """The source dataset, checked: every listed recording must load (a replica of a broken one is useless)."""
    source = Dataset(folder)
    problems = source.validate()
    if problems:
        raise DatasetError(f"{folder}: {len(problems)} broken recording(s), e.g. {problems[0]}")
    return source


def measure_size(folder: Path, size: int, config: ScaleConfig, cold: bool) -> dict[str, Any]:
    """Every child step at one size; cold steps first (after a drop), then the warm repeat."""
    result: dict[str, Any] = {}
    for step in ("manifest", "open"):
        if cold:
            c = run_child(step, folder, cold=True)
            result[f"{step}_cold"] = c
        result[f"{step}_warm"] = run_child(step, folder)
    result["load"] = run_child("load", folder, limit=config.load_limit, cold=cold)
    result["train"] = run_child("train", folder) if size <= config.train_max else None
    result["disk"] = run_child("disk", folder, cold=cold)
    return result


def summarize(size: int, write: dict[str, Any], steps: dict[str, Any], manifest_bytes: int,
              per_signer: int) -> dict[str, Any]:
    """One flat row per size: the figures the table and the JSON show."""
    load, disk, train = steps["load"], steps["disk"], steps["train"]
    mode = "cold" if "manifest_cold" in steps else "warm"
    load_rate = load["loaded"] / load["seconds"] if load["seconds"] > 0 else float("nan")
    row: dict[str, Any] = {
        "size": size,
        "signers": -(-size // per_signer),
        "added": write["added"],
        "copy_s": write["copy_s"],
        "copy_files_per_s": write["added"] / write["copy_s"] if write["copy_s"] > 0 else None,
        "manifest_write_s": write["manifest_write_s"],
        "manifest_bytes": manifest_bytes,
        "manifest_read_s": steps[f"manifest_{mode}"]["seconds"],
        "manifest_read_warm_s": steps["manifest_warm"]["seconds"],
        "manifest_read_cold_s": steps.get("manifest_cold", {}).get("seconds"),
        "manifest_peak_rss_mb": steps["manifest_warm"]["peak_rss_mb"],
        "open_s": steps[f"open_{mode}"]["seconds"],
        "open_warm_s": steps["open_warm"]["seconds"],
        "open_cold_s": steps.get("open_cold", {}).get("seconds"),
        "open_peak_rss_mb": steps["open_warm"]["peak_rss_mb"],
        "open_base_rss_mb": steps["open_warm"]["base_rss_mb"],
        "load_cold": load["cold"],
        "load_loaded": load["loaded"],
        "load_measured_s": load["seconds"],
        "load_per_s": load_rate,
        "load_s": load["seconds"] * size / load["loaded"],
        "load_extrapolated": load["loaded"] < size,
        "disk_bytes": disk["disk_bytes"],
        "apparent_bytes": disk["apparent_bytes"],
        "files": disk["files"],
        "dirs": disk["dirs"],
        "inodes": disk["files"] + disk["dirs"],
        "disk_walk_s": disk["seconds"],
        "disk_bytes_per_recording": disk["disk_bytes"] / size,
        "apparent_bytes_per_recording": disk["apparent_bytes"] / size,
        "train_s": train["seconds"] if train else None,
        "train_peak_rss_mb": train["peak_rss_mb"] if train else None,
        "train_base_rss_mb": train["base_rss_mb"] if train else None,
        "train_mb_per_recording": (train["peak_rss_mb"] - train["base_rss_mb"]) / size if train else None,
    }
    return row


def run_scale(config: ScaleConfig) -> dict[str, Any]:
    """Grow a replica dataset through ``config.sizes``, measuring each size; the generated data is removed after
    unless ``keep`` (the work folder must not hold a dataset already: nothing of the user's is overwritten)."""
    config.validate()
    source = open_source(config.source)
    folder = config.work / "dataset"
    if folder.exists():
        raise SignedgeError(f"{folder} already exists: give an empty --work folder (or remove it)")
    cold = config.drop_caches
    if cold and not can_drop_caches():
        raise SignedgeError(f"cannot write {DROP_CACHES} (needs root): run without --drop-caches for warm figures")
    folder.mkdir(parents=True)
    if (config.source / DATASET_JSON).is_file():
        shutil.copyfile(config.source / DATASET_JSON, folder / DATASET_JSON)
    results: dict[str, Any] = {"source": {"folder": str(config.source), "recordings": len(source),
                                          "labels": source.labels}, "cold": cold, "sizes": []}
    try:
        results["save_recording_s"] = time_save_recording(source, config.work / "save-probe")
        rows: list[ManifestRow] = []
        for size in config.sizes:
            before = len(rows)
            write = grow(folder, source, rows, size, config.per_signer, config.progress)
            write["added"] = size - before
            steps = measure_size(folder, size, config, cold)
            row = summarize(size, write, steps, (folder / MANIFEST).stat().st_size, config.per_signer)
            row["steps"] = steps
            results["sizes"].append(row)
    finally:
        if not config.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return results


# ---------------------------------------------------------------- report

def _s(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if value < 10 else f"{value:.1f}" if value < 1000 else f"{value:,.0f}"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def table(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the results table (terminal and Markdown show the same cells)."""
    cold = report["cold"]
    head = ["recordings", "signers", "copy s (files/s)", "manifest MB",
            "read_manifest s" + (" cold / warm" if cold else " (warm)"),
            "Dataset() s" + (" cold / warm" if cold else " (warm)"), "Dataset() peak RSS MB",
            "load all s" + (" (cold)" if cold else " (warm)"), "load rec/s",
            "train load peak RSS MB (s)", "du GB", "apparent GB", "du / apparent", "files", "dirs"]
    body = []
    for r in report["sizes"]:
        both = (lambda c, w: f"{_s(c)} / {_s(w)}") if cold else (lambda c, w: _s(w))
        load = _s(r["load_s"]) + (f" (est. from {r['load_loaded']:,})" if r["load_extrapolated"] else "")
        train = (f"{_mb(r['train_peak_rss_mb'])} ({_s(r['train_s'])})" if r["train_peak_rss_mb"] is not None
                 else "not run")
        body.append([f"{r['size']:,}", f"{r['signers']:,}",
                     f"{_s(r['copy_s'])} ({r['copy_files_per_s']:,.0f})" if r["copy_files_per_s"] else _s(r["copy_s"]),
                     f"{r['manifest_bytes'] / 1e6:.1f}",
                     both(r["manifest_read_cold_s"], r["manifest_read_warm_s"]),
                     both(r["open_cold_s"], r["open_warm_s"]), _mb(r["open_peak_rss_mb"]),
                     load, f"{r['load_per_s']:,.0f}", train,
                     f"{r['disk_bytes'] / 1e9:.2f}", f"{r['apparent_bytes'] / 1e9:.2f}",
                     f"{r['disk_bytes'] / max(r['apparent_bytes'], 1):.2f}",
                     f"{r['files']:,}", f"{r['dirs']:,}"])
    return head, body


def markdown(report: dict[str, Any], header: Sequence[str], notes: Sequence[str]) -> str:
    """The report as Markdown: command and machine first, then the table, then what each column means."""
    head, body = table(report)
    lines = ["# Dataset layout at corpus sizes (sign-datascale)", "", *header, "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join([*lines, "", *notes, ""])


if __name__ == "__main__":
    raise SystemExit(_child(sys.argv[1:]))

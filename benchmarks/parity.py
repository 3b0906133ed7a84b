"""sign-parity: does the LiteRT hand pipeline find MediaPipe's hands, and how much faster is it?

With ``--precision f16|int8`` the candidate is the LiteRT pipeline on that
derived bundle and the reference the same pipeline on the float bundle, under
stricter gates (:data:`PRECISION_TARGETS`), on the videos the bundle was not
calibrated on; with ``--model`` the sign classifier's decisions on those
videos must also be unchanged.

The device runs ``edge_runtime.landmarks.litert.LiteRTHands`` because
mediapipe does not run on a Raspberry Pi 4; datasets are often extracted on a
host with the mediapipe backend. Both must give the same landmarks, or a model
trained on one sees shifted features from the other. This command runs both
backends (full models, tracking on) frame by frame over the same videos and
reports, per video and in total:

- frames, and frames where each backend finds at least one hand;
- agreement on "at least one hand found" (target >= 95%);
- where both fill the same hand slot: median and 95th-percentile distance of
  the 21 landmarks, in % of the image width (targets <= 1% and <= 3%);
- handedness agreement: hands matched by position (mean landmark distance
  under 5% of the width), share that both backends put in the same slot
  (target >= 98%);
- milliseconds per frame of each backend, timed on the same frames in the
  same pass (so a busy machine slows both alike), and their ratio.

``--speed`` instead times a matrix in one run: mediapipe (full) and litert
(full and lite, each with every ``--threads`` value) at every ``--widths``.
"""

from __future__ import annotations

import itertools
import logging
import math
import platform
import time
import unicodedata
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from edge_runtime.capture import VideoFileSource
from edge_runtime.errors import SignedgeError
from edge_runtime.hands import NUM_HANDS
from edge_runtime.landmarks import HandFrame
from edge_runtime.landmarks.precision import bundle_path, existing_bundles

log = logging.getLogger(__name__)

SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_VIDEOS = SHARED / "data" / "ksl-expert-videos"
SHARED_FULL = SHARED / "models" / "hand_landmarker.task"
SHARED_LITE = SHARED / "models" / "hand_landmarker_lite.task"
SPEED_VIDEO = "가족__남편.mp4"
SAME_HAND_PCT = 5.0  # two backends' hands are "the same hand" when their mean landmark distance is below this
# name: (direction, threshold, what)
TARGETS = {
    "found_agreement": (">=", 0.95, "agreement on '>= 1 hand found'"),
    "median_pct": ("<=", 1.0, "median landmark distance, % of width"),
    "p95_pct": ("<=", 3.0, "95th-percentile landmark distance, % of width"),
    "handedness_agreement": (">=", 0.98, "handedness agreement"),
}

# A derived (f16 / int8) bundle against the float one: it must keep the landmarks, not just resemble them.
PRECISION_TARGETS = {
    "found_agreement": (">=", 0.99, "agreement on '>= 1 hand found'"),
    "median_pct": ("<=", 0.3, "median landmark distance, % of width"),
    "p95_pct": ("<=", 1.5, "95th-percentile landmark distance, % of width"),
    "handedness_agreement": (">=", 0.98, "handedness agreement"),
    "decisions_agreement": (">=", 1.0, "videos whose sign decisions are unchanged"),
}


@dataclass
class ParityConfig:
    """What ``sign-parity`` compares; the flags mirror these fields."""

    videos: list[Path]
    hand_model: Path
    lite_model: Path | None = None
    max_width: int | None = None
    threads: list[int] = field(default_factory=lambda: [1])
    max_frames: int | None = None
    speed: bool = False
    widths: list[int | None] = field(default_factory=lambda: [None, 640])
    repeat: int = 3
    out: Path | None = None
    check: bool = False
    progress: bool = True
    precision: str | None = None  # None: litert vs mediapipe; f16/int8: that bundle vs the float one (litert)
    model: Path | None = None  # exported classifier whose decisions must not change (with precision)
    left_out: list[str] = field(default_factory=list)  # calibration videos not compared (names)

    @property
    def candidate_model(self) -> Path:
        return bundle_path(self.hand_model, self.precision) if self.precision else self.hand_model


@dataclass
class Tally:
    """Running counts of one video (or of all of them)."""

    frames: int = 0
    candidate_found: int = 0
    reference_found: int = 0
    found_agree: int = 0
    same_slot_hands: int = 0
    matched_hands: int = 0
    handedness_agree: int = 0
    distances: list[np.ndarray] = field(default_factory=list)
    candidate_ms: list[float] = field(default_factory=list)
    reference_ms: list[float] = field(default_factory=list)
    decisions: tuple[list[tuple[str, bool]], list[tuple[str, bool]]] | None = None  # per video (with --model)
    videos_same_decisions: int = 0
    videos_decided: int = 0

    def add(self, lit: HandFrame, ref: HandFrame, aspect: float, lit_ms: float, ref_ms: float) -> None:
        self.frames += 1
        self.candidate_found += lit.num_hands > 0
        self.reference_found += ref.num_hands > 0
        self.found_agree += (lit.num_hands > 0) == (ref.num_hands > 0)
        for slot in range(NUM_HANDS):
            if lit.present[slot] and ref.present[slot]:
                self.distances.append(landmark_distance_pct(lit.landmarks[slot], ref.landmarks[slot], aspect))
                self.same_slot_hands += 1
        for lit_slot, ref_slot in match_hands(lit, ref, aspect):
            self.matched_hands += 1
            self.handedness_agree += lit_slot == ref_slot
        self.candidate_ms.append(lit_ms)
        self.reference_ms.append(ref_ms)

    def merge(self, other: "Tally") -> None:
        for name in ("frames", "candidate_found", "reference_found", "found_agree", "same_slot_hands",
                     "matched_hands", "handedness_agree"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.distances += other.distances
        self.candidate_ms += other.candidate_ms
        self.reference_ms += other.reference_ms
        if other.decisions is not None:
            self.videos_decided += 1
            self.videos_same_decisions += other.decisions[0] == other.decisions[1]

    def summary(self, name: str) -> dict[str, Any]:
        dist = np.concatenate(self.distances) if self.distances else np.zeros(0)
        lit_ms = float(np.mean(self.candidate_ms)) if self.candidate_ms else float("nan")
        ref_ms = float(np.mean(self.reference_ms)) if self.reference_ms else float("nan")
        return {
            "video": name,
            "frames": self.frames,
            "candidate_frames_with_hand": self.candidate_found,
            "reference_frames_with_hand": self.reference_found,
            "found_agreement": self.found_agree / self.frames if self.frames else float("nan"),
            "same_slot_hands": self.same_slot_hands,
            "median_pct": float(np.median(dist)) if dist.size else float("nan"),
            "p95_pct": float(np.percentile(dist, 95)) if dist.size else float("nan"),
            "matched_hands": self.matched_hands,
            "handedness_agreement": (self.handedness_agree / self.matched_hands if self.matched_hands
                                     else float("nan")),
            "candidate_ms": lit_ms,
            "reference_ms": ref_ms,
            "speedup": ref_ms / lit_ms if lit_ms > 0 else float("nan"),
            **self._decision_fields(),
        }

    def _decision_fields(self) -> dict[str, Any]:
        if self.decisions is not None:  # one video
            same = self.decisions[0] == self.decisions[1]
            return {"decisions_agreement": float(same), "candidate_decisions": self.decisions[0],
                    "reference_decisions": self.decisions[1]}
        if self.videos_decided:
            return {"decisions_agreement": self.videos_same_decisions / self.videos_decided,
                    "videos_same_decisions": self.videos_same_decisions, "videos_decided": self.videos_decided}
        return {}


def landmark_distance_pct(a: np.ndarray, b: np.ndarray, aspect: float) -> np.ndarray:
    """Distance of each of the 21 landmarks, in % of the image width (y is rescaled from height units)."""
    dx = (a[:, 0] - b[:, 0]) * 100.0
    dy = (a[:, 1] - b[:, 1]) * 100.0 / aspect
    return np.hypot(dx, dy)


def match_hands(lit: HandFrame, ref: HandFrame, aspect: float) -> list[tuple[int, int]]:
    """Pairs (litert slot, mediapipe slot) of hands that are the same hand by position, whatever their slot."""
    a = [s for s in range(NUM_HANDS) if lit.present[s]]
    b = [s for s in range(NUM_HANDS) if ref.present[s]]
    if not a or not b:
        return []
    cost = {(i, j): float(landmark_distance_pct(lit.landmarks[i], ref.landmarks[j], aspect).mean())
            for i in a for j in b}
    best: list[tuple[int, int]] = []
    best_cost = float("inf")
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    for perm in itertools.permutations(large, len(small)):
        pairs = [(i, j) if small is a else (j, i) for i, j in zip(small, perm)]
        total = sum(cost[p] for p in pairs)
        if total < best_cost:
            best, best_cost = pairs, total
    return [p for p in best if cost[p] < SAME_HAND_PCT]


def _open_litert(model: Path, threads: int | None) -> Any:
    from edge_runtime.landmarks.litert import LiteRTHands

    return LiteRTHands(model, threads=threads)


def _open_mediapipe(model: Path) -> Any:
    from edge_runtime.landmarks.mediapipe_tasks import MediaPipeHands

    return MediaPipeHands(model)


def _timed(backend: Any, frame: np.ndarray, ts: int) -> tuple[HandFrame, float]:
    start = time.perf_counter()
    result = backend.process(frame, ts)
    return result, (time.perf_counter() - start) * 1000.0


class _Replay:
    """HandFrames of one video with the source's aspect: what a Recognizer needs without a backend."""

    def __init__(self, frames: list[tuple[float, HandFrame]], aspect: float) -> None:
        self.frames, self.aspect = frames, aspect

    def __iter__(self) -> Any:
        return iter(self.frames)


def decisions(frames: list[tuple[float, HandFrame]], aspect: float, classifier: Any) -> list[tuple[str, bool]]:
    """(label, known) of every sign the classifier reports on these hands, as sign-recognize would."""
    from edge_runtime.recognizer import Recognizer

    return [(e.label, e.known) for e in Recognizer(_Replay(frames, aspect), None, classifier)]


def compare_video(video: Path, config: ParityConfig, classifier: Any = None) -> Tally:
    """Candidate and reference backends, fresh (tracking from the first frame), over one video; with a
    ``classifier`` (opened once for the run from ``config.model``), both pipelines' sign decisions too."""
    tally = Tally()
    streams: tuple[list[tuple[float, HandFrame]], list[tuple[float, HandFrame]]] = ([], [])
    with VideoFileSource(video, max_width=config.max_width) as source:
        aspect = source.aspect
        lit = _open_litert(config.candidate_model, config.threads[0])
        ref = (_open_litert(config.hand_model, config.threads[0]) if config.precision
               else _open_mediapipe(config.hand_model))
        try:
            for i, (t, frame) in enumerate(tqdm(source, desc=video.stem, unit="frame", leave=False,
                                                total=source.frame_count,
                                                disable=not config.progress or None)):
                if config.max_frames is not None and i >= config.max_frames:
                    break
                ts = int(round(t * 1000))
                lit_frame, lit_ms = _timed(lit, frame, ts)
                ref_frame, ref_ms = _timed(ref, frame, ts)
                tally.add(lit_frame, ref_frame, aspect, lit_ms, ref_ms)
                if classifier is not None:
                    streams[0].append((t, lit_frame))
                    streams[1].append((t, ref_frame))
        finally:
            lit.close()
            ref.close()
    if tally.frames == 0:
        raise SignedgeError(f"{video}: no frames could be read")
    if classifier is not None:
        tally.decisions = (decisions(streams[0], aspect, classifier), decisions(streams[1], aspect, classifier))
    return tally


def target_results(total: dict[str, Any], targets: dict[str, tuple[str, float, str]] = TARGETS
                   ) -> dict[str, dict[str, Any]]:
    """Each target with the measured value and whether it passes (NaN, i.e. nothing to measure, fails)."""
    results = {}
    for name, (op, limit, what) in targets.items():
        if name not in total:  # e.g. decisions without --model: not measured, not claimed
            continue
        value = total[name]
        ok = bool(value >= limit) if op == ">=" else bool(value <= limit)
        shown = f"{100 * limit:g}%" if name.endswith("agreement") else f"{limit:g}"
        results[name] = {"what": what, "target": f"{op} {shown}", "value": value, "pass": ok}
    return results


def pct(v: float) -> str:
    return "n/a" if math.isnan(v) else f"{100 * v:.1f}%"


def num(v: float, fmt: str = ".2f") -> str:
    return "n/a" if math.isnan(v) else format(v, fmt)


def format_parity(rows: list[dict[str, Any]], names: tuple[str, str] = ("litert", "mp")) -> str:
    """The per-video table; ``names`` are the candidate's and the reference's short names."""
    cand, ref = names
    decided = any("decisions_agreement" in r for r in rows)
    head = ["video", "frames", f"{cand}>=1", f"{ref}>=1", "found agree", "slot pairs", "median %w", "p95 %w",
            "handed agree", f"{cand} ms", f"{ref} ms", "speedup"] + (["same signs"] if decided else [])
    body = [[r["video"], str(r["frames"]), str(r["candidate_frames_with_hand"]), str(r["reference_frames_with_hand"]),
             pct(r["found_agreement"]), str(r["same_slot_hands"]), num(r["median_pct"], ".3f"),
             num(r["p95_pct"], ".3f"), pct(r["handedness_agreement"]), num(r["candidate_ms"], ".1f"),
             num(r["reference_ms"], ".1f"), num(r["speedup"], ".2f") + "x"]
            + ([pct(r["decisions_agreement"]) if "decisions_agreement" in r else "n/a"] if decided else [])
            for r in rows]
    return _table(head, body)


def _width(text: str) -> int:
    """Columns a string takes in a terminal (Korean file names are two columns per character)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int, left: bool) -> str:
    fill = " " * (width - _width(text))
    return text + fill if left else fill + text


def _table(head: list[str], body: list[list[str]]) -> str:
    widths = [max(_width(row[i]) for row in [head] + body) for i in range(len(head))]
    lines = ["  ".join(_pad(c, w, i == 0) for i, (c, w) in enumerate(zip(row, widths))) for row in [head] + body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run_parity(config: ParityConfig) -> dict[str, Any]:
    """Compare the backends on every video; returns the report (per video, total, targets)."""
    rows, total = [], Tally()
    classifier = None
    if config.model is not None:
        from edge_runtime.classifier import load_classifier

        classifier = load_classifier(config.model)
    for video in config.videos:
        tally = compare_video(video, config, classifier)
        rows.append(tally.summary(video.name))
        total.merge(tally)
    summary = total.summary("TOTAL")
    targets = target_results(summary, PRECISION_TARGETS if config.precision else TARGETS)
    return {"videos": rows, "total": summary, "targets": targets, "left_out": config.left_out}


def run_speed(config: ParityConfig) -> dict[str, Any]:
    """ms/frame of every backend configuration, all timed on the same frames in one pass per width."""
    rows = []
    for video in config.videos:
        for width in config.widths:
            with VideoFileSource(video, max_width=width) as source:
                frames = [(int(round(t * 1000)), f) for t, f in source]
                size = f"{source.width}x{source.height}"
            if config.max_frames is not None:
                frames = frames[:config.max_frames]
            if not frames:
                raise SignedgeError(f"{video}: no frames could be read")
            backends: list[tuple[dict[str, Any], Any]] = []
            try:
                backends.append(({"backend": "mediapipe", "model": "full", "threads": "default"},
                                 _open_mediapipe(config.hand_model)))
                skipped = []
                if config.lite_model is not None:
                    try:
                        backends.append(({"backend": "mediapipe", "model": "lite", "threads": "default"},
                                         _open_mediapipe(config.lite_model)))
                    except SignedgeError as err:  # mediapipe refuses the lite bundle: measured, not assumed
                        skipped.append({"backend": "mediapipe", "model": "lite", "threads": "default",
                                        "error": str(err).replace(f"{config.lite_model}: ", "")})
                models = speed_models(config)
                for (label, model), threads in itertools.product(models, config.threads):
                    backends.append(({"backend": "litert", "model": label, "threads": str(threads)},
                                     _open_litert(model, threads)))
                for _, backend in backends:  # untimed warm-up: first-call set-up is not per-frame cost
                    backend.process(frames[0][1], 0)
                times: list[list[float]] = [[] for _ in backends]
                span = frames[-1][0] + 1000  # later passes continue the timeline, so timestamps keep increasing
                for rep in range(1, config.repeat + 1):
                    for ts, frame in tqdm(frames, desc=f"{video.stem} {size} pass {rep}", unit="frame",
                                          leave=False, disable=not config.progress or None):
                        for k, (_, backend) in enumerate(backends):
                            times[k].append(_timed(backend, frame, ts + rep * span)[1])
            finally:
                for _, backend in backends:
                    backend.close()
            ref_mean, ref_median = float(np.mean(times[0])), float(np.median(times[0]))
            for (info, _), ms in zip(backends, times):
                mean, median = float(np.mean(ms)), float(np.median(ms))
                rows.append({"video": video.name, "size": size, **info, "frames": len(ms), "ms_mean": mean,
                             "ms_median": median, "speedup_vs_mediapipe_full": ref_mean / mean,
                             "median_speedup_vs_mediapipe_full": ref_median / median})
            for info in skipped:
                rows.append({"video": video.name, "size": size, **info})
    return {"speed": rows}


def speed_models(config: ParityConfig) -> list[tuple[str, Path]]:
    """Every litert bundle --speed times: full and lite, each at every precision whose bundle exists."""
    floats = [("full", config.hand_model)] + ([("lite", config.lite_model)] if config.lite_model else [])
    return [(label if precision == "f32" else f"{label} {precision}", derived)
            for label, path in floats for precision, derived in existing_bundles(path)]


def format_speed(rows: list[dict[str, Any]]) -> str:
    head = ["video", "size", "backend", "model", "threads", "ms/frame", "median ms", "vs mediapipe full",
            "(medians)"]
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["video"], r["size"], r["backend"], r["model"], r["threads"], "n/a", "n/a",
                         "cannot run: " + r["error"][:70], ""])
        else:
            body.append([r["video"], r["size"], r["backend"], r["model"], r["threads"], f"{r['ms_mean']:.2f}",
                         f"{r['ms_median']:.2f}", f"{r['speedup_vs_mediapipe_full']:.2f}x",
                         f"{r['median_speedup_vs_mediapipe_full']:.2f}x"])
    return _table(head, body)


def environment() -> dict[str, Any]:
    from edge_runtime.tflite import runtime_name

    versions = {"python": platform.python_version(), "machine": platform.machine(),
                "tflite_runtime": runtime_name()}
    for dist in ("ai-edge-litert", "mediapipe", "opencv-python-headless", "opencv-contrib-python", "numpy"):
        try:
            versions[dist] = version(dist)
        except PackageNotFoundError:
            continue
    return versions


def jsonable(value: Any) -> Any:
    """Paths as strings and NaN (nothing measured) as null, so the file is strict JSON."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value

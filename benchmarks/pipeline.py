"""The pipeline table: where the time of live recognition goes, per stage and per frame, on real video.

It runs the device's own objects end to end: ``VideoFileSource`` (decode and
downscale) -> a landmark backend from ``open_backend`` -> ``Recognizer``
(segmenter, ``FeatureSpec.model_input``, ``Classifier.predict``, decision).
Thin wrappers around the source, the backend, the feature spec and the
classifier only read the clock around each call; nothing of the pipeline is
re-implemented here.

Per pass (one video, one frame width, one backend configuration), fresh
backend, tracking from the first frame:

- decode, landmarks: milliseconds per frame; the first frame is the
  interpreters' warm-up and is left out of every per-frame figure and of FPS;
- features, inference: milliseconds per classified sign (once per segment),
  and their share per frame;
- end-to-end FPS: frames per wall-clock second over the whole loop;
- sign -> result: after the video the last frame is held for ``tail_s``
  seconds (the signer holding still, as a camera would keep seeing), so each
  sign ends the way it ends live. The latency is the segmenter's wait (for a
  ``hands_gone`` ending, measured: the closing frame's time minus the last
  frame with hands; for a ``rest`` ending, ``rest_s`` by construction: the
  hands must be still that long) plus the compute after the closing frame
  arrives (its landmarks, segmentation, features, inference). Signs cut by
  ``max_length`` wait nothing; signs closed only by the end of the stream have
  no defined wait and are counted, not timed.

The classifier in the pipeline measures time: its labels are not scored here
(the classifier table does that on the held-out split).
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from edge_runtime.capture import VideoFileSource
from edge_runtime.errors import SignedgeError
from edge_runtime.hands import HandSequence
from edge_runtime.landmarks import HandFrame, open_backend
from edge_runtime.recognizer import Recognizer, RecognizerConfig
from edge_runtime.spec import FeatureSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackendConfig:
    """One landmark backend configuration: a row group of the pipeline table."""

    backend: str  # litert | mediapipe
    model: str  # full | lite
    path: Path
    threads: int | None  # None: the backend's own choice (MediaPipe Tasks exposes no thread setting)

    @property
    def label(self) -> str:
        return f"{self.backend} {self.model} {self.threads_text}"

    @property
    def threads_text(self) -> str:
        return f"{self.threads}t" if self.threads else "default threads"


@dataclass
class PipelineConfig:
    """What the pipeline table runs; ``sign-bench``'s flags mirror these fields."""

    videos: list[Path]
    classifier: Path  # an exported model (it carries its description)
    spec: FeatureSpec
    backends: list[BackendConfig]
    widths: list[int | None] = field(default_factory=lambda: [None, 640])  # None: the video's own width
    tail_s: float = 1.0
    recognizer: RecognizerConfig = field(default_factory=RecognizerConfig)
    progress: bool = False


@dataclass
class EventTiming:
    reason: str
    wait_ms: float | None  # None: closed by the end of the stream, no defined wait
    compute_ms: float

    @property
    def total_ms(self) -> float | None:
        return None if self.wait_ms is None else self.wait_ms + self.compute_ms


@dataclass
class PassTimes:
    """Clock readings of one pass, filled by the wrappers below."""

    decode_ms: list[float] = field(default_factory=list)  # per real frame after the first
    landmarks_ms: list[float] = field(default_factory=list)  # per frame, tail included (sliced later)
    features_ms: list[float] = field(default_factory=list)  # per classified segment
    inference_ms: list[float] = field(default_factory=list)
    real_frames: int = 0
    clock_start: float | None = None  # when the second frame was handed over (after warm-up)
    clock_end: float | None = None  # when every real frame had been processed
    last_t: float = 0.0  # stream time of the newest frame handed over
    last_yield: float = 0.0  # wall clock when it was handed over
    events: list[EventTiming] = field(default_factory=list)


class _TimedSource:
    """A ``VideoFileSource`` whose reads are timed, followed by ``tail_s`` seconds of its last frame held."""

    def __init__(self, source: VideoFileSource, times: PassTimes, tail_s: float) -> None:
        self.source, self.times, self.tail_s = source, times, tail_s
        self.width, self.height = source.width, source.height

    @property
    def aspect(self) -> float:
        return self.source.aspect

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        times = self.times
        frames = iter(self.source)
        last: tuple[float, np.ndarray] | None = None
        while True:
            start = time.perf_counter()
            item = next(frames, None)
            read_ms = (time.perf_counter() - start) * 1000.0
            if item is None:
                break
            if times.real_frames >= 1:  # the first frame was decoded when the source opened; it is the warm-up
                times.decode_ms.append(read_ms)
            times.real_frames += 1
            last = item
            yield self._hand_over(item)
        times.clock_end = time.perf_counter()
        if last is None:
            return
        t, image = last
        step = 1.0 / self.source.fps
        for k in range(1, math.ceil(self.tail_s * self.source.fps) + 1):
            yield self._hand_over((t + k * step, image))

    def _hand_over(self, item: tuple[float, np.ndarray]) -> tuple[float, np.ndarray]:
        now = time.perf_counter()
        if self.times.real_frames == 2 and self.times.clock_start is None:
            self.times.clock_start = now
        self.times.last_t, self.times.last_yield = float(item[0]), now
        return item


class _TimedBackend:
    """A landmark backend whose ``process`` calls are timed."""

    def __init__(self, backend: Any, times: PassTimes) -> None:
        self.backend, self.times = backend, times
        self.name = backend.name
        self.model_sha256 = getattr(backend, "model_sha256", "")

    def process(self, image_bgr: np.ndarray, timestamp_ms: int) -> HandFrame:
        start = time.perf_counter()
        result = self.backend.process(image_bgr, timestamp_ms)
        self.times.landmarks_ms.append((time.perf_counter() - start) * 1000.0)
        return result

    def close(self) -> None:
        self.backend.close()


class _TimedSpec:
    """The classifier's ``FeatureSpec`` with ``model_input`` timed (the features stage)."""

    def __init__(self, spec: FeatureSpec, times: PassTimes) -> None:
        self._spec, self._times = spec, times

    def model_input(self, hands: HandSequence) -> np.ndarray:
        start = time.perf_counter()
        out = self._spec.model_input(hands)
        self._times.features_ms.append((time.perf_counter() - start) * 1000.0)
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._spec, name)


class _TimedClassifier:
    """The device ``Classifier`` with ``score`` and ``predict`` timed (the inference stage: quantise, invoke, read
    out, and for a model with an embedding the prototype match). The recogniser calls ``score``."""

    def __init__(self, classifier: Any, times: PassTimes) -> None:
        self._clf, self._times = classifier, times
        self.spec = _TimedSpec(classifier.spec, times)

    def _timed(self, call: Callable[[np.ndarray], Any], features: np.ndarray) -> Any:
        start = time.perf_counter()
        out = call(features)
        self._times.inference_ms.append((time.perf_counter() - start) * 1000.0)
        return out

    def score(self, features: np.ndarray) -> Any:
        return self._timed(self._clf.score, features)

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self._timed(self._clf.predict, features)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._clf, name)


@contextlib.contextmanager
def _recognizer_warning_once() -> Iterator[None]:
    """The recogniser warns about a landmark-backend mismatch on every pass; the report says it once."""
    logger = logging.getLogger("edge_runtime.recognizer")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _wait_ms(reason: str, closing_t: float, end_s: float, config: RecognizerConfig) -> float | None:
    if reason == "hands_gone":
        return max(0.0, closing_t - end_s) * 1000.0
    if reason == "rest":
        return config.segment.rest_s * 1000.0
    if reason in ("max_length", "window"):
        return 0.0
    return None  # end_of_stream


def run_pass(video: Path, width: int | None, backend: BackendConfig, classifier: Any,
             config: PipelineConfig) -> tuple[PassTimes, str]:
    """One video through the whole device pipeline with one backend; the clock readings and the frame size."""
    times = PassTimes()
    with VideoFileSource(video, max_width=width) as source:
        size = f"{source.width}x{source.height}"
        timed_backend = _TimedBackend(open_backend(backend.backend, str(backend.path), threads=backend.threads),
                                      times)
        try:
            recognizer = Recognizer(_TimedSource(source, times, config.tail_s), timed_backend,
                                    _TimedClassifier(classifier, times), config.recognizer)
            for event in recognizer:
                compute_ms = (time.perf_counter() - times.last_yield) * 1000.0
                times.events.append(EventTiming(event.reason, _wait_ms(event.reason, times.last_t, event.end_s,
                                                                       config.recognizer), compute_ms))
        finally:
            timed_backend.close()
    if times.real_frames < 2:
        raise SignedgeError(f"{video}: fewer than 2 frames could be read (the first one is the warm-up)")
    return times, size


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0, "mean_ms": float("nan"), "p50_ms": float("nan"), "p95_ms": float("nan")}
    return {"n": len(values), "mean_ms": float(np.mean(values)), "p50_ms": float(np.median(values)),
            "p95_ms": float(np.percentile(values, 95))}


@dataclass
class PipelineRow:
    """One (frame width, backend) row, over every video."""

    width: str  # "native" or the asked width
    size: str  # frame sizes seen, e.g. "1280x720"
    backend: str
    model: str
    threads: str
    status: str = "ok"  # ok | unavailable | failed
    note: str = ""
    videos: int = 0
    frames: int = 0  # timed frames (each video's first frame is the warm-up)
    decode: dict[str, float] = field(default_factory=dict)
    landmarks: dict[str, float] = field(default_factory=dict)
    features: dict[str, float] = field(default_factory=dict)  # per sign
    inference: dict[str, float] = field(default_factory=dict)  # per sign
    other_ms_per_frame: float = float("nan")  # segmenter, recogniser bookkeeping, Python
    features_ms_per_frame: float = float("nan")
    inference_ms_per_frame: float = float("nan")
    landmark_fps: float = float("nan")  # 1000 / mean landmarks ms: the landmark stage alone
    fps: float = float("nan")  # end to end, frames per wall-clock second
    signs: int = 0
    signs_timed: int = 0  # with a defined wait (not closed by the end of the stream)
    reasons: dict[str, int] = field(default_factory=dict)
    latency: dict[str, float] = field(default_factory=dict)  # sign -> result: total, wait and compute (ms)
    per_video: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _row(width: int | None, backend: BackendConfig, passes: list[tuple[Path, PassTimes, str]]) -> PipelineRow:
    """Pool the passes of every video into one row (per-frame figures over all frames, not video means)."""
    row = PipelineRow(width="native" if width is None else str(width),
                      size=", ".join(sorted({size for _, _, size in passes})), backend=backend.backend,
                      model=backend.model, threads=str(backend.threads) if backend.threads else "default")
    decode, landmarks, features, inference, events = [], [], [], [], []
    wall = 0.0
    for video, times, size in passes:
        lm = times.landmarks_ms[1:times.real_frames]  # skip the warm-up frame and the held tail
        span = (times.clock_end or 0.0) - (times.clock_start or 0.0)
        decode += times.decode_ms
        landmarks += lm
        features += times.features_ms
        inference += times.inference_ms
        events += times.events
        wall += span
        row.per_video.append({"video": video.name, "size": size, "frames": len(lm),
                              "landmarks_mean_ms": float(np.mean(lm)) if lm else float("nan"),
                              "fps": len(lm) / span if span > 0 else float("nan"),
                              "signs": len(times.events), "reasons": [e.reason for e in times.events]})
    row.videos, row.frames = len(passes), len(landmarks)
    row.decode, row.landmarks = _stats(decode), _stats(landmarks)
    row.features, row.inference = _stats(features), _stats(inference)
    if row.frames:
        row.features_ms_per_frame = float(np.sum(features)) / row.frames
        row.inference_ms_per_frame = float(np.sum(inference)) / row.frames
        row.landmark_fps = 1000.0 / row.landmarks["mean_ms"] if row.landmarks["mean_ms"] > 0 else float("nan")
    if wall > 0 and row.frames:
        row.fps = row.frames / wall
        row.other_ms_per_frame = max(0.0, wall * 1000.0 / row.frames - row.decode["mean_ms"]
                                     - row.landmarks["mean_ms"] - row.features_ms_per_frame
                                     - row.inference_ms_per_frame)
    row.signs = len(events)
    for e in events:
        row.reasons[e.reason] = row.reasons.get(e.reason, 0) + 1
    timed = [e for e in events if e.wait_ms is not None]
    row.signs_timed = len(timed)
    if timed:
        row.latency = {"total_p50_ms": float(np.median([e.total_ms for e in timed])),
                       "total_max_ms": float(np.max([e.total_ms for e in timed])),
                       "wait_p50_ms": float(np.median([e.wait_ms for e in timed])),
                       "compute_p50_ms": float(np.median([e.compute_ms for e in timed])),
                       "compute_max_ms": float(np.max([e.compute_ms for e in timed]))}
    return row


def _mediapipe_missing() -> str | None:
    import importlib.util

    if importlib.util.find_spec("mediapipe") is None:
        return "mediapipe is not installed (pip install 'signedge[mediapipe]'; it does not run on a Pi 4)"
    return None


def measure_pipeline(config: PipelineConfig) -> list[PipelineRow]:
    """Every video at every width with every backend; one pooled row per (width, backend).

    Passes go video by video, each video through every configuration in turn,
    so a machine that gets busier during the run slows every row alike.
    """
    from tqdm import tqdm

    from edge_runtime.classifier import landmark_mismatch, load_classifier

    if not config.videos:
        raise SignedgeError("no videos to run the pipeline on")
    combos = [(width, backend) for width in config.widths for backend in config.backends]
    passes: dict[int, list[tuple[Path, PassTimes, str]]] = {i: [] for i in range(len(combos))}
    problems: dict[int, tuple[str, str]] = {}  # combo -> (status, note): a backend that cannot run here
    for i, (_, backend) in enumerate(combos):
        missing = _mediapipe_missing() if backend.backend == "mediapipe" else None
        if missing:
            problems[i] = ("unavailable", missing)
    classifiers: dict[int, Any] = {}
    bar = tqdm(total=len(combos) * len(config.videos), desc="pipeline", unit="pass", disable=not config.progress,
               leave=False)
    with _recognizer_warning_once():
        for video in config.videos:
            for i, (width, backend) in enumerate(combos):
                bar.update(1)
                if i in problems:
                    continue
                threads = backend.threads or 1
                if threads not in classifiers:
                    classifiers[threads] = load_classifier(config.classifier, threads=threads,
                                                           expected_spec=config.spec)
                    note = landmark_mismatch(classifiers[threads].info, backend.backend, "")
                    if note and len(classifiers) == 1:
                        log.warning("%s (the pipeline table measures time only)", note)
                bar.set_postfix_str(f"{video.stem[:12]} {backend.label}")
                try:
                    times, size = run_pass(video, width, backend, classifiers[threads], config)
                except SignedgeError as err:
                    if backend.backend != "mediapipe" or passes[i]:
                        raise
                    # mediapipe refusing a model is a finding about the backend, not a broken benchmark
                    problems[i] = ("failed", str(err))
                    continue
                passes[i].append((video, times, size))
    bar.close()
    rows = []
    for i, (width, backend) in enumerate(combos):
        if i in problems:
            status, note = problems[i]
            rows.append(PipelineRow("native" if width is None else str(width), "", backend.backend, backend.model,
                                    "default" if backend.threads is None else str(backend.threads), status=status,
                                    note=note))
        else:
            rows.append(_row(width, backend, passes[i]))
    return rows


def default_backends(full: Path | None, lite: Path | None, threads: list[int]) -> list[BackendConfig]:
    """litert with the full and the lite bundle at each thread count, then mediapipe with the full bundle."""
    out: list[BackendConfig] = []
    for label, path in (("full", full), ("lite", lite)):
        if path is not None:
            out += [BackendConfig("litert", label, path, t) for t in threads]
    if full is not None:
        out.append(BackendConfig("mediapipe", "full", full, None))
    return out

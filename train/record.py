"""A recording session of ``sign-record``: camera or video file -> samples saved as video + keypoints.

Why a module of its own: a live session interleaves a countdown, the camera,
the landmark backend and an optional window, and must leave a usable dataset
folder after every sample (the manifest is rewritten each time, keeping the
rows already there), because the person signing stops whenever they like.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from edge_runtime.capture import CameraSource, VideoFileSource
from edge_runtime.dataset import (
    DATASET_JSON,
    MANIFEST,
    DatasetInfo,
    ManifestRow,
    Recording,
    check_label,
    read_manifest,
    recording_filename,
    save_recording,
    write_info,
    write_manifest,
)
from edge_runtime.errors import DatasetError, SignedgeError, SourceError
from edge_runtime.files import atomic_path
from edge_runtime.hands import NUM_HANDS, NUM_POINTS
from edge_runtime.landmarks import HandFrame, LandmarkBackend
from edge_runtime.sources import open_source, parse_source
from train.extract.config import BackendSettings
from train.extract.folder import check_dataset_compatible
from train.text import percent

log = logging.getLogger(__name__)

VIDEOS = "videos"
FALLBACK_FPS = 30.0


@dataclass
class RecordConfig:
    """``sign-record``'s flags, one field each."""

    out_dir: Path
    word: str
    samples: int = 5
    seconds: float = 2.0
    countdown: float = 3.0
    source: str = "0"
    signer: str = ""
    show: bool = False
    backend: BackendSettings = field(default_factory=BackendSettings)
    max_width: int | None = None
    width: int | None = None  # camera capture size
    height: int | None = None

    def validate(self) -> None:
        check_label(self.word, "--word")
        if self.samples < 1:
            raise SignedgeError(f"--samples must be at least 1, got {self.samples}")
        if not (math.isfinite(self.seconds) and self.seconds > 0):
            raise SignedgeError(f"--seconds must be positive, got {self.seconds}")
        if not (math.isfinite(self.countdown) and self.countdown >= 0):
            raise SignedgeError(f"--countdown must be 0 or more, got {self.countdown}")
        if self.max_width is not None and self.max_width < 16:
            raise SignedgeError(f"--max-width must be at least 16 pixels, got {self.max_width}")


@dataclass
class Take:
    """The frames of one sample as they come in: images for the video, hands for the recording."""

    images: list[np.ndarray] = field(default_factory=list)
    stamps: list[float] = field(default_factory=list)
    hands: list[HandFrame] = field(default_factory=list)

    def add(self, t: float, image: np.ndarray, hands: HandFrame) -> None:
        self.images.append(image)
        self.stamps.append(t)
        self.hands.append(hands)

    def fps(self, nominal: float | None) -> float:
        """The container's rate for a file; for a camera the rate actually achieved (frames drop)."""
        if nominal:
            return nominal
        if len(self.stamps) >= 2 and self.stamps[-1] > self.stamps[0]:
            return (len(self.stamps) - 1) / (self.stamps[-1] - self.stamps[0])
        return FALLBACK_FPS


@dataclass
class SampleResult:
    index: int  # 1-based
    frames: int
    hand_frames: int
    row: ManifestRow | None  # None: not saved (no hand seen)
    video: str = ""


class Window:
    """``--show``: the camera image with the hands drawn and the session's state; closes on q / Esc."""

    def __init__(self, title: str) -> None:
        import cv2

        from edge_runtime.display import CONNECTIONS, HAND_COLOURS, KEYS_TO_QUIT

        self._cv2, self._connections, self._colours, self._quit_keys = cv2, CONNECTIONS, HAND_COLOURS, KEYS_TO_QUIT
        self.title = title
        self.closed = False
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)

    def show(self, image: np.ndarray, hands: HandFrame, status: str, colour: tuple[int, int, int]) -> None:
        cv2 = self._cv2
        canvas = image.copy()
        h, w = canvas.shape[:2]
        for slot in range(NUM_HANDS):
            if not hands.present[slot]:
                continue
            pts = [(int(round(x * w)), int(round(y * h))) for x, y in hands.landmarks[slot, :, :2]]
            for a, b in self._connections:
                cv2.line(canvas, pts[a], pts[b], self._colours[slot], 2)
        cv2.putText(canvas, status, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, colour, 2)  # ASCII only
        cv2.imshow(self.title, canvas)
        if (cv2.waitKey(1) & 0xFF) in self._quit_keys:
            self.closed = True

    def close(self) -> None:
        try:
            self._cv2.destroyWindow(self.title)
        except self._cv2.error:
            pass


def open_window(title: str, notify: Callable[[str], None]) -> Window | None:
    """A window, or None (saying why through ``notify``) when this machine cannot show one (headless)."""
    from edge_runtime.display import gui_problem

    problem = gui_problem()
    if problem is None:
        try:
            return Window(title)
        except Exception as err:  # cv2.error and GUI back-end failures vary by build
            problem = f"cannot open a window ({str(err).strip().splitlines()[0] if str(err).strip() else err!r})"
    notify(f"--show: {problem}; recording headless")
    return None


class Session:
    """One run of ``sign-record``: a source, a backend, and the dataset folder it adds samples to."""

    def __init__(self, config: RecordConfig, source: VideoFileSource | CameraSource, backend: LandmarkBackend,
                 window: Window | None = None, notify: Callable[[str], None] = log.info) -> None:
        self.config = config
        self.notify = notify  # what the person at the camera needs to see: countdowns, saved samples
        self.source = source
        self.backend = backend
        self.window = window
        self.is_file = isinstance(source, VideoFileSource)
        self.rows = {row.file: row for row in existing_rows(config.out_dir)}
        self.session = time.strftime("%Y%m%d-%H%M%S")
        self._last_ms = -1

    def _hands(self, t: float, image: np.ndarray) -> HandFrame:
        ts_ms = max(int(round(t * 1000.0)), self._last_ms + 1)
        self._last_ms = ts_ms
        return self.backend.process(image, ts_ms)

    def _show(self, image: np.ndarray, hands: HandFrame, status: str, recording: bool) -> None:
        if self.window is not None:
            self.window.show(image, hands, status, (0, 0, 255) if recording else (0, 255, 255))

    def _stopped(self) -> bool:
        return self.window is not None and self.window.closed

    def source_id(self, index: int) -> str:
        if self.is_file:
            return f"{self.source.path.stem}-{index:02d}"  # type: ignore[union-attr]
        who = self.config.signer or "signer"
        return f"{self.config.word}-{who}-{self.session}-{index:02d}"

    def group(self, source_id: str) -> str:
        """Cuts of one video file never go to different splits; camera takes are separate performances."""
        return self.source.path.stem if self.is_file else source_id  # type: ignore[union-attr]

    def takes(self) -> Iterator[tuple[int, Take]]:
        """Yield each finished sample: countdown (camera only), then ``--seconds`` of frames."""
        frames = iter(self.source)
        per_sample = max(1, int(round(self.config.seconds * self.source.fps))) if self.is_file else 0
        for index in range(1, self.config.samples + 1):
            if not self.is_file and self.config.countdown > 0 and not self._countdown(frames, index):
                return
            take = Take()
            for t, image in frames:
                if take.stamps and not self.is_file and t - take.stamps[0] >= self.config.seconds:
                    break
                hands = self._hands(t, image)
                take.add(t, image, hands)
                self._show(image, hands, f"REC {index}/{self.config.samples}", True)
                if self._stopped() or (self.is_file and len(take.stamps) >= per_sample):
                    break
            if self._stopped():  # q / Esc in the window: the interrupted sample is not kept
                return
            if self.is_file and len(take.stamps) < max(2, per_sample // 2):
                self.notify(f"the video ended: sample {index} has {len(take.stamps)} of {per_sample} frames; "
                            f"not saved")
                return
            if not take.stamps:  # the camera stream ended
                return
            yield index, take

    def _countdown(self, frames: Iterator[tuple[float, np.ndarray]], index: int) -> bool:
        """Show the countdown while the camera keeps running; False when the stream or the user stopped."""
        start: float | None = None
        shown = -1
        for t, image in frames:
            start = t if start is None else start
            left = self.config.countdown - (t - start)
            if left <= 0:
                return True
            whole = int(math.ceil(left))
            if whole != shown:
                self.notify(f"'{self.config.word}' sample {index}/{self.config.samples} in {whole} ...")
                shown = whole
            self._show(image, self._hands(t, image), f"sample {index}/{self.config.samples} in {whole}", False)
            if self._stopped():
                return False
        return False

    def save(self, index: int, take: Take) -> SampleResult:
        """Write the sample's video and recording, then the merged manifest (each file atomically)."""
        out, word = self.config.out_dir, self.config.word
        hands = take.hands
        present = np.array([h.present for h in hands], bool).reshape(-1, NUM_HANDS)
        hand_frames = int(present.any(axis=1).sum())
        if hand_frames == 0:
            return SampleResult(index, len(hands), 0, None)
        source_id = self.source_id(index)
        file = recording_filename(word, source_id)
        video = f"{VIDEOS}/{Path(file).parent.name}/{Path(file).stem}.mp4"
        fps = take.fps(self.source.fps if self.is_file else None)
        rec = Recording(
            landmarks=np.array([h.landmarks for h in hands], np.float32).reshape(-1, NUM_HANDS, NUM_POINTS, 3),
            present=present,
            score=np.array([h.score for h in hands], np.float32).reshape(-1, NUM_HANDS),
            label=word, fps=fps, source_id=source_id, signer=self.config.signer, group=self.group(source_id),
            aspect=self.source.aspect,
            extra={"video": video, "source": self.config.source, "start_s": round(take.stamps[0], 3),
                   "width": self.source.width, "height": self.source.height,
                   "landmark_backend": self.backend.name, "landmark_model_sha256": self.backend.model_sha256},
        )
        rec.validate(file)  # before any file is written: no video without its recording
        write_video(out / video, take.images, fps)
        save_recording(out / file, rec)
        row = ManifestRow.of(file, rec)
        self.rows[file] = row
        write_manifest(out, self.rows.values())
        if not (out / DATASET_JSON).is_file():
            write_info(out, DatasetInfo(synthetic=False, coord_frame="image", landmark_backend=self.backend.name,
                                        landmark_model_sha256=self.backend.model_sha256,
                                        description="sign-record samples"))
        return SampleResult(index, len(hands), hand_frames, row, video)


def existing_rows(out_dir: Path) -> list[ManifestRow]:
    """The manifest rows already in OUT_DIR (none for a new folder); a broken manifest stops the session."""
    path = out_dir / MANIFEST
    if not path.is_file():
        return []
    try:
        if len([line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]) <= 1:
            return []  # a header and no rows yet
    except UnicodeDecodeError as err:
        raise DatasetError(f"{path}: not UTF-8 ({err})") from err
    return read_manifest(out_dir)


def write_video(path: Path, images: Sequence[np.ndarray], fps: float) -> None:
    """An mp4 (MPEG-4 part 2, which every OpenCV build can write) of the sample's frames, atomically."""
    import cv2

    h, w = images[0].shape[:2]
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
        if not writer.isOpened():
            raise SourceError(f"{path}: OpenCV cannot write mp4 video here")
        try:
            for image in images:
                writer.write(image)
        finally:
            writer.release()


def record(config: RecordConfig, notify: Callable[[str], None] = log.info) -> list[SampleResult]:
    """Run a recording session; every input problem raises before anything is written.

    ``notify`` receives the lines the person recording needs (countdown, each saved sample).
    """
    config.validate()
    out = config.out_dir
    if out.exists() and not out.is_dir():
        raise SignedgeError(f"{out}: exists and is not a folder")
    existing_rows(out)  # a broken manifest is reported before recording, not after
    is_camera = parse_source(config.source).live
    try:
        backend = config.backend.open(live=is_camera)
    except ImportError as err:
        raise SignedgeError(f"the {config.backend.name} landmark backend cannot be loaded here ({err})") from err
    try:
        check_dataset_compatible(out, backend.name, backend.model_sha256)
        with open_source(config.source, max_width=config.max_width, width=config.width,
                         height=config.height) as source:
            if isinstance(source, VideoFileSource):
                needed = config.samples * max(1, int(round(config.seconds * source.fps)))
                if 0 < source.frame_count < needed:  # a container that does not know its length is not refused
                    raise SignedgeError(
                        f"{source.path}: {source.frame_count} frames ({source.duration:.1f} s) are not enough for "
                        f"{config.samples} samples of {config.seconds:g} s ({needed} frames)")
            window = open_window(f"sign-record: {config.word}", notify) if config.show else None
            try:
                session = Session(config, source, backend, window, notify)
                results = []
                for index, take in session.takes():
                    result = session.save(index, take)
                    results.append(result)
                    notify(sample_line(result, config))
            finally:
                if window is not None:
                    window.close()
    finally:
        backend.close()
    return results


def sample_line(result: SampleResult, config: RecordConfig) -> str:
    head = f"sample {result.index}/{config.samples}: {result.frames} frames"
    if result.row is None:
        return f"{head}, no hand seen: not saved"
    return (f"{head}, hands in {result.hand_frames} ({percent(result.hand_frames, result.frames)}) -> "
            f"{result.row.file}")

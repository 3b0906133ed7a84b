"""Frame sources: a video file or a live camera, both yielding ``(timestamp_seconds, frame_bgr)``.

Everything downstream (landmark backends, ``sign-extract``, ``sign-record``,
the recogniser) only sees this one shape, so a video file can stand in for a
camera in tests and on the host.

- :class:`VideoFileSource` reads every frame in order; timestamps come from
  the container's frame rate and the frame index, so they are reproducible
  (the same video always gives the same features).
- :class:`CameraSource` reads the camera on its own thread and keeps only the
  newest frame: a consumer slower than the camera (landmarks on a Pi) drops
  frames instead of falling further and further behind the signer.
  Timestamps are the monotonic clock at the moment a frame was grabbed.

Which of them a command-line ``--source`` string names, and the opening, is
``edge_runtime.sources``; a Raspberry Pi camera module (``edge_runtime.picam``)
is read by the same newest-frame thread through an adapter.

Both are context managers; ``close()`` releases the device or file. OpenCV is
imported lazily so that this module costs nothing to import.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import numpy as np

from edge_runtime.errors import SourceError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
DEFAULT_FPS = 30.0  # used when a container does not state a usable frame rate
CAMERA_FIRST_FRAME_TIMEOUT = 5.0  # seconds a camera may take to deliver its first frame
CAMERA_MAX_FAILED_READS = 30  # consecutive failed reads before a camera counts as gone


class FrameSource(Protocol):
    """What every source offers: iteration over ``(t, frame)``, its frame size and ``close()``."""

    width: int
    height: int

    @property
    def aspect(self) -> float: ...

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]: ...

    def close(self) -> None: ...


def _cv2() -> Any:
    # FFmpeg's own messages ("moov atom not found") would precede our one-line SourceError with the same news
    # in a worse form; set OPENCV_FFMPEG_LOGLEVEL yourself (e.g. 32) to see them.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    try:
        import cv2
    except ImportError as err:  # pragma: no cover - opencv is part of the edge extra
        raise SourceError("reading video needs OpenCV: pip install 'signedge[edge]'") from err
    return cv2


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's native log while probing a camera: its warnings would bury our one-line error."""
    try:
        from cv2.utils import logging as cv_log
    except ImportError:  # pragma: no cover - builds without the logging utils
        yield
        return
    level = cv_log.getLogLevel()
    cv_log.setLogLevel(cv_log.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv_log.setLogLevel(level)


def scaled_size(width: int, height: int, max_width: int | None) -> tuple[int, int]:
    """The frame size after ``--max-width``: never wider than ``max_width``, same aspect, never upscaled."""
    if max_width is None or width <= max_width:
        return width, height
    if max_width < 16:
        raise ValueError(f"max_width must be at least 16 pixels, got {max_width}")
    return max_width, max(1, int(round(height * max_width / width)))


def downscale(frame: np.ndarray, max_width: int | None) -> np.ndarray:
    """Shrink a frame to at most ``max_width`` pixels wide, keeping its aspect (INTER_AREA: no aliasing)."""
    h, w = frame.shape[:2]
    size = scaled_size(w, h, max_width)
    if size == (w, h):
        return frame
    return _cv2().resize(frame, size, interpolation=_cv2().INTER_AREA)


class _SourceBase:
    """Context manager plumbing shared by the sources."""

    width: int = 0
    height: int = 0

    @property
    def aspect(self) -> float:
        """Width / height of the yielded frames: what turns normalised x and y into one unit."""
        return self.width / self.height if self.height else 1.0

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "_SourceBase":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoFileSource(_SourceBase):
    """Every frame of a video file, with timestamps ``index / fps`` from the container."""

    def __init__(self, path: str | Path, max_width: int | None = None) -> None:
        self.path = Path(path)
        self.max_width = max_width
        if not self.path.is_file():
            raise SourceError(f"{self.path}: video file not found")
        cv2 = _cv2()
        self._cap = cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"{self.path}: cannot open as a video (not a video file, or a codec OpenCV lacks)")
        ok, first = self._cap.read()
        if not ok or first is None or first.size == 0:
            self._cap.release()
            raise SourceError(f"{self.path}: the video has no readable frames")
        self._first: np.ndarray | None = first
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not (math.isfinite(fps) and 0.0 < fps <= 1000.0):
            log.warning("%s: the container states no usable frame rate (%r); assuming %g fps", self.path, fps,
                        DEFAULT_FPS)
            fps = DEFAULT_FPS
        self.fps = fps
        self.source_width, self.source_height = int(first.shape[1]), int(first.shape[0])
        self.width, self.height = scaled_size(self.source_width, self.source_height, max_width)
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count = max(count, 0)  # the container's count (an estimate for some formats; 0 = unknown)
        self._started = False

    @property
    def duration(self) -> float:
        """Seconds of video according to the container (frame count / fps; 0 when the count is unknown)."""
        return self.frame_count / self.fps

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        if self._started:
            raise SourceError(f"{self.path}: a video source can be read only once; open it again")
        self._started = True
        index = 0
        frame = self._first
        self._first = None
        while frame is not None:
            yield index / self.fps, downscale(frame, self.max_width)
            index += 1
            ok, frame = self._cap.read()
            if not ok:
                frame = None
        if 0 < self.frame_count != index:
            log.debug("%s: read %d frames, the container announced %d", self.path, index, self.frame_count)

    def close(self) -> None:
        self._cap.release()


class CameraSource(_SourceBase):
    """A camera read on its own thread; iteration yields only the newest frame, never a backlog.

    ``capture`` replaces ``cv2.VideoCapture(index)`` (any object with
    ``isOpened``, ``read``, ``set``, ``release``): tests use a fake one, and a
    device can pass a GStreamer/libcamera capture it configured itself
    (``edge_runtime.picam`` passes its picamera2 adapter). ``index`` is an
    OpenCV camera index or a V4L2 device file (``/dev/video2``). ``name`` is
    how messages call the camera (default ``camera <index>``).
    """

    def __init__(self, index: int | str = 0, width: int | None = None, height: int | None = None,
                 max_width: int | None = None, *, capture: Any = None,
                 first_frame_timeout: float = CAMERA_FIRST_FRAME_TIMEOUT,
                 clock: Callable[[], float] = time.monotonic, name: str | None = None) -> None:
        self.index = index
        self.name = name or f"camera {index}"
        self.max_width = max_width
        self._clock = clock
        if capture is None:
            cv2 = _cv2()
            backend = cv2.CAP_ANY if isinstance(index, int) else cv2.CAP_V4L2  # a device file is a V4L2 camera
            with _quiet_opencv():
                capture = cv2.VideoCapture(index, backend)
            if capture.isOpened():
                if width:
                    capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
                if height:
                    capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
                capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # ask the driver not to queue stale frames either
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"{self.name}: cannot open it (no such camera, or it is busy)")
        self._cap = capture
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._stamp = 0.0
        self._seq = 0  # frames grabbed so far
        self._error: str | None = None
        self._stopped = threading.Event()
        self.frames_read = 0  # frames the camera delivered
        self.frames_yielded = 0  # frames the consumer took; the difference was dropped
        self._start = clock()
        self._thread = threading.Thread(target=self._reader, name=self.name.replace(" ", "-"), daemon=True)
        self._thread.start()
        with self._cond:
            if not self._cond.wait_for(lambda: self._seq > 0 or self._error is not None, first_frame_timeout):
                self._error = f"{self.name}: opened, but no frame arrived within {first_frame_timeout:g} s"
        if self._seq == 0:
            message = self._error or f"{self.name}: no frame"
            self.close()
            raise SourceError(message)
        self.width, self.height = scaled_size(self._frame.shape[1], self._frame.shape[0], max_width)

    @property
    def frames_dropped(self) -> int:
        return self.frames_read - self.frames_yielded

    def _reader(self) -> None:
        """Grab frames as fast as the camera gives them; keep only the newest one."""
        failures = 0
        while not self._stopped.is_set():
            ok, frame = self._cap.read()
            if not ok or frame is None:
                failures += 1
                if failures >= CAMERA_MAX_FAILED_READS:
                    with self._cond:
                        self._error = f"{self.name}: stopped delivering frames"
                        self._cond.notify_all()
                    return
                time.sleep(0.01)
                continue
            failures = 0
            stamp = self._clock() - self._start
            with self._cond:
                self._frame, self._stamp = frame, stamp
                self._seq += 1
                self.frames_read += 1
                self._cond.notify_all()

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        seen = 0

        def ready() -> bool:
            return self._seq > seen or self._error is not None or self._stopped.is_set()

        while True:
            with self._cond:
                self._cond.wait_for(ready)
                if self._stopped.is_set():  # closed by the consumer
                    return
                if self._seq <= seen:  # no new frame: the camera failed
                    raise SourceError(self._error or f"{self.name}: stopped delivering frames")
                frame, stamp, seen = self._frame, self._stamp, self._seq
                self.frames_yielded += 1
            yield stamp, downscale(frame, self.max_width)

    def close(self) -> None:
        self._stopped.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self._cap.release()

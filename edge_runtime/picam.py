"""``--source picam`` / ``picam:N``: a Raspberry Pi camera module through picamera2.

(The string itself is read by ``edge_runtime.sources``, with every other kind of source.)

On Raspberry Pi OS Bookworm the camera module is a libcamera device: OpenCV's
``cv2.VideoCapture`` does not see it, picamera2 does. This module adapts a
``Picamera2`` object to the four methods ``CameraSource`` reads
(``isOpened``, ``read``, ``set``, ``release``), so the Pi camera gets the same
newest-frame-only reader thread, timestamps and ``--max-width`` handling as a
USB camera, written once in ``edge_runtime.capture``.

picamera2 is imported only when this source is opened. It is not on PyPI in
a usable form: it comes with Raspberry Pi OS (``sudo apt install
python3-picamera2``), so a virtualenv that wants it must be made with
``--system-site-packages``.

Colour order: picamera2 names formats after libcamera/DRM, whose names read
the other way round from the bytes in memory: ``RGB888`` frames are B, G, R
bytes per pixel (what OpenCV wants), ``BGR888`` frames are R, G, B, and the
``X...8888`` formats carry a fourth padding byte. We ask for ``RGB888`` and
convert whatever format the camera actually configured, so every frame that
leaves here is BGR like every other source's.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import numpy as np

from edge_runtime.capture import CAMERA_FIRST_FRAME_TIMEOUT, CameraSource
from edge_runtime.errors import SourceError

log = logging.getLogger(__name__)

INSTALL_HINT = ("picamera2 is not installed: on Raspberry Pi OS run 'sudo apt install python3-picamera2' and make "
                "the virtualenv with --system-site-packages (python3 -m venv --system-site-packages .venv)")
DEFAULT_SIZE = (1280, 720)  # asked of the camera when no size is given; the ISP scales for free
REQUESTED_FORMAT = "RGB888"  # B, G, R bytes in memory: OpenCV's order, no conversion needed
CAPTURE_TIMEOUT_S = 2.0  # one capture_array may wait this long (newer picamera2; older ones wait until a frame)

# picamera2 format -> channel indices that turn its frame into B, G, R
_TO_BGR: dict[str, list[int] | None] = {
    "RGB888": None,  # already B, G, R
    "BGR888": [2, 1, 0],  # R, G, B in memory
    "XRGB8888": [0, 1, 2],  # B, G, R, X
    "XBGR8888": [2, 1, 0],  # R, G, B, X
}


def _import_picamera2() -> Any:
    try:
        return importlib.import_module("picamera2")
    except ImportError as err:
        raise SourceError(INSTALL_HINT) from err


def to_bgr(frame: np.ndarray, fmt: str) -> np.ndarray:
    """A picamera2 frame of format ``fmt`` as a contiguous H x W x 3 BGR uint8 array."""
    if fmt not in _TO_BGR:
        raise SourceError(f"the Pi camera delivers {fmt} frames; signedge needs one of {', '.join(_TO_BGR)}")
    order = _TO_BGR[fmt]
    if frame.ndim != 3 or frame.shape[2] < 3:
        raise SourceError(f"the Pi camera gave a frame of shape {frame.shape} for format {fmt}")
    if order is None:
        return frame if frame.shape[2] == 3 and frame.flags.c_contiguous else np.ascontiguousarray(frame[..., :3])
    return np.ascontiguousarray(frame[..., order])


def _even(value: int) -> int:
    return max(2, int(value) // 2 * 2)


def requested_size(width: int | None, height: int | None, max_width: int | None) -> tuple[int, int]:
    """The main-stream size asked of the camera: the flags if given, else 16:9 no wider than ``max_width``.

    Asking the camera for the size we will use lets the Pi's ISP scale, instead
    of shrinking every full-size frame on the CPU afterwards.
    """
    if width and height:
        return _even(width), _even(height)
    w = width or min(DEFAULT_SIZE[0], max_width or DEFAULT_SIZE[0])
    h = height or round(w * DEFAULT_SIZE[1] / DEFAULT_SIZE[0])
    return _even(w), _even(h)


class PicameraCapture:
    """A started Picamera2 behind the ``cv2.VideoCapture`` methods that ``CameraSource`` calls."""

    def __init__(self, number: int = 0, size: tuple[int, int] = DEFAULT_SIZE, module: Any = None) -> None:
        module = module if module is not None else _import_picamera2()
        self.name = f"picam {number}"
        try:
            cameras = list(module.Picamera2.global_camera_info())
        except Exception as err:  # libcamera not running, no permission on /dev/media*
            raise SourceError(f"{self.name}: cannot list the Pi cameras ({_first_line(err)})") from err
        if number >= len(cameras):
            found = f"{len(cameras)} camera(s) found" if cameras else "no camera found (is the ribbon cable seated?)"
            raise SourceError(f"{self.name}: no such Pi camera, {found}")
        try:
            self._cam = module.Picamera2(number)
        except Exception as err:  # RuntimeError "Camera __init__ sequence did not complete" when busy
            raise SourceError(f"{self.name}: cannot open it, another program may be using it ({_first_line(err)})") \
                from err
        self._open = True
        try:
            config = self._cam.create_video_configuration(main={"size": tuple(size), "format": REQUESTED_FORMAT},
                                                          queue=False)
            self._cam.configure(config)
            configured = self._cam.camera_configuration() or config
            self.format = str(configured["main"]["format"])
            to_bgr(np.zeros((2, 2, 4), np.uint8), self.format)  # refuse a format we cannot convert, now
            self._cam.start()
        except SourceError:
            self.release()
            raise
        except Exception as err:
            self.release()
            raise SourceError(f"{self.name}: cannot start it at {size[0]}x{size[1]} ({_first_line(err)})") from err
        model = cameras[number].get("Model", "?") if isinstance(cameras[number], dict) else "?"
        log.info("%s: %s, %s at %dx%d", self.name, model, self.format, *size)

    def isOpened(self) -> bool:  # noqa: N802 - the cv2.VideoCapture name CameraSource calls
        return self._open

    def read(self) -> tuple[bool, np.ndarray | None]:
        """The next frame as BGR, or ``(False, None)``: CameraSource retries and gives up after many failures."""
        if not self._open:
            return False, None
        try:
            frame = self._cam.capture_array("main", wait=CAPTURE_TIMEOUT_S)
        except Exception as err:  # a timeout, or the camera stopping under us at close
            log.debug("%s: capture failed: %s", self.name, err)
            return False, None
        if frame is None:
            return False, None
        return True, to_bgr(np.asarray(frame), self.format)

    def set(self, prop: int, value: float) -> bool:
        """Sizes are fixed when the camera is configured (see ``requested_size``); cv2 properties do nothing."""
        return False

    def release(self) -> None:
        if not self._open:
            return
        self._open = False
        for step in ("stop", "close"):
            try:
                getattr(self._cam, step)()
            except Exception as err:  # releasing must never hide the error that led here
                log.debug("%s: %s failed: %s", self.name, step, err)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def open_picam(number: int = 0, *, width: int | None = None, height: int | None = None,
               max_width: int | None = None, first_frame_timeout: float = CAMERA_FIRST_FRAME_TIMEOUT,
               module: Any = None) -> CameraSource:
    """A ``CameraSource`` over Pi camera ``number`` (``--source picam:N``, read by ``edge_runtime.sources``);
    ``module`` replaces ``picamera2`` (tests)."""
    capture = PicameraCapture(number, requested_size(width, height, max_width), module=module)
    return CameraSource(number, max_width=max_width, capture=capture, first_frame_timeout=first_frame_timeout,
                        name=capture.name)

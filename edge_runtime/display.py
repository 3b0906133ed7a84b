"""``--show``: draw the hands, the last recognised word and the FPS in a window.

Headless is the default on the device; a window needs a display and an
OpenCV build with GUI support (``opencv-python-headless`` has none). When
either is missing, :func:`open_display` says why in one line and the run
continues without a window. OpenCV's Hershey fonts draw ASCII only, so a
non-ASCII label (Korean) is drawn as its class number; the terminal shows
the word itself.
"""

from __future__ import annotations

import logging
import os
import socket
import sys

import numpy as np

from edge_runtime.recognizer import FrameView

log = logging.getLogger(__name__)

# The 21-point hand skeleton: fingers from the wrist, then the palm across the knuckles.
CONNECTIONS = ([(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (9, 10), (10, 11), (11, 12),
                (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20), (5, 9), (9, 13), (13, 17)])
HAND_COLOURS = ((255, 160, 0), (0, 200, 255))  # BGR: signer's left hand blue, right hand orange
CANVAS_WIDTH = 640
KEYS_TO_QUIT = (ord("q"), 27)  # q, Esc


def _x_server_problem(display: str) -> str | None:
    """Why the X server named by DISPLAY cannot be reached, or None.

    OpenCV's Qt back end aborts the whole process when it cannot connect, so
    the connection is tried here first, where a failure is just a warning.
    """
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return f"DISPLAY={display!r} is not a valid X display"
    try:
        if host in ("", "unix"):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(1.0)
                sock.connect(f"/tmp/.X11-unix/X{number}")
        else:
            with socket.create_connection((host, 6000 + int(number)), timeout=1.0):
                pass
    except OSError as err:
        return f"cannot connect to the X display {display} ({err.strerror or err})"
    return None


def gui_problem() -> str | None:
    """Why no window can be opened here, or None when one can."""
    if sys.platform.startswith("linux"):
        display, wayland = os.environ.get("DISPLAY"), os.environ.get("WAYLAND_DISPLAY")
        if not display and not wayland:
            return "no display (DISPLAY is not set)"
        if display and not wayland:
            problem = _x_server_problem(display)
            if problem:
                return problem
    try:
        import cv2
    except ImportError:
        return "OpenCV is not installed"
    info = cv2.getBuildInformation()
    gui = info.split("GUI:", 1)[1].splitlines()[0].strip() if "GUI:" in info else ""
    if gui.upper() in ("NONE", ""):
        return "this OpenCV build has no GUI support (opencv-python-headless)"
    return None


def _label_text(view: FrameView, labels: list[str]) -> str:
    event = view.last_event
    if event is None:
        return ""
    label = event.label
    if not label.isascii():
        label = f"class {labels.index(label)}" if label in labels else "?"
    return f"{label} {event.confidence:.2f}"


def draw_frame(view: FrameView, labels: list[str], aspect: float = 1.0) -> np.ndarray:
    """The annotated BGR image of one frame: hands, FPS, and the last word (a black canvas for a replay)."""
    import cv2

    if view.image is not None:
        canvas = view.image.copy()
    else:
        canvas = np.zeros((max(1, int(round(CANVAS_WIDTH / aspect))), CANVAS_WIDTH, 3), np.uint8)
    h, w = canvas.shape[:2]
    for hand in range(2):
        if not view.hands.present[hand]:
            continue
        pts = np.round(view.hands.landmarks[hand, :, :2] * (w, h)).astype(int)
        for a, b in CONNECTIONS:
            cv2.line(canvas, (int(pts[a, 0]), int(pts[a, 1])), (int(pts[b, 0]), int(pts[b, 1])), HAND_COLOURS[hand], 2)
        for x, y in pts:
            cv2.circle(canvas, (int(x), int(y)), 3, (255, 255, 255), -1)
    status = f"{view.fps:4.1f} FPS" + ("  [signing]" if view.in_sign else "")
    cv2.putText(canvas, status, (10, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 255, 0), 2)
    word = _label_text(view, labels)
    if word:
        cv2.putText(canvas, word, (10, h - 20), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 255, 255), 3)
    return canvas


class Display:
    """An OpenCV window fed with :class:`FrameView` s; ``closed`` turns True when the user quits (q / Esc)."""

    def __init__(self, title: str, labels: list[str]) -> None:
        import cv2

        self._cv2 = cv2
        self.title = title
        self.labels = labels
        self.closed = False
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)

    def __call__(self, view: FrameView, aspect: float = 1.0) -> None:
        cv2 = self._cv2
        cv2.imshow(self.title, draw_frame(view, self.labels, aspect))
        key = cv2.waitKey(1) & 0xFF
        if key in KEYS_TO_QUIT or cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            self.closed = True

    def close(self) -> None:
        try:
            self._cv2.destroyWindow(self.title)
        except self._cv2.error:
            pass


def open_display(title: str, labels: list[str]) -> Display | None:
    """A window, or None (with one warning line) when this machine cannot show one."""
    problem = gui_problem()
    if problem is None:
        try:
            return Display(title, labels)
        except Exception as err:  # cv2.error and GUI back-end failures vary by build
            problem = f"cannot open a window ({str(err).strip().splitlines()[0] if str(err).strip() else err!r})"
    log.warning("--show: %s; continuing headless", problem)
    return None

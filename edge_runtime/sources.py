"""``--source``: the one grammar of what a source string means, and the opening of every kind of source.

A command line names its input with one string; this module alone reads it:

============================  ==========  =============================================================
``--source``                  kind        opened as
============================  ==========  =============================================================
``0``, ``1``, ...             camera      ``capture.CameraSource`` by OpenCV index
``/dev/video2``, ``/dev/...`` camera      ``capture.CameraSource`` on that device file (V4L2)
``picam``, ``picam:N``        picam       ``picam.open_picam``: a Raspberry Pi camera module (picamera2)
``take.npz``                  replay      ``replay.RecordingReplay``: recorded landmarks, no pictures
anything else                 video       ``capture.VideoFileSource``: a video file
============================  ==========  =============================================================

:func:`parse_source` turns the text into a :class:`Source` (a malformed value is
one :class:`~edge_runtime.errors.SourceError` line), :func:`add_source_argument`
gives a command the flag with its help, and :func:`open_source` opens it. The
modules that implement the kinds (``capture``, ``picam``, ``replay``) know
nothing of this grammar nor of each other, except that a Pi camera is read by
``capture.CameraSource``. A new kind of source is one row here and its own module.
"""

from __future__ import annotations

import argparse
import enum
from dataclasses import dataclass
from pathlib import Path

from edge_runtime.capture import CameraSource, VideoFileSource
from edge_runtime.errors import SourceError
from edge_runtime.picam import open_picam
from edge_runtime.replay import RecordingReplay

DEFAULT = "0"  # the first camera
DEVICE_PREFIX = "/dev/"
PICAM = "picam"
REPLAY_SUFFIX = ".npz"
HELP = ("camera index (0, 1, ...) or device file (/dev/video2), picam or picam:N (Raspberry Pi camera module "
        "through picamera2), a video file, or a recording .npz (replayed landmarks)")


class SourceKind(enum.Enum):
    CAMERA = "camera"  # OpenCV camera, by index or device file
    PICAM = "picam"  # Raspberry Pi camera module
    VIDEO = "video"  # video file, every frame in order
    REPLAY = "replay"  # recording .npz: hand landmarks, no pictures


@dataclass(frozen=True)
class Source:
    """What a ``--source`` string names; ``text`` is the string as typed."""

    kind: SourceKind
    text: str
    number: int | None = None  # camera index or Pi camera number
    path: Path | None = None  # video file, recording, or camera device file

    @property
    def live(self) -> bool:
        """A camera: frames arrive in real time, and the newest one wins (no file that could be replayed)."""
        return self.kind in (SourceKind.CAMERA, SourceKind.PICAM)

    @property
    def has_images(self) -> bool:
        """It yields pictures a landmark backend must read (a replay yields the landmarks themselves)."""
        return self.kind is not SourceKind.REPLAY

    def for_service(self) -> str:
        """The string a service started in another folder must be given: files made absolute, cameras as typed
        (a device file such as ``/dev/v4l/by-id/...`` is not resolved: the link is what stays stable)."""
        if self.kind in (SourceKind.VIDEO, SourceKind.REPLAY):
            return str(Path(self.text).expanduser().resolve())
        return self.text

    def __str__(self) -> str:
        return self.text


def parse_source(text: str) -> Source:
    """The kind of source ``text`` names (see the module's table); nothing is opened or checked on disk."""
    text = str(text).strip()
    lowered = text.lower()
    if not text:
        raise SourceError(f"an empty source: give {HELP}")
    if text.isdigit():
        return Source(SourceKind.CAMERA, text, number=int(text))
    if text.startswith(DEVICE_PREFIX):
        return Source(SourceKind.CAMERA, text, path=Path(text))
    if lowered == PICAM or lowered.startswith(f"{PICAM}:"):
        number = lowered.partition(":")[2] if ":" in lowered else "0"
        if not number.isdigit():
            raise SourceError(f"{text!r}: a Pi camera is 'picam' or 'picam:N' (N = 0, 1, ...)")
        return Source(SourceKind.PICAM, text, number=int(number))
    if lowered.endswith(REPLAY_SUFFIX):
        return Source(SourceKind.REPLAY, text, path=Path(text).expanduser())
    return Source(SourceKind.VIDEO, text, path=Path(text).expanduser())


def source_argument(text: str) -> Source:
    """``parse_source`` as an argparse ``type``: a malformed value is the parser's one error line."""
    try:
        return parse_source(text)
    except SourceError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def add_source_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *, default: str = DEFAULT,
                        help: str = HELP) -> argparse.Action:
    """``--source`` on a command: parsed into a :class:`Source`, the grammar in its help."""
    return parser.add_argument("--source", default=default, type=source_argument, metavar="SOURCE", help=help)


def open_source(source: str | Source, *, max_width: int | None = None, width: int | None = None,
                height: int | None = None,
                replay: bool = False) -> CameraSource | VideoFileSource | RecordingReplay:
    """Open what ``source`` names. ``max_width`` downscales pictures; ``width``/``height`` are asked of a camera.

    A recording yields landmarks, not pictures: only a caller that passes ``replay=True`` (one that takes
    ``HandFrame`` items, like the recogniser) gets a :class:`RecordingReplay`; others get a one-line error.
    """
    spec = source if isinstance(source, Source) else parse_source(source)
    if spec.kind is SourceKind.REPLAY:
        if not replay:
            raise SourceError(f"{spec.text}: a recording holds hand landmarks, not pictures; "
                              "give a camera or a video file")
        return RecordingReplay(spec.path)
    if spec.kind is SourceKind.PICAM:
        return open_picam(spec.number, width=width, height=height, max_width=max_width)
    if spec.kind is SourceKind.CAMERA:
        device = spec.number if spec.path is None else str(spec.path)
        return CameraSource(device, width=width, height=height, max_width=max_width)
    return VideoFileSource(spec.path, max_width=max_width)

"""Read the two hand models out of a MediaPipe ``hand_landmarker.task`` bundle.

A ``.task`` file is a plain zip holding ``hand_detector.tflite`` (palm
detector) and ``hand_landmarks_detector.tflite`` (21 landmarks). The LiteRT
backend runs them itself; the mediapipe backend hands the whole file to
MediaPipe Tasks. Either way the bundle's sha256 identifies the landmark model
in datasets and model cards.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from edge_runtime.errors import ModelError
from edge_runtime.files import sha256_file

DETECTOR = "hand_detector.tflite"
LANDMARKER = "hand_landmarks_detector.tflite"


@dataclass(frozen=True)
class HandModels:
    detector: bytes
    landmarker: bytes
    sha256: str
    path: Path


def read_task(path: str | Path) -> HandModels:
    """The palm-detector and landmark models of a ``.task`` bundle, with one clear error when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: hand model file not found (get one with: sign-models)")
    try:
        with zipfile.ZipFile(path) as bundle:
            names = set(bundle.namelist())
            missing = [n for n in (DETECTOR, LANDMARKER) if n not in names]
            if missing:
                raise ModelError(f"{path}: not a hand landmarker bundle (missing {', '.join(missing)})")
            detector, landmarker = bundle.read(DETECTOR), bundle.read(LANDMARKER)
    except zipfile.BadZipFile as err:
        raise ModelError(f"{path}: not a .task bundle (not a zip file)") from err
    return HandModels(detector, landmarker, sha256_file(path), path)


@dataclass(frozen=True)
class ZipLayout:
    """The header fields that make a stored (uncompressed) zip byte-identical to a pinned one.

    Python's ``zipfile`` cannot write these layouts (it puts the same extra
    field into the local and the central header), so :func:`stored_zip`
    writes the few headers itself. ``mtime`` is the Unix time of Info-ZIP's
    "UT" extra field; 0 means no extra fields at all.
    """

    made_by: int  # (host system << 8) | zip spec version
    needed: int  # version needed to extract
    external_attr: int
    dos_time: int
    dos_date: int
    mtime: int = 0

    def local_extra(self) -> bytes:
        if not self.mtime:
            return b""
        return struct.pack("<HHBII", 0x5455, 9, 3, self.mtime, self.mtime) + _UNIX_OWNER

    def central_extra(self) -> bytes:
        if not self.mtime:
            return b""
        return struct.pack("<HHBI", 0x5455, 5, 3, self.mtime) + _UNIX_OWNER


_UNIX_OWNER = struct.pack("<HHBBIBI", 0x7875, 11, 1, 4, 0, 4, 0)  # Info-ZIP "ux": uid 0, gid 0


def stored_zip(entries: Sequence[tuple[str, bytes]], layout: ZipLayout) -> bytes:
    """An uncompressed zip of ``entries`` with exactly ``layout``'s headers (deterministic bytes)."""
    out = io.BytesIO()
    central = []
    local_extra, central_extra = layout.local_extra(), layout.central_extra()
    for name, data in entries:
        raw_name = name.encode("ascii")
        crc = zlib.crc32(data)
        offset = out.tell()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, layout.needed, 0, 0, layout.dos_time, layout.dos_date,
                              crc, len(data), len(data), len(raw_name), len(local_extra)))
        out.write(raw_name + local_extra + data)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, layout.made_by, layout.needed, 0, 0,
                                   layout.dos_time, layout.dos_date, crc, len(data), len(data), len(raw_name),
                                   len(central_extra), 0, 0, 0, layout.external_attr, offset)
                       + raw_name + central_extra)
    directory = b"".join(central)
    start = out.tell()
    out.write(directory)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory), start, 0))
    return out.getvalue()

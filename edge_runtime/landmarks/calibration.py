"""Calibration inputs for quantizing the hand models: what the float pipeline feeds them on real videos.

Static int8 quantization needs each activation's range, so the quantizer runs
the float model on inputs like the ones it will see. Those are not whole
frames for the landmark model but tracked hand crops, so the float
:class:`~edge_runtime.landmarks.litert.LiteRTHands` pipeline runs over each
calibration video and every crop it gives the landmark model is kept; the
palm detector gets the letterboxed frame of every ``palm_every``-th frame
(hands or not, the detector sees both). Both lists are thinned evenly to at
most ``max_palm`` / ``max_crops`` (deterministic: the same videos give the
same inputs, so the quantized models are byte-reproducible).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from edge_runtime.capture import VIDEO_SUFFIXES, VideoFileSource
from edge_runtime.errors import SourceError
from edge_runtime.files import sha256_file
from edge_runtime.landmarks.litert import LiteRTHands, model_input, palm_input

log = logging.getLogger(__name__)

MAX_PALM, MAX_CROPS, PALM_EVERY = 200, 300, 4


@dataclass
class CalibrationSet:
    """Inputs of each model ([S, S, 3] float32, RGB 0..1) and the videos they came from (name, sha256)."""

    palm: list[np.ndarray] = field(default_factory=list)
    landmarks: list[np.ndarray] = field(default_factory=list)
    videos: list[dict[str, str]] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {"videos": self.videos, "palm_inputs": len(self.palm), "landmark_crops": len(self.landmarks)}


def calibration_videos(paths: Sequence[str | Path], every: int = 1) -> list[Path]:
    """Videos named or inside the given folders, sorted by name; every ``every``-th of them from the first."""
    if every < 1:
        raise SourceError(f"--calibration-every must be at least 1, got {every}")
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES]
        elif path.is_file():
            found.append(path)
        else:
            raise SourceError(f"{path}: calibration video or folder not found")
    videos = sorted(set(found), key=lambda p: (p.name, str(p)))
    if not videos:
        raise SourceError(f"no calibration videos in {', '.join(str(p) for p in paths)} "
                          f"(looked for {', '.join(VIDEO_SUFFIXES)})")
    return videos[::every]


def _thin(items: list[np.ndarray], limit: int) -> list[np.ndarray]:
    if len(items) <= limit:
        return items
    keep = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in keep]


def collect(task: str | Path, videos: Sequence[Path], max_palm: int = MAX_PALM, max_crops: int = MAX_CROPS,
            palm_every: int = PALM_EVERY, progress: bool = False) -> CalibrationSet:
    """Run the float pipeline of ``task`` over ``videos`` and keep its models' inputs (see the module doc)."""
    from tqdm import tqdm

    palm_bgr: list[np.ndarray] = []
    crops: list[np.ndarray] = []
    out = CalibrationSet()
    with LiteRTHands(task, threads=1) as hands:
        hands.observe_inputs(None, lambda x: crops.append((x * 255.0).round().astype(np.uint8)))
        for video in tqdm(videos, desc="calibration videos", unit="video", disable=not progress or None):
            hands.reset()
            with VideoFileSource(video) as source:
                for i, (t, frame) in enumerate(source):
                    if i % palm_every == 0:
                        palm_bgr.append(palm_input(frame)[0])
                    hands.process(frame, int(round(t * 1000)))
            out.videos.append({"name": video.name, "sha256": sha256_file(video)})
    if not crops:
        raise SourceError(f"no hand was found in the {len(videos)} calibration video(s): the landmark model "
                          "needs hand crops to calibrate on")
    out.palm = [model_input(f)[0] for f in _thin(palm_bgr, max_palm)]
    out.landmarks = [c.astype(np.float32) * np.float32(1.0 / 255.0) for c in _thin(crops, max_crops)]
    log.info("calibration: %d palm inputs, %d hand crops from %d video(s)", len(out.palm), len(out.landmarks),
             len(videos))
    return out

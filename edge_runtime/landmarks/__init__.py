"""Hand landmark backends behind one small interface.

Every backend turns a BGR image into a :class:`HandFrame` in the project's
convention (slot 0 = the signer's left hand, slot 1 = right; normalised image
coordinates), so features are computed by one code path whatever ran.
Backends import their heavy dependencies lazily, inside their own module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from edge_runtime.spec import NUM_HANDS, NUM_POINTS

BACKENDS = ("litert", "mediapipe")


@dataclass
class HandFrame:
    """Up to two hands in one image."""

    landmarks: np.ndarray = field(default_factory=lambda: np.zeros((NUM_HANDS, NUM_POINTS, 3), np.float32))
    present: np.ndarray = field(default_factory=lambda: np.zeros(NUM_HANDS, bool))
    score: np.ndarray = field(default_factory=lambda: np.zeros(NUM_HANDS, np.float32))

    @property
    def num_hands(self) -> int:
        return int(self.present.sum())


@runtime_checkable
class LandmarkBackend(Protocol):
    """What sign-extract, sign-record and sign-recognize need from a landmark detector."""

    name: str
    model_sha256: str

    def process(self, image_bgr: np.ndarray, timestamp_ms: int) -> HandFrame:
        """Landmarks of one frame; timestamps must increase (backends may track between frames)."""
        ...

    def close(self) -> None:
        ...


def open_backend(name: str, model: str, *, threads: int | None = None, max_hands: int = 2,
                 live: bool = False) -> LandmarkBackend:
    """Create a landmark backend by name; each imports its dependencies only here."""
    if name == "litert":
        from edge_runtime.landmarks.litert import LiteRTHands

        return LiteRTHands(model, threads=threads, max_hands=max_hands)
    if name == "mediapipe":
        from edge_runtime.landmarks.mediapipe_tasks import MediaPipeHands

        return MediaPipeHands(model, max_hands=max_hands, live=live)
    raise ValueError(f"unknown landmark backend {name!r} (choose from {', '.join(BACKENDS)})")

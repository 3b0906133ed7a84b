"""What every landmark backend returns and offers: :class:`HandFrame` and the :class:`LandmarkBackend` protocol.

Its own module so that the backends (``litert``, ``mediapipe_tasks``) and the
package that picks one (``edge_runtime.landmarks.open_backend``) depend on
these types without depending on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from edge_runtime.hands import NUM_HANDS, NUM_POINTS


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

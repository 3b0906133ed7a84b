"""Hand landmark backends behind one small interface.

Every backend turns a BGR image into a :class:`HandFrame` in the project's
convention (slot 0 = the signer's left hand, slot 1 = right; normalised image
coordinates), so features are computed by one code path whatever ran.
Backends import their heavy dependencies lazily, inside their own module.
The types live in :mod:`edge_runtime.landmarks.types` (the backends import
them from there, never from this package); they are re-exported here.
"""

from __future__ import annotations

from edge_runtime.landmarks.types import HandFrame, LandmarkBackend

__all__ = ["BACKENDS", "HandFrame", "LandmarkBackend", "open_backend"]

BACKENDS = ("litert", "mediapipe")


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

"""Replay a recorded ``.npz`` as a live stream of hand frames, without images or a landmark model.

A recording already holds what the landmark backend saw, so replaying it
exercises everything after the landmarks (segmentation, features, classifier,
reporting) exactly as a camera would, at the recording's own timestamps. The
demo and the tests use it; it needs neither MediaPipe nor a video decoder.
Its :attr:`RecordingReplay.true_label` lets each reported sign carry the
recording's own label (``SignEvent.true_label``), so a miss reads as one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from edge_runtime.dataset import Recording, load_recording
from edge_runtime.errors import DatasetError, SourceError
from edge_runtime.landmarks.types import HandFrame


class RecordingReplay:
    """Iterate ``(timestamp_s, HandFrame)`` over a recording, frame ``i`` at ``i / fps`` seconds.

    ``aspect`` (width / height of the frames it was recorded from) is what
    ``FeatureSpec.model_input`` needs to put x and y in one unit.
    """

    name = "replay"

    def __init__(self, source: str | Path | Recording) -> None:
        if isinstance(source, Recording):
            self.recording, self.path = source, None
        else:
            self.path = Path(source)
            try:
                self.recording = load_recording(self.path)
            except DatasetError as err:
                raise SourceError(str(err)) from err

    @property
    def true_label(self) -> str | None:
        """The label the recording is filed under: what a signer really signed, next to what the model says."""
        return self.recording.label or None

    @property
    def fps(self) -> float:
        return float(self.recording.fps)

    @property
    def aspect(self) -> float:
        return float(self.recording.aspect)

    def __len__(self) -> int:
        return self.recording.num_frames

    def __iter__(self) -> Iterator[tuple[float, HandFrame]]:
        rec = self.recording
        for i in range(rec.num_frames):
            yield i / rec.fps, HandFrame(landmarks=rec.landmarks[i].copy(), present=rec.present[i].copy(),
                                         score=rec.score[i].copy())

    def close(self) -> None:
        """Nothing to release; present so every source can be closed the same way."""

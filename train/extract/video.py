"""One video through a landmark backend: every frame's hands -> one Recording.

Why a module of its own: this is the only code that decodes videos and runs
the detector; it runs inside worker processes, knows nothing of folders,
manifests or resuming, and opens a fresh backend per video so tracking never
carries over from one clip to the next.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_runtime.capture import VideoFileSource
from edge_runtime.dataset import Recording
from edge_runtime.errors import SignedgeError
from edge_runtime.hands import NUM_HANDS, NUM_POINTS
from edge_runtime.landmarks.task_file import read_task
from train.extract.config import BackendSettings
from train.extract.plan import VideoJob


def extract_recording(job: VideoJob, backend_settings: BackendSettings, max_width: int | None,
                      backend: Any = None) -> Recording:
    """Run the landmark backend over every frame of one video; tracking starts anew.

    Without ``backend`` a fresh one is opened and closed; a long-lived worker
    (the Ray engine's actor) passes its own, which is ``reset()`` first, so
    the models load once per worker and the numbers are those of a fresh one.
    """
    with VideoFileSource(job.video, max_width=max_width) as source:
        own = backend is None
        if own:
            backend = backend_settings.open()
        else:
            backend.reset()
        try:
            landmarks, present, score = [], [], []
            last_ms = -1
            for t, frame in source:
                ts_ms = max(int(round(t * 1000.0)), last_ms + 1)
                last_ms = ts_ms
                hands = backend.process(frame, ts_ms)
                landmarks.append(hands.landmarks)
                present.append(hands.present)
                score.append(hands.score)
            sha = backend.model_sha256
        finally:
            if own:
                backend.close()
        width, height = source.width, source.height
        rec = Recording(
            landmarks=np.asarray(landmarks, np.float32).reshape(-1, NUM_HANDS, NUM_POINTS, 3),
            present=np.asarray(present, bool).reshape(-1, NUM_HANDS),
            score=np.asarray(score, np.float32).reshape(-1, NUM_HANDS),
            label=job.label, fps=source.fps, source_id=job.source_id, signer=job.signer, group=job.group,
            aspect=width / height,
            extra={"video": job.rel, "width": width, "height": height, "source_width": source.source_width,
                   "source_height": source.source_height, "landmark_backend": backend_settings.name,
                   "landmark_model_sha256": sha},
        )
    return rec


def probe_backend(settings: BackendSettings) -> str:
    """Open the backend once here, so a bad model or a missing package is one error before any work."""
    read_task(settings.model)  # the file itself first: its error does not depend on which backend loads
    try:
        backend = settings.open()
    except ImportError as err:
        raise SignedgeError(f"the {settings.name} landmark backend cannot be loaded here ({err}); "
                            f"try --landmarks {'mediapipe' if settings.name == 'litert' else 'litert'}") from err
    try:
        return backend.model_sha256
    finally:
        backend.close()

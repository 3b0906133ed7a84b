"""What ``sign-extract`` is asked to do: ``ExtractConfig`` (one field per flag) and ``BackendSettings``.

Its own module because the planner, the workers and ``sign-record`` all read
these settings; ``BackendSettings`` is what a worker process needs to open its
own landmark backend, so it must stay small and picklable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LABEL_SOURCES = ("folder", "stem", "stem-suffix")
ENGINES = ("local", "ray")  # local: a process pool on this machine; ray: actors on a Ray cluster
FILE_COLUMNS = ("file", "path", "video", "filename")
LABEL_COLUMNS = ("label", "word", "gloss", "sign", "class")


@dataclass
class BackendSettings:
    """What every worker needs to open its own landmark backend (picklable)."""

    name: str = "litert"
    model: str = ""
    threads: int | None = None
    max_hands: int = 2

    def open(self, live: bool = False) -> Any:
        """The landmark backend these settings describe (``live``: a camera, not a video file)."""
        from edge_runtime.landmarks import open_backend

        return open_backend(self.name, self.model, threads=self.threads, max_hands=self.max_hands, live=live)


@dataclass
class ExtractConfig:
    """``sign-extract``'s flags, one field each."""

    video_dir: Path
    out_dir: Path
    backend: BackendSettings = field(default_factory=BackendSettings)
    manifest: Path | None = None
    label_from: str = "folder"
    separator: str = "__"
    file_column: str | None = None
    label_column: str | None = None
    signer: str = ""
    workers: int = 1
    max_width: int | None = None
    progress: bool = True
    engine: str = "local"
    address: str | None = None  # ray: "auto", "HOST:PORT", or None = start a Ray instance on this machine

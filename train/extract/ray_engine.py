"""``sign-extract --engine ray``: the same videos → recordings job, run by actors on a Ray cluster.

Why Ray actors rather than our own workers: a corpus of hundreds of thousands
of videos needs placement across machines, restarts when a process or node
dies and back-pressure, which Ray already does. ``ray.util.ActorPool`` hands
each actor its next video only when it is free (back-pressure), and Ray core
restarts an actor that dies (``max_restarts``) and re-runs the call it was in
(``max_task_retries``). Ray Data's ``map`` over an actor pool did the same
with ~2 s more fixed cost per command (3.5–5.1 s vs 1.3–1.9 s for 31 calls of
50 ms on 2 actors: benchmarks/results/cluster.md), which on the 31 shared
videos was most of Ray's overhead against the local engine. Each actor opens the landmark
backend once and reuses it for every video it gets (``reset()`` between
videos, so the numbers are a fresh backend's): a litert backend's models load
once per worker, not once per video (MediaPipe Tasks cannot be reset, so that
backend is opened per video, as locally).

The division of work is the local engine's: the driver plans, resumes and
writes the manifest last; a worker only turns one video into one recording
file (written atomically under OUT_DIR, which every node must see at the same
path) or a one-line failure. Nothing here imports Ray unless ``--engine ray``
is given.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Iterable

from edge_runtime.errors import SignedgeError
from train.extract.config import BackendSettings, ExtractConfig
from train.extract.plan import VideoJob
from train.ray_cluster import ray_module


class _Extractor:
    """One Ray actor: a landmark backend opened once, then one video per call."""

    def __init__(self, out_dir: str, settings: BackendSettings, max_width: int | None) -> None:
        self.out_dir = Path(out_dir)
        self.settings = settings
        self.max_width = max_width
        self.node = socket.gethostname()
        # litert is resettable: its models load once for every video of this worker (MediaPipe's: per video)
        self.backend = settings.open() if settings.name == "litert" else None

    def extract(self, job: VideoJob) -> Any:
        from train.extract.job import VideoResult, extract_one

        if not os.access(job.video, os.R_OK):
            return VideoResult(job, "failed", error=f"{job.video}: not readable on node {self.node} (is it on "
                                                    "storage every node sees?)")
        return extract_one(job, self.out_dir, self.settings, self.max_width, self.backend)


ACTOR_RESTARTS = 3  # an actor (or its node) may die this often; its video is retried each time


def run_on_ray(todo: list[VideoJob], config: ExtractConfig) -> Iterable[Any]:
    """Every job through ``config.workers`` actors of the connected cluster; results as they finish."""
    from ray.util import ActorPool

    ray = ray_module("--engine ray")
    actor = ray.remote(_Extractor).options(num_cpus=1, max_restarts=ACTOR_RESTARTS,
                                           max_task_retries=ACTOR_RESTARTS)
    pool = ActorPool([actor.remote(str(config.out_dir), config.backend, config.max_width)
                      for _ in range(min(config.workers, len(todo)))])
    results = pool.map_unordered(lambda worker, job: worker.extract.remote(job), todo)
    while True:
        try:
            result = next(results)
        except StopIteration:
            return
        except Exception as err:  # Ray's own errors vary (a lost node, an actor past its restarts, a bad option)
            first = (str(err).strip().splitlines() or [type(err).__name__])[-1]
            raise SignedgeError(f"the Ray job stopped: {first} (recordings written so far are kept; run the same "
                                "command again to resume)") from err
        yield result

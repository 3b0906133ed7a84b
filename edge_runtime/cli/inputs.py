"""What the commands that watch signs share: where the hands come from and how a stream is cut into signs.

``sign-recognize`` and ``sign-enroll`` read the same sources through the same landmark backends and cut
them with the same segmenter, so a word enrolled from a camera is cut exactly as it will be recognised.
Their flags, the opening of one source and the model's one-line description live here, once.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any, Iterator

from edge_runtime.classifier import Classifier
from edge_runtime.cli.models import default_hand_model
from edge_runtime.errors import ModelError
from edge_runtime.landmarks import BACKENDS, LandmarkBackend, open_backend
from edge_runtime.landmarks.precision import add_precision_argument, precision_bundle
from edge_runtime.segment import SegmentConfig
from edge_runtime.sources import Source, open_source

HAND_MODEL_REQUIRED = ("--hand-model is required to find hands in a camera or video "
                       "(a .task bundle; get one with sign-models)")


def add_landmark_arguments(p: argparse.ArgumentParser) -> None:
    """--landmarks, --hand-model, --threads and --max-width: how hands are found in pictures."""
    p.add_argument("--landmarks", choices=BACKENDS, default="litert",
                   help="hand landmark backend for camera and video sources")
    p.add_argument("--hand-model", type=Path, default=None,
                   help="hand landmarker .task bundle for camera and video (default: the one sign-models installed in "
                        "~/.cache/signedge, if any)")
    add_precision_argument(p)
    p.add_argument("--threads", type=int, default=None, help="threads for the classifier and landmark interpreters (unset: the runtime's choice)")
    p.add_argument("--max-width", type=int, default=640, help="downscale wider frames to this width (0: never)")


def add_segment_arguments(p: argparse.ArgumentParser) -> None:
    """--end-gap, --rest, --still-radius, --min-length, --max-length: where a sign starts and ends."""
    seg = SegmentConfig()
    p.add_argument("--end-gap", type=float, default=seg.end_gap_s, help="seconds without hands that end a sign")
    p.add_argument("--rest", type=float, default=seg.rest_s, help="seconds of still hands that end a sign")
    p.add_argument("--still-radius", type=float, default=seg.still_radius,
                   help="motion (in hand sizes) below which hands count as still")
    p.add_argument("--min-length", type=float, default=seg.min_length_s, help="shorter segments (s) are ignored")
    p.add_argument("--max-length", type=float, default=seg.max_length_s, help="longer segments (s) are cut")


def segment_config_from_args(args: argparse.Namespace) -> SegmentConfig:
    return SegmentConfig(end_gap_s=args.end_gap, rest_s=args.rest, still_radius=args.still_radius,
                         min_length_s=args.min_length, max_length_s=args.max_length)


def resolve_hand_model(args: argparse.Namespace) -> None:
    """--hand-model, else the bundle sign-models installed (if any), then the --landmark-precision bundle of it."""
    if args.hand_model is None:
        args.hand_model = default_hand_model()
    if args.hand_model is not None:
        args.hand_model = precision_bundle(args.hand_model, args.landmark_precision, args.landmarks)


def landmark_arguments_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with --threads / --max-width, for ``parser.error``; None when they are fine."""
    if args.threads is not None and args.threads < 1:
        return "--threads must be >= 1"
    if args.max_width != 0 and args.max_width < 16:
        return "--max-width must be 0 (never downscale) or at least 16 pixels"
    return None


@contextlib.contextmanager
def open_input(source: Source, args: argparse.Namespace) -> Iterator[tuple[Any, LandmarkBackend | None, str]]:
    """The source, its landmark backend (None for a replay) and a description, closed afterwards.

    ``args`` carries the :func:`add_landmark_arguments` flags.
    """
    if not source.has_images:
        replay = open_source(source, replay=True)
        yield replay, None, f"replay of {source} ({len(replay)} frames at {replay.fps:g} fps)"
        return
    if args.hand_model is None:
        raise ModelError(HAND_MODEL_REQUIRED)
    with contextlib.ExitStack() as stack:
        opened = open_source(source, max_width=args.max_width or None)
        stack.callback(opened.close)
        backend = open_backend(args.landmarks, str(args.hand_model), threads=args.threads, live=source.live)
        stack.callback(backend.close)
        size = f"{opened.width}x{opened.height}"
        yield opened, backend, f"{source} ({size}) through {args.landmarks} landmarks ({args.hand_model.name})"


def describe_model(clf: Classifier) -> str:
    """One line on the classifier in use: file, labels, feature spec, format and interpreter."""
    return (f"{clf.path.name} ({len(clf.labels)} labels, {clf.spec.id}, T={clf.frames}, "
            f"{clf.info.format}) on {clf.runtime}")

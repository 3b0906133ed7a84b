"""``sign-recognize``: recognise signs live from a camera, a video file or a recorded ``.npz``.

A thin shell around :class:`edge_runtime.recognizer.Recognizer`: flags become a
``RecognizerConfig``, each recognised sign becomes one line on stdout (JSON
with ``--json``), and status goes to stderr so stdout stays machine-readable.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

from edge_runtime.classifier import Classifier, load_classifier
from edge_runtime.cli.common import parser, run, setup_logging
from edge_runtime.errors import ModelError, SourceError
from edge_runtime.landmarks import BACKENDS, LandmarkBackend, open_backend
from edge_runtime.recognizer import Recognizer, RecognizerConfig
from edge_runtime.segment import DecisionConfig, SegmentConfig

PROG = "sign-recognize"
log = logging.getLogger(__name__)

EXAMPLES = """\
examples:
  # live from the first camera, the device default (LiteRT landmarks, headless)
  sign-recognize --model model_int8.tflite --hand-model hand_landmarker.task
  # a video file, one JSON line per sign
  sign-recognize --model model_float.onnx --source clip.mp4 --hand-model hand_landmarker.task --json
  # replay recorded landmarks (no camera, no hand model needed)
  sign-recognize --model model_int8.tflite --source recordings/hello/take1.npz

A sign starts when hands appear or move, and ends when they leave (--end-gap) or
rest (--rest). A sign below --threshold is reported as "unknown" (hide with
--hide-unknown; --sliding always hides them). Status and a summary go to stderr.
"""


def build_parser() -> argparse.ArgumentParser:
    seg, dec = SegmentConfig(), DecisionConfig()
    p = parser(PROG, "Recognise signs live from a camera, a video file or a recorded .npz.\n\n" + EXAMPLES)
    p.add_argument("--model", required=True, type=Path,
                   help="exported classifier (.tflite or .onnx) with its sidecar <model>.json next to it")
    p.add_argument("--source", default="0",
                   help="camera index (0, 1, ...), a video file, or a recording .npz (replayed landmarks)")
    p.add_argument("--landmarks", choices=BACKENDS, default="litert",
                   help="hand landmark backend for camera and video sources")
    p.add_argument("--hand-model", type=Path, default=None,
                   help="hand landmarker .task bundle (required for camera and video; get one with sign-models)")
    p.add_argument("--threads", type=int, default=None, help="threads for the classifier and landmark interpreters (unset: the runtime's choice)")
    p.add_argument("--max-width", type=int, default=640, help="downscale wider frames to this width (0: never)")
    p.add_argument("--show", action="store_true", help="draw landmarks, the word and FPS in a window")
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of readable lines")
    p.add_argument("--sliding", action="store_true",
                   help="classify a window of T frames every --stride frames instead of hand-driven segments")
    p.add_argument("--stride", type=int, default=RecognizerConfig().stride, help="frames between sliding windows")
    p.add_argument("--threshold", type=float, default=dec.threshold,
                   help="lowest softmax probability reported as a sign; below it the sign is 'unknown'")
    p.add_argument("--cooldown", type=float, default=dec.cooldown_s,
                   help="seconds during which the same label is not reported again")
    p.add_argument("--hide-unknown", action="store_true", help="do not report signs below --threshold")
    p.add_argument("--end-gap", type=float, default=seg.end_gap_s, help="seconds without hands that end a sign")
    p.add_argument("--rest", type=float, default=seg.rest_s, help="seconds of still hands that end a sign")
    p.add_argument("--still-radius", type=float, default=seg.still_radius,
                   help="motion (in hand sizes) below which hands count as still")
    p.add_argument("--min-length", type=float, default=seg.min_length_s, help="shorter segments (s) are ignored")
    p.add_argument("--max-length", type=float, default=seg.max_length_s, help="longer segments (s) are cut")
    return p


def config_from_args(args: argparse.Namespace) -> RecognizerConfig:
    return RecognizerConfig(
        segment=SegmentConfig(end_gap_s=args.end_gap, rest_s=args.rest, still_radius=args.still_radius,
                              min_length_s=args.min_length, max_length_s=args.max_length),
        decision=DecisionConfig(threshold=args.threshold, cooldown_s=args.cooldown,
                                report_unknown=not (args.hide_unknown or args.sliding)),
        sliding=args.sliding,
        stride=args.stride,
    )


def _is_replay(source: str) -> bool:
    return source.lower().endswith(".npz")


@contextlib.contextmanager
def open_input(args: argparse.Namespace) -> Iterator[tuple[Any, LandmarkBackend | None, str]]:
    """The source, its landmark backend (None for a replay) and a description, closed afterwards."""
    if _is_replay(args.source):
        from edge_runtime.replay import RecordingReplay

        replay = RecordingReplay(args.source)
        yield replay, None, f"replay of {args.source} ({len(replay)} frames at {replay.fps:g} fps)"
        return
    if args.hand_model is None:
        raise ModelError("--hand-model is required to find hands in a camera or video "
                         "(a .task bundle; get one with sign-models)")
    try:
        from edge_runtime.capture import open_source
    except ImportError as err:
        raise SourceError(f"camera and video input need edge_runtime.capture and OpenCV ({err})") from err
    with contextlib.ExitStack() as stack:
        source = open_source(args.source, max_width=args.max_width or None)
        stack.callback(source.close)
        backend = open_backend(args.landmarks, str(args.hand_model), threads=args.threads,
                               live=args.source.isdigit())
        stack.callback(backend.close)
        size = f"{source.width}x{source.height}"
        yield source, backend, f"{args.source} ({size}) through {args.landmarks} landmarks ({args.hand_model.name})"


@contextlib.contextmanager
def stop_on_signal(recognizer: Recognizer) -> Iterator[None]:
    """First Ctrl-C (or SIGTERM from systemd) ends the run cleanly: the open sign is flushed and the
    summary printed. A second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: Any) -> None:
        recognizer.stop()
        for sig, old in previous.items():
            signal.signal(sig, old)

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _describe_model(clf: Classifier) -> str:
    return (f"{clf.path.name} ({len(clf.labels)} labels, {clf.spec.id}, T={clf.frames}, "
            f"{clf.info.format}) on {clf.runtime}")


def _main(argv: Sequence[str] | None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    setup_logging(args.verbose)
    config = config_from_args(args)
    try:
        config.segment.validate()
        config.decision.validate()
    except ValueError as err:
        p.error(str(err))
    if args.stride < 1 or (args.threads is not None and args.threads < 1):
        p.error("--stride and --threads must be >= 1")
    if args.max_width != 0 and args.max_width < 16:
        p.error("--max-width must be 0 (never downscale) or at least 16 pixels")

    clf = load_classifier(args.model, threads=args.threads)
    with open_input(args) as (source, backend, what):
        print(f"{PROG}: model {_describe_model(clf)}", file=sys.stderr)
        print(f"{PROG}: source {what}", file=sys.stderr)
        display = None
        if args.show:
            from edge_runtime.display import open_display

            display = open_display(PROG, clf.labels)
        recognizer = Recognizer(source, backend, clf, config)
        if display is not None:
            def on_frame(view: Any) -> None:
                display(view, recognizer.aspect)
                if display.closed:
                    recognizer.stop()

            recognizer.on_frame = on_frame
        try:
            with stop_on_signal(recognizer):
                for event in recognizer:
                    print(event.to_json() if args.json else event.describe(), flush=True)
        finally:
            if display is not None:
                display.close()
    stats = recognizer.stats
    if stats.frames == 0:
        raise SourceError(f"{args.source}: the source gave no frames")
    print(f"{PROG}: {stats.summary()}", file=sys.stderr)
    if stats.hand_frames == 0:
        print(f"{PROG}: no hands were found in any of the {stats.frames} frames", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog=PROG))


if __name__ == "__main__":
    main()

"""``sign-record``: record your own samples of a sign into a dataset folder.

Pick a word, get a countdown, sign; each sample is saved twice: the video
(``videos/<word>/<id>.mp4``, to look at later or re-extract with another
backend) and its keypoints (``recordings/<word>/<id>.npz``, what training
reads). ``manifest.csv`` is updated after every sample, keeping the rows
already there, so a session can be stopped at any time (Ctrl-C, or q/Esc in
the window) and continued with another word or signer later.

The source is a camera (``--source 0``) or a video file: a file is cut into
``--samples`` consecutive pieces of ``--seconds`` each (no countdown), which
turns one long take of repeated signs into samples. A sample in which no hand
was seen is not saved (the exit code is then 1). Headless by default; the
live landmarks are drawn only with ``--show`` on a machine with a display.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from edge_runtime.cli.common import EXIT_FAILED, parser, run, setup_logging
from edge_runtime.sources import add_source_argument
from train.cli.landmarks import NO_DEFAULT, add_landmark_arguments, backend_settings
from train.record import RecordConfig, record

PROG = "sign-record"


def build_parser() -> argparse.ArgumentParser:
    p = parser(PROG, __doc__.strip() + "\n\nexamples:\n"
               "  sign-record data/ --word hello --samples 10 --signer anna --show     # webcam 0\n"
               "  sign-record data/ --word 일요일 --source take.mp4 --samples 5 --seconds 2\n")
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="dataset folder to create or extend")
    p.add_argument("--word", required=True, help="the sign's label (any text; commas allowed)" + NO_DEFAULT)
    p.add_argument("--samples", type=int, default=5, help="samples to record")
    p.add_argument("--seconds", type=float, default=2.0, help="length of each sample")
    p.add_argument("--countdown", type=float, default=3.0, help="seconds of countdown before each camera sample")
    add_source_argument(p, help="what to record from: a camera (index, /dev device or picam[:N]), or a video file "
                                "to cut into samples")
    p.add_argument("--signer", default="", help="who signs: lets training split by signer (default: unknown)"
                   + NO_DEFAULT)
    p.add_argument("--show", action="store_true", help="show the camera and the hands in a window (needs a display)")
    p.add_argument("--width", type=int, help="camera capture width (default: the camera's)" + NO_DEFAULT)
    p.add_argument("--height", type=int, help="camera capture height (default: the camera's)" + NO_DEFAULT)
    p.add_argument("--max-width", type=int, metavar="W",
                   help="downscale wider frames to W pixels, keeping the aspect (default: full size)" + NO_DEFAULT)
    add_landmark_arguments(p)
    return p


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    config = RecordConfig(
        out_dir=args.out_dir, word=args.word, samples=args.samples, seconds=args.seconds,
        countdown=args.countdown, source=args.source.text, signer=args.signer, show=args.show,
        backend=backend_settings(args), max_width=args.max_width, width=args.width, height=args.height,
    )
    results = record(config, notify=lambda line: print(f"{PROG}: {line}", file=sys.stderr, flush=True))
    saved = [r for r in results if r.row is not None]
    print(f"{PROG}: saved {len(saved)} of {config.samples} samples of '{config.word}' in {config.out_dir}")
    return 0 if len(saved) == config.samples else EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog=PROG))


if __name__ == "__main__":
    main()

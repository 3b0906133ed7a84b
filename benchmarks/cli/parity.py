"""``sign-parity``: the litert landmark backend against MediaPipe Tasks on the same frames (or ``--speed``).

Flags -> ``ParityConfig`` -> ``benchmarks.parity.run_parity`` / ``run_speed`` -> tables, targets, JSON.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

from benchmarks.parity import (
    SHARED_FULL,
    SHARED_LITE,
    SHARED_VIDEOS,
    SPEED_VIDEO,
    ParityConfig,
    environment,
    format_parity,
    format_speed,
    jsonable,
    num,
    pct,
    run_parity,
    run_speed,
)
from edge_runtime.cli.common import parser, run, setup_logging
from edge_runtime.cli.models import NO_DEFAULT
from edge_runtime.errors import SignedgeError
from edge_runtime.files import sha256_file, write_json
from edge_runtime.landmarks.precision import PRECISIONS, bundle_path
from edge_runtime.landmarks.quantize import read_record

PROG = "sign-parity"
SUMMARY = "sign-parity: does the LiteRT hand pipeline find MediaPipe's hands, and how much faster is it?"


def build_parser() -> argparse.ArgumentParser:
    p = parser(PROG, SUMMARY + """

Examples:
  sign-parity --hand-model ../shared/models/hand_landmarker.task --out parity.json
  sign-parity clip.mp4 --hand-model hand_landmarker.task --max-width 640
  sign-parity --speed --threads 1 2 --widths 0 640 --out speed.json
  # a derived bundle (sign-models --precision int8) against the float one, on videos not used to calibrate it
  sign-parity --precision int8 --model runs/demo/export/model_int8.tflite --check --out parity_int8.json

--speed also times every *_f16.task / *_int8.task found next to --hand-model and --lite-model.""")
    p.add_argument("videos", nargs="*", type=Path,
                   help=f"videos to compare (default: every .mp4 in {SHARED_VIDEOS} when present; "
                        f"with --speed: {SPEED_VIDEO} there)")
    p.add_argument("--hand-model", type=Path, default=SHARED_FULL if SHARED_FULL.is_file() else None,
                   help="hand_landmarker.task used by both backends")
    p.add_argument("--lite-model", type=Path, default=SHARED_LITE if SHARED_LITE.is_file() else None,
                   help="lite hand bundle, timed by --speed with both backends "
                        "(a backend that cannot load it is reported as such)")
    p.add_argument("--max-width", type=int, default=None, help="shrink frames to at most this width first")
    p.add_argument("--threads", type=int, nargs="+", default=[1],
                   help="litert interpreter threads (parity uses the first; --speed times each)")
    p.add_argument("--max-frames", type=int, default=None, help="stop each video after this many frames")
    p.add_argument("--speed", action="store_true", help="time the backend matrix instead of comparing landmarks")
    p.add_argument("--widths", type=int, nargs="+", default=[0, 640],
                   help="frame widths for --speed (0 = the video's own width)")
    p.add_argument("--repeat", type=int, default=3, help="passes over the video per width for --speed")
    p.add_argument("--out", type=Path, default=None, help="also write the report as JSON here")
    p.add_argument("--check", action="store_true", help="exit with status 1 when a parity target fails")
    p.add_argument("--precision", choices=[x for x in PRECISIONS if x != "f32"], default=None,
                   help="compare the litert pipeline on this derived bundle (next to --hand-model, made by "
                        "sign-models --precision) with the float one, under stricter gates; the videos the bundle "
                        "was calibrated on (its record) are left out" + NO_DEFAULT)
    p.add_argument("--model", type=Path, default=None,
                   help="with --precision: an exported classifier whose sign decisions on the videos must not "
                        "change" + NO_DEFAULT)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    return p


def _config(args: argparse.Namespace) -> ParityConfig:
    if args.hand_model is None:
        raise SignedgeError(f"give --hand-model (no {SHARED_FULL} to default to)")
    videos = list(args.videos)
    if not videos:
        if args.speed and (SHARED_VIDEOS / SPEED_VIDEO).is_file():
            videos = [SHARED_VIDEOS / SPEED_VIDEO]
        elif not args.speed and SHARED_VIDEOS.is_dir():
            videos = sorted(SHARED_VIDEOS.glob("*.mp4"))
        if not videos:
            raise SignedgeError(f"give one or more videos (no shared videos in {SHARED_VIDEOS})")
    for name, value in (("--max-width", args.max_width), ("--max-frames", args.max_frames)):
        if value is not None and value < 1:
            raise SignedgeError(f"{name} must be positive, got {value}")
    if args.max_width is not None and args.max_width < 16:
        raise SignedgeError(f"--max-width must be at least 16 pixels, got {args.max_width}")
    if any(t < 1 for t in args.threads):
        raise SignedgeError(f"--threads must be positive, got {args.threads}")
    if args.repeat < 1:
        raise SignedgeError(f"--repeat must be positive, got {args.repeat}")
    if any(w != 0 and w < 16 for w in args.widths):
        raise SignedgeError(f"--widths must be 0 (own width) or at least 16 pixels, got {args.widths}")
    if args.model is not None and not args.precision:
        raise SignedgeError("--model goes with --precision (the decisions of the float and the derived bundle)")
    if args.model is not None and not args.model.is_file():
        raise SignedgeError(f"{args.model}: classifier model not found")
    left_out: list[str] = []
    if args.precision and not args.speed:
        videos, left_out = _without_calibration(videos, args.hand_model, args.precision)
    return ParityConfig(videos=videos, hand_model=args.hand_model, lite_model=args.lite_model,
                        max_width=args.max_width, threads=list(args.threads), max_frames=args.max_frames,
                        speed=args.speed, widths=[w or None for w in args.widths], repeat=args.repeat,
                        out=args.out, check=args.check, progress=not args.quiet, precision=args.precision,
                        model=args.model, left_out=left_out)


def _without_calibration(videos: list[Path], hand_model: Path, precision: str) -> tuple[list[Path], list[str]]:
    """The videos minus those the derived bundle was calibrated on (matched by sha256, named in its record)."""
    bundle = bundle_path(hand_model, precision)
    if not bundle.is_file():
        raise SignedgeError(f"{bundle}: no {precision} bundle next to {hand_model.name} "
                            f"(make it with: sign-models --precision {precision} --from-file {hand_model})")
    record = read_record(bundle) or {}
    used = {v.get("sha256") for v in record.get("calibration", {}).get("videos", [])}
    if not used:
        return videos, []
    kept = [v for v in videos if sha256_file(v) not in used]
    left_out = sorted(v.name for v in videos if v not in kept)
    if not kept:
        raise SignedgeError(f"every given video was used to calibrate {bundle.name}: check it on others")
    return kept, left_out


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    config = _config(args)
    meta = {"command": PROG, "hand_model": str(config.hand_model), "candidate_model": str(config.candidate_model), "config": jsonable(asdict(config)),
            "environment": environment()}
    if config.speed:
        report = run_speed(config)
        print(format_speed(report["speed"]))
        print("ms/frame: mean over every frame and pass (after one untimed warm-up frame); all rows were timed "
              "on the same frames in one run, each frame by every backend in turn.")
        if config.out:
            write_json(config.out, jsonable({**meta, **report}))
        return 0
    report = run_parity(config)
    names = (config.precision, "f32") if config.precision else ("litert", "mp")
    print(format_parity(report["videos"] + [report["total"]], names))
    if config.left_out:
        print(f"left out {len(config.left_out)} video(s) the {config.precision} bundle was calibrated on")
    failed = []
    for name, t in report["targets"].items():
        shown = pct(t["value"]) if name.endswith("agreement") else num(t["value"], ".3f")
        print(f"{t['what']}: {shown} (target {t['target']}): {'pass' if t['pass'] else 'FAIL'}")
        if not t["pass"]:
            failed.append(name)
    if config.out:
        write_json(config.out, jsonable({**meta, **report}))
    return 1 if failed and config.check else 0


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(run(_main, argv, prog=PROG))


if __name__ == "__main__":
    main()
